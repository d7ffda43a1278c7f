"""Building and sending one task submission, for the fault-injection tests."""

from __future__ import annotations

import secrets
from typing import Any

from bot import ids
from bot.tasks import views as blocks
from bot.tasks.form import Destination
from bot.tasks.prefill import Prefill
from tests.support import payloads

CHANNEL = "C0GENERAL"


def new_view_id() -> str:
    """A fresh Slack-shaped view ID."""
    return "V" + secrets.token_hex(5).upper()


def note_id() -> str:
    """A fresh note ID."""
    return "nte_" + secrets.token_hex(16)


def submission(
    *,
    view_id: str,
    note: str,
    notes: str,
    assignees: list[str],
    user_id: str = "UNURSE",
    channel: str = CHANNEL,
    team_id: str = payloads.TEAM_ID,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> tuple[str, dict[str, str]]:
    """A signed view_submission of the task form, as sent from a slash command's modal (on
    Enterprise Grid: of a workspace of `enterprise_id`, installed org-wide or not)."""
    meta = Destination(source="command", channel_id=channel).dump()
    view: dict[str, Any] = blocks.task_modal(Prefill(), private_metadata=meta)
    values = payloads.state_values(
        payloads.plain_text_value(ids.NOTE_BLOCK, ids.NOTE_ACTION, note),
        payloads.users_value(ids.ASSIGNEES_BLOCK, ids.ASSIGNEES_ACTION, assignees),
        payloads.plain_text_value(ids.NOTES_BLOCK, ids.NOTES_ACTION, notes),
    )
    return payloads.view_submission(
        view, values, user_id=user_id, view_id=view_id, private_metadata=meta, team_id=team_id,
        enterprise_id=enterprise_id, is_enterprise_install=is_enterprise_install,
    )  # fmt: skip
