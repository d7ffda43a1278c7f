"""The task form's data: private_metadata (Destination) and view state (FormInput)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from bot.slack.text import NOTES_MAX
from bot.tasks.form import ASSIGNEES_MAX, Destination, FormInput

NOTE = "nte_" + "3c" * 16


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
