"""Exactly once under long and messy faults: unknown outcomes, Slack failing, closed channels."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from bot import ids
from bot.db.store import utcnow
from bot.tasks.outbox import GIVEN_UP_TEXT, NOT_THERE_TEXT, UNKNOWN_TEXT
from tests.support import payloads
from tests.support.harness import DOCTOR, FAST, NURSE, Harness, MakeHarness
from tests.support.submissions import CHANNEL, new_view_id, submission


def _link(h: Harness) -> None:
    h.link(NURSE, h.nurse_provider)
    h.link(DOCTOR, h.doctor_provider)


async def _submit(h: Harness, text: str = "Review the plan", view_id: str | None = None,
                  note: str | None = None) -> tuple[str, str]:
    view_id, note = view_id or new_view_id(), note or h.maxcare.add_note()["id"]
    resp = await h.post(submission(view_id=view_id, note=note, notes=text, assignees=[DOCTOR]))
    assert resp.status_code == 200 and resp.json()["response_action"] == "update"
    return view_id, note


def _posts(h: Harness) -> int:
    return len(h.maxcare.requests("POST", "/tasks"))


def _told(h: Harness) -> str:
    """Everything the author was shown: modal updates, ephemerals and DMs."""
    calls = [*h.slack.calls("views.update"), *h.slack.calls("chat.postEphemeral"),
             *h.slack.calls("chat.postMessage")]
    return " ".join(str(c.params) for c in calls)


class ShiftedClock:
    """The database's wall clock, which a test can move forward (leases, windows, limits)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
async def short(make_harness: MakeHarness, clock: ShiftedClock) -> Harness:
    """A one-second retry window, a one-hour reconcile limit, a clock the test moves."""
    h = await make_harness(
        tuning=replace(FAST, retry_seconds=1.0, now=clock), maxcare_reconcile_hours=1.0
    )
    _link(h)
    return h


async def _unknown_after_an_applied_post(h: Harness, text: str) -> tuple[str, str]:
    """MaxCare applies the POST and answers 503, then no lookup answers for the window."""
    h.maxcare.fail_next("POST", "/tasks", 503, after_apply=True)
    h.maxcare.fail_next("GET", "/tasks", 503, times=100_000)
    view_id, note = await _submit(h, text)
    await h.settle()
    sub = h.bot.store.get_submission(view_id)
    assert sub is not None and sub.state == "unknown" and sub.ambiguous == 1
    return view_id, note


@pytest.mark.both_databases
async def test_an_applied_post_then_an_outage_is_told_as_unknown_never_posted_twice(
    short: Harness, clock: ShiftedClock
) -> None:
    harness = short
    view_id, _ = await _unknown_after_an_applied_post(harness, "Check the plan")
    told = _told(harness)
    assert UNKNOWN_TEXT[:40] in told and "was not created" not in told
    assert _posts(harness) == 1 and len(harness.maxcare.all_tasks()) == 1

    harness.maxcare.clear_faults()  # MaxCare is back: the background lookup adopts the task
    clock.advance(120)  # past the row's rest
    assert harness.bot.outbox.sweep() == 1
    await harness.settle()
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.state == "created" and sub.confirmed_at and sub.notes == ""
    task = harness.maxcare.all_tasks()[0]
    cards = [c for c in harness.slack.calls("chat.postMessage") if c.params["channel"] == CHANNEL]
    assert len(cards) == 1 and task["id"] in cards[0].params["text"]
    assert _posts(harness) == 1


@pytest.mark.both_databases
async def test_an_unknown_outcome_that_turns_out_absent_gives_the_draft_back(
    short: Harness, clock: ShiftedClock
) -> None:
    harness = short
    harness.maxcare.fail_next("POST", "/tasks", 503)  # not applied, but nobody can know yet
    harness.maxcare.fail_next("GET", "/tasks", 503, times=100_000)
    view_id, _ = await _submit(harness, "Keep my words")
    await harness.settle()
    assert harness.bot.store.get_submission(view_id).state == "unknown"  # type: ignore[union-attr]

    harness.maxcare.clear_faults()
    clock.advance(120)
    assert harness.bot.outbox.sweep() == 1
    await harness.settle()
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.state == "failed" and sub.notes == "Keep my words"
    assert sub.ambiguous == 0  # the lookup answered: nothing was created
    assert NOT_THERE_TEXT in _told(harness) and "Keep my words" in _told(harness)
    assert _posts(harness) == 1 and harness.maxcare.all_tasks() == []


async def test_past_the_reconcile_limit_the_truth_is_told_and_a_resubmission_looks_first(
    short: Harness, clock: ShiftedClock
) -> None:
    harness = short
    view_id, note = await _unknown_after_an_applied_post(harness, "Long outage")
    clock.advance(3600)  # MaxCare stays down past the reconcile limit
    assert harness.bot.outbox.sweep() == 1
    await harness.settle()
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.state == "failed" and sub.ambiguous == 1
    assert GIVEN_UP_TEXT[:40] in _told(harness)

    harness.maxcare.clear_faults()  # the nurse submits the draft again: looked up, adopted
    await _submit(harness, "Long outage", view_id=view_id, note=note)
    await harness.settle()
    assert _posts(harness) == 1 and len(harness.maxcare.all_tasks()) == 1
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.state == "created" and sub.confirmed_at


