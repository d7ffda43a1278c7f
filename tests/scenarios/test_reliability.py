"""Faults injected into MaxCare and Slack: exactly one task and one card per accepted submission."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.db import open_store
from bot.db.store import Store, utcnow
from bot.maxcare import MaxCareClient
from bot.runtime.pressure import BUSY_WINDOW, MAX_WAIT
from bot.settings import Settings
from bot.tasks.outbox import WAITING_TEXT
from tests.support import payloads
from tests.support.fakes import FakeMaxCare
from tests.support.harness import DOCTOR, FAST, NURSE, Harness, MakeHarness, ManualClock
from tests.support.status import wait_until
from tests.support.submissions import CHANNEL, new_view_id, submission

WAIT = 10.0  # generous: every wait here is for an event, on a machine that may be busy


def _link(h: Harness) -> None:
    h.link(NURSE, h.nurse_provider)
    h.link(DOCTOR, h.doctor_provider)


async def _submit(h: Harness, text: str = "Review the plan") -> tuple[str, str]:
    view_id, note = new_view_id(), h.maxcare.add_note()["id"]
    resp = await h.post(submission(view_id=view_id, note=note, notes=text, assignees=[DOCTOR]))
    assert resp.status_code == 200
    assert resp.json()["response_action"] == "update"
    return view_id, note


def _assert_exactly_once(h: Harness, view_id: str, refused_posts: int = 0) -> None:
    """One task, one card (the fake also records the posts it refused, say with a 429)."""
    tasks = h.maxcare.all_tasks()
    assert len(tasks) == 1, tasks
    cards = [c for c in h.slack.calls("chat.postMessage") if c.params.get("channel") == CHANNEL]
    assert len(cards) == 1 + refused_posts, cards
    assert tasks[0]["id"] in cards[0].params["text"]
    sub = h.bot.store.get_submission(view_id)
    assert sub is not None and sub.task_id == tasks[0]["id"] and sub.confirmed_at
    assert sub.notes == ""  # the EHR holds the text now


async def test_429_storm_waits_and_creates_once(harness: Harness) -> None:
    _link(harness)
    harness.maxcare.fail_next("POST", "/tasks", 429, times=6, headers={"Retry-After": "1"})
    view_id, _ = await _submit(harness)
    await harness.settle()
    _assert_exactly_once(harness, view_id)
    assert len(harness.maxcare.requests("POST", "/tasks")) == 7


async def test_5xx_before_creation_looks_then_posts_again(harness: Harness) -> None:
    _link(harness)
    harness.maxcare.fail_next("POST", "/tasks", 500)
    view_id, note = await _submit(harness)
    await harness.settle()
    _assert_exactly_once(harness, view_id)
    seen = [(r.method, r.path, r.query.get("noteId")) for r in harness.maxcare.requests()]
    first_post = seen.index(("POST", "/tasks", None))
    lookup = seen.index(("GET", "/tasks", note))
    assert first_post < lookup < len(seen) - 1 - seen[::-1].index(("POST", "/tasks", None))


@pytest.mark.both_databases
async def test_5xx_after_creation_adopts_the_task(harness: Harness) -> None:
    _link(harness)
    harness.maxcare.fail_next("POST", "/tasks", 502, after_apply=True)
    view_id, _ = await _submit(harness)
    await harness.settle()
    _assert_exactly_once(harness, view_id)
    assert len(harness.maxcare.requests("POST", "/tasks")) == 1


async def test_dropped_connection_after_creation_adopts_the_task(harness: Harness) -> None:
    _link(harness)
    harness.maxcare.drop_next("POST", "/tasks", after_apply=True)
    view_id, _ = await _submit(harness)
    await harness.settle()
    _assert_exactly_once(harness, view_id)
    assert len(harness.maxcare.requests("POST", "/tasks")) == 1


async def test_similar_task_of_someone_else_is_not_adopted(harness: Harness) -> None:
    _link(harness)
    harness.maxcare.fail_next("POST", "/tasks", 500)  # fails before creating
    view_id, note = await _submit(harness, "Same words")
    await harness.settle()
    # A task with other text on the same note must never be taken for ours.
    texts = sorted(t["notes"] for t in harness.maxcare.all_tasks())
    assert texts == ["Same words"]
    _assert_exactly_once(harness, view_id)


@pytest.mark.both_databases
async def test_maxcare_down_then_back_shows_queued_and_creates_once(harness: Harness) -> None:
    _link(harness)
    harness.maxcare.set_down(True)
    view_id, _ = await _submit(harness)
    await harness.slack.async_wait_for("views.update")
    waiting = harness.slack.calls("views.update")[0].params["view"]
    assert "Queued" in str(waiting) and WAITING_TEXT.split(":")[2].strip()[:20] in str(waiting)
    tried = len(harness.maxcare.requests())
    await wait_until(lambda: len(harness.maxcare.requests()) >= tried + 2)  # still trying
    assert harness.maxcare.all_tasks() == []
    harness.maxcare.set_down(False)
    await harness.settle()
    _assert_exactly_once(harness, view_id)


async def test_maxcare_unreachable_for_the_whole_window_gives_the_draft_back(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(tuning=replace(FAST, retry_seconds=1.0))
    _link(harness)
    # Refused with 429 throughout: certainly not applied, so the draft comes back (a 5xx
    # leaves the outcome unknown instead: tests/scenarios/test_exactly_once.py).
    harness.maxcare.fail_next("POST", "/tasks", 429, times=1000)
    view_id, _ = await _submit(harness, "Keep this text")
    await harness.settle()
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.state == "failed" and sub.notes == "Keep this text"
    restored = harness.slack.calls("views.update")[-1].params
    assert restored["view_id"] == view_id
    assert "Keep this text" in str(restored["view"]) and "did not accept" in str(restored["view"])
    assert harness.maxcare.all_tasks() == []


@pytest.mark.both_databases
async def test_concurrent_double_submission_creates_one_task(harness: Harness) -> None:
    _link(harness)
    view_id, note = new_view_id(), harness.maxcare.add_note()["id"]
    signed = submission(view_id=view_id, note=note, notes="Double click", assignees=[DOCTOR])
    answers = await asyncio.gather(*(harness.post(signed) for _ in range(4)))
    assert all(a.status_code == 200 for a in answers)
    await harness.settle()
    await harness.post(signed)  # a late Slack retry after the task exists
    await harness.settle()
    _assert_exactly_once(harness, view_id)


async def test_slack_rate_limit_on_card_posts_once(harness: Harness) -> None:
    _link(harness)
    harness.slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    view_id, _ = await _submit(harness)
    await harness.settle()
    _assert_exactly_once(harness, view_id, refused_posts=1)


async def test_closed_modal_is_ignored_quietly(harness: Harness) -> None:
    _link(harness)
    harness.slack.fail("views.update", "not_found", times=5)
    view_id, _ = await _submit(harness)
    await harness.settle()
    _assert_exactly_once(harness, view_id)


async def test_burst_of_three_times_the_budget_provokes_no_429() -> None:
    budget, window = 10, 1.0
    clock = ManualClock()  # the fake's window and the client's budget: one clock

    async def sleep(seconds: float) -> None:
        """Time passes only while the client waits (for its budget, or before a retry)."""
        until = clock() + seconds
        await asyncio.sleep(0)
        clock.now = max(clock.now, until)

    with FakeMaxCare(rate_limit=budget, rate_window=window, clock=clock) as fake:
        doctor = fake.add_provider()
        async with MaxCareClient(
            base_url=fake.url,
            api_key=fake.api_key,
            organization_id=fake.organization_id,
            rate_limit_per_minute=budget,
            rate_window_seconds=window,
            clock=clock,
            sleep=sleep,
        ) as client:
            start = clock()
            made = await asyncio.gather(
                *(
                    client.create_task(
                        note_id=fake.add_note()["id"],
                        provider_id=doctor["id"],
                        notes=f"task {i}",
                        assignee_ids=[doctor["id"]],
                    )
                    for i in range(3 * budget)
                )
            )
        assert fake.rate_limited_count == 0
        assert len({t.id for t in made}) == len(fake.all_tasks()) == 3 * budget
        assert clock() - start >= 2 * window  # three windows' worth drained at the budget


@pytest.mark.parametrize("base", ["{url}", "{url}/"])
async def test_client_paths_keep_the_version(base: str) -> None:
    with FakeMaxCare() as fake:
        async with MaxCareClient(
            base_url=base.format(url=fake.url), api_key=fake.api_key,
            organization_id=fake.organization_id,
        ) as client:
            await client.ping()
        assert fake.requests()[0].path == "/providers"
        assert httpx.URL(fake.url).path == "/v4"


async def test_timeout_after_which_maxcare_still_creates_the_task(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(maxcare_timeout_seconds=0.3)
    _link(harness)
    harness.maxcare.delay_next("POST", "/tasks", 1.0, after_apply=True)
    view_id, note = await _submit(harness)
    await harness.settle()
    _assert_exactly_once(harness, view_id)
    assert len(harness.maxcare.requests("POST", "/tasks")) == 1
    assert harness.maxcare.requests("GET", "/tasks")[0].query["noteId"] == note


class RefuseFirst(httpx.AsyncBaseTransport):
    """Refuses the first connections (nothing sent), then forwards for real."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.refusals > 0:
            self.refusals -= 1
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_connection_refused_is_retried_without_looking(make_harness: MakeHarness) -> None:
    harness = await make_harness(maxcare_transport=RefuseFirst(6))
    _link(harness)
    view_id, _ = await _submit(harness)
    await harness.settle()
    _assert_exactly_once(harness, view_id)
    # Refused connections cannot have created anything: no lookup was needed.
    assert harness.maxcare.requests("GET", "/tasks") == []


