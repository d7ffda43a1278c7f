"""The task form's data: where the confirmation goes (private_metadata) and the parsed inputs."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot import ids
from bot.db.store import Submission
from bot.maxcare.ids import normalize_note_id
from bot.slack.payload import (
    channel_id_or_none,
    dig,
    dig_list,
    dig_str,
    is_channel_id,
    is_ts,
    is_user_id,
)
from bot.slack.text import NOTES_MAX

ASSIGNEES_MAX = 20  # MaxCare sets no documented limit; a task for more people is a broadcast

Source = Literal["command", "message", "global"]


class Destination(BaseModel):
    """Where the confirmation goes; travels in private_metadata, so it is validated on return."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    source: Source = "command"
    channel_id: str | None = None
    thread_ts: str | None = None
    message_ts: str | None = None
    response_url: str | None = None
    # The submission this form reopens: its unknown outcome must be settled before any POST.
    draft_of: str | None = Field(default=None, pattern=r"^V[A-Z0-9]{2,30}$")

    @field_validator("channel_id")
    @classmethod
    def _channel(cls, v: str | None) -> str | None:
        if v is not None and not is_channel_id(v):
            raise ValueError("not a conversation ID")
        return v

    @field_validator("thread_ts", "message_ts")
    @classmethod
    def _ts(cls, v: str | None) -> str | None:
        if v is not None and not is_ts(v):
            raise ValueError("not a message timestamp")
        return v

    @property
    def message_key(self) -> str | None:
        """channel:ts of the message a task was made from (message shortcut only)."""
        if self.source == "message" and self.channel_id and self.message_ts:
            return f"{self.channel_id}:{self.message_ts}"
        return None

    @classmethod
    def of(cls, sub: Submission) -> Destination:
        """Where a stored submission's confirmation goes (trusted: it came from our database)."""
        message_ts = sub.message_key.split(":", 1)[1] if sub.message_key else None
        return cls(
            source=sub.source,  # type: ignore[arg-type]
            channel_id=sub.channel_id,
            thread_ts=sub.thread_ts,
            message_ts=message_ts,
            response_url=sub.response_url,
        )

    def dump(self) -> str:
        """Compact JSON for private_metadata (well under Slack's 3,000 characters)."""
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def load(cls, raw: Any, response_url_ok: Callable[[str], bool]) -> Destination:
        """Parse untrusted private_metadata; anything odd becomes an empty destination."""
        try:
            data = json.loads(raw) if isinstance(raw, str) and raw else {}
            dest = cls.model_validate(data if isinstance(data, dict) else {})
        except (ValueError, ValidationError, RecursionError):
            return cls()
        if dest.response_url and not response_url_ok(dest.response_url):
            dest = dest.model_copy(update={"response_url": None})
        return dest


class FormInput(BaseModel):
    """What the person entered, read leniently from a view's state."""

    note: str = ""
    assignees: list[str] = []
    notes: str = ""
    destination: str | None = None

    @classmethod
    def from_view(cls, view: Any) -> FormInput:
        """Read the inputs from `view.state.values`; malformed parts read as empty."""
        values = dig(view, "state", "values")
        users = dig_list(values, ids.ASSIGNEES_BLOCK, ids.ASSIGNEES_ACTION, "selected_users")
        dest = dig(values, ids.DESTINATION_BLOCK, ids.DESTINATION_ACTION, "selected_conversation")
        return cls(
            note=dig_str(values, ids.NOTE_BLOCK, ids.NOTE_ACTION, "value"),
            assignees=[u for u in users if isinstance(u, str)],
            notes=dig_str(values, ids.NOTES_BLOCK, ids.NOTES_ACTION, "value"),
            destination=channel_id_or_none(dest),
        )

    def local_errors(self) -> tuple[dict[str, str], str | None]:
        """Errors found without looking anything up, and the normalised note ID."""
        errors: dict[str, str] = {}
        note_id = normalize_note_id(self.note)
        if not self.note.strip():
            errors[ids.NOTE_BLOCK] = "Enter the note ID (nte_… or the note's UUID)."
        elif note_id is None:
            errors[ids.NOTE_BLOCK] = (
                "That is not a note ID. It looks like nte_ followed by 32 characters 0-9 and a-f, "
                "or a UUID such as 3cc7…-…."
            )
        if not self.notes.strip():
            errors[ids.NOTES_BLOCK] = "Write what needs doing."
        elif len(self.notes) > NOTES_MAX:
            errors[ids.NOTES_BLOCK] = (
                f"Keep the task under {NOTES_MAX:,} characters (it has {len(self.notes):,})."
            )
        if not self.assignees:
            errors[ids.ASSIGNEES_BLOCK] = "Choose at least one person to assign."
        elif len(set(self.assignees)) > ASSIGNEES_MAX:
            errors[ids.ASSIGNEES_BLOCK] = (
                f"Assign at most {ASSIGNEES_MAX} people (you chose {len(set(self.assignees))})."
            )
        elif bad := [u for u in self.assignees if not is_user_id(u)]:
            errors[ids.ASSIGNEES_BLOCK] = f"These are not people: {', '.join(bad[:5])}."
        return errors, note_id
