"""Reading Slack payloads: ID patterns and accessors that never raise on odd shapes."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.payload import (
    MENTION_RE,
    channel_id_or_none,
    dig,
    dig_dict,
    dig_list,
    dig_str,
    is_channel_id,
    is_ts,
    is_user_id,
    str_or_none,
)

BODY: dict[str, Any] = {
    "user": {"id": "UNURSE", "team_id": "T1"},
    "channel": {"id": "C0WARD"},
    "actions": [{"value": "tsk_1"}, {"value": 7}],
    "view": {"state": {"values": {"note": {"note_input": {"value": None}}}}},
    "message": "not an object",
}


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (("user", "id"), "UNURSE"),
        (("actions", 0, "value"), "tsk_1"),
        (("actions", -1, "value"), 7),
        (("actions", 2, "value"), None),  # past the end
        (("actions", "0"), None),  # a list is not read with a string key
        (("user", 0), None),  # nor an object with an index
        (("message", "text"), None),  # a step that is not an object
        (("view", "state", "values", "note", "note_input", "value"), None),
        (("missing", "deeper", "still"), None),
        ((), BODY),
    ],
)
def test_dig(keys: tuple[str | int, ...], expected: Any) -> None:
    assert dig(BODY, *keys) == expected


@pytest.mark.parametrize("obj", [None, "text", 3, ["a"], {"user": None}])
def test_dig_through_anything_never_raises(obj: Any) -> None:
    assert dig(obj, "user", "id") is None
    assert dig_str(obj, "user", "id") == ""
    assert dig_dict(obj, "user") == {}
    assert dig_list(obj, "user") == []


def test_typed_digs_keep_only_their_type() -> None:
    assert dig_str(BODY, "user", "id") == "UNURSE"
    assert dig_str(BODY, "actions", 1, "value") == ""  # 7 is not a string
    assert dig_dict(BODY, "user") == {"id": "UNURSE", "team_id": "T1"}
    assert dig_dict(BODY, "message") == {}
    assert dig_list(BODY, "actions") == BODY["actions"]
    assert dig_list(BODY, "user") == []


@pytest.mark.parametrize(
    ("value", "expected"), [("x", "x"), ("", None), (None, None), (0, None), (["x"], None)]
)
def test_str_or_none(value: Any, expected: str | None) -> None:
    assert str_or_none(value) == expected


@pytest.mark.parametrize(
    ("value", "ok"),
    [("UNURSE", True), ("W0ENTERPRISE", True), ("U1", False), ("unurse", False),
     ("C0CHANNEL", False), ("<@UNURSE>", False), ("", False), (None, False),
     ("U" + "A" * 21, False)],
)
def test_is_user_id(value: Any, ok: bool) -> None:
    assert is_user_id(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [("C0WARD", True), ("D024BE91L", True), ("G0PRIVATE", True), ("UNURSE", False),
     ("c0ward", False), ("C0", False), ("C0WARD ", False), ("", False), (None, False)],
)
def test_conversation_ids(value: Any, ok: bool) -> None:
    assert is_channel_id(value) is ok
    assert channel_id_or_none(value) == (value if ok else None)


@pytest.mark.parametrize(
    ("value", "ok"),
    [("1712345678.000100", True), ("1.2", True), ("1712345678", False), ("x.1", False),
     ("1712345678.000100\n", False), (1712345678.0001, False)],
)
def test_is_ts(value: Any, ok: bool) -> None:
    assert is_ts(value) is ok


@pytest.mark.parametrize(
    ("token", "user"),
    [("<@UNURSE>", "UNURSE"), ("<@UNURSE|nina>", "UNURSE"), ("<@WDOC|>", "WDOC"),
     ("<@U1>", None), ("<#C0WARD>", None), ("UNURSE", None)],
)
def test_mention(token: str, user: str | None) -> None:
    match = MENTION_RE.fullmatch(token)
    assert (match.group(1) if match else None) == user
