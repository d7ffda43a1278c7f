"""`python -m benchmarks.fairness [--quick]`: one clinic's burst and another clinic's one task.

One `python -m bot serve` (HTTP mode) in many-workspace mode on SQLite, against the fakes in
their own process. Two clinics, workspaces A and B, are installed through the app's OAuth flow
(its install page, the fake Slack's authorize page, the redirect with the state cookie), each
connected to a MaxCare organization of its own by its admin's `/task connect`, its people
linked by the admin's `/task link`. MaxCare's budget is small (100 requests per 6 s for the
app, and the fake MaxCare answers 429 beyond it), so a burst spans windows quickly.

Clinic A submits ten budgets' worth of tasks as fast as the app takes them; one second after
A's first, clinic B submits one. The app holds outbox work back while Slack requests keep
arriving, so A's burst may not have spent any budget yet by then: B submits a second task just
after A's task POSTs reach three budgets' worth, when the window's budget is spent and A's
queued work waits for the next one (the worst moment). Measured, until every accepted
submission has its task and its card: each of B's waits from its submission to its POST
/v4/tasks reaching MaxCare (by its note ID) and to its card, in seconds and in budget windows;
how much of the budget the whole drain used; the 429s, the lost and the duplicated; and
whether every POST carried its clinic's X-Organization-Id.

Prints the figures with PASS/MISS, writes benchmarks/results/fairness.json and, for a full
run, benchmarks/fairness.json.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import re
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from typing import Any

import httpx

from benchmarks.apps import Apps
from benchmarks.fleet import card_counts, request_kind, tally, whole_budgets_fraction
from benchmarks.heap import keep_history_out_of_collections
from benchmarks.load import Sample, closed_loop, open_loop
from benchmarks.measure import Receipts, ok_ack, wait_idle, wait_until
from benchmarks.output import RESULTS, pct, rounded, target_table, write_results
from benchmarks.phases import per_window
from benchmarks.procs import Fakes, Proc
from benchmarks.run import loadavg, meta
from benchmarks.stats import summary
from benchmarks.traffic import Tags, note_for, submission_requests
from tests.support import payloads

# Slack answers a command's response_url post within this long in the fake; a wait that lasts
# longer means the app never answered.
ANSWER_SECONDS = 15.0


@dataclass
class Config:
    """What one run does; --quick shrinks the budget and the burst (a smoke run)."""

    quick: bool = False
    slack_latency_ms: float = 20.0
    maxcare_latency_ms: float = 50.0
    limit: int = 100  # MaxCare's budget: this many requests …
    window: float = 6.0  # … per this many seconds
    burst_budgets: int = 10  # clinic A submits this many budgets' worth
    b_after: float = 1.0  # seconds after A's first submission, B submits its first
    b_again_budgets: int = 3  # B's second once A's POSTs reach this many budgets' worth
    send_concurrency: int = 50  # A's submissions in flight
    goal_windows: float = 1.5  # B's wait for its POST, at most this many windows

    @property
    def burst(self) -> int:
        return self.limit * self.burst_budgets

    @classmethod
    def quick_mode(cls, **kw: Any) -> Config:
        return cls(quick=True, limit=20, window=1.5, send_concurrency=20, **kw)


@dataclass
class Clinic:
    """One workspace: its people and, once set up, its MaxCare organization and providers."""

    label: str
    team_id: str
    admin: str
    nurses: list[str]
    doctor: str
    org: str = ""
    providers: dict[str, str] = field(default_factory=dict)  # Slack user ID -> provider ID

    @classmethod
    def named(cls, label: str, nurses: int = 2) -> Clinic:
        return cls(
            label,
            team_id=f"T0CLINIC{label}",
            admin=f"U{label}ADMIN0",
            nurses=[f"U{label}NURSE{i}" for i in range(nurses)],
            doctor=f"U{label}DOCTOR",
        )

    @property
    def people(self) -> list[str]:
        return [*self.nurses, self.doctor]


# --- counting --------------------------------------------------------------------------------


def first_post(posts: Sequence[Sequence[Any]], note: str) -> float | None:
    """When the first task POST of `note` reached MaxCare (posts: [t, note, org, status])."""
    times = [p[0] for p in posts if p[1] == note]
    return min(times) if times else None


def wait_in_windows(start: float, end: float | None, window: float) -> dict[str, float | None]:
    """From `start` to `end` in seconds and in budget windows (None: it never came)."""
    if end is None:
        return {"seconds": None, "windows": None}
    seconds = end - start
    return {"seconds": round(seconds, 3), "windows": round(seconds / window, 3)}


def organizations_checked(
    posts: Iterable[Sequence[Any]], org_of_note: Mapping[str, str]
) -> dict[str, Any]:
    """Each task POST's X-Organization-Id against its note's clinic's organization.

    wrong: sent for another organization (or none); unknown: a note no clinic submitted."""
    wrong, unknown, by_org = [], 0, collections.Counter[str]()
    for _, note, org, _status in posts:
        by_org[org] += 1
        want = org_of_note.get(note)
        if want is None:
            unknown += 1
        elif org != want:
            wrong.append(note)
    return {
        "posts": sum(by_org.values()),
        "posts_by_organization": dict(by_org),
        "wrong_organization": len(wrong),
        "wrong_examples": wrong[:5],
        "unknown_notes": unknown,
    }


def overtaken(posts: Sequence[Sequence[Any]], b_note: str, b_sent: float) -> dict[str, int]:
    """The other task POSTs that reached MaxCare before B's submission; after it and before
    B's POST (those that went first); and after B's POST (what B did not wait for)."""
    b_post = first_post(posts, b_note)
    others = [p[0] for p in posts if p[1] != b_note]
    end = b_post if b_post is not None else float("inf")
    return {
        "before_submission": sum(1 for t in others if t < b_sent),
        "went_first": sum(1 for t in others if b_sent <= t < end),
        "after_b": sum(1 for t in others if t >= end),
    }


def probe(
    posts: Sequence[Sequence[Any]],
    key: str,
    sample: Sample | None,
    card_at: float | None,
    started: float,
    window: float,
) -> dict[str, Any]:
    """One of B's submissions (key: its channel): when it was sent, its waits, what went first."""
    note = note_for(key)
    if sample is None:
        return {"sent_after_a_seconds": None, "accepted": False,
                "to_post": wait_in_windows(0, None, window),
                "to_card": wait_in_windows(0, None, window)}  # fmt: skip
    return {
        "sent_after_a_seconds": round(sample.sent - started, 3),
        "accepted": ok_ack("submission", sample),
        "ack_ms": round(sample.ms, 1),
        "to_post": wait_in_windows(sample.sent, first_post(posts, note), window),
        "to_card": wait_in_windows(sample.sent, card_at, window),
        "post_status": next((p[3] for p in posts if p[1] == note), None),
        "posts": overtaken(posts, note, sample.sent),
    }


