"""The shape every Slack request must have before Bolt sees it (Bolt trusts the shape)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _Ref(_Loose):
    id: str


class _UserRef(_Loose):
    id: str
    team_id: str | None = None


class _State(_Loose):
    values: dict[str, dict[str, dict[str, Any]]] = {}


class _View(_Loose):
    id: str | None = None
    callback_id: str | None = None
    private_metadata: str | None = None
    state: _State | None = None
    type: str | None = None


class _Action(_Loose):
    action_id: str
    block_id: str | None = None
    type: str | None = None


# The interactive payloads this app handles; legacy attachments and dialogs are refused.
INTERACTIVE_TYPES = Literal[
    "shortcut",
    "message_action",
    "view_submission",
    "view_closed",
    "block_actions",
    "block_suggestion",
]


class Interactive(_Loose):
    """Shortcuts, view submissions, block actions and suggestions."""

    type: INTERACTIVE_TYPES
    team: _Ref | None = None
    user: _UserRef | None = None
    enterprise: _Ref | None = None
    channel: _Ref | None = None
    view: _View | None = None
    actions: list[_Action] | None = None
    message: dict[str, Any] | None = None
    container: dict[str, Any] | None = None
    response_urls: list[dict[str, Any]] | None = None
    authorizations: list[dict[str, Any]] | None = None
    callback_id: str | None = None
    trigger_id: str | None = None
    response_url: str | None = None
    action_id: str | None = None
    block_id: str | None = None
    value: str | None = None
    api_app_id: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_null_lists(cls, data: Any) -> Any:
        # Bolt takes len() of these when the key exists: null is not something Slack sends.
        if isinstance(data, dict):
            for key in ("response_urls", "authorizations", "actions", "user", "team", "view"):
                if key in data and data[key] is None:
                    raise ValueError(f"{key} is null")
        return data


class _Event(_Loose):
    type: str | None = None
    user: str | dict[str, Any] | None = None
    channel: str | dict[str, Any] | None = None


class EventEnvelope(_Loose):
    """Events API callbacks and URL verification."""

    type: str
    team_id: str | None = None
    enterprise_id: str | None = None
    api_app_id: str | None = None
    challenge: str | None = None
    event: _Event | None = None
    authorizations: list[dict[str, Any]] | None = None

    @model_validator(mode="before")
    @classmethod
    def _event_is_an_object(cls, data: Any) -> Any:
        if isinstance(data, dict) and "event" in data and not isinstance(data["event"], dict):
            raise ValueError("event is not an object")
        return data

    @model_validator(mode="after")
    def _complete(self) -> EventEnvelope:
        if self.type == "event_callback" and self.event is None:
            raise ValueError("an event callback without an event")
        if self.type == "url_verification" and self.challenge is None:
            raise ValueError("a URL verification without a challenge")
        return self


def well_formed(parsed: Any, *, is_json: bool) -> bool:
    """True when a body, as Bolt parsed it, has the shape of a request Slack sends."""
    try:
        if is_json:
            EventEnvelope.model_validate(parsed)
        elif isinstance(parsed, dict) and "command" in parsed:
            return all(isinstance(v, str) for v in parsed.values())  # a slash command's form
        else:
            Interactive.model_validate(parsed)
        return True
    except (ValueError, ValidationError, RecursionError):
        return False
