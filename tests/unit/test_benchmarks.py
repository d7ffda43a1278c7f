"""Smoke tests of benchmarks/: the pure parts and the baselines run, with no timing assertions."""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import httpx
import pytest
from aiohttp import web

from benchmarks import bare_bolt, heap, load, mapping, measure, report, traffic
from benchmarks.fakes import LatentMaxCare
from benchmarks.load import Sample, Signed
from benchmarks.stats import percentile, summary
from bot.db.store import Store
from tests.support import payloads
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


# --- mapping ---------------------------------------------------------------------------------


def test_mapping_measure_times_memory_and_sql_on_1000_links(tmp_path: Path) -> None:
    store = Store(tmp_path / "bench.db")
    try:
        mapping.seed_links(store, 1000)
        assert store.count_links() == 1000
        result = mapping.measure_lookup(store, 1000, repeat=5)
    finally:
        store.close()
    for path in ("cached", "uncached"):
        assert result[path]["n"] == 5
        assert result[path]["median_us"] > 0


def test_another_connections_write_sends_the_next_lookup_to_sql(tmp_path: Path) -> None:
    store = Store(tmp_path / "bench.db")
    other = mapping.OtherWriter(store.path)
    try:
        mapping.seed_links(store, 100)
        wanted = [mapping.user_id(i) for i in range(10)]
        store.get_links(wanted)
        seen: list[str] = []
        store.db.conn.set_trace_callback(seen.append)
        store.get_links(wanted)
        store.db.conn.set_trace_callback(None)
        assert not [s for s in seen if "FROM links" in s], "the second lookup is from memory"
        assert mapping._reads_links(store, other, wanted) == 1
    finally:
        other.close()
        store.close()


def test_links_csv_is_importable(tmp_path: Path) -> None:
    from bot.links.csv_io import parse_links_csv

    path = mapping.write_links_csv(tmp_path / "links.csv", 50)
    rows = parse_links_csv(path.read_text(encoding="utf-8"))
    assert [r.slack_user_id for r in rows[:2]] == [mapping.user_id(0), mapping.user_id(1)]


# --- requests --------------------------------------------------------------------------------


def _view(body: str) -> dict[str, Any]:
    return dict(json.loads(parse_qs(body)["payload"][0])["view"])


def test_requests_are_signed_and_keyed() -> None:
    commands = traffic.command_requests(3, "T01")
    subs = traffic.submission_requests(3, "T01")
    assert len({key for key, _, _ in commands}) == 3  # one trigger_id each
    assert [key for key, _, _ in subs] == ["CT010000000", "CT010000001", "CT010000002"]
    for _, body, headers in commands + subs:
        assert body and headers["X-Slack-Signature"].startswith("v0=")
    for channel, body, _ in subs:  # MaxCare's answer is found from the card's channel
        note = next(iter(_view(body)["state"]["values"]["note"].values()))["value"]
        assert note == traffic.note_for(channel)
    assert traffic.note_for("C1") != traffic.note_for("C2")


def test_mixed_requests_follow_the_kinds_given() -> None:
    kinds = ["command", "submission", "submission", "command"]
    got = traffic.mixed_requests(kinds, "T02")
    assert [k for k, _ in got] == kinds
    assert got[1][1][0].startswith("CT02S")


# --- the load generators ---------------------------------------------------------------------


def test_schedules_are_reproducible_and_at_the_rate_asked() -> None:
    assert load.fixed_times(4, 2.0) == [0.0, 0.5, 1.0, 1.5]
    times = load.poisson_times(10_000, 50.0, seed=7)
    assert times == load.poisson_times(10_000, 50.0, seed=7)
    assert times != load.poisson_times(10_000, 50.0, seed=8)
    assert all(b >= a for a, b in zip(times, times[1:], strict=False))
    assert 0.9 / 50 < times[-1] / len(times) < 1.1 / 50


