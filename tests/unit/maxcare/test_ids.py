"""The MaxCare ID rules: normalising prefixed IDs and UUIDs, finding IDs in free text."""

from __future__ import annotations

import pytest

from bot.maxcare.ids import (
    NOTE_ID_RE,
    PROVIDER_ID_RE,
    TASK_ID_RE,
    UUID_RE,
    find_id,
    normalize_id,
    normalize_note_id,
    normalize_provider_id,
)
from tests.support.ids import NOTE, NOTE_UUID, PRV_A, PRV_B, TASK

HEX = NOTE.removeprefix("nte_")
UUID = NOTE_UUID.lower()


def test_normalize_id_any_prefix_spelling() -> None:
    uuid = "3CC73CB6-9C59-403C-A910-8AF6C5693B25"
    note = "nte_3cc73cb69c59403ca9108af6c5693b25"
    assert normalize_id(f"  {uuid} ", "nte_") == note
    assert normalize_id(note.upper(), "nte") == note
    assert normalize_id(note, "NTE") == note
    assert normalize_id(PRV_B, "nte_") is None
    assert normalize_id("nte_123", "nte_") is None
    assert normalize_id(uuid, "tsk") == "tsk_3cc73cb69c59403ca9108af6c5693b25"


@pytest.mark.parametrize("value", [None, 42, ["nte_" + HEX], {"id": NOTE}])
def test_normalize_id_of_a_non_string_is_none(value: object) -> None:
    assert normalize_id(value, "nte") is None


def test_regexes() -> None:
    assert NOTE_ID_RE.fullmatch(NOTE) and PROVIDER_ID_RE.fullmatch(PRV_B)
    assert TASK_ID_RE.fullmatch(TASK)
    assert UUID_RE.fullmatch(UUID)
    assert NOTE_ID_RE.search(f"see {NOTE}, please")
    assert not NOTE_ID_RE.search(NOTE + "ab")
    assert not NOTE_ID_RE.fullmatch(NOTE.upper())  # stored IDs are lowercase
    assert not PROVIDER_ID_RE.fullmatch(NOTE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOTE, NOTE),
        (NOTE.upper(), NOTE),
        (f"  {NOTE}  ", NOTE),
        (UUID, NOTE),
        (UUID.upper(), NOTE),
        ("nte_" + "g" * 32, None),
        ("nte_" + "a" * 33, None),
        (HEX, None),
        ("prv_" + HEX, None),
        ("", None),
    ],
)
def test_normalize_note_id(value: str, expected: str | None) -> None:
    assert normalize_note_id(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (PRV_A, PRV_A),
        (PRV_A.upper(), PRV_A),
        (f" {PRV_A} ", PRV_A),
        (UUID, f"prv_{HEX}"),
        ("prv_" + "a" * 31, None),
        ("prv_" + "g" * 32, None),
        ("nte_" + "a" * 32, None),
        ("a" * 32, None),
        ("", None),
    ],
)
def test_normalize_provider_id(value: str, expected: str | None) -> None:
    assert normalize_provider_id(value) == expected


def test_find_id_in_free_text() -> None:
    match = find_id(f"about {NOTE.upper()} please", "nte")
    assert match is not None and match.group(0) == NOTE.upper()
    match = find_id(f"about {UUID} please", "nte_")
    assert match is not None and match.group(0) == UUID
    assert find_id(f"x{NOTE}", "nte") is None  # not a word of its own
    assert find_id(f"{PRV_A} only", "nte") is None
    # A prefixed ID wins over an earlier UUID.
    match = find_id(f"{UUID.replace('3cc7', '9999')} {NOTE}", "nte")
    assert match is not None and match.group(0) == NOTE
