"""Block Kit builders of the App Home tab."""

from __future__ import annotations

from typing import Any

from bot import ids
from bot.db.store import Link
from bot.home.views import HOME_RECENT, AdminSummary, home_view

PRV = "prv_" + "a" * 32


def texts(view: dict[str, Any]) -> str:
    out = []
    for block in view["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(e["text"] for e in block.get("elements", []) if isinstance(e.get("text"), str))
    return "\n".join(out)


def row(i: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"task_id": f"tsk_{i:032x}", "status": "in_progress",
                            "sync_status": "pending", "note_id": "nte_" + "1" * 32,
                            "created_at": "2026-03-20T18:00:00+00:00", "channel_id": "C0GENERAL"}
    data.update(changes)
    return data


def test_linked_person_gets_create_task() -> None:
    view = home_view(link=Link("UNURSE", PRV, "Dr. <Ann> & Lee"), admin_ids=[], recent=[])
    assert view["type"] == "home"
    linked = next(b for b in view["blocks"] if "accessory" in b)
    assert linked["accessory"]["action_id"] == ids.HOME_CREATE_TASK_ACTION
    assert "Dr. &lt;Ann&gt; &amp; Lee" in linked["text"]["text"]
    assert "None yet" in texts(view)


def test_unlinked_person_is_told_whom_to_ask() -> None:
    view = home_view(link=None, admin_ids=["UADMIN"], recent=[])
    assert "<@UADMIN>" in texts(view)
    assert not any("accessory" in b for b in view["blocks"])


def test_link_without_a_name_shows_the_provider_id() -> None:
    view = home_view(link=Link("UNURSE", PRV), admin_ids=[], recent=[])
    assert f"`{PRV}`" in texts(view)


def test_recent_tasks_are_listed_up_to_the_limit() -> None:
    rows = [row(i) for i in range(HOME_RECENT + 5)]
    rows[0].update(channel_id="D0DIRECT", created_at="not a date")
    view = home_view(link=Link("UNURSE", PRV), admin_ids=[], recent=rows)
    joined = texts(view)
    assert joined.count("In progress") == HOME_RECENT
    assert rows[HOME_RECENT - 1]["task_id"] in joined
    assert rows[HOME_RECENT]["task_id"] not in joined
    assert "card in <#C0GENERAL>" in joined
    assert "<#D0DIRECT>" not in joined


def test_admin_summary_only_for_admins() -> None:
    plain = home_view(link=None, admin_ids=[], recent=[])
    assert "people linked" not in texts(plain)
    admin = home_view(link=None, admin_ids=[], recent=[], admin=AdminSummary(links=7, stale=None))
    assert "people linked: *7*" in texts(admin)
    assert "not tracked yet" in texts(admin)
    stale = home_view(link=None, admin_ids=[], recent=[], admin=AdminSummary(links=7, stale=2))
    assert "stale links: *2*" in texts(stale)


def test_notice_is_escaped_and_first() -> None:
    view = home_view(link=None, admin_ids=[], recent=[], notice="<!channel> try again")
    assert view["blocks"][0]["type"] == "header"
    assert view["blocks"][1]["text"]["text"] == ":warning: &lt;!channel&gt; try again"
