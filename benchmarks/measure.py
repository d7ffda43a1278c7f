"""What the fakes saw, tied back to the requests sent: acks, forms opened, cards, failures."""

from __future__ import annotations

import collections
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks.load import SLACK_ACK_SECONDS, Sample
from benchmarks.procs import Fakes, Proc
from benchmarks.stats import summary
from benchmarks.traffic import note_for


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Poll `check` until true or `timeout` seconds pass (bounded by construction)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def wait_idle(app: Proc, timeout: float = 300.0) -> bool:
    """Until the app has nothing in hand (twice in a row, 100 ms apart)."""
    state = {"zero": 0}

    def idle() -> bool:
        state["zero"] = state["zero"] + 1 if app.health().get("in_hand", 0) == 0 else 0
        return state["zero"] >= 2

    return wait_until(idle, timeout)


# The apps that do a submission's work (task, card): the bot and the like-for-like baseline.
WORKERS = ("bot", "like_for_like")


def ok_ack(kind: str, sample: Sample, app: str = "bot") -> bool:
    """Answered 200 within Slack's deadline, with the right body: a command acks empty (the
    form opens after); a submission is answered with `response_action: update` by the apps
    that do its work, with an empty body by Bolt as it comes."""
    if sample.status != 200 or not sample.answered:
        return False
    if kind == "command" or app not in WORKERS:
        return sample.body.strip() == b""
    return (
        b'"response_action": "update"' in sample.body
        or b'"response_action":"update"' in sample.body
    )


class Receipts:
    """What the fakes received, fetched incrementally: Slack calls by key, tasks by note ID."""

    def __init__(self, fakes: Fakes) -> None:
        self.fakes = fakes
        self.next = 0
        self.maxcare_next = fakes.maxcare_mark()
        self.first: dict[tuple[str, str], float] = {}
        self.count: collections.Counter[tuple[str, str]] = collections.Counter()
        self.created: dict[str, float] = {}  # note ID -> when MaxCare answered its creation

    def refresh(self) -> None:
        """Fetch what arrived since the last refresh."""
        self.next, items = self.fakes.slack_receipts(self.next)
        for t, method, key in items:
            self.count[(method, key)] += 1
            self.first.setdefault((method, key), t)
        self.maxcare_next, items = self.fakes.maxcare_receipts(self.maxcare_next)
        for t, kind, key in items:
            if kind == "task-created":
                self.created[key] = t

    def has(self, keys: set[tuple[str, str]]) -> bool:
        """Refresh, then True when every key was received."""
        self.refresh()
        return keys <= self.first.keys()

    def delays_ms(
        self, method: str, samples: Sequence[Sample], minus_ms: float = 0.0
    ) -> list[float]:
        """Receipt of `method` for each sample's key, minus the sample's due time."""
        out = []
        for s in samples:
            t = self.first.get((method, s.key))
            if t is not None:
                out.append((t - s.due) * 1000 - minus_ms)
        return out

    def after_created_ms(self, samples: Sequence[Sample]) -> list[float]:
        """Card receipt minus when the fake MaxCare answered that submission's task creation."""
        out = []
        for s in samples:
            card = self.first.get(("chat.postMessage", s.key))
            created = self.created.get(note_for(s.key))
            if card is not None and created is not None:
                out.append((card - created) * 1000)
        return out


def settle(
    receipts: Receipts, app: Proc, name: str, commands: Sequence[Sample], subs: Sequence[Sample]
) -> None:
    """Wait until the app's work for these requests is done (or clearly will not be)."""
    if subs and name in WORKERS:
        if not wait_idle(app):
            raise RuntimeError(f"{app.name} did not finish its work within 300 s")
        cards = {("chat.postMessage", s.key) for s in subs if ok_ack("submission", s, name)}
        wait_until(lambda: receipts.has(cards), 30, 0.2)
    if commands:
        forms = {("views.open", s.key) for s in commands if ok_ack("command", s, name)}
        wait_until(lambda: receipts.has(forms), 30, 0.2)
    receipts.refresh()


def figures(
    receipts: Receipts,
    name: str,
    commands: Sequence[Sample],
    subs: Sequence[Sample],
    sent: dict[str, int],
) -> dict[str, Any]:
    """Acks, forms and cards of one app's requests, each with its failures.

    sent: how many of each kind were scheduled (a request with no sample never got an answer).
    A form counts as not opened when views.open never came, or came after the trigger expired.
    """
    out: dict[str, Any] = {}
    if sent.get("command"):
        opened = receipts.delays_ms("views.open", commands)
        out["command"] = {
            "ack_ms": summary([s.ms for s in commands]),
            "failed": sent["command"] - sum(ok_ack("command", s, name) for s in commands),
            "views_open_ms": summary(opened),
            "forms_not_opened": sent["command"]
            - sum(1 for ms in opened if ms <= SLACK_ACK_SECONDS * 1000),
        }
    if sent.get("submission"):
        entry: dict[str, Any] = {
            "ack_ms": summary([s.ms for s in subs]),
            "failed": sent["submission"] - sum(ok_ack("submission", s, name) for s in subs),
        }
        if name in WORKERS:
            entry["card_after_maxcare_ms"] = summary(receipts.after_created_ms(subs))
            entry["submission_to_card_ms"] = summary(receipts.delays_ms("chat.postMessage", subs))
            entry["cards_missing"] = sent["submission"] - entry["submission_to_card_ms"]["n"]
        out["submission"] = entry
    lags = [s.lag_ms for s in [*commands, *subs]]
    out["generator_lag_ms"] = summary(lags)
    return out


def failures_of(entry: dict[str, Any]) -> dict[str, int]:
    """Failed requests, forms not opened and cards missing in one `figures` result."""
    cmd, sub = entry.get("command", {}), entry.get("submission", {})
    return {
        "requests": cmd.get("failed", 0) + sub.get("failed", 0),
        "forms": cmd.get("forms_not_opened", 0),
        "cards": sub.get("cards_missing", 0),
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (from /proc/<pid>/stat)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def maxcare_arrivals(items: list[list[Any]]) -> list[float]:
    """When each request reached the fake MaxCare, sorted (not when it was answered)."""
    return sorted(t for t, kind, _ in items if kind == "maxcare")


def maxcare_holds(items: list[list[Any]], key: str) -> list[tuple[float, float]]:
    """(arrival, answer) times of each `key` request the fake MaxCare answered, in order."""
    arrivals: collections.deque[float] = collections.deque()
    holds = []
    for t, kind, k in items:
        if k != key:
            continue
        if kind == "maxcare":
            arrivals.append(t)
        elif kind == "maxcare-answer" and arrivals:
            holds.append((arrivals.popleft(), t))
    return holds
