"""Smoke tests of benchmarks/: the pure parts and the baselines run, with no timing assertions."""

from __future__ import annotations

import asyncio
import gc
import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import httpx
import pytest
from aiohttp import web

from benchmarks import bare_bolt, heap, load, mapping, measure, traffic
from benchmarks.fakes import LatentMaxCare
from benchmarks.load import Sample, Signed
from benchmarks.stats import percentile, summary
from bot.db.store import SQLiteStore
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
    store = SQLiteStore(tmp_path / "bench.db")
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
    store = SQLiteStore(tmp_path / "bench.db")
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
    maxcare.add_note(traffic.note_for(key))  # the strict fake knows only registered notes
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
    maxcare.add_note(traffic.note_for(channel))
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
