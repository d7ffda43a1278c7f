"""Who hears of a task: its assignees by DM (unless they turned that off on Home), and its
creator when the task watch sees its status change."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot import ids
from bot.home.views import NOTIFY_BLOCK
from bot.status.watch import PAUSE_SECONDS
from tests.support import payloads
from tests.support.fakes import Call
from tests.support.harness import DOCTOR, FAST, NURSE, Harness, MakeHarness, ManualClock
from tests.support.messages import assignment_dms, posts
from tests.support.status import create_task, link_people, texts, wait_for_update, wait_until
from tests.support.submissions import new_view_id, submission


def dms_to(h: Harness, user_id: str) -> list[Call]:
    """Every chat.postMessage to the DM with one person (what the fake names D<user>)."""
    return [c for c in h.slack.calls("chat.postMessage") if c.params["channel"] == f"D{user_id}"]


def tick_notify(user_id: str, on: bool) -> tuple[str, dict[str, str]]:
    """The person ticks (or unticks) "Tell me when I'm assigned a task" on their Home tab."""
    option = {"text": {"type": "plain_text", "text": "x"}, "value": ids.NOTIFY_ON_VALUE}
    action = {
        "type": "checkboxes",
        "action_id": ids.HOME_NOTIFY_ACTION,
        "block_id": NOTIFY_BLOCK,
        "selected_options": [option] if on else [],
    }
    return payloads.block_actions([action], user_id=user_id, view={"type": "home"})


def notify_box(view: dict[str, Any]) -> dict[str, Any]:
    (block,) = [b for b in view["blocks"] if b.get("block_id") == NOTIFY_BLOCK]
    element: dict[str, Any] = block["elements"][0]
    return element


# -- assignees ---------------------------------------------------------------------------------


@pytest.fixture
def h(harness: Harness) -> Harness:
    return link_people(harness)


async def test_the_assignee_gets_a_dm_with_who_asked_and_the_task(h: Harness) -> None:
    card = await create_task(h, "Check the biopsy plan")

    (dm,) = assignment_dms(h.slack)
    assert dm.params["channel"] == f"D{DOCTOR}"
    shown = texts(dm.params)
    assert f"<@{NURSE}> assigned you a MaxCare task" in shown
    assert "Check the biopsy plan" in shown and card.task_id in shown
    sub = h.bot.store.get_submission(card.view_id)
    assert sub is not None and sub.note_id in shown
    assert dms_to(h, NURSE) == []  # the creator is not told of their own task


async def test_refresh_on_the_dm_shows_the_live_card(h: Harness) -> None:
    card = await create_task(h)
    (dm,) = assignment_dms(h.slack)
    h.maxcare.set_task(card.task_id, status="in_progress")
    message = {"type": "message", "ts": "1700000000.000200", "text": "dm", "user": "UBOT"}
    button = {"type": "button", "action_id": ids.REFRESH_TASK_ACTION,
              "block_id": ids.CARD_ACTIONS_BLOCK, "value": card.task_id}
    click = payloads.block_actions([button], user_id=DOCTOR, channel_id=dm.params["channel"],
                                   message=message, response_url=h.slack.response_url("dm"))

    assert (await h.post(click)).status_code == 200

    def in_the_dm() -> list[Call]:
        return [c for c in h.slack.calls("chat.update") if c.params["channel"] == f"D{DOCTOR}"]

    await wait_until(lambda: bool(in_the_dm()))
    (update,) = in_the_dm()
    assert update.params["ts"] == message["ts"]
    assert "In progress" in texts(update.params)
    assert card.task_id in texts(update.params)


@pytest.mark.both_databases
async def test_home_turns_the_dms_off_and_on(h: Harness) -> None:
    assert (await h.post(tick_notify(DOCTOR, on=False))).status_code == 200
    (published,) = await h.slack.async_wait_for("views.publish")
    assert published.params["user_id"] == DOCTOR
    assert "initial_options" not in notify_box(published.params["view"])  # shown unticked

    await create_task(h)
    assert assignment_dms(h.slack) == []

    assert (await h.post(tick_notify(DOCTOR, on=True))).status_code == 200
    published = (await h.slack.async_wait_for("views.publish", count=2))[1]
    assert notify_box(published.params["view"])["initial_options"][0]["value"] == "on"
    await create_task(h, "Another one")
    (dm,) = assignment_dms(h.slack)
    assert "Another one" in texts(dm.params)


async def test_the_setting_is_on_by_default_on_home(h: Harness) -> None:
    opened = payloads.event_callback({"type": "app_home_opened", "user": DOCTOR, "tab": "home"})
    assert (await h.post(opened)).status_code == 200
    (published,) = await h.slack.async_wait_for("views.publish")
    box = notify_box(published.params["view"])
    assert box["options"][0]["text"]["text"] == "Tell me when I'm assigned a task"
    assert box["initial_options"][0]["value"] == ids.NOTIFY_ON_VALUE


async def test_a_refused_dm_leaves_the_card_standing(h: Harness) -> None:
    h.slack.fail("chat.postMessage", "restricted_action", times=5,
                 when=lambda p: p.get("channel") == f"D{DOCTOR}")
    card = await create_task(h)

    assert len(dms_to(h, DOCTOR)) == 1  # refused for good: not tried again
    sub = h.bot.store.get_submission(card.view_id)
    assert sub is not None and sub.confirmed_at is not None
    assert len(posts(h.slack)) == 1


async def test_a_dm_failing_for_now_is_tried_a_few_times_then_dropped(h: Harness) -> None:
    h.slack.fail("chat.postMessage", "internal_error", times=10,
                 when=lambda p: p.get("channel") == f"D{DOCTOR}")
    card = await create_task(h)

    assert len(dms_to(h, DOCTOR)) == 3
    sub = h.bot.store.get_submission(card.view_id)
    assert sub is not None and sub.confirmed_at is not None


# -- the creator, told by the task watch -------------------------------------------------------


async def watching(make_harness: MakeHarness, seconds: float, **changes: Any) -> Harness:
    """The app with TASK_WATCH_SECONDS set, people linked."""
    return link_people(await make_harness(task_watch_seconds=seconds, **changes))


def news(h: Harness, thread_ts: str | None = None) -> list[Call]:
    """Status news the app posted (in a card's thread when thread_ts is given)."""
    return [
        c for c in posts(h.slack)
        if "the task" in str(c.params.get("text")).lower()
        and (thread_ts is None or c.params.get("thread_ts") == thread_ts)
    ]


@pytest.mark.both_databases
async def test_a_status_change_updates_the_card_and_tells_the_creator(
    make_harness: MakeHarness,
) -> None:
    h = await watching(make_harness, 0.05)
    card = await create_task(h)

    h.maxcare.set_task(card.task_id, status="in_progress")
    update = await wait_for_update(h, "In progress")
    assert (update.params["channel"], update.params["ts"]) == (card.channel, card.ts)
    await wait_until(lambda: len(news(h, card.ts)) == 1)
    (started,) = news(h, card.ts)
    assert started.params["channel"] == card.channel
    assert f"<@{NURSE}> Dr. James Wilson, MD started the task" in texts(started.params)

    h.maxcare.set_task(card.task_id, status="completed")
    await wait_for_update(h, "Completed")
    await wait_until(lambda: len(news(h, card.ts)) == 2)
    done = news(h, card.ts)[1]
    assert f"<@{NURSE}> Dr. James Wilson, MD completed the task" in texts(done.params)
    await wait_until(lambda: (h.bot.store.get_task(card.task_id) or {})["watch_next_at"] is None)
    row = h.bot.store.get_task(card.task_id)
    assert row is not None and row["status"] == "completed"


async def test_no_reply_in_the_thread_means_a_dm_to_the_creator(
    make_harness: MakeHarness,
) -> None:
    h = await watching(make_harness, 0.05)
    card = await create_task(h)
    h.slack.fail("chat.postMessage", "thread_not_found", times=5,
                 when=lambda p: p.get("thread_ts") == card.ts)

    h.maxcare.set_task(card.task_id, status="completed")

    await wait_until(lambda: len(dms_to(h, NURSE)) == 1)
    (dm,) = dms_to(h, NURSE)
    assert "Dr. James Wilson, MD completed the task" in texts(dm.params)
    assert card.task_id in texts(dm.params)


async def test_an_escaped_provider_name(make_harness: MakeHarness) -> None:
    h = await watching(make_harness, 0.05)
    odd = h.maxcare.add_provider(first_name="Ann", last_name="Lee",
                                 display_first_name="Dr. <!channel>", display_last_name="& Lee")
    h.link("UODD", odd)
    view_id = new_view_id()
    note = h.maxcare.add_note()["id"]
    await h.post(submission(view_id=view_id, note=note, notes="x", assignees=["UODD"]))
    await h.settle()
    sub = h.bot.store.get_submission(view_id)
    assert sub is not None and sub.task_id

    h.maxcare.set_task(sub.task_id, status="completed")

    await wait_until(lambda: len(news(h)) == 1)
    shown = texts(news(h)[0].params)
    assert "<!channel>" not in shown
    assert "Dr. &lt;!channel&gt; &amp; Lee completed the task" in shown


def due_now(h: Harness, *task_ids: str) -> None:
    """Make watched tasks due (as if TASK_WATCH_SECONDS had passed)."""
    past = (h.bot.store.clock() - timedelta(seconds=1)).isoformat()
    for task_id in task_ids:
        h.bot.store.update_task(task_id, watch_next_at=past)


def watch_gets(h: Harness, task_ids: list[str]) -> list[str]:
    """GET /tasks/{id} requests for these tasks, in order."""
    paths = {f"/tasks/{t}" for t in task_ids}
    return [r.path for r in h.maxcare.requests("GET") if r.path in paths]


@pytest.mark.both_databases
async def test_tasks_sharing_an_assignee_are_asked_about_in_one_listing(
    make_harness: MakeHarness,
) -> None:
    h = await watching(make_harness, 3600)
    created = [await create_task(h, f"Task {i}") for i in range(3)]
    ids_ = [c.task_id for c in created]
    h.maxcare.set_task(ids_[0], status="completed")
    h.maxcare.clear()
    due_now(h, *ids_)

    await h.bot.watch.round()

    listings = h.maxcare.requests("GET", "/tasks")
    assert [r.query for r in listings] == [{
        "page": "1", "pageSize": "100", "providerId": h.doctor_provider["id"],
        "status": "not_started,in_progress",
    }]
    assert watch_gets(h, ids_) == [f"/tasks/{ids_[0]}"]  # the one that left the open list
    assert len(news(h)) == 1
    assert (h.bot.store.get_task(ids_[0]) or {})["watch_next_at"] is None
    assert all((h.bot.store.get_task(t) or {})["watch_next_at"] for t in ids_[1:])


async def test_the_watch_keeps_to_a_tenth_of_the_budget(make_harness: MakeHarness) -> None:
    clock = ManualClock()  # MaxCare's window never slides: what is spent stays spent
    h = await watching(make_harness, 3600, tuning=replace(FAST, maxcare_clock=clock),
                       maxcare_rate_limit_per_minute=20)
    task_ids = []
    for i in range(3):  # each for another person: no listing would save a request
        provider = h.maxcare.add_provider(first_name=f"P{i}", last_name="Doe")
        h.link(f"UPEOPLE{i}", provider)
        view_id = new_view_id()
        await h.post(submission(view_id=view_id, note=h.maxcare.add_note()["id"], notes="x",
                                assignees=[f"UPEOPLE{i}"]))
        await h.settle()
        sub = h.bot.store.get_submission(view_id)
        assert sub is not None and sub.task_id
        task_ids.append(sub.task_id)
    due_now(h, *task_ids)

    wait = await h.bot.watch.round()

    assert h.bot.watch.cap == 2
    assert len(watch_gets(h, task_ids)) == 2  # a tenth of 20 a minute
    assert wait > 0  # paused until the share frees
    unchecked = [t for t in task_ids if f"/tasks/{t}" not in watch_gets(h, task_ids)]
    (row,) = [h.bot.store.get_task(t) or {} for t in unchecked]
    assert row["watch_claimed_by"] is None  # released, still due
    assert row["watch_next_at"] <= h.bot.store.clock().isoformat()


async def test_the_watch_gives_way_to_task_creation(make_harness: MakeHarness) -> None:
    h = await watching(make_harness, 3600)
    card = await create_task(h)
    due_now(h, card.task_id)
    h.maxcare.delay_next("POST", "/tasks", 1.0)
    h.maxcare.clear()
    note = h.maxcare.add_note()["id"]
    resp = await h.post(submission(view_id=new_view_id(), note=note, notes="y",
                                   assignees=[DOCTOR]))
    assert resp.status_code == 200
    assert h.bot.outbox.busy

    assert await h.bot.watch.round() == PAUSE_SECONDS
    assert watch_gets(h, [card.task_id]) == [] and h.maxcare.requests("GET", "/tasks") == []

    await h.settle()
    await h.bot.watch.round()
    assert watch_gets(h, [card.task_id]) == [f"/tasks/{card.task_id}"]


async def test_tasks_older_than_two_weeks_are_no_longer_watched(
    make_harness: MakeHarness,
) -> None:
    h = await watching(make_harness, 3600)
    card = await create_task(h)
    old = (h.bot.store.clock() - timedelta(days=15)).isoformat()
    h.bot.store.update_task(card.task_id, created_at=old)
    due_now(h, card.task_id)
    h.maxcare.clear()

    await h.bot.watch.round()

    assert h.maxcare.requests("GET") == []
    assert (h.bot.store.get_task(card.task_id) or {})["watch_next_at"] is None


async def test_the_watch_outlives_the_sync_follow(make_harness: MakeHarness) -> None:
    h = await watching(make_harness, 3600)
    card = await create_task(h)
    row = h.bot.store.get_task(card.task_id) or {}
    assert row["follow_until"] is None  # synced at once: the follower is done with it
    assert row["watch_next_at"] and row["watch_status"] == "not_started"