# --- setting the clinics up through the app --------------------------------------------------


def install(bot: Proc, fakes: Fakes, clinic: Clinic) -> None:
    """What the installer's browser does: the install page, "Add to Slack" to the fake Slack's
    authorize page (approved there), back to the redirect with the state cookie."""
    with httpx.Client(base_url=bot.url, timeout=10) as browser:
        page = browser.get("/slack/install")
        found = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
        if page.status_code != 200 or found is None:
            raise RuntimeError(f"no install link: {page.status_code} {page.text[:300]}")
        code, state = fakes.slack_approve(unescape(found.group(1)), clinic.team_id, clinic.admin)
        # The state cookie is Secure (behind HTTPS in production): sent by hand over plain HTTP.
        cookie = page.headers["set-cookie"].split(";")[0]
        done = browser.get(
            "/slack/oauth_redirect",
            params={"code": code, "state": state},
            headers={"Cookie": cookie},
        )
    if done.status_code != 200 or "installed" not in done.text:
        raise RuntimeError(f"{clinic.team_id} not installed: {done.status_code} {done.text[:300]}")


def command(bot: Proc, fakes: Fakes, clinic: Clinic, text: str) -> str:
    """A signed `/task <text>` from the clinic's admin; what the app answered through its
    response_url (or at the ack, when nothing comes there)."""
    hook = f"cmd-{secrets.token_hex(6)}"
    body, headers = payloads.slash_command(
        text,
        user_id=clinic.admin,
        team_id=clinic.team_id,
        response_url=fakes.slack_response_url(hook),
    )
    acked = httpx.post(f"{bot.url}/slack/events", content=body, headers=headers, timeout=10)
    if acked.status_code != 200:
        raise RuntimeError(f"/task {text}: {acked.status_code} {acked.text[:300]}")
    answers: list[dict[str, Any]] = []

    def answered() -> bool:
        answers[:] = fakes.slack_calls(f"response_url:{hook}")
        return bool(answers)

    if wait_until(answered, ANSWER_SECONDS, 0.05):
        return str(answers[-1]["params"].get("text", ""))
    return str(acked.json().get("text", "")) if acked.content else ""


