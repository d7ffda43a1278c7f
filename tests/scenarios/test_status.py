"""Live status: Refresh, the sync follower, `/task status`, `/task mine`, odd statuses."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest

from bot import ids
from bot.app import build_bot
from bot.settings import Settings
from tests.support import payloads
from tests.support.harness import DOCTOR, NURSE, Harness, MakeHarness, ManualClock
from tests.support.messages import posts
from tests.support.status import (
    FAST_FOLLOW,
    STRANGER,
    WallClock,
    click_card_refresh,
    click_ephemeral,
    create_task,
    following_harness,
    link_people,
    texts,
    wait_for_update,
    wait_until,
)

# -- 1. Refresh ----------------------------------------------------------------------------


@pytest.fixture
async def h(make_harness: MakeHarness) -> Harness:
    return await following_harness(make_harness)


async def test_refresh_updates_the_same_card_for_anyone_linked(h: Harness) -> None:
    card = await create_task(h)
    (posted,) = posts(h.slack)
    assert any(
        e["action_id"] == ids.REFRESH_TASK_ACTION
        for b in posted.params["blocks"] if b["type"] == "actions" for e in b["elements"]
    )
    h.maxcare.set_task(card.task_id, status="in_progress")

    resp = await h.post(click_card_refresh(h, card, user_id=DOCTOR))

    assert resp.status_code == 200
    update = await wait_for_update(h, "In progress")
    assert (update.params["channel"], update.params["ts"]) == (card.channel, card.ts)
    shown = texts(update.params)
    for expected in ("Synced to EHR", f"<@{DOCTOR}>", f"<@{NURSE}>", "Dr. James Wilson, MD",
                     "last updated <!date^", "checked <!date^", ids.REFRESH_TASK_ACTION):
        assert expected in shown, expected
    assert update.params["text"]
    assert [r.path for r in h.maxcare.requests("GET")] == [f"/tasks/{card.task_id}"]
    row = h.bot.store.get_task(card.task_id)
    assert row is not None and row["status"] == "in_progress" and row["checked_at"]
    assert not [c for c in h.slack.calls() if c.method.startswith("response_url")]


async def test_only_linked_people_may_read_a_task(h: Harness) -> None:
    card = await create_task(h)
    h.maxcare.set_task(card.task_id, status="in_progress")
    before = len(h.maxcare.requests())

    resp = await h.post(_status(h, card.task_id, user_id=STRANGER))
    assert resp.json()["response_type"] == "ephemeral"
    assert "Only people linked to a MaxCare provider" in resp.json()["text"]
    assert card.task_id not in resp.text

    await h.post(click_card_refresh(h, card, user_id=STRANGER))
    (note,) = await h.slack.async_wait_for("response_url:refresh")
    assert note.params["response_type"] == "ephemeral"
    assert note.params["replace_original"] is False  # the card stays for the channel
    assert "Only people linked" in note.params["text"]

    await h.post(payloads.slash_command("mine", user_id=STRANGER))
    assert len(h.maxcare.requests()) == before  # MaxCare was asked for none of them
    assert h.slack.calls("chat.update") == []


@pytest.mark.parametrize("status", [404, 500])
async def test_refresh_failure_is_an_ephemeral_note_and_the_card_stays(
    h: Harness, status: int
) -> None:
    card = await create_task(h)
    h.maxcare.fail_next("GET", f"/tasks/{card.task_id}", status, times=10)

    await h.post(click_card_refresh(h, card))

    (note,) = await h.slack.async_wait_for("response_url:refresh")
    assert note.params["response_type"] == "ephemeral"
    assert note.params["replace_original"] is False
    assert "last known status" in note.params["text"]
    assert ("has no task" in note.params["text"]) == (status == 404)
    assert "blocks" not in note.params
    assert h.slack.calls("chat.update") == []


async def test_refresh_where_the_bot_cannot_edit_goes_through_response_url(h: Harness) -> None:
    card = await create_task(h)
    h.slack.fail("chat.update", "cant_update_message")

    await h.post(click_card_refresh(h, card))

    (replaced,) = await h.slack.async_wait_for("response_url:refresh")
    assert replaced.params["replace_original"] is True
    assert card.task_id in texts(replaced.params) and replaced.params["blocks"]


# -- 6. Unknown statuses -------------------------------------------------------------------


async def test_unknown_status_is_shown_as_sent_and_escaped(h: Harness) -> None:
    card = await create_task(h)
    h.maxcare.set_task(card.task_id, status="awaiting_review", syncStatus="queued_for_ehr")
    await h.post(click_card_refresh(h, card))
    update = await wait_for_update(h, "awaiting_review")
    assert "queued_for_ehr" in texts(update.params)

    h.maxcare.set_task(card.task_id, status="<!channel> *urgent*")
    await h.post(click_card_refresh(h, card))
    update = await wait_for_update(h, "urgent")
    assert "<!channel>" not in texts(update.params)
    assert "&lt;!channel&gt;" in update.params["text"]


# -- 2. Following the EHR sync --------------------------------------------------------------


async def test_follower_updates_the_card_when_the_sync_completes(h: Harness) -> None:
    h.maxcare.default_sync_status = "pending"
    card = await create_task(h)
    (posted,) = posts(h.slack)
    assert "Syncing to EHR" in texts(posted.params)
    await wait_until(lambda: len(h.maxcare.requests("GET", f"/tasks/{card.task_id}")) >= 2)
    assert h.slack.calls("chat.update") == []  # nothing changed yet: the card is left alone

    h.maxcare.set_task(card.task_id, syncStatus="synced")

    update = await wait_for_update(h, "Synced to EHR")
    assert (update.params["channel"], update.params["ts"]) == (card.channel, card.ts)
    assert "updates by itself" not in texts(update.params)
    row = h.bot.store.get_task(card.task_id)
    assert row is not None and row["sync_status"] == "synced" and row["follow_until"] is None
    assert h.bot.store.next_follow_at() is None  # following ended: no check is scheduled


async def test_a_failed_sync_is_shown_prominently_with_what_to_do(h: Harness) -> None:
    h.maxcare.default_sync_status = "pending"
    card = await create_task(h)
    h.maxcare.set_task(card.task_id, syncStatus="failed")

    update = await wait_for_update(h, "EHR sync failed")
    shown = texts(update.params)
    assert ":rotating_light:" in shown and "retry the sync" in shown
    assert "EHR sync failed" in update.params["text"]  # in the notification too
    row = h.bot.store.get_task(card.task_id)
    assert row is not None and row["follow_until"] is not None  # still watching for a retry


async def test_following_is_bounded_in_time(make_harness: MakeHarness) -> None:
    wall = WallClock()  # the follower's schedule, on a clock this test moves check by check
    h = await following_harness(make_harness, follow_seconds=0.4, now=wall)
    h.maxcare.default_sync_status = "pending"
    followed_at = wall()
    card = await create_task(h)

    def row() -> dict[str, Any]:
        found = h.bot.store.get_task(card.task_id)
        assert found is not None
        return found

    deadline = datetime.fromisoformat(row()["follow_until"])
    assert deadline == followed_at + timedelta(seconds=0.4)
    checked: list[datetime] = []  # when each check was due (and made: the clock waits)
    while row()["follow_until"] is not None:
        assert len(checked) < 12, checked  # backoff: 0.05 s doubling to 0.1 s over 0.4 s
        due = datetime.fromisoformat(row()["next_check_at"])
        wall.move_to(due)
        checked.append(due)
        await wait_until(lambda: row()["follow_checks"] == len(checked))  # the follower checked

    update = await wait_for_update(h, "stopped checking")
    assert "Refresh" in texts(update.params)
    assert len(h.maxcare.requests("GET", f"/tasks/{card.task_id}")) == len(checked)
    assert checked[-1] == deadline  # the last check falls on the deadline, none after it
    times = [followed_at, *checked]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert 0.8 * 0.05 <= gaps[0] <= 1.2 * 0.05  # the first after follow_first_delay (±20 %)...
    assert all(0.8 * 0.1 <= gap <= 1.2 * 0.1 for gap in gaps[1:-1])  # ...then follow_max_delay
    assert 0 < gaps[-1] <= 1.2 * 0.1  # the last one cut short by the deadline
    assert h.bot.store.next_follow_at() is None


async def test_follower_waits_while_the_budget_is_spent(
    make_harness: MakeHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.follower")
    # A budget of one request a window, on a clock that moves when this test says: the POST
    # that creates the task spends it, and it stays spent until the clock moves on.
    budget = ManualClock()
    h = link_people(await make_harness(
        tuning=replace(FAST_FOLLOW, maxcare_clock=budget),
        maxcare_rate_limit_per_minute=1,
        maxcare_rate_window_seconds=0.5,
    ))
    h.maxcare.default_sync_status = "pending"
    card = await create_task(h)  # task creation itself is not held up by the follower
    h.maxcare.set_task(card.task_id, syncStatus="synced")
    assert h.bot.maxcare.budget_wait_seconds() > 0

    def skipped() -> bool:
        return any(
            r.name == "bot.follower" and "rate budget" in r.getMessage() for r in caplog.records
        )

    await wait_until(skipped)  # a round came due and gave way to the spent budget
    assert h.maxcare.requests("GET") == []  # the follower skipped its rounds

    budget.advance(1.0)  # the window has passed: the budget is back
    await wait_for_update(h, "Synced to EHR")


async def _due_while_busy(make_harness: MakeHarness, max_wait: float) -> tuple[Harness, str]:
    """A task whose first sync check comes due while two Slack requests are in hand."""
    wall = WallClock()  # the check comes due when this test says, not while it sets up
    h = await following_harness(make_harness, follow_max_wait=max_wait, now=wall)
    h.maxcare.default_sync_status = "pending"
    card = await create_task(h)
    h.bot.pressure.enter()
    h.bot.pressure.enter()  # two requests in hand: the app is busy answering Slack
    wall.advance(1.0)  # the first check is due now
    return h, card.task_id


async def test_follower_checks_give_way_to_slack_requests(make_harness: MakeHarness) -> None:
    h, task_id = await _due_while_busy(make_harness, max_wait=3600)
    pressure = h.bot.pressure

    def claimed() -> bool:
        return bool((h.bot.store.get_task(task_id) or {}).get("claimed_by"))

    try:
        await wait_until(claimed)  # the round took the due check in hand...
        assert h.maxcare.requests("GET") == []  # ...and waits behind the acks
    finally:
        pressure.leave()
        pressure.leave()
    await wait_until(lambda: bool(h.maxcare.requests("GET")))  # the acks are done: it checks


async def test_follower_checks_are_not_starved_by_slack_requests(
    make_harness: MakeHarness,
) -> None:
    h, task_id = await _due_while_busy(make_harness, max_wait=0.05)
    pressure = h.bot.pressure
    try:
        await wait_until(lambda: bool(h.maxcare.requests("GET", f"/tasks/{task_id}")))
        assert pressure.busy  # checked while still busy: it waited at most follow_max_wait
    finally:
        pressure.leave()
        pressure.leave()


async def test_follower_resumes_after_a_restart(h: Harness, settings: Settings) -> None:
    h.maxcare.default_sync_status = "pending"
    first = await create_task(h)
    second = await create_task(h, "Second task")
    await h.bot.follower.stop()  # the process dies; the schedule stays in the database
    # The second card was posted but the app died before it started following it.
    h.bot.store.update_task(second.task_id, follow_until=None, next_check_at=None,
                            follow_checks=None)
    h.maxcare.set_task(first.task_id, syncStatus="synced")
    h.maxcare.set_task(second.task_id, syncStatus="synced")
    posted = len(posts(h.slack))

    bot = await build_bot(settings, tuning=FAST_FOLLOW)
    try:
        await bot.start()
        await wait_until(lambda: len(h.slack.calls("chat.update")) >= 2)
    finally:
        await bot.close(grace=1.0)
    updated = {(c.params["channel"], c.params["ts"]) for c in h.slack.calls("chat.update")}
    assert updated == {(first.channel, first.ts), (second.channel, second.ts)}
    assert all("Synced to EHR" in texts(c.params) for c in h.slack.calls("chat.update"))
    assert len(posts(h.slack)) == posted  # no card posted twice


# -- 3. /task status -----------------------------------------------------------------------


def _status(h: Harness, text: str, user_id: str = NURSE) -> tuple[str, dict[str, str]]:
    return payloads.slash_command(
        f"status {text}", user_id=user_id, response_url=h.slack.response_url("status")
    )


async def test_status_shows_the_live_card_privately(h: Harness) -> None:
    task = h.maxcare.add_task(assignee_ids=[h.doctor_provider["id"]], status="in_progress")
    hold = h.maxcare.hold_next("GET", f"/tasks/{task['id']}")

    resp = await h.post(_status(h, task["id"], user_id=DOCTOR))
    assert not hold.released  # acked while MaxCare had not answered (and could not)
    assert resp.status_code == 200 and not resp.content
    assert h.slack.calls("response_url:status") == []
    hold.release()

    (answer,) = await h.slack.async_wait_for("response_url:status")
    assert answer.params["response_type"] == "ephemeral"
    shown = texts(answer.params)
    for expected in (task["id"], "In progress", f"<@{DOCTOR}>", "MaxCare task",
                     ids.REFRESH_TASK_ACTION):
        assert expected in shown, expected
    assert "created by" not in shown  # made outside Slack: the creator is unknown


async def test_status_news_also_updates_the_card_in_the_channel(
    make_harness: MakeHarness,
) -> None:
    # The follower's first check comes too late: only /task status will notice the change.
    h = await following_harness(make_harness, follow_first_delay=60.0)
    h.maxcare.default_sync_status = "pending"
    card = await create_task(h)
    h.maxcare.set_task(card.task_id, status="in_progress", syncStatus="synced")

    await h.post(_status(h, card.task_id, user_id=DOCTOR))

    await h.slack.async_wait_for("response_url:status")
    update = await wait_for_update(h, "In progress")
    assert (update.params["channel"], update.params["ts"]) == (card.channel, card.ts)
    row = h.bot.store.get_task(card.task_id)
    assert row is not None and row["follow_until"] is None  # synced: nothing left to follow


async def test_status_card_refresh_replaces_the_ephemeral_card(h: Harness) -> None:
    task = h.maxcare.add_task(assignee_ids=[h.doctor_provider["id"]])
    h.maxcare.set_task(task["id"], status="completed")
    signed = click_ephemeral(h, ids.REFRESH_TASK_ACTION, task["id"], user_id=NURSE,
                             response="eph")
    await h.post(signed)
    (answer,) = await h.slack.async_wait_for("response_url:eph")
    assert answer.params["replace_original"] is True
    assert "Completed" in texts(answer.params)
    assert h.slack.calls("chat.update") == []


async def test_status_accepts_the_dashed_uuid_form(h: Harness) -> None:
    task = h.maxcare.add_task(assignee_ids=[h.doctor_provider["id"]])
    hexpart = task["id"].removeprefix("tsk_")
    dashed = f"{hexpart[:8]}-{hexpart[8:12]}-{hexpart[12:16]}-{hexpart[16:20]}-{hexpart[20:]}"
    await h.post(_status(h, f"`{dashed.upper()}`"))
    (answer,) = await h.slack.async_wait_for("response_url:status")
    assert task["id"] in texts(answer.params)


async def test_status_of_an_unknown_task_says_so(h: Harness) -> None:
    unknown = "tsk_" + "0" * 32
    resp = await h.post(_status(h, unknown))
    assert resp.status_code == 200
    (answer,) = await h.slack.async_wait_for("response_url:status")
    assert answer.params["response_type"] == "ephemeral"
    assert "has no task" in answer.params["text"] and unknown in answer.params["text"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "Which task?"),
        ("tsk_123", "is not a MaxCare task ID"),
        ("nte_3cc73cb69c59403ca9108af6c5693b25", "is not a MaxCare task ID"),
        ("<!channel> <@UBOSS>", "is not a MaxCare task ID"),
    ],
)
async def test_status_with_a_malformed_id_answers_at_once(
    h: Harness, text: str, expected: str
) -> None:
    resp = await h.post(_status(h, text))
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert expected in body["text"]
    assert "<!channel>" not in body["text"] and "<@UBOSS>" not in body["text"]
    assert h.maxcare.requests() == []


# -- 4. /task mine -------------------------------------------------------------------------


def _mine_tasks(h: Harness, count: int) -> list[dict[str, Any]]:
    """`count` open tasks for the doctor, oldest first, plus some that must not be listed."""
    doctor, nurse = h.doctor_provider["id"], h.nurse_provider["id"]
    made = []
    for n in range(count):
        status = "in_progress" if n % 3 == 0 else "not_started"
        created = f"2026-03-{1 + n // 24:02d} {n % 24:02d}:00:00.000000+00"
        made.append(h.maxcare.add_task(assignee_ids=[doctor], status=status, createdAt=created,
                                       notes=f"Task number {n}"))
    h.maxcare.add_task(assignee_ids=[doctor], status="completed")
    h.maxcare.add_task(assignee_ids=[nurse], status="not_started")
    return made


def _rows(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in message["blocks"] if b.get("accessory", {}).get("action_id")
            == ids.MINE_REFRESH_ACTION]


def _more(message: dict[str, Any]) -> str | None:
    for block in message["blocks"]:
        for e in block.get("elements", []):
            if e.get("action_id") == ids.MINE_MORE_ACTION:
                return str(e["value"])
    return None


async def test_mine_lists_open_tasks_newest_first_across_pages(h: Harness) -> None:
    made = _mine_tasks(h, 105)  # more than one MaxCare page (100) and several Slack pages (20)

    resp = await h.post(payloads.slash_command(
        "mine", user_id=DOCTOR, response_url=h.slack.response_url("mine")))
    assert resp.status_code == 200 and not resp.content

    (first,) = await h.slack.async_wait_for("response_url:mine")
    assert first.params["response_type"] == "ephemeral"
    rows = _rows(first.params)
    assert len(rows) == 20 and len(first.params["blocks"]) <= 50
    assert made[-1]["id"] in rows[0]["text"]["text"]  # newest first
    assert made[-1]["noteId"] in rows[0]["text"]["text"]
    assert "1–20 of 105" in first.params["text"]
    assert _more(first.params) == "20"
    listed = h.maxcare.requests("GET", "/tasks")
    assert [r.query["page"] for r in listed] == ["1", "2"]
    assert {r.query["providerId"] for r in listed} == {h.doctor_provider["id"]}
    assert {r.query["status"] for r in listed} == {"not_started,in_progress"}

    await h.post(click_ephemeral(h, ids.MINE_MORE_ACTION, "100", user_id=DOCTOR,
                                 response="more"))
    (last,) = await h.slack.async_wait_for("response_url:more")
    assert last.params["replace_original"] is True
    assert "101–105 of 105" in last.params["text"]
    assert len(_rows(last.params)) == 5 and _more(last.params) is None
    assert made[0]["id"] in texts(last.params)  # the oldest comes last


async def test_mine_row_refresh_updates_the_list_in_place(h: Harness) -> None:
    made = _mine_tasks(h, 3)
    h.maxcare.set_task(made[1]["id"], status="completed")

    await h.post(click_ephemeral(h, ids.MINE_REFRESH_ACTION, f"{made[1]['id']}:0",
                                 user_id=DOCTOR, response="row"))

    (page,) = await h.slack.async_wait_for("response_url:row")
    assert page.params["replace_original"] is True
    assert "is now *Completed*" in texts(page.params)
    assert len(_rows(page.params)) == 2


async def test_mine_when_unlinked_or_empty(h: Harness) -> None:
    resp = await h.post(payloads.slash_command("mine", user_id=STRANGER))
    assert "Only people linked" in resp.json()["text"]
    assert h.maxcare.requests() == []

    await h.post(payloads.slash_command(
        "mine", user_id=NURSE, response_url=h.slack.response_url("none")))
    (empty,) = await h.slack.async_wait_for("response_url:none")
    assert "No open MaxCare tasks" in empty.params["text"]
