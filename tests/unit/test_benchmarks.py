"""Smoke test of benchmarks/: the pure parts run, with no timing assertions."""

from __future__ import annotations

import asyncio
import gc
import math
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from benchmarks import heap, lazy_vs_answer, load, mapping, run
from benchmarks.load import Signed
from benchmarks.stats import percentile, summary
from bot.db.store import SQLiteStore
from tests.support.fakes import FakeMaxCare, FakeSlack


def test_percentile_interpolates_between_ranks() -> None:
    values = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 3.0
    assert percentile(values, 100) == 5.0
    assert percentile(values, 25) == 2.0
    assert percentile([1.0, 2.0], 50) == 1.5
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(values, 101)


def test_summary_names_the_usual_figures() -> None:
    got = summary([float(i) for i in range(1, 101)])
    assert got["n"] == 100
    assert got["p50"] == 50.5
    assert got["max"] == 100.0
    assert summary([]) == {"n": 0}


def test_mapping_measure_on_1000_links(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "bench.db")
    try:
        mapping.seed_links(store, 1000)
        assert store.count_links() == 1000
        result = mapping.measure_lookup(store, 1000, repeat=5)
    finally:
        store.close()
    assert result["n"] == 5
    assert result["median_us"] > 0


def test_links_csv_is_importable(tmp_path: Path) -> None:
    from bot.links.csv_io import parse_links_csv

    path = mapping.write_links_csv(tmp_path / "links.csv", 50)
    rows = parse_links_csv(path.read_text(encoding="utf-8"))
    assert [r.slack_user_id for r in rows[:2]] == [mapping.user_id(0), mapping.user_id(1)]


def test_requests_are_signed_and_keyed() -> None:
    commands = run.command_requests(3, "T01")
    submissions = run.submission_requests(3, "T01")
    assert len({key for key, _, _ in commands}) == 3  # one trigger_id each
    assert [key for key, _, _ in submissions] == ["CT010000000", "CT010000001", "CT010000002"]
    for _, body, headers in commands + submissions:
        assert body and headers["X-Slack-Signature"].startswith("v0=")


def test_targets_and_report_render_from_results() -> None:
    ack_entry = {
        "bot": {"ack_ms": {"p50": 1.0, "p99": 2.0}, "views_open_ms": {"p50": 1.0, "p99": 5.0}},
        "bare": {"ack_ms": {"p50": 1.0, "p99": 2.0}, "views_open_ms": {"p50": 1.0, "p99": 5.0}},
        "inline": {"ack_ms": {"p50": 0.5, "p99": 1.0}, "views_open_ms": {"p50": 1.0, "p99": 5.0}},
        "ratio_p50": 1.0,
        "ratio_p99": 1.0,
        "ratio_p50_inline": 2.0,
        "ratio_p99_inline": 2.0,
    }
    results: dict[str, Any] = {
        "meta": {"config": {"quick": True}},
        "ack": {k: {lv: ack_entry for lv in run.LEVELS} for k in ("command", "submission")},
        "e2e": {
            "overhead_ms": {"p50": 3.0, "p99": 4.0},
            "delivery_floor_ms": {"p50": 1.0},
            "received_to_card_median_ms": 2.0,
            "injected_ms": 50,
            "maxcare_held_ms": {"p50": 51.0},
            "cards": 1,
            "submissions": 1,
        },
        "burst": {
            "fraction_of_budget": 0.99,
            "provoked_429": 0,
            "lost": 0,
            "duplicate_tasks": 0,
            "duplicate_cards": 0,
            "accepted": 1,
            "submissions": 1,
            "maxcare_requests": 1,
            "drain_seconds": 1,
            "ideal_drain_seconds": 1,
            "budget": "1 per 1 s",
            "ack_ms": {"p99": 1},
        },
        "mapping": {
            "lookup_ratio": 1.0,
            "import": {"rows": 10, "seconds": 0.5, "interpreter_and_imports_seconds": 0.4},
            "lookup_10_of_100_us": {"median_us": 1},
            "lookup_10_of_100000_us": {"median_us": 1},
        },
        "footprint": {
            "rss_after_burst_mb": 80,
            "startup_seconds": [0.5, 0.6],
            "bare_startup_seconds": 0.2,
            "rss_idle_mb": 70,
            "bare_rss_idle_mb": 40,
            "rss_after_ack_phases_mb": 80,
            "rss_idle_burst_process_mb": 70,
        },
    }
    results["targets"] = run.targets(results)
    assert {t["result"] for t in results["targets"]} == {"PASS"}
    assert "PASS" in run.report(results)
    results["e2e"]["received_to_card_median_ms"] = 15.5
    missed = [t["target"] for t in run.targets(results) if t["result"] == "MISS"]
    assert missed == ["end-to-end overhead, median (received → card)"]


