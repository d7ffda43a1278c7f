"""Block Kit builders of the task form and its notices."""

from __future__ import annotations

from typing import Any

from bot import ids
from bot.slack.text import NOTES_MAX
from bot.tasks import views as blocks
from bot.tasks.prefill import Prefill
from bot.tasks.views import admins_phrase, failure_message, help_text, task_modal

NOTE = "nte_" + "3c" * 16


def by_block(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def all_texts(message: dict[str, Any]) -> list[str]:
    """Every mrkdwn/plain text in a message's blocks, plus its top-level text."""
    out = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(f["text"] for f in block.get("fields", []))
        out.extend(e["text"] for e in block.get("elements", []) if "text" in e
                   and isinstance(e["text"], str))
    return out


# -- the task modal ------------------------------------------------------------------------


def test_task_modal_ids_and_limits() -> None:
    view = task_modal(Prefill(), private_metadata='{"source":"command"}')
    assert view["type"] == "modal"
    assert view["callback_id"] == ids.CREATE_TASK_VIEW
    assert view["private_metadata"] == '{"source":"command"}'
    for key in ("title", "submit", "close"):
        assert view[key]["type"] == "plain_text"
        assert 0 < len(view[key]["text"]) <= 24, key
    found = by_block(view)
    assert list(found) == [ids.NOTE_BLOCK, ids.ASSIGNEES_BLOCK, ids.NOTES_BLOCK]
    assert found[ids.NOTE_BLOCK]["element"]["action_id"] == ids.NOTE_ACTION
    assert found[ids.NOTE_BLOCK]["element"]["type"] == "plain_text_input"
    assignees = found[ids.ASSIGNEES_BLOCK]["element"]
    assert assignees["type"] == "multi_users_select"
    assert assignees["action_id"] == ids.ASSIGNEES_ACTION
    notes = found[ids.NOTES_BLOCK]["element"]
    assert notes["action_id"] == ids.NOTES_ACTION
    assert notes["multiline"] is True
    assert notes["max_length"] == NOTES_MAX == 3000
    for block in found.values():
        element = block["element"]
        assert "initial_value" not in element
        assert "initial_users" not in element
        if "max_length" in element:
            assert element["max_length"] <= 3000
        assert block["type"] == "input"


def test_task_modal_initial_values_when_set() -> None:
    view = task_modal(Prefill(NOTE, ["UDOC", "UPA"], "Review the plan"))
    found = by_block(view)
    assert found[ids.NOTE_BLOCK]["element"]["initial_value"] == NOTE
    assert found[ids.ASSIGNEES_BLOCK]["element"]["initial_users"] == ["UDOC", "UPA"]
    assert found[ids.NOTES_BLOCK]["element"]["initial_value"] == "Review the plan"


def test_task_modal_destination_only_when_asked() -> None:
    assert ids.DESTINATION_BLOCK not in by_block(task_modal(Prefill()))
    dest = by_block(task_modal(Prefill(), destination=True))[ids.DESTINATION_BLOCK]
    element = dest["element"]
    assert element["type"] == "conversations_select"
    assert element["action_id"] == ids.DESTINATION_ACTION
    assert element["default_to_current_conversation"] is True
    assert element["response_url_enabled"] is True


def test_task_modal_error_and_notice_come_first() -> None:
    view = task_modal(Prefill(), error="MaxCare said no", notice="Already made one")
    assert view["blocks"][0]["type"] == "section"
    assert "MaxCare said no" in view["blocks"][0]["text"]["text"]
    assert "Already made one" in view["blocks"][1]["text"]["text"]


def test_other_modals_respect_title_limits() -> None:
    for view in (
        blocks.info_modal("hi"),
        blocks.creating_modal(NOTE),
        blocks.created_modal("tsk_1", "not_started"),
    ):
        assert len(view["title"]["text"]) <= 24
        assert len(view["close"]["text"]) <= 24
        assert "submit" not in view
    created = blocks.created_modal("tsk_1", "not_started")
    assert "Not started" in created["blocks"][0]["text"]["text"]


# -- failure notice and help ---------------------------------------------------------------


def test_failure_message_buttons_carry_view_id() -> None:
    message = failure_message("V0VIEW123", "MaxCare: Note not found (trace 42).")
    assert "Note not found" in message["text"]
    buttons = [e for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {b["action_id"] for b in buttons} == {ids.REOPEN_DRAFT_ACTION, ids.DISMISS_DRAFT_ACTION}
    assert all(b["value"] == "V0VIEW123" for b in buttons)
    assert all(len(b["text"]["text"]) <= 75 for b in buttons)


def test_failure_message_escapes_reason_everywhere() -> None:
    message = failure_message("V1", "'notes' <!channel> is invalid")
    for text in all_texts(message):
        assert "<!channel>" not in text


def test_help_text_mentions_every_command() -> None:
    text = help_text()
    for expected in ("/task", "/task help", "/task nte_", "Create MaxCare task",
                     "links add", "shortcut"):
        assert expected in text, expected
    renamed = help_text("/maxtask")
    assert "/maxtask help" in renamed
    assert "/task " not in renamed


def test_not_linked_text_names_admins() -> None:
    assert "<@UA>" in blocks.not_linked_text(["UA"])
    assert "workspace admin" in blocks.not_linked_text([])


def test_admins_phrase_names_a_few_then_counts_the_rest() -> None:
    assert admins_phrase(["UB", "UA"]) == "<@UA>, <@UB>"
    many = [f"U{i:03}" for i in range(25)]
    phrase = admins_phrase(many)
    assert phrase.count("<@") == blocks.ADMINS_NAMED_MAX
    assert "<@U000>" in phrase and "<@U024>" not in phrase
    assert phrase.endswith("or one of 15 other admins")
