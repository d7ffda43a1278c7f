"""What the task form starts with: `/task` text and message prefill."""

from __future__ import annotations

import pytest

from bot.slack.text import NOTES_MAX, TRUNCATION_MARKER
from bot.tasks.prefill import (
    Prefill,
    find_note_id,
    mentioned_users,
    parse_command_text,
    prefill_from_message,
)
from tests.support.ids import NOTE, NOTE_UUID

UUID = NOTE_UUID.lower()


# -- parse_command_text ----------------------------------------------------------------------


def test_command_with_note_mention_and_notes() -> None:
    got = parse_command_text(f"{NOTE} <@UDOCTOR|drwilson> Review missing plan for Impression #3")
    assert got == Prefill(NOTE, ["UDOCTOR"], "Review missing plan for Impression #3")


def test_command_with_uuid_note_id_is_converted() -> None:
    got = parse_command_text(f"{UUID.upper()} <@UDOCTOR> check it")
    assert got.note_id == NOTE
    assert got.assignee_user_ids == ["UDOCTOR"]
    assert got.notes == "check it"


def test_command_mentions_with_and_without_names_anywhere() -> None:
    got = parse_command_text(f"please <@UDOC|drwilson> and <@WPA> look at {NOTE} now <@UDOC>")
    assert got.assignee_user_ids == ["UDOC", "WPA"]  # in order, no repeats
    assert got.notes == "please and look at now"
    assert got.note_id == NOTE


def test_command_rest_is_made_readable() -> None:
    got = parse_command_text(
        "see <#C0GENERAL|general> &amp; <https://ehr.example/n|the note> &lt;3"
    )
    assert got.notes == "see #general & the note (https://ehr.example/n) <3"
    assert got.note_id == ""
    assert got.assignee_user_ids == []


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_command_text(text: str | None) -> None:
    assert parse_command_text(text) == Prefill()  # type: ignore[arg-type]


def test_command_only_first_note_id_is_taken() -> None:
    other = "nte_" + "f" * 32
    got = parse_command_text(f"{NOTE} compare with {other}")
    assert got.note_id == NOTE
    assert got.notes == f"compare with {other}"


def test_command_not_quite_a_note_id_stays_in_notes() -> None:
    text = "nte_" + "a" * 31 + " fix it"
    got = parse_command_text(text)
    assert got.note_id == ""
    assert got.notes == text


def test_long_command_text_is_cut_to_the_input_limit() -> None:
    got = parse_command_text(f"{NOTE} " + "word " * 1000)
    assert len(got.notes) <= NOTES_MAX
    assert got.notes.endswith(TRUNCATION_MARKER)


# -- note IDs and mentions ----------------------------------------------------------------


def test_find_note_id() -> None:
    assert find_note_id(f"about {NOTE} please") == (NOTE, "about  please")
    assert find_note_id(f"about {UUID}") == (NOTE, "about")
    assert find_note_id("nothing here") == (None, "nothing here")
    assert find_note_id(f"x{NOTE}") == (None, f"x{NOTE}")  # not a word of its own
    # A prefixed ID wins over an earlier UUID.
    assert find_note_id(f"{UUID.replace('3cc7', '9999')} {NOTE}")[0] == NOTE


def test_mentioned_users() -> None:
    assert mentioned_users("<@U1|a> <@W2> <@U1> <#C3> <!here>") == ["U1", "W2"]
    assert mentioned_users("@U1 plain text") == []


# -- message prefill ------------------------------------------------------------------------


def test_prefill_from_message() -> None:
    got = prefill_from_message(f"<@UDOC> plan missing on {NOTE} &lt;urgent&gt;")
    assert got.note_id == NOTE
    assert got.assignee_user_ids == ["UDOC"]
    assert got.notes == f"@UDOC plan missing on {NOTE} <urgent>"  # the whole message is kept


def test_prefill_from_long_message_is_cut_with_marker() -> None:
    got = prefill_from_message("x" * 10_000)
    assert len(got.notes) == NOTES_MAX
    assert got.notes.endswith(TRUNCATION_MARKER)
