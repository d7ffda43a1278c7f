"""The metrics on their own: the outbox read at scrape time, MaxCare outcomes and budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.db.store import SQLiteStore, Submission
from bot.maxcare import MaxCareClient, MaxCareUnavailable, Unauthorized
from bot.runtime.metrics import Metrics
from tests.support.harness import ManualClock

KEY = "max_dev_ak_unit"
ORG = "org_" + "1" * 32
T0 = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    body, content_type = metrics.render()
    assert content_type.startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def _submission(view_id: str) -> Submission:
    return Submission(
        view_id=view_id, team_id="T0", user_id="UNURSE", source="command",
        note_id="nte_" + "a" * 32, notes="Review the plan", assignee_user_ids=["UDOCTOR"],
        provider_id="prv_" + "a" * 32, assignee_ids=["prv_" + "b" * 32],
    )


def _client(handler: httpx.MockTransport, metrics: Metrics, **kw: object) -> MaxCareClient:
    return MaxCareClient(
        base_url="https://api.maxcare.example/v4", api_key=KEY, organization_id=ORG,
        transport=handler, on_outcome=metrics.maxcare_outcome, **kw,  # type: ignore[arg-type]
    )


async def test_the_outbox_is_read_at_each_scrape(tmp_path: Path) -> None:
    later = [timedelta(0)]
    store = SQLiteStore(tmp_path / "bot.db", clock=lambda: T0 + later[0])
    metrics = Metrics()
    maxcare = _client(httpx.MockTransport(lambda r: httpx.Response(200)), metrics)
    metrics.watch(store, maxcare)
    try:
        for view_id in ("VOLDEST", "VCREATING", "VDONE", "VFAILED"):
            store.add_submission(_submission(view_id))
            later[0] += timedelta(seconds=30)
        store.update_submission("VCREATING", state="creating")
        store.update_submission("VDONE", state="created", confirmed_at=T0.isoformat())
        store.update_submission("VFAILED", state="failed")
        later[0] = timedelta(seconds=100)

        got = samples(metrics)
        depth = {labels: v for (name, labels), v in got.items()
                 if name == "maxcare_tasks_outbox_submissions"}
        assert depth == {
            frozenset({("state", "pending")}): 1,
            frozenset({("state", "creating")}): 1,
            frozenset({("state", "created")}): 0,  # the one done has its card
            frozenset({("state", "unknown")}): 0,
            frozenset({("state", "refused")}): 0,  # workflow runs Slack must hear were refused
        }
        assert got[("maxcare_tasks_outbox_oldest_waiting_seconds", frozenset())] == 100

        store.update_submission("VOLDEST", state="created", confirmed_at=T0.isoformat())
        assert samples(metrics)[("maxcare_tasks_outbox_oldest_waiting_seconds", frozenset())] == 70
    finally:
        await maxcare.aclose()
        store.close()


async def test_requests_without_an_answer_are_counted_by_the_errors_type() -> None:
    metrics = Metrics()

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async def no_wait(seconds: float) -> None:
        return None

    client = _client(httpx.MockTransport(refuse), metrics, max_attempts=3, sleep=no_wait)
    with pytest.raises(MaxCareUnavailable):
        await client.ping()
    await client.aclose()
    got = samples(metrics)
    key = frozenset({("method", "GET"), ("outcome", "ConnectError")})
    assert got[("maxcare_tasks_maxcare_requests_total", key)] == 3  # each attempt


async def test_answers_are_counted_by_status_class() -> None:
    metrics = Metrics()
    answers = iter([401, 200])
    client = _client(
        httpx.MockTransport(lambda r: httpx.Response(next(answers), json={"data": {}})), metrics
    )
    with pytest.raises(Unauthorized):
        await client.ping()
    await client.ping()
    await client.aclose()
    got = samples(metrics)
    for outcome in ("4xx", "2xx"):
        key = frozenset({("method", "GET"), ("outcome", outcome)})
        assert got[("maxcare_tasks_maxcare_requests_total", key)] == 1


async def test_the_budget_used_empties_as_the_window_passes(tmp_path: Path) -> None:
    metrics = Metrics()
    clock = ManualClock()
    client = _client(
        httpx.MockTransport(lambda r: httpx.Response(200, json={"data": {}})), metrics,
        clock=clock, rate_limit_per_minute=50,
    )
    store = SQLiteStore(tmp_path / "bot.db")
    metrics.watch(store, client)
    try:
        for _ in range(3):
            await client.ping()
            clock.advance(20)

        def budget() -> tuple[float, float]:
            got = samples(metrics)
            return (got[("maxcare_tasks_maxcare_budget_used_requests", frozenset())],
                    got[("maxcare_tasks_maxcare_budget_limit_requests", frozenset())])

        assert budget() == (2, 50)  # the first left the minute's window as the clock moved on
        clock.advance(60)
        assert budget() == (0, 50)
    finally:
        await client.aclose()
        store.close()