async def test_closed_loop_runs_from_the_warm_up_into_the_measured_requests() -> None:
    """The load stays steady: measured requests start while warm-up ones are still in flight."""
    in_flight: set[str] = set()
    seen: list[tuple[str, frozenset[str]]] = []  # (key on arrival, keys in flight then)
    most = 0

    async def handler(request: web.Request) -> web.Response:
        nonlocal most
        key = await request.text()  # each request's body is its key
        seen.append((key, frozenset(in_flight)))
        in_flight.add(key)
        most = max(most, len(in_flight))
        await asyncio.sleep(0.002 * (1 + int(key[1:]) % 5))  # uneven: requests end one by one
        in_flight.discard(key)
        return web.Response(text=key)

    app = web.Application()
    app.router.add_post("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        warm: list[Signed] = [(f"w{i}", f"w{i}", {}) for i in range(8)]
        measured: list[Signed] = [(f"m{i}", f"m{i}", {}) for i in range(20)]
        url = f"http://127.0.0.1:{port}/"
        samples = await load.closed_loop(url, measured, 4, warmup=warm, timeout=30)
    finally:
        await runner.cleanup()
    assert sorted(s.key for s in samples) == sorted(k for k, _, _ in measured)
    assert all(s.status == 200 and s.body == s.key.encode() for s in samples)
    assert most == 4
    first = next(flying for key, flying in seen if key.startswith("m"))
    assert any(key.startswith("w") for key in first), "the server was drained before measuring"


def test_fakes_freeze_what_survives_a_full_collection() -> None:
    gc.unfreeze()
    try:
        heap.freeze_after_full_collection("stop", {"generation": 1})
        assert gc.get_freeze_count() == 0, "young collections leave the heap as it is"
        heap.freeze_after_full_collection("start", {"generation": 2})
        assert gc.get_freeze_count() == 0, "nothing happens before the collection"
        heap.freeze_after_full_collection("stop", {"generation": 2})
        assert gc.get_freeze_count() > 1000, "the survivors are out of later collections"
    finally:
        gc.unfreeze()


def test_maxcare_holds_pair_each_arrival_with_its_answer() -> None:
    items = [
        [1.0, "maxcare", "POST /v4/tasks"],
        [1.01, "maxcare", "GET /v4/tasks/t1"],
        [1.02, "maxcare-answer", "GET /v4/tasks/t1"],
        [1.06, "maxcare-answer", "POST /v4/tasks"],
        [2.0, "maxcare", "POST /v4/tasks"],
        [2.05, "maxcare-answer", "POST /v4/tasks"],
        [3.0, "maxcare", "POST /v4/tasks"],  # still held when the receipts were read
    ]
    holds = run.maxcare_holds(items, "POST /v4/tasks")
    assert [(a, b) for a, b in holds] == [(1.0, 1.06), (2.0, 2.05)]
    # The burst counts requests, not answers.
    assert run.maxcare_arrivals(items) == [1.0, 1.01, 2.0, 3.0]


async def test_relay_makes_the_bots_hops_for_a_signed_submission_only(
    slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    import aiohttp

    from benchmarks.relay import NOTE_ID, Relay, relay_app
    from tests.support import payloads

    maxcare.add_note(NOTE_ID)
    provider = maxcare.add_provider()["id"]
    env = {
        "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
        "MAXCARE_API_URL": maxcare.url,
        "MAXCARE_API_KEY": maxcare.api_key,
        "MAXCARE_ORGANIZATION_ID": maxcare.organization_id,
        "RELAY_PROVIDER_ID": provider,
    }
    key, body, headers = run.submission_requests(1, run.Tags()())[0]
    async with aiohttp.ClientSession() as session:
        relay = Relay(env, session)
        runner = web.AppRunner(relay_app(relay))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/events"
        try:
            unsigned = {k: v for k, v in headers.items() if not k.lower().startswith("x-slack")}
            async with session.post(url, data=body.encode(), headers=unsigned) as resp:
                assert resp.status == 401
            async with session.post(url, data=body.encode(), headers=headers) as resp:
                assert resp.status == 200
            await asyncio.gather(*relay.in_hand)
        finally:
            await runner.cleanup()  # closes the relay's MaxCare client too
    assert relay.maxcare.is_closed
    assert len(maxcare.all_tasks()) == 1
    cards = slack.calls("chat.postMessage")
    assert [c.params["channel"] for c in cards] == [key]


async def test_lazy_vs_answer_dispatches_both_ways_and_reports_ratios() -> None:
    results = await lazy_vs_answer.compare(requests=20, rounds=2, warmup=2)
    assert sorted(results) == ["click/answer", "click/lazy", "command/answer", "command/lazy"]
    assert all(figure > 0 for row in results.values() for figure in row.values())
    assert "ratio" in lazy_vs_answer.report(results)
