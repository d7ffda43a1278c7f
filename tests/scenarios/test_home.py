"""The App Home tab: link status, Create task, recent tasks, the admin summary."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from bot import ids
from tests.support import ROOT, payloads
from tests.support.harness import ADMIN, NURSE, Harness, MakeHarness
from tests.support.status import STRANGER, create_task, following_harness, texts

MANIFEST = ROOT / "manifest.yml"


@pytest.fixture
async def h(make_harness: MakeHarness) -> Harness:
    return await following_harness(make_harness)


async def open_home(h: Harness, user_id: str, tab: str = "home") -> dict[str, Any]:
    """Send app_home_opened; returns the published view."""
    before = len(h.slack.calls("views.publish"))
    event = {"type": "app_home_opened", "user": user_id, "channel": "D" + user_id, "tab": tab}
    resp = await h.post(payloads.event_callback(event))
    assert resp.status_code == 200
    calls = await h.slack.async_wait_for("views.publish", before + 1)
    assert calls[-1].params["user_id"] == user_id
    view: dict[str, Any] = calls[-1].params["view"]
    assert view["type"] == "home" and len(view["blocks"]) <= 100
    return view


def action_ids(view: dict[str, Any]) -> set[str]:
    found = set()
    for block in view["blocks"]:
        for element in [block.get("accessory") or {}, *block.get("elements", [])]:
            if element.get("action_id"):
                found.add(element["action_id"])
    return found


async def test_linked_person_sees_their_link_button_and_recent_tasks(h: Harness) -> None:
    card = await create_task(h)
    h.maxcare.clear()

    view = await open_home(h, NURSE)

    shown = texts(view)
    assert "Linked as *Nina Nurse, RN*" in shown
    assert ids.HOME_CREATE_TASK_ACTION in action_ids(view)
    assert card.task_id in shown and "Not started" in shown and "Synced to EHR" in shown
    assert f"<#{card.channel}>" in shown
    assert "Admin" not in shown
    assert h.maxcare.requests() == []  # Home is built from the local database only


async def test_unlinked_person_is_told_how_and_by_whom(h: Harness) -> None:
    view = await open_home(h, STRANGER)

    shown = texts(view)
    assert "not linked" in shown and f"<@{ADMIN}>" in shown
    assert ids.HOME_CREATE_TASK_ACTION not in action_ids(view)
    assert "None yet" in shown


async def test_admin_sees_links_and_stale_links(h: Harness) -> None:
    store = h.bot.store
    if "stale_reason" in store.db.table("links").columns_dict:
        store.db.execute("UPDATE links SET stale_reason = 'slack_deleted' WHERE slack_user_id = ?",
                         [NURSE])
        stale = "stale links: *1*"
    else:
        stale = "stale links: *not tracked yet*"

    view = await open_home(h, ADMIN)

    shown = texts(view)
    assert "*Admin*" in shown and "people linked: *2*" in shown and stale in shown
    assert "not linked" in shown  # the admin is not linked themselves


async def test_messages_tab_publishes_nothing(h: Harness) -> None:
    event = {"type": "app_home_opened", "user": NURSE, "channel": "DNURSE", "tab": "messages"}
    await h.post(payloads.event_callback(event))
    await open_home(h, STRANGER)  # a marker: events are handled in order
    assert [c.params["user_id"] for c in h.slack.calls("views.publish")] == [STRANGER]


async def test_create_task_button_opens_the_task_form(h: Harness) -> None:
    trigger = payloads.new_trigger_id()
    click = payloads.block_actions(
        [{"type": "button", "action_id": ids.HOME_CREATE_TASK_ACTION, "block_id": "b",
          "value": "home"}],
        user_id=NURSE, view={"type": "home", "id": "VHOME00001"}, trigger_id=trigger,
    )
    resp = await h.post(click)
    assert resp.status_code == 200

    (opened,) = await h.slack.async_wait_for("views.open")
    assert opened.params["trigger_id"] == trigger
    view = opened.params["view"]
    assert view["callback_id"] == ids.CREATE_TASK_VIEW
    assert ids.DESTINATION_BLOCK in {b.get("block_id") for b in view["blocks"]}


async def test_create_task_button_failure_shows_on_home(h: Harness) -> None:
    h.slack.fail("views.open", "expired_trigger_id")
    click = payloads.block_actions(
        [{"type": "button", "action_id": ids.HOME_CREATE_TASK_ACTION, "block_id": "b",
          "value": "home"}],
        user_id=NURSE, view={"type": "home", "id": "VHOME00002"},
    )
    await h.post(click)
    (published,) = await h.slack.async_wait_for("views.publish")
    assert "try again" in texts(published.params["view"])


def test_manifest_enables_home_and_subscribes_to_its_event() -> None:
    manifest = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True
    events = manifest["settings"]["event_subscriptions"]
    assert ids.APP_HOME_OPENED in events["bot_events"]
    assert events["request_url"].endswith("/slack/events")


async def test_workspace_admin_not_in_bot_admins_sees_the_links_summary(h: Harness) -> None:
    h.slack.add_user("UOWNER", name="owner", is_owner=True)
    for user, sees in (("UOWNER", True), (NURSE, False)):
        h.slack.clear()
        opened = {"type": "app_home_opened", "user": user, "tab": "home"}
        await h.post(payloads.event_callback(opened))
        published = await h.slack.async_wait_for("views.publish")
        assert ("stale links:" in json.dumps(published[-1].params["view"])) is sees
