"""The shape every Slack request must have before Bolt sees it (Bolt trusts the shape).

Plain checks over the parsed JSON, not models: this runs before every ack, and building
pydantic models of a whole view (with its state) cost more than the rest of the check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]


def _str(value: Any) -> bool:
    return isinstance(value, str)


def _obj(value: Any) -> bool:
    return isinstance(value, dict)


def _optional(check: Check) -> Check:
    """The value may also be null."""
    return lambda value: value is None or check(value)


def _list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(map(check, value))


def _dict_of(check: Check) -> Check:
    return lambda value: isinstance(value, dict) and all(map(check, value.values()))


def _fields(required: Mapping[str, Check], optional: Mapping[str, Check] | None = None) -> Check:
    """An object with these fields (others allowed): required ones present, all well typed."""
    others = optional or {}

    def check(value: Any) -> bool:
        if not isinstance(value, dict):
            return False
        for key, field_ok in required.items():
            if key not in value or not field_ok(value[key]):
                return False
        for key, field_ok in others.items():
            if key in value and not field_ok(value[key]):
                return False
        return True

    return check


_opt_str = _optional(_str)
_ref = _fields({"id": _str})
_user_ref = _fields({"id": _str}, {"team_id": _opt_str})
_view = _fields(
    {},
    {
        "id": _opt_str,
        "callback_id": _opt_str,
        "private_metadata": _opt_str,
        "type": _opt_str,
        # block ID -> action ID -> the element's state
        "state": _optional(_fields({}, {"values": _dict_of(_dict_of(_obj))})),
    },
)
_action = _fields({"action_id": _str}, {"block_id": _opt_str, "type": _opt_str})

# The interactive payloads this app handles; legacy attachments and dialogs are refused.
INTERACTIVE_TYPES = frozenset(
    {
        "shortcut",
        "message_action",
        "view_submission",
        "view_closed",
        "block_actions",
        "block_suggestion",
    }
)

# Shortcuts, view submissions, block actions and suggestions. Bolt takes len() of lists and
# reads into objects whenever their key exists, so null is refused where Slack never sends it.
_interactive = _fields(
    {"type": lambda value: isinstance(value, str) and value in INTERACTIVE_TYPES},
    {
        "team": _ref,
        "user": _user_ref,
        "enterprise": _optional(_ref),
        "channel": _optional(_ref),
        "view": _view,
        "actions": _list_of(_action),
        "message": _optional(_obj),
        "container": _optional(_obj),
        "response_urls": _list_of(_obj),
        "authorizations": _list_of(_obj),
        **dict.fromkeys(
            (
                "callback_id",
                "trigger_id",
                "response_url",
                "action_id",
                "block_id",
                "value",
                "api_app_id",
            ),
            _opt_str,
        ),
    },
)

_str_or_obj = _optional(lambda value: isinstance(value, str | dict))
# A workflow step's run: Bolt reads into `function` (its callback_id) whenever the key exists.
_event = _fields(
    {},
    {
        "type": _opt_str,
        "user": _str_or_obj,
        "channel": _str_or_obj,
        "function": _fields({}, {"callback_id": _opt_str}),
        "inputs": _optional(_obj),
    },
)

# Events API callbacks and URL verification.
_event_envelope_fields = _fields(
    {"type": _str},
    {
        "team_id": _opt_str,
        "enterprise_id": _opt_str,
        "api_app_id": _opt_str,
        "challenge": _opt_str,
        "event": _event,
        "authorizations": _optional(_list_of(_obj)),
    },
)


def _event_envelope(value: Any) -> bool:
    if not _event_envelope_fields(value):
        return False
    if value["type"] == "event_callback" and value.get("event") is None:
        return False  # a callback without an event
    return not (value["type"] == "url_verification" and value.get("challenge") is None)


def _slash_command(value: dict[str, Any]) -> bool:
    return all(isinstance(item, str) for item in value.values())


def well_formed(parsed: Any, *, is_json: bool) -> bool:
    """True when a body, as Bolt parsed it, has the shape of a request Slack sends."""
    if is_json:
        return _event_envelope(parsed)
    if isinstance(parsed, dict) and "command" in parsed:
        return _slash_command(parsed)  # a slash command's form
    return _interactive(parsed)
