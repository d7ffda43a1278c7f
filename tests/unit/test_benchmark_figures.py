"""What the benchmark makes of what it saw: figures, failures, targets and the table."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks import measure, report, traffic
from benchmarks.load import Sample


class _StubFakes:
    """Receipts as benchmarks.fakes serves them, from lists."""

    def __init__(self, slack: list[list[Any]], maxcare: list[list[Any]]) -> None:
        self.slack, self.maxcare = slack, maxcare

    def slack_receipts(self, since: int = 0) -> tuple[int, list[list[Any]]]:
        return len(self.slack), self.slack[since:]

    def maxcare_receipts(self, since: int = 0) -> tuple[int, list[list[Any]]]:
        return len(self.maxcare), self.maxcare[since:]

    def maxcare_mark(self) -> int:
        return 0


def _ok(key: str, due: float, body: bytes = b"") -> Sample:
    return Sample(key, due, due + 0.01, 200, body, due)


def test_figures_count_late_forms_missing_cards_and_unanswered_requests() -> None:
    update = b'{"response_action": "update"}'
    slack = [
        [1.1, "views.open", "T1"],  # 100 ms after it was due
        [6.0, "views.open", "T2"],  # 4 s after: the trigger had expired
        [2.3, "chat.postMessage", "C1"],
    ]
    created = [[2.2, "task-created", traffic.note_for("C1")]]
    receipts = measure.Receipts(_StubFakes(slack, created))  # type: ignore[arg-type]
    receipts.refresh()
    commands = [_ok("T1", 1.0), _ok("T2", 2.0)]
    subs = [_ok("C1", 2.0, update), _ok("C2", 2.0, update)]  # C2: no card
    got = measure.figures(receipts, "bot", commands, subs, {"command": 3, "submission": 2})
    assert got["command"]["failed"] == 1, "a scheduled request with no sample never got an answer"
    assert got["command"]["forms_not_opened"] == 2
    assert got["submission"]["failed"] == 0
    assert got["submission"]["cards_missing"] == 1
    assert got["submission"]["card_after_maxcare_ms"]["p50"] == pytest.approx(100.0)
    assert got["submission"]["submission_to_card_ms"]["p50"] == pytest.approx(300.0)
    assert measure.failures_of(got) == {"requests": 1, "forms": 2, "cards": 1}
    wrong = measure.figures(receipts, "bot", [], [_ok("C1", 2.0)], {"submission": 1})
    assert wrong["submission"]["failed"] == 1, "the bot answers a submission with an update"


def test_maxcare_holds_pair_each_arrival_with_its_answer() -> None:
    items = [
        [1.0, "maxcare", "POST /v4/tasks"],
        [1.01, "maxcare", "GET /v4/tasks/t1"],
        [1.02, "maxcare-answer", "GET /v4/tasks/t1"],
        [1.06, "maxcare-answer", "POST /v4/tasks"],
        [1.06, "task-created", "nte_x"],
        [2.0, "maxcare", "POST /v4/tasks"],
        [2.05, "maxcare-answer", "POST /v4/tasks"],
        [3.0, "maxcare", "POST /v4/tasks"],  # still held when the receipts were read
    ]
    holds = measure.maxcare_holds(items, "POST /v4/tasks")
    assert [(a, b) for a, b in holds] == [(1.0, 1.06), (2.0, 2.05)]
    # The burst counts requests, not answers.
    assert measure.maxcare_arrivals(items) == [1.0, 1.01, 2.0, 3.0]


def _app(kind: str, worker: bool) -> dict[str, Any]:
    ms = {"n": 10, "p50": 1.0, "p99": 2.0}
    out: dict[str, Any] = {"ack_ms": ms, "failed": 0, "cpu_ms_per_request": 1.0}
    if kind == "command":
        out.update(views_open_ms={"n": 10, "p50": 5.0, "p99": 9.0}, forms_not_opened=0)
    elif worker:
        out.update(card_after_maxcare_ms=ms, submission_to_card_ms=ms, cards_missing=0)
        out["ack_ms_while_cards_posted"] = ms
    return out


def _phase(**extra: Any) -> dict[str, Any]:
    apps = {
        app: {kind: _app(kind, True) for kind in ("command", "submission")}
        for app in ("bot", "like_for_like")
    }
    return {**apps, "sent": {"command": 10, "submission": 10}, "seconds": 1.0, **extra}


@pytest.fixture
def results() -> Iterator[dict[str, Any]]:
    ack = {
        kind: {
            rate: {
                "rate_per_s": rate,
                "bot": _app(kind, True),
                "like_for_like": _app(kind, True),
                "as_it_comes": _app(kind, False),
                "ratio_p99": 1.0,
                "ratio_p99_as_it_comes": 1.0,
                "ratio_p99_while_cards": 1.0,
            }
            for rate in (10, 60)
        }
        for kind in ("command", "submission")
    }
    yield {
        "meta": {"config": {"quick": True, "idle_seconds": 10}},
        "ack": ack,
        "traffic": _phase(rate_per_kind_per_s=8, provoked_429=0),
        "cold": _phase(idle_seconds={"bot": 90.0, "like_for_like": 91.0}, rate_per_s=200),
        "e2e": {
            "overhead_ms": {"n": 1, "p50": 3.0, "p99": 4.0},
            "delivery_floor_ms": {"p50": 1.0},
            "received_to_card_median_ms": 2.0,
            "injected_ms": 50,
            "maxcare_held_ms": {"p50": 51.0},
            "card_after_maxcare_ms": {"n": 1, "p50": 1.0, "p99": 1.0},
            "cards": 1,
            "submissions": 1,
            "failed": 0,
            "cards_missing": 0,
        },
        "burst": {
            "fraction_of_budget": 0.99,
            "provoked_429": 0,
            "lost": 0,
            "failed": 0,
            "duplicate_tasks": 0,
            "duplicate_cards": 0,
            "accepted": 1,
            "submissions": 1,
            "maxcare_requests": 1,
            "drain_seconds": 1,
            "ideal_drain_seconds": 1,
            "budget": "1 per 1 s",
        },
        "mapping": {
            "cached_ratio": 1.0,
            "uncached_ratio": 1.1,
            "import": {"rows": 10, "seconds": 0.5, "interpreter_and_imports_seconds": 0.4},
            "lookup_10_of_100_us": {"cached": {"median_us": 1}, "uncached": {"median_us": 9}},
            "lookup_10_of_100000_us": {"cached": {"median_us": 1}, "uncached": {"median_us": 10}},
        },
        "footprint": {
            "rss_after_burst_mb": 80,
            "startup_seconds": [0.5, 0.6, 0.6],
            "bare_startup_seconds": 0.2,
            "rss_idle_mb": 70,
            "bare_rss_idle_mb": 40,
            "rss_after_ack_phases_mb": 80,
        },
    }


def _judge(r: dict[str, Any]) -> list[str]:
    r["failures"] = report.failures(r)
    r["targets"] = report.targets(r)
    return [t["target"] for t in r["targets"] if t["result"] == "MISS"]


def test_targets_pass_and_the_table_renders(results: dict[str, Any]) -> None:
    assert _judge(results) == []
    table = report.report(results)
    assert "PASS" in table and "MISS" not in table
    assert "like-for-like" in table and "as it comes" in table


def test_each_target_reads_its_own_figure(results: dict[str, Any]) -> None:
    r = copy.deepcopy(results)
    r["traffic"]["bot"]["submission"]["card_after_maxcare_ms"]["p99"] = 501.0
    assert _judge(r) == ["card p99 after MaxCare's answer, 8 forms + 8 submissions a second"]
    r = copy.deepcopy(results)
    r["ack"]["submission"][60]["ratio_p99_while_cards"] = 1.3
    assert _judge(r) == [
        "ack p99 at 60/s, submissions, while cards are posted (bot / like-for-like)"
    ]
    r = copy.deepcopy(results)
    r["ack"]["command"][60]["ratio_p99"] = 1.3
    assert _judge(r) == ["ack p99 at 60/s, `/task` commands (bot / like-for-like)"]
    r = copy.deepcopy(results)
    r["mapping"]["uncached_ratio"] = 2.5
    assert _judge(r) == ["get_links from SQL: 100,000 links vs 100"]
    r = copy.deepcopy(results)
    r["cold"]["bot"]["command"]["views_open_ms"]["p99"] = 300.0
    assert _judge(r) == ["cold (90 s idle): views.open p99 from due"]


FAILURES = {
    "a request of Bolt as it comes": lambda r: r["ack"]["command"][10]["as_it_comes"].update(
        failed=1
    ),
    "a form of the bot": lambda r: r["traffic"]["bot"]["command"].update(forms_not_opened=1),
    "a card of the baseline": lambda r: r["cold"]["like_for_like"]["submission"].update(
        cards_missing=1
    ),
    "a card lost in the burst": lambda r: r["burst"].update(lost=1),
}


@pytest.mark.parametrize("failure", list(FAILURES))
def test_any_failure_misses_every_target(results: dict[str, Any], failure: str) -> None:
    FAILURES[failure](results)
    missed = _judge(results)
    assert len(missed) == len(results["targets"])
    assert len(results["failures"]["where"]) == 1, "the report says where"