@pytest.mark.both_databases
async def test_expired_drafts_lose_their_text(make_harness: MakeHarness) -> None:
    later = [timedelta(0)]  # how far the database's clock is ahead of the real one
    harness = await make_harness(tuning=replace(FAST, now=lambda: utcnow() + later[0]))
    _link(harness)
    harness.maxcare.fail_next("POST", "/tasks", 404, body={
        "code": "not_found", "message": "Note not found", "trace_id": "t-1",
    })
    view_id, _ = await _submit(harness, "Old draft text")
    await harness.settle()
    store = harness.bot.store
    assert store.get_submission(view_id).notes == "Old draft text"  # type: ignore[union-attr]
    later[0] = timedelta(hours=2)  # the start-up's purge is an hour old: the job is due again
    assert harness.bot.outbox.purge_drafts() == 0  # but the draft is still fresh
    later[0] = timedelta(days=8)
    assert harness.bot.outbox.purge_drafts() == 1
    sub = store.get_submission(view_id)
    assert sub is not None and sub.notes == "" and sub.state == "expired"


@pytest.mark.both_databases
async def test_sql_looking_text_is_stored_and_sent_literally(harness: Harness) -> None:
    _link(harness)
    text = "Robert'); DROP TABLE submissions; -- \" OR 1=1"
    view_id, _ = await _submit(harness, text)
    await harness.settle()
    _assert_exactly_once(harness, view_id)
    assert harness.maxcare.all_tasks()[0]["notes"] == text
    assert harness.bot.store.count_links() == 2  # every table still there