async def test_dropped_slack_connections_on_the_card_are_retried_not_abandoned(
    harness: Harness,
) -> None:
    _link(harness)
    harness.slack.drop("chat.postMessage", times=4)  # beyond slack_sdk's own two retries
    harness.slack.drop("views.update", times=10)
    view_id, _ = await _submit(harness)
    await harness.settle()
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.confirmed_at and sub.notes == ""
    assert len(harness.maxcare.all_tasks()) == 1


async def test_a_card_posted_whose_answer_was_lost_is_posted_again(harness: Harness) -> None:
    _link(harness)
    harness.slack.drop("chat.postMessage", times=3, after_apply=True)
    view_id, _ = await _submit(harness)
    await harness.settle()
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.confirmed_at  # a rare second card, never none
    assert len(harness.maxcare.all_tasks()) == 1


async def test_a_channel_refusing_for_good_moves_to_a_dm_at_once(harness: Harness) -> None:
    _link(harness)
    harness.slack.set_channel_access(CHANNEL, "restricted_action_read_only_channel")
    view_id, _ = await _submit(harness)
    await harness.settle()
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.confirmed_at and sub.notes == ""
    posts = harness.slack.calls("chat.postMessage")
    assert [c.params["channel"] for c in posts].count(CHANNEL) == 1  # tried once, not retried
    assert harness.slack.calls("conversations.open")
    assert any("/invite" in str(c.params) for c in posts if c.params["channel"] != CHANNEL)


@pytest.mark.both_databases
async def test_a_card_refused_everywhere_closes_the_row_and_says_so_in_plain_text(
    harness: Harness,
) -> None:
    _link(harness)
    harness.slack.fail("chat.postMessage", "invalid_blocks", times=10,
                       when=lambda params: bool(params.get("blocks")))
    view_id, _ = await _submit(harness)
    await harness.settle()
    sub = harness.bot.store.get_submission(view_id)
    assert sub is not None and sub.confirmed_at and sub.notes == ""
    task = harness.maxcare.all_tasks()[0]
    plain = [c for c in harness.slack.calls("chat.postMessage") if not c.params.get("blocks")]
    assert plain and task["id"] in plain[-1].params["text"]


@pytest.mark.both_databases
async def test_a_reopened_draft_of_an_unknown_outcome_is_looked_up_before_any_post(
    short: Harness, clock: ShiftedClock
) -> None:
    harness = short
    harness.slack.fail("views.update", "not_found", times=100)  # the modal was closed
    view_id, note = await _unknown_after_an_applied_post(harness, "Reopen me")
    clock.advance(3600)  # given up: the draft comes back with Reopen
    assert harness.bot.outbox.sweep() == 1
    await harness.settle()
    assert GIVEN_UP_TEXT[:40] in _told(harness)

    harness.maxcare.clear_faults()
    before = len(harness.slack.calls("views.open"))
    action = [{"type": "button", "action_id": ids.REOPEN_DRAFT_ACTION, "block_id": "b",
               "value": view_id}]
    assert (await harness.post(payloads.block_actions(
        action, channel_id=CHANNEL, trigger_id=payloads.new_trigger_id()))).status_code == 200
    form = (await harness.slack.async_wait_for("views.open", before + 1))[-1].params["view"]
    values = payloads.state_values(
        payloads.plain_text_value(ids.NOTE_BLOCK, ids.NOTE_ACTION, note),
        payloads.users_value(ids.ASSIGNEES_BLOCK, ids.ASSIGNEES_ACTION, [DOCTOR]),
        payloads.plain_text_value(ids.NOTES_BLOCK, ids.NOTES_ACTION, "Reopen me"),
    )
    reopened = new_view_id()  # a reopened draft is a new modal, so a new view ID
    resp = await harness.post(payloads.view_submission(
        form, values, user_id=NURSE, view_id=reopened, private_metadata=form["private_metadata"]))
    assert resp.status_code == 200
    await harness.settle()
    assert _posts(harness) == 1 and len(harness.maxcare.all_tasks()) == 1  # adopted, not POSTed
    sub = harness.bot.store.get_submission(reopened)
    assert sub is not None and sub.state == "created" and sub.confirmed_at


async def test_during_an_outage_each_author_hears_within_their_own_window(
    make_harness: MakeHarness, clock: ShiftedClock
) -> None:
    """More submissions than worker slots: those that waited for a slot are not given a window
    of their own after it, and are told they are queued while they wait."""
    h = await make_harness(tuning=replace(FAST, retry_seconds=60.0, now=clock))
    _link(h)
    h.maxcare.fail_next("POST", "/tasks", 429, times=100_000)  # never applied: drafts come back
    views = [(await _submit(h, f"Task {n}"))[0] for n in range(20)]
    waiting = views[16:]  # 16 worker slots: these four wait for one

    def queued(view_id: str) -> bool:
        return any(c.params.get("view_id") == view_id and "Queued" in str(c.params)
                   for c in h.slack.calls("views.update"))

    deadline = time.monotonic() + 30
    while not all(queued(v) for v in waiting):
        assert time.monotonic() < deadline, "the waiting ones were never told they are queued"
        await asyncio.sleep(0.05)
    clock.advance(61)  # every submission's own window has passed, the waiting ones' too
    await asyncio.wait_for(h.settle(), 30)  # nobody starts a fresh window after their wait
    for view_id in views:
        sub = h.bot.store.get_submission(view_id)
        assert sub is not None and sub.state == "failed" and sub.notes.startswith("Task")
    assert h.maxcare.all_tasks() == []