def link_people(bot: Proc, fakes: Fakes, clinic: Clinic) -> None:
    """Link each of the clinic's people to their provider: the admin's `/task link`.

    Kept in one place: how a workspace's links are made is changing (links keyed by workspace,
    `python -m bot links … --team`), and the slash command works in any of those schemes."""
    for user, provider in clinic.providers.items():
        answer = command(bot, fakes, clinic, f"link <@{user}> {provider}")
        if "Linked" not in answer:
            raise RuntimeError(f"{clinic.team_id}: {user} not linked: {answer}")


def set_up(bot: Proc, fakes: Fakes, clinics: Sequence[Clinic]) -> None:
    """Each clinic installed, connected to its own organization, its people linked."""
    for clinic in clinics:
        fakes.slack_workspace(clinic.team_id, f"Clinic {clinic.label}")
        fakes.slack_user(clinic.admin, clinic.team_id, is_admin=True)
        for user in clinic.people:
            fakes.slack_user(user, clinic.team_id)
        clinic.org = fakes.maxcare_organization()
        ids = fakes.maxcare_providers(len(clinic.people), clinic.org)
        clinic.providers = dict(zip(clinic.people, ids, strict=True))
        install(bot, fakes, clinic)
        answer = command(bot, fakes, clinic, f"connect {clinic.org}")
        if "is connected" not in answer:
            raise RuntimeError(f"{clinic.team_id} not connected: {answer}")
        link_people(bot, fakes, clinic)


# --- the burst -------------------------------------------------------------------------------


async def send_all(
    url: str, a_reqs: Sequence[Any], b_reqs: Sequence[Any], cfg: Config, fakes: Fakes
) -> tuple[list[Sample], list[Sample], float]:
    """A's burst as fast as the app takes it; B's first cfg.b_after seconds after A's first,
    B's second once A's task POSTs reach cfg.b_again_budgets budgets' worth."""
    posts_from, _ = fakes.maxcare_task_posts(2**31)
    started = time.monotonic()
    a_task = asyncio.create_task(closed_loop(url, a_reqs, cfg.send_concurrency, timeout=600))
    await asyncio.sleep(max(0.0, started + cfg.b_after - time.monotonic()))
    b = await open_loop(url, b_reqs[:1], [0.0], timeout=30)

    def posted() -> int:
        return fakes.maxcare_task_posts(2**31)[0] - posts_from

    threshold = cfg.limit * cfg.b_again_budgets
    deadline = time.monotonic() + cfg.window * (cfg.b_again_budgets + 5) + 60
    # Polled off the loop: A's sends go on meanwhile.
    while await asyncio.to_thread(posted) < threshold and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    b += await open_loop(url, b_reqs[1:], [0.0], timeout=30)
    a = await a_task
    return a, b, started