@pytest.mark.both_databases
async def test_provider_gone_from_maxcare_is_flagged_and_named_next_time(
    harness: Harness,
) -> None:
    _link(harness)
    gone = harness.maxcare.providers.pop(harness.doctor_provider["id"])  # MaxCare forgot them
    view_id, _ = await _submit(harness)
    await harness.settle()
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.state == "failed"
    doctor = harness.bot.store.get_link(DOCTOR)
    nurse = harness.bot.store.get_link(NURSE)
    assert doctor is not None and doctor.stale_reason == "provider_not_found"
    assert nurse is not None and nurse.stale_reason is None
    resp = await harness.post(submission(
        view_id=new_view_id(), note=harness.maxcare.add_note()["id"], notes="Again",
        assignees=[DOCTOR],
    ))
    assert resp.json()["response_action"] == "errors"
    assert "Cannot be assigned" in resp.json()["errors"]["assignees"]
    assert gone["id"] not in resp.text  # people are named, not IDs


# -- acks before background work --------------------------------------------------------------
# The gauge runs on a clock the test moves: requests arriving while it stands still are all
# "within the window", however slowly a loaded machine serves them.


async def _on_gauge_clock(make_harness: MakeHarness) -> tuple[Harness, ManualClock]:
    clock = ManualClock()
    h = await make_harness(tuning=replace(FAST, pressure_clock=clock))
    _link(h)
    return h, clock


