"""Block Kit builders of the admin commands: the link modal, options, the links table."""

from __future__ import annotations

from typing import Any

from bot import ids
from bot.db.store import STALE_PROVIDER, STALE_SLACK, Link
from bot.links import views


def by_block(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def links(count: int, **changes: Any) -> list[Link]:
    return [Link(f"U{i:04}", f"prv_{i:032x}", f"Dr. {i}", **changes) for i in range(count)]


def test_link_modal_ids() -> None:
    view = views.link_modal()
    assert view["callback_id"] == ids.LINK_VIEW
    found = by_block(view)
    assert list(found) == [ids.LINK_USER_BLOCK, ids.LINK_PROVIDER_BLOCK]
    assert found[ids.LINK_USER_BLOCK]["element"]["action_id"] == ids.LINK_USER_ACTION
    picker = found[ids.LINK_PROVIDER_BLOCK]["element"]
    assert (picker["type"], picker["action_id"]) == ("external_select", ids.LINK_PROVIDER_ACTION)
    assert "initial_option" not in picker
    assert "initial_user" not in found[ids.LINK_USER_BLOCK]["element"]


def test_link_modal_keeps_what_was_chosen_and_shows_the_error() -> None:
    picked = views.option("prv_1", "Dr. Ann Lee · alee")
    view = views.link_modal(user_id="UDOC", provider=picked, error="Not this one")
    assert view["blocks"][0]["text"]["text"] == ":warning: Not this one"
    found = by_block(view)
    assert found[ids.LINK_USER_BLOCK]["element"]["initial_user"] == "UDOC"
    assert found[ids.LINK_PROVIDER_BLOCK]["element"]["initial_option"] == picked


def test_option_text_is_cut_to_slacks_limit() -> None:
    option = views.option("prv_1", "x" * 100)
    assert len(option["text"]["text"]) == 75
    assert option["text"]["text"].endswith("…")
    assert views.hint_option("Type more")["value"] == ids.NO_PROVIDER_VALUE


def test_link_line_flags_stale_links_and_escapes_names() -> None:
    line = views.link_line(Link("UDOC", "prv_1", "<!here> & Co", stale_reason=STALE_SLACK))
    assert line.startswith("<@UDOC> → &lt;!here&gt; &amp; Co (`prv_1`)")
    assert line.endswith(":warning: _left Slack_")
    assert "name not known" in views.link_line(Link("UDOC", "prv_1"))
    assert views.stale_phrase(STALE_PROVIDER) == "is linked to a provider MaxCare no longer knows"
    assert views.stale_phrase("odd") == "cannot be used (odd)"


def test_links_page_paging() -> None:
    assert views.page_count(0) == 1
    assert views.page_count(views.LINKS_PER_PAGE + 1) == 2
    empty = views.links_page([], 1, 0)
    assert "Nobody is linked yet" in empty["text"]
    total = 2 * views.LINKS_PER_PAGE + 5
    middle = views.links_page(links(views.LINKS_PER_PAGE), 2, total)
    assert f"51–100 of {total} (page 2 of 3)" in middle["text"]
    buttons = middle["blocks"][-1]["elements"]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ids.LINKS_PREV_ACTION, "1"), (ids.LINKS_NEXT_ACTION, "3")
    ]
    sections = [b for b in middle["blocks"] if b["type"] == "section"][1:]
    assert len(sections) == views.LINKS_PER_PAGE // views.LINES_PER_SECTION
    only = views.links_page(links(3), 1, 3)
    assert only["blocks"][-1]["type"] == "section"


def test_refusal_names_the_admins() -> None:
    assert "<@UADMIN>" in views.refusal_text(["UADMIN"])
    assert "Nothing was changed" in views.refusal_text([])
