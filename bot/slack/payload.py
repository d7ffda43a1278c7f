"""Reading Slack payloads: the Slack ID patterns and accessors that never raise on odd shapes."""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "CHANNEL_ID_RE", "MENTION_RE", "TS_RE", "USER_ID_RE", "channel_id_or_none", "dig",
    "dig_dict", "dig_list", "dig_str", "is_channel_id", "is_ts", "is_user_id", "str_or_none",
]  # fmt: skip

_USER_ID = r"[UW][A-Z0-9]{2,20}"
USER_ID_RE = re.compile(_USER_ID)  # a person: U… or, on Enterprise Grid, W…
CHANNEL_ID_RE = re.compile(r"[CDG][A-Z0-9]{2,20}")  # a channel, DM or group conversation
TS_RE = re.compile(r"\d{1,12}\.\d{1,8}")  # a message timestamp
MENTION_RE = re.compile(rf"<@({_USER_ID})(?:\|[^>]*)?>")  # `<@U…>` or `<@U…|name>`


def dig(obj: Any, *keys: str | int) -> Any:
    """`obj[k1][k2]…` through dicts (str keys) and lists (int indexes); None if a step fails."""
    for key in keys:
        if isinstance(key, str):
            obj = obj.get(key) if isinstance(obj, dict) else None
        else:
            obj = obj[key] if isinstance(obj, list) and -len(obj) <= key < len(obj) else None
        if obj is None:
            return None
    return obj


def dig_str(obj: Any, *keys: str | int) -> str:
    """The string at that path, or "" when it is missing or not a string."""
    value = dig(obj, *keys)
    return value if isinstance(value, str) else ""


def dig_dict(obj: Any, *keys: str | int) -> dict[str, Any]:
    """The object at that path, or {} when it is missing or not an object."""
    value = dig(obj, *keys)
    return value if isinstance(value, dict) else {}


def dig_list(obj: Any, *keys: str | int) -> list[Any]:
    """The list at that path, or [] when it is missing or not a list."""
    value = dig(obj, *keys)
    return value if isinstance(value, list) else []


def str_or_none(value: Any) -> str | None:
    """A non-empty string as it is, anything else None."""
    return value if isinstance(value, str) and value else None


def is_user_id(value: Any) -> bool:
    """True for a Slack user ID (U… or W…)."""
    return isinstance(value, str) and USER_ID_RE.fullmatch(value) is not None


def is_channel_id(value: Any) -> bool:
    """True for a conversation ID (C…, D… or G…)."""
    return isinstance(value, str) and CHANNEL_ID_RE.fullmatch(value) is not None


def is_ts(value: Any) -> bool:
    """True for a message timestamp such as 1712345678.000100."""
    return isinstance(value, str) and TS_RE.fullmatch(value) is not None


def channel_id_or_none(value: Any) -> str | None:
    """A conversation ID as it is, anything else None."""
    return value if is_channel_id(value) else None