def burst(cfg: Config, bot: Proc, fakes: Fakes, a: Clinic, b: Clinic, tags: Tags) -> dict:
    """A's burst and B's two tasks, until every accepted submission has its task and card."""
    receipts = Receipts(fakes)
    receipts.refresh()
    posts_from, _ = fakes.maxcare_task_posts(2**31)
    mc_from = fakes.maxcare_mark()
    a_tag, b_tag = tags(), tags()
    a_reqs = submission_requests(
        cfg.burst, a_tag, team_id=a.team_id, nurses=a.nurses, doctor=a.doctor
    )
    b_reqs = submission_requests(2, b_tag, team_id=b.team_id, nurses=b.nurses, doctor=b.doctor)
    # The fake counts MaxCare's budget from here: the set-up's requests are not in it.
    fakes.maxcare_config(cfg.limit, cfg.window)
    a_samples, b_samples, started = asyncio.run(
        send_all(f"{bot.url}/slack/events", a_reqs, b_reqs, cfg, fakes)
    )
    accepted = [s for s in [*a_samples, *b_samples] if ok_ack("submission", s)]
    ideal = (math.ceil(len(accepted) / cfg.limit) - 1) * cfg.window

    def created() -> int:
        return int(fakes.maxcare_stats("bench ")["distinct"])

    wait_until(lambda: created() >= len(accepted), ideal * 1.5 + 60, 0.2)
    wait_idle(bot, 120)
    cards = {("chat.postMessage", s.key) for s in accepted}
    wait_until(lambda: receipts.has(cards), 30, 0.2)
    drain_seconds = time.monotonic() - started
    stats = fakes.maxcare_stats("bench ", by_note=True)
    _, posts = fakes.maxcare_task_posts(posts_from)
    _, items = fakes.maxcare_receipts(mc_from)

    by_key = {s.key: s for s in b_samples}
    b_first, b_again = (
        probe(posts, key, by_key.get(key), receipts.first.get(("chat.postMessage", key)),
              started, cfg.window)
        for key, _, _ in b_reqs
    )  # fmt: skip
    b_notes = {note_for(k) for k, _, _ in b_reqs}
    post_times = sorted(p[0] for p in posts)
    a_post_times = sorted(p[0] for p in posts if p[1] not in b_notes)
    span = (post_times[-1] - post_times[0]) if post_times else 0.0
    org_of_note = {note_for(k): a.org for k, _, _ in a_reqs} | {n: b.org for n in b_notes}
    every = sorted(t for t, kind, _ in items if kind == "maxcare")
    return {
        "budget": f"{cfg.limit} per {cfg.window:g} s",
        "a_submissions": len(a_reqs),
        "a_accepted": sum(ok_ack("submission", s) for s in a_samples),
        "a_send_seconds": round(max((s.acked for s in a_samples), default=started) - started, 2),
        "a_ack_ms": summary([s.ms for s in a_samples]),
        "b_after": cfg.b_after,
        "b_first": b_first,
        "b_again": b_again,
        "b_again_after_posts": cfg.limit * cfg.b_again_budgets,
        "a_burst_windows": round(
            ((a_post_times[-1] - a_post_times[0]) / cfg.window) if a_post_times else 0.0, 2
        ),
        "drain_seconds": round(drain_seconds, 2),
        "ideal_drain_seconds": round(ideal, 2),
        "first_to_last_post_seconds": round(span, 2),
        "tasks_created": stats["tasks"],
        # Task POSTs (A's and B's) over whole budgets, as benchmarks/fleet.py counts them.
        "fraction_of_budget": rounded(whole_budgets_fraction(post_times, cfg.limit, cfg.window)),
        "maxcare_requests": len(every),
        "maxcare_requests_by_kind": dict(
            collections.Counter(request_kind(k) for _, kind, k in items if kind == "maxcare")
        ),
        "provoked_429": stats["rate_limited"],
        **tally([note_for(s.key) for s in accepted], stats["by_note"]),
        **organizations_checked(posts, org_of_note),
        "not_accepted": len(a_reqs) + len(b_reqs) - len(accepted),
        **card_counts([s.key for s in accepted], receipts.count),
        "requests_per_window": per_window([t for t in every if t >= started], cfg.window),
    }


# --- targets and the table -------------------------------------------------------------------


def targets(r: dict[str, Any], goal_windows: float = 1.5) -> list[dict[str, Any]]:
    """Each target with its measured value and PASS/MISS."""
    d = r["burst"]
    frac = d["fraction_of_budget"]

    def b_row(name: str, entry: dict[str, Any]) -> tuple[str, str, str, bool]:
        waited = entry["to_post"]["windows"]
        measured = (
            "never" if waited is None else f"{waited:.2f} windows ({entry['to_post']['seconds']} s)"
        )
        return name, measured, f"≤ {goal_windows:g}", waited is not None and waited <= goal_windows

    rows = [
        b_row(f"B's task {d['b_after']:g} s into A's {d['a_submissions']:,}: to its POST",
              d["b_first"]),
        b_row(f"B's task once A's POSTs reach {d['b_again_after_posts']:,}: to its POST",
              d["b_again"]),
        (
            f"drain of A's burst and B's tasks at {d['budget']}",
            f"{pct(frac)} of the budget",
            "≥ 95 %",
            frac is not None and frac >= 0.95,
        ),
        ("429s the fake MaxCare answered", str(d["provoked_429"]), "0", d["provoked_429"] == 0),
        ("lost (accepted, no task)", str(d["lost"]), "0", d["lost"] == 0),
        (
            "duplicates (note IDs with > 1 task)",
            str(d["duplicated_notes"]),
            "0",
            d["duplicated_notes"] == 0,
        ),
        (
            "POSTs with another clinic's X-Organization-Id",
            str(d["wrong_organization"]),
            "0",
            d["wrong_organization"] == 0 and d["unknown_notes"] == 0,
        ),
        (
            "not accepted; cards missing; second cards",
            f"{d['not_accepted']}; {d['cards_missing']}; {d['duplicate_cards']}",
            "0",
            d["not_accepted"] == d["cards_missing"] == d["duplicate_cards"] == 0,
        ),
    ]  # fmt: skip
    return [
        {"target": t, "measured": m, "goal": g, "result": "PASS" if ok else "MISS"}
        for t, m, g, ok in rows
    ]


