"""Block Kit builders and the form's data (private_metadata and view state)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from bot.slack.text import NOTES_MAX
from bot.tasks import views as blocks
from bot.tasks.form import ASSIGNEES_MAX, Destination, FormInput
from bot.tasks.prefill import Prefill
from bot.tasks.views import CardData, failure_message, help_text, task_card, task_modal

NOTE = "nte_" + "3c" * 16
SECTION_TEXT_MAX = 3000  # Slack's limit for a section's text
FIELD_TEXT_MAX = 2000  # ... and for each of its fields


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


# -- the confirmation card -----------------------------------------------------------------


def card(**changes: Any) -> CardData:
    data: dict[str, Any] = {
        "task_id": "tsk_" + "1" * 32,
        "note_id": NOTE,
        "notes": "Review missing plan for Impression #3",
        "status": "not_started",
        "sync_status": "synced",
        "creator_user_id": "UNURSE",
        "assignees": [("Dr. James Wilson, MD", "UDOC")],
    }
    data.update(changes)
    return CardData(**data)


def test_card_shows_everything() -> None:
    message = task_card(card())
    assert message["text"]
    joined = "\n".join(all_texts(message))
    for expected in ("Review missing plan for Impression #3", "Not started", "Synced to EHR",
                     "Dr. James Wilson, MD", "<@UDOC>", "<@UNURSE>", NOTE, "tsk_" + "1" * 32):
        assert expected in joined, expected
    assert "tsk_" + "1" * 32 in message["text"]
    assert "Not started" in message["text"]


@pytest.mark.parametrize("notes", ["", "x"])
def test_card_text_always_set(notes: str) -> None:
    message = task_card(card(notes=notes, status=None, sync_status=None, assignees=[]))
    assert isinstance(message["text"], str) and message["text"].strip()


def test_card_escapes_user_text() -> None:
    evil = "<!channel> <@UBOSS> <https://evil.example|https://ehr.example> & co"
    message = task_card(card(notes=evil, assignees=[("<!here> Mallory & <b>", None)]))
    for text in all_texts(message):
        for token in ("<!channel>", "<@UBOSS>", "<https://evil", "<!here>", "<b>"):
            assert token not in text, (token, text)
    joined = "\n".join(all_texts(message))
    assert "&lt;!channel&gt;" in joined
    assert "&amp; co" in joined


def test_card_escapes_unknown_status_everywhere() -> None:
    message = task_card(card(status="<!everyone>"))
    for text in all_texts(message):
        assert "<!everyone>" not in text, text


@pytest.mark.parametrize("status", ["awaiting_review", "blocked"])
def test_card_unknown_status_shown_as_is(status: str) -> None:
    message = task_card(card(status=status, sync_status="weird_sync"))
    joined = "\n".join(all_texts(message))
    assert status in joined
    assert "weird_sync" in joined
    assert blocks.status_label(status) == status


def test_card_known_statuses() -> None:
    assert blocks.status_label("in_progress") == "In progress"
    assert blocks.status_label("completed") == "Completed"
    assert blocks.status_label(None) == "Unknown"
    assert blocks.sync_label("failed") == "EHR sync failed"


def test_card_long_notes_are_shortened_within_limits() -> None:
    message = task_card(card(notes="word " * 2000, assignees=[(f"Dr {i}", f"U{i:03}")
                                                              for i in range(20)]))
    assert len(message["blocks"]) <= 50
    assert len(message["text"]) < 1000
    for block in message["blocks"]:
        if "text" in block:
            assert len(block["text"]["text"]) <= SECTION_TEXT_MAX
        for f in block.get("fields", []):
            assert len(f["text"]) <= FIELD_TEXT_MAX
    assert "…" in message["blocks"][1]["text"]["text"]


def test_card_escaped_notes_stay_within_section_limit() -> None:
    message = task_card(card(notes="<&>" * 1000))
    for block in message["blocks"]:
        if "text" in block:
            assert len(block["text"]["text"]) <= SECTION_TEXT_MAX


def test_card_invite_hint() -> None:
    message = task_card(card(invite_hint="Invite me with `/invite @MaxCare Tasks`"))
    assert "/invite" in message["blocks"][-1]["elements"][0]["text"]
    assert len(message["blocks"]) == len(task_card(card())["blocks"]) + 1


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


# -- private_metadata ----------------------------------------------------------------------


def allow_slack(url: str) -> bool:
    return url.startswith("https://hooks.slack.com/")


GOOD = {
    "source": "message",
    "channel_id": "C0GENERAL",
    "thread_ts": "1700000000.000100",
    "message_ts": "1700000000.000200",
    "response_url": "https://hooks.slack.com/commands/T0/1/abc",
}


def test_destination_round_trip() -> None:
    dest = Destination.model_validate(GOOD)
    raw = dest.dump()
    assert len(raw) < 3000
    assert Destination.load(raw, allow_slack) == dest
    assert dest.message_key == "C0GENERAL:1700000000.000200"  # the message itself, not its thread
    assert Destination(source="command", channel_id="C1X", message_ts="1.2").message_key is None
    assert Destination(source="message", channel_id="C1X").message_key is None


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "[1, 2]",
        "42",
        "null",
        '"a string"',
        "{",
        json.dumps({**GOOD, "channel_id": "general"}),
        json.dumps({**GOOD, "channel_id": "C0GENERAL; DROP TABLE"}),
        json.dumps({**GOOD, "channel_id": 123}),
        json.dumps({**GOOD, "thread_ts": "yesterday"}),
        json.dumps({**GOOD, "thread_ts": ["1.2"]}),
        json.dumps({**GOOD, "message_ts": "1.2; x"}),
        json.dumps({**GOOD, "source": "admin"}),
        {"source": "message"},  # not a string at all
        12,
    ],
)
def test_destination_junk_becomes_empty(raw: Any) -> None:
    assert Destination.load(raw, allow_slack) == Destination()


def test_destination_disallowed_response_url_is_dropped() -> None:
    raw = json.dumps({**GOOD, "response_url": "https://evil.example/collect"})
    dest = Destination.load(raw, allow_slack)
    assert dest.response_url is None
    assert dest == Destination.model_validate({**GOOD, "response_url": None})


def test_destination_unknown_keys_ignored() -> None:
    dest = Destination.load(json.dumps({**GOOD, "provider_id": "prv_x"}), allow_slack)
    assert dest == Destination.model_validate(GOOD)


@pytest.mark.parametrize("raw", ["[" * 3000, '{"a":' * 2000])
def test_destination_deeply_nested_json_becomes_empty(raw: str) -> None:
    assert Destination.load(raw, allow_slack) == Destination()


# -- view state ----------------------------------------------------------------------------


def state(note: Any = NOTE, users: Any = ("UDOC",), notes: Any = "Do it",
          dest: Any = None) -> dict[str, Any]:
    values: dict[str, Any] = {
        ids.NOTE_BLOCK: {ids.NOTE_ACTION: {"type": "plain_text_input", "value": note}},
        ids.ASSIGNEES_BLOCK: {ids.ASSIGNEES_ACTION: {"type": "multi_users_select",
                                                     "selected_users": list(users)
                                                     if isinstance(users, tuple) else users}},
        ids.NOTES_BLOCK: {ids.NOTES_ACTION: {"type": "plain_text_input", "value": notes}},
    }
    if dest is not None:
        values[ids.DESTINATION_BLOCK] = {
            ids.DESTINATION_ACTION: {"type": "conversations_select",
                                     "selected_conversation": dest}
        }
    return {"state": {"values": values}}


def test_form_input_reads_a_good_view() -> None:
    form = FormInput.from_view(state(dest="C0GENERAL"))
    assert form == FormInput(note=NOTE, assignees=["UDOC"], notes="Do it", destination="C0GENERAL")
    assert form.local_errors() == ({}, NOTE)


@pytest.mark.parametrize(
    "view",
    [
        None,
        "view",
        [],
        {},
        {"state": None},
        {"state": []},
        {"state": {"values": "x"}},
        {"state": {"values": {ids.NOTE_BLOCK: []}}},
        {"state": {"values": {ids.NOTE_BLOCK: {ids.NOTE_ACTION: "nte"}}}},
        state(note=42, users="UDOC", notes=["a"], dest=7),
        state(note=None, users=None, notes=None, dest="not a channel"),
        state(note={"x": 1}, users=[1, None, {"id": "U1"}], notes=3.5, dest=["C1"]),
    ],
)
def test_form_input_malformed_state_never_raises(view: Any) -> None:
    form = FormInput.from_view(view)
    assert form.note == ""
    assert form.assignees == []
    assert form.notes == ""
    assert form.destination is None
    errors, note_id = form.local_errors()
    assert note_id is None
    assert set(errors) == {ids.NOTE_BLOCK, ids.ASSIGNEES_BLOCK, ids.NOTES_BLOCK}


def test_form_input_keeps_only_string_users() -> None:
    form = FormInput.from_view(state(users=["U1", 2, None, "U2"]))
    assert form.assignees == ["U1", "U2"]


@pytest.mark.parametrize(
    ("kwargs", "block"),
    [
        ({"note": "nte_123"}, ids.NOTE_BLOCK),
        ({"note": "   "}, ids.NOTE_BLOCK),
        ({"notes": "  \n "}, ids.NOTES_BLOCK),
        ({"notes": "x" * (NOTES_MAX + 1)}, ids.NOTES_BLOCK),
        ({"users": []}, ids.ASSIGNEES_BLOCK),
        ({"users": [f"U{i:03}" for i in range(ASSIGNEES_MAX + 1)]}, ids.ASSIGNEES_BLOCK),
        ({"users": ["C0CHANNEL"]}, ids.ASSIGNEES_BLOCK),
    ],
)
def test_form_input_local_errors(kwargs: dict[str, Any], block: str) -> None:
    errors, _ = FormInput.from_view(state(**kwargs)).local_errors()
    assert set(errors) == {block}
    assert errors[block]


def test_form_input_uuid_note_is_normalised() -> None:
    uuid = "3c3c3c3c-3c3c-3c3c-3c3c-3c3c3c3c3c3c"
    assert FormInput.from_view(state(note=uuid)).local_errors() == ({}, NOTE)
