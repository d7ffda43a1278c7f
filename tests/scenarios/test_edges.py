"""Behaviour at the edges: /healthz when the database or socket is down, the follower giving
up on a task or card that is gone, the failure notice's fallback to a DM, drafts purged at start."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from aiohttp import web

from bot.db.store import SQLiteStore, utcnow
from bot.runtime.server import web_app
from tests.support.harness import Harness, MakeHarness
from tests.support.status import create_task, following_harness, wait_until
from tests.support.submissions import CHANNEL, new_view_id, note_id, submission
from tests.unit.db.test_store import submission as stored


class DatabaseDown(SQLiteStore):
    """A store whose database stopped answering (a full disk, a file gone)."""

    def ping(self) -> bool:
        return False


async def _healthz(bot_app: web.Application) -> httpx.Response:
    runner = web.AppRunner(bot_app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        async with httpx.AsyncClient() as http:
            return await http.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        await runner.cleanup()


async def test_healthz_is_503_when_the_database_does_not_answer(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    h = await make_harness(store=DatabaseDown(tmp_path / "down.db"))
    resp = await h.http.get("/healthz")
    assert resp.status_code == 503 and resp.json()["database"] is False


async def test_healthz_is_503_when_the_slack_socket_is_down(harness: Harness) -> None:
    up = await _healthz(web_app(harness.bot, socket_ok=lambda: True))
    down = await _healthz(web_app(harness.bot, socket_ok=lambda: False))
    assert up.status_code == 200
    assert down.status_code == 503 and down.json()["slack_socket"] is False


async def test_the_follower_stops_on_a_task_maxcare_no_longer_knows(
    make_harness: MakeHarness,
) -> None:
    h = await following_harness(make_harness)
    h.maxcare.default_sync_status = "pending"
    task = await create_task(h)
    with h.maxcare._lock:  # deleted in the EHR
        del h.maxcare.tasks[task.task_id]
    await wait_until(lambda: (h.bot.store.get_task(task.task_id) or {}).get("follow_until") is None)
    assert h.slack.calls("chat.update") == []  # nothing to show: the card stays as it was


async def test_the_follower_stops_when_the_card_is_gone(make_harness: MakeHarness) -> None:
    h = await following_harness(make_harness)
    h.maxcare.default_sync_status = "pending"
    h.slack.fail("chat.update", "message_not_found", times=100)  # someone deleted the card
    task = await create_task(h)
    h.maxcare.set_task(task.task_id, status="in_progress")  # a change worth showing
    await wait_until(lambda: (h.bot.store.get_task(task.task_id) or {}).get("follow_until") is None)
    updates = len(h.slack.calls("chat.update"))
    assert updates >= 1
    h.maxcare.set_task(task.task_id, status="completed")
    await h.settle()
    assert len(h.slack.calls("chat.update")) == updates  # not followed any more


async def test_the_failure_notice_falls_back_to_a_dm_where_the_bot_cannot_post(
    harness: Harness,
) -> None:
    harness.link("UNURSE", harness.nurse_provider)
    harness.link("UDOCTOR", harness.doctor_provider)
    harness.maxcare.fail_next("POST", "/tasks", 400)
    harness.slack.fail("views.update", "not_found")  # the modal was closed
    harness.slack.fail("chat.postEphemeral", "channel_not_found")  # a private channel
    view_id = new_view_id()
    signed = submission(view_id=view_id, note=note_id(), notes="Keep", assignees=["UDOCTOR"])
    await harness.post(signed)
    await harness.settle()
    opened = harness.slack.calls("conversations.open")
    assert opened and opened[-1].params["users"] == "UNURSE"
    dms = [c for c in harness.slack.calls("chat.postMessage") if c.params["channel"] != CHANNEL]
    assert dms and "Reopen" in str(dms[-1].params)


async def test_drafts_older_than_a_week_are_purged_at_start_up(
    make_harness: MakeHarness, tmp_path: Path
) -> None:
    path = tmp_path / "old.db"
    old = SQLiteStore(path, clock=lambda: utcnow() - timedelta(days=8))
    old.add_submission(stored("VOLDDRAFT", state="failed", notes="Old patient text"))
    old.close()
    h = await make_harness(database_path=path)
    sub = h.bot.store.get_submission("VOLDDRAFT")
    assert sub is not None and sub.state == "expired" and sub.notes == ""