async def _help(h: Harness, times: int) -> None:
    """`/task help` `times` times, each answered before the next: never two in hand."""
    for _ in range(times):
        resp = await h.post(payloads.slash_command("help"))
        assert resp.status_code == 200


async def test_a_submission_waits_while_requests_keep_arriving_then_goes(
    make_harness: MakeHarness,
) -> None:
    h, clock = await _on_gauge_clock(make_harness)
    await _help(h, 3)
    view_id, _ = await _submit(h)
    await _help(h, 20)
    assert list(h.bot.outbox._held) == [view_id]  # held: Slack's requests come first
    assert h.bot.outbox.busy == 1
    assert h.maxcare.requests("POST", "/tasks") == []
    clock.advance(2 * BUSY_WINDOW)  # the requests stop; the work's deadline is still far off
    await asyncio.wait_for(h.settle(), WAIT)
    _assert_exactly_once(h, view_id)


async def test_a_submission_on_a_quiet_app_starts_at_its_ack(harness: Harness) -> None:
    h = harness
    _link(h)
    view_id, _ = await _submit(h)
    assert view_id in h.bot.outbox._running and not h.bot.outbox._held  # not held, not queued
    await asyncio.wait_for(h.settle(), WAIT)
    _assert_exactly_once(h, view_id)


async def test_held_work_waits_at_most_two_seconds_from_its_ack(make_harness: MakeHarness) -> None:
    h, clock = await _on_gauge_clock(make_harness)
    pressure = h.bot.pressure
    pressure.enter()  # two Slack requests in hand the whole time: busy without a gap
    pressure.enter()
    try:
        view_id, _ = await _submit(h)
        assert h.bot.outbox._held == {view_id: clock() + MAX_WAIT}  # held until 2 s after it
        clock.advance(MAX_WAIT)
        await wait_until(lambda: bool(h.maxcare.requests("POST", "/tasks")), WAIT)
        assert pressure.busy  # still busy: the deadline released it
    finally:
        pressure.leave()
        pressure.leave()
    clock.advance(MAX_WAIT)
    await asyncio.wait_for(h.settle(), WAIT)
    _assert_exactly_once(h, view_id)


async def test_stopping_starts_held_work_at_once(make_harness: MakeHarness) -> None:
    h, clock = await _on_gauge_clock(make_harness)
    pressure = h.bot.pressure
    pressure.enter()  # two Slack requests in hand: busy, and the gauge's clock stands still
    pressure.enter()
    try:
        view_id, _ = await _submit(h)
        assert list(h.bot.outbox._held) == [view_id]
        assert h.maxcare.requests("POST", "/tasks") == []
        # Its wait is up too (so the worker's own give_way does not hold it again), but the
        # releasing task would only see that at its next wake-up: stop() must start it itself.
        clock.advance(MAX_WAIT)
        await h.bot.outbox.stop(grace=5)  # SIGTERM: no more acks to give way to
        assert len(h.maxcare.requests("POST", "/tasks")) == 1
    finally:
        pressure.leave()
        pressure.leave()
    _assert_exactly_once(h, view_id)


def fails_to_record_once(store: Store) -> Store:
    """The database (either backend), its first write of a task row failing (a disk error)."""
    failures = [sqlite3.OperationalError("disk I/O error")]
    record = store.record_task

    def record_task(**row: Any) -> None:
        if failures:
            raise failures.pop()
        record(**row)

    store.record_task = record_task  # type: ignore[method-assign]
    return store


@pytest.mark.both_databases
async def test_a_failed_write_after_creation_leaves_no_half_recorded_task(
    make_harness: MakeHarness, settings: Settings
) -> None:
    """The submission turns "created" in the same commit as its task row, or not at all."""
    store = fails_to_record_once(open_store(settings))
    harness = await make_harness(store=store)
    _link(harness)
    view_id, _ = await _submit(harness)
    await harness.settle()
    sub = store.get_submission(view_id)
    assert sub is not None and sub.state == "creating" and sub.task_id is None
    assert store.get_task(harness.maxcare.all_tasks()[0]["id"]) is None
    assert sub.claimed_by is None and sub.lease_until  # released, resting before a retry
    store.update_submission(view_id, lease_until=None)  # as if the rest were over
    await harness.bot.outbox.process(view_id)  # as the next sweep does
    _assert_exactly_once(harness, view_id)