def report(r: dict[str, Any]) -> str:
    """The figures and the targets, for people."""
    d = r["burst"]
    a_ack = d["a_ack_ms"]

    def b_line(name: str, e: dict[str, Any]) -> str:
        post, card, posts = e["to_post"], e["to_card"], e.get("posts", {})
        return (
            f"B {name}, sent {e['sent_after_a_seconds']} s after A's first (ack "
            f"{e.get('ack_ms')} ms): to its POST {post['seconds']} s ({post['windows']} windows, "
            f"answered {e.get('post_status')}), to its card {card['seconds']} s "
            f"({card['windows']} windows); other POSTs before it was sent "
            f"{posts.get('before_submission')}, sent first {posts.get('went_first')}, after "
            f"{posts.get('after_b')}"
        )

    lines = [
        f"A: {d['a_accepted']:,} of {d['a_submissions']:,} accepted in {d['a_send_seconds']} s "
        f"(ack p50 / p99 {a_ack.get('p50', 0):.1f} / {a_ack.get('p99', 0):.1f} ms); its POSTs "
        f"span {d['a_burst_windows']} windows of {d['budget']}",
        b_line("first", d["b_first"]),
        b_line(f"again, once A's POSTs reached {d['b_again_after_posts']:,}", d["b_again"]),
        f"drain: {d['tasks_created']:,} tasks in {d['drain_seconds']} s (ideal "
        f"{d['ideal_drain_seconds']} s); first to last POST {d['first_to_last_post_seconds']} "
        f"s; {pct(d['fraction_of_budget'])} of the budget over whole budgets",
        f"  429s {d['provoked_429']}, lost {d['lost']}, duplicated notes "
        f"{d['duplicated_notes']}, wrong organization {d['wrong_organization']} of "
        f"{d['posts']} POSTs {d['posts_by_organization']}, cards missing {d['cards_missing']}",
        f"  MaxCare requests {d['maxcare_requests_by_kind']}",
        f"  requests per window: {d['requests_per_window']}",
        f"log: {r['log_check']}",
        "",
        *target_table(r["targets"], 26),
    ]
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------------


def run(cfg: Config) -> dict[str, Any]:
    """Set the clinics up, run the burst; every process stopped whatever happens."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="maxcare-fairness-"))
    results: dict[str, Any] = {"meta": meta(cfg, "benchmarks.fairness")}
    fakes = Fakes(cfg.slack_latency_ms, cfg.maxcare_latency_ms, tmp / "fakes.log")
    apps: Apps | None = None
    try:
        apps = Apps(fakes, tmp)
        bot = apps.many_workspaces_bot(
            "fair",
            MAXCARE_RATE_LIMIT_PER_MINUTE=str(cfg.limit),
            MAXCARE_RATE_WINDOW_SECONDS=str(cfg.window),
        )
        results["startup_seconds"] = round(bot.start(60), 2)
        a, b = Clinic.named("A"), Clinic.named("B")
        t0 = time.monotonic()
        set_up(bot, fakes, [a, b])
        results["set_up_seconds"] = round(time.monotonic() - t0, 2)
        print(f"clinic A submits {cfg.burst:,} at {cfg.limit} per {cfg.window:g} s, clinic B "
              f"one {cfg.b_after:g} s later and one more mid-drain …", flush=True)  # fmt: skip
        results["burst"] = burst(cfg, bot, fakes, a, b, Tags())
        results["log_check"] = apps.log_check("")
    finally:
        if apps is not None:
            apps.stop()
        fakes.close()
    results["meta"]["loadavg_end"] = loadavg()
    results["targets"] = targets(results, cfg.goal_windows)
    shutil.rmtree(tmp, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.fairness", description=__doc__.split("\n")[0]
    )
    p.add_argument("--quick", action="store_true", help="a small budget and burst: a smoke run")
    p.add_argument("--json", type=Path, help="write the figures here instead (nothing else)")
    p.add_argument("--slack-latency-ms", type=float, default=20.0)
    p.add_argument("--maxcare-latency-ms", type=float, default=50.0)
    args = p.parse_args(argv)
    kw = {"slack_latency_ms": args.slack_latency_ms, "maxcare_latency_ms": args.maxcare_latency_ms}
    cfg = Config.quick_mode(**kw) if args.quick else Config(**kw)
    keep_history_out_of_collections()
    results = run(cfg)
    print(report(results))
    return write_results("fairness", results, full=not cfg.quick, to=args.json)


if __name__ == "__main__":
    sys.exit(main())