def test_latency_counts_from_when_the_request_was_due() -> None:
    s = Sample("k", due=10.0, acked=10.25, status=200, body=b"", sent=10.2)
    assert s.ms == pytest.approx(250.0)
    assert s.lag_ms == pytest.approx(200.0)
    assert s.answered
    late = Sample("k", due=10.0, acked=13.5, status=200, body=b"", sent=10.0)
    assert not late.answered, "Slack gives up on an ack after 3 s"
    assert not measure.ok_ack("command", late)


class _Server:
    """An aiohttp app on 127.0.0.1 for a test, with its URL."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.runner = web.AppRunner(app, access_log=None)
        self.url = ""

    async def __aenter__(self) -> _Server:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}/"
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.runner.cleanup()


async def test_open_loop_keeps_sending_while_the_server_stalls() -> None:
    """A stalled request does not hold back the ones due after it (a closed loop would)."""
    release = asyncio.Event()
    arrived: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        key = await request.text()
        arrived.append(key)
        if key == "r0":
            await release.wait()  # stalls until every later request has arrived
        elif len(arrived) == 6:
            release.set()
        return web.Response(text=key)

    app = web.Application()
    app.router.add_post("/", handler)
    async with _Server(app) as server:
        reqs: list[Signed] = [(f"r{i}", f"r{i}", {}) for i in range(6)]
        samples = await load.open_loop(server.url, reqs, load.fixed_times(6, 200.0), timeout=30)
    assert sorted(s.key for s in samples) == [f"r{i}" for i in range(6)]
    assert samples[-1].key == "r0", "the stalled request was answered last"
    assert all(s.status == 200 and s.body == s.key.encode() for s in samples)
    assert [s.due for s in sorted(samples, key=lambda s: s.key)] == sorted(s.due for s in samples)


async def test_open_loop_returns_requests_that_got_no_answer() -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=500 if (await request.text()) == "bad" else 200)

    app = web.Application()
    app.router.add_post("/", handler)
    async with _Server(app) as server:
        reqs: list[Signed] = [("ok", "ok", {}), ("bad", "bad", {}), ("gone", "gone", {})]
        urls = [server.url, server.url, "http://127.0.0.1:9/"]  # nothing listens on port 9
        got = {s.key: s for s in await load.open_loop(urls, reqs, [0, 0, 0], timeout=30)}
    assert got["ok"].status == 200
    assert got["bad"].status == 500
    assert got["gone"].status == -1 and not got["gone"].answered


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
    async with _Server(app) as server:
        warm: list[Signed] = [(f"w{i}", f"w{i}", {}) for i in range(8)]
        measured: list[Signed] = [(f"m{i}", f"m{i}", {}) for i in range(20)]
        samples = await load.closed_loop(server.url, measured, 4, warmup=warm, timeout=30)
    assert sorted(s.key for s in samples) == sorted(k for k, _, _ in measured)
    assert all(s.status == 200 and s.body == s.key.encode() for s in samples)
    assert most == 4
    first = next(flying for key, flying in seen if key.startswith("m"))
    assert any(key.startswith("w") for key in first), "the server was drained before measuring"


# --- what the fakes saw, and what counts as failed -------------------------------------------


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


def test_the_fake_maxcare_records_each_created_task_by_note() -> None:
    with LatentMaxCare() as fake:
        provider = fake.add_provider()["id"]
        headers = {
            "Authorization": f"Bearer {fake.api_key}",
            "X-Organization-Id": fake.organization_id,
        }
        note = traffic.note_for("CX")
        body = {"noteId": note, "providerId": provider, "notes": "n", "assigneeIds": [provider]}
        with httpx.Client(base_url=fake.url, headers=headers) as http:
            assert http.post("/tasks", json=body).status_code < 300
            assert http.post("/tasks", json={**body, "noteId": "bad"}).status_code == 400
            got = httpx.get(f"{fake.base}/_bench/receipts").json()["items"]
    assert [key for _, kind, key in got if kind == "task-created"] == [note]


# --- targets and the table -------------------------------------------------------------------


def _app(kind: str, worker: bool) -> dict[str, Any]:
    ms = {"n": 10, "p50": 1.0, "p99": 2.0}
    out: dict[str, Any] = {"ack_ms": ms, "failed": 0, "cpu_ms_per_request": 1.0}
    if kind == "command":
        out.update(views_open_ms={"n": 10, "p50": 5.0, "p99": 9.0}, forms_not_opened=0)
    elif worker:
        out.update(card_after_maxcare_ms=ms, submission_to_card_ms=ms, cards_missing=0)
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
    r["ack"]["submission"][60]["ratio_p99"] = 1.3
    assert _judge(r) == ["ack p99 at 60/s, submissions, cards included (bot / like-for-like)"]
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


# --- the baselines ---------------------------------------------------------------------------


def _hops_env(slack: FakeSlack, maxcare: FakeMaxCare) -> dict[str, str]:
    return {
        "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_API_URL": slack.api_url,
        "MAXCARE_API_URL": maxcare.url,
        "MAXCARE_API_KEY": maxcare.api_key,
        "MAXCARE_ORGANIZATION_ID": maxcare.organization_id,
        "RELAY_PROVIDER_ID": maxcare.add_provider()["id"],
    }


async def test_relay_makes_the_bots_hops_for_a_signed_submission_only(
    slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    from benchmarks.relay import Relay, relay_app

    key, body, headers = traffic.submission_requests(1, traffic.Tags()())[0]
    async with aiohttp.ClientSession() as session:
        relay = Relay(_hops_env(slack, maxcare), session)
        async with _Server(relay_app(relay)) as server:
            url = f"{server.url}slack/events"
            unsigned = {k: v for k, v in headers.items() if not k.lower().startswith("x-slack")}
            async with session.post(url, data=body.encode(), headers=unsigned) as resp:
                assert resp.status == 401
            async with session.post(url, data=body.encode(), headers=headers) as resp:
                assert resp.status == 200
            await asyncio.gather(*relay.in_hand)
        assert relay.hops.maxcare.is_closed, "closed with the app"
    assert [t["noteId"] for t in maxcare.all_tasks()] == [traffic.note_for(key)]
    cards = slack.calls("chat.postMessage")
    assert [c.params["channel"] for c in cards] == [key]


async def test_like_for_like_answers_at_the_ack_then_does_the_bots_calls(
    slack: FakeSlack, maxcare: FakeMaxCare, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in _hops_env(slack, maxcare).items():
        monkeypatch.setenv(name, value)
    ((channel, sub, sub_headers),) = traffic.submission_requests(1, "T03")
    ((trigger, cmd, cmd_headers),) = traffic.command_requests(1, "T03")
    async with aiohttp.ClientSession() as session, aiohttp.ClientSession() as client:
        app = bare_bolt.bare_app(like_for_like=True, session=session)
        async with _Server(app) as server:
            url = f"{server.url}slack/events"
            async with client.post(url, data=sub.encode(), headers=sub_headers) as resp:
                assert resp.status == 200
                answer = await resp.json()
            async with client.post(url, data=cmd.encode(), headers=cmd_headers) as resp:
                assert resp.status == 200 and (await resp.read()).strip() == b""
            await slack.async_wait_for("views.update")
            await slack.async_wait_for("views.open")
            for _ in range(500):  # its work ends once Slack has answered the last call
                async with client.get(f"{server.url}healthz") as resp:
                    if (await resp.json())["in_hand"] == 0:
                        break
                await asyncio.sleep(0.01)
            else:
                pytest.fail("the like-for-like app never finished its work")
    assert answer["response_action"] == "update"
    assert [t["noteId"] for t in maxcare.all_tasks()] == [traffic.note_for(channel)]
    assert [c.params["channel"] for c in slack.calls("chat.postMessage")] == [channel]
    assert [c.params["trigger_id"] for c in slack.calls("views.open")] == [trigger]


def test_the_like_for_like_baseline_takes_the_bots_gc_settings() -> None:
    from bot.runtime.server import GC_YOUNG_THRESHOLD

    before = gc.get_threshold()
    try:
        bare_bolt.app_gc()
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


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
