"""Pure Block Kit builders: data in, dict out. User text is escaped or plain_text here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot import ids
from bot.slack.text import NOTES_MAX, escape, shorten
from bot.tasks.prefill import Prefill

Blocks = list[dict[str, Any]]

MODAL_TITLE = "Create MaxCare task"
STATUS_LABELS = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
SYNC_LABELS = {"synced": "Synced to EHR", "pending": "Syncing to EHR…", "failed": "EHR sync failed"}


def status_label(status: str | None) -> str:
    """A person's word for a task status; unknown values are shown as MaxCare sent them."""
    if not status:
        return "Unknown"
    return STATUS_LABELS.get(status, status)


def sync_label(sync_status: str | None) -> str:
    """A person's word for an EHR sync status; unknown values shown as they are."""
    if not sync_status:
        return "Unknown"
    return SYNC_LABELS.get(sync_status, sync_status)


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text)}


def _modal(title: str, blocks: Blocks, **extra: Any) -> dict[str, Any]:
    view: dict[str, Any] = {"type": "modal", "title": _plain(title), "blocks": blocks}
    view.update({k: v for k, v in extra.items() if v is not None})
    return view


def task_modal(
    prefill: Prefill,
    *,
    private_metadata: str = "",
    destination: bool = False,
    notice: str | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The one task form; `destination` adds the conversation picker (global shortcut)."""
    blocks: Blocks = []
    if error:
        blocks.append(_section(f":warning: {error}"))
    if notice:
        blocks.append(_section(f":information_source: {notice}"))
    note: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.NOTE_ACTION,
        "placeholder": _plain("nte_… or the note's UUID"),
        "max_length": 100,
    }
    if prefill.note_id:
        note["initial_value"] = prefill.note_id
    blocks.append(
        {
            "type": "input",
            "block_id": ids.NOTE_BLOCK,
            "label": _plain("Note ID"),
            "hint": _plain("The MaxCare note the task belongs to."),
            "element": note,
        }
    )
    users: dict[str, Any] = {
        "type": "multi_users_select",
        "action_id": ids.ASSIGNEES_ACTION,
        "placeholder": _plain("Who should do it?"),
    }
    if prefill.assignee_user_ids:
        users["initial_users"] = prefill.assignee_user_ids
    blocks.append(
        {
            "type": "input",
            "block_id": ids.ASSIGNEES_BLOCK,
            "label": _plain("Assign to"),
            "element": users,
        }
    )
    notes: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.NOTES_ACTION,
        "multiline": True,
        "max_length": NOTES_MAX,
        "placeholder": _plain("What needs doing?"),
    }
    if prefill.notes:
        notes["initial_value"] = prefill.notes
    blocks.append(
        {"type": "input", "block_id": ids.NOTES_BLOCK, "label": _plain("Task"), "element": notes}
    )
    if destination:
        blocks.append(
            {
                "type": "input",
                "block_id": ids.DESTINATION_BLOCK,
                "label": _plain("Post the confirmation in"),
                "element": {
                    "type": "conversations_select",
                    "action_id": ids.DESTINATION_ACTION,
                    "default_to_current_conversation": True,
                    "response_url_enabled": True,
                    "filter": {"exclude_bot_users": True},
                },
            }
        )
    return _modal(
        MODAL_TITLE,
        blocks,
        callback_id=ids.CREATE_TASK_VIEW,
        submit=_plain("Create task"),
        close=_plain("Cancel"),
        private_metadata=private_metadata,
    )


def info_modal(text: str, *, title: str = "MaxCare task") -> dict[str, Any]:
    """A modal with one message and a Close button."""
    return _modal(title, [_section(text)], close=_plain("Close"))


def creating_modal(note_id: str) -> dict[str, Any]:
    """What the form turns into once accepted, until the task exists."""
    return info_modal(
        f":hourglass_flowing_sand: Creating the task on note `{note_id}`…\n"
        "You can close this window: the confirmation will be posted in the conversation."
    )


def created_modal(task_id: str, status: str | None) -> dict[str, Any]:
    """What an open form shows once the task exists."""
    return info_modal(
        f":white_check_mark: Task `{task_id}` created ({status_label(status)}).\n"
        "The confirmation card has been posted."
    )


@dataclass
class CardData:
    """What a confirmation card shows."""

    task_id: str
    note_id: str
    notes: str
    status: str | None
    sync_status: str | None
    creator_user_id: str  # "" when the task was not created through the app
    assignees: Sequence[tuple[str, str | None]] = field(default_factory=list)  # (name, Slack ID)
    invite_hint: str | None = None
    updated_at: datetime | None = None  # the task's last change in MaxCare
    checked_at: datetime | None = None  # when the app last fetched it
    sync_note: str | None = None  # trusted mrkdwn: whether the card still updates by itself


SYNC_FAILED_HELP = (
    ":rotating_light: *EHR sync failed.* The task exists in MaxCare but did not reach the EHR. "
    "Open it in MaxCare to retry the sync, or give MaxCare support the task ID below. "
    "*Refresh* checks again."
)
NOTES_SHOWN_MAX = 2900  # escaped; a section's text may hold 3,000 characters


def slack_date(when: datetime) -> str:
    """A time each reader sees in their own time zone (UTC in clients that cannot)."""
    fallback = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _escaped_within(text: str, limit: int) -> str:
    """Escaped text within limit characters; shortened (with …) before escaping, never after."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    size = 0
    for cut, char in enumerate(text):
        size += len(escape(char))
        if size > limit - 1:
            return escape(text[:cut].rstrip()) + "…"
    return escaped


def task_card(card: CardData) -> dict[str, Any]:
    """The confirmation message: `text` and `blocks` for chat.postMessage and chat.update."""
    people = ", ".join(
        escape(name) + (f" (<@{uid}>)" if uid else "") for name, uid in card.assignees
    )
    plain_people = ", ".join(name for name, _ in card.assignees)
    notes = _escaped_within(card.notes, NOTES_SHOWN_MAX) if card.notes else "_(no text)_"
    by = f" created by <@{card.creator_user_id}>" if card.creator_user_id else ""
    status = escape(status_label(card.status))
    blocks: Blocks = [
        _section(f":clipboard: *New MaxCare task*{by}" if by else ":clipboard: *MaxCare task*"),
        _section(notes),
        {
            "type": "section",
            "fields": [
                _mrkdwn(f"*Status*\n{status}"),
                _mrkdwn(f"*EHR sync*\n{escape(sync_label(card.sync_status))}"),
                _mrkdwn(f"*Assigned to*\n{people or '—'}"),
                _mrkdwn(f"*Note*\n`{escape(card.note_id)}`"),
            ],
        },
    ]
    if card.sync_status == "failed":
        blocks.append(_section(SYNC_FAILED_HELP))
    about = [f"Task `{escape(card.task_id)}`"]
    if card.updated_at:
        about.append(f"last updated {slack_date(card.updated_at)}")
    if card.checked_at:
        about.append(f"checked {slack_date(card.checked_at)}")
    blocks.append({"type": "context", "elements": [_mrkdwn(" · ".join(about))]})
    if card.sync_note:
        blocks.append({"type": "context", "elements": [_mrkdwn(card.sync_note)]})
    blocks.append(
        {
            "type": "actions",
            "block_id": ids.CARD_ACTIONS_BLOCK,
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.REFRESH_TASK_ACTION,
                    "text": _plain("Refresh"),
                    "value": card.task_id,
                }
            ],
        }
    )
    if card.invite_hint:
        blocks.append({"type": "context", "elements": [_mrkdwn(card.invite_hint)]})
    sync = " EHR sync failed." if card.sync_status == "failed" else ""
    text = (
        f"MaxCare task {card.task_id} created for {escape(plain_people) or 'nobody'}: "
        f"{escape(shorten(card.notes, 150))} ({status}){sync}"
    )
    return {"text": text, "blocks": blocks}


def failure_message(view_id: str, reason: str) -> dict[str, Any]:
    """Tells the author the task was not created, with buttons to get the draft back."""
    text = f"Your MaxCare task was not created. {escape(reason)} Your draft is saved."
    return {
        "text": text,
        "blocks": [
            _section(f":x: *Your MaxCare task was not created.*\n{escape(reason)}"),
            _section("Nothing you typed is lost: reopen the draft to fix it and try again."),
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ids.REOPEN_DRAFT_ACTION,
                        "text": _plain("Reopen draft"),
                        "style": "primary",
                        "value": view_id,
                    },
                    {
                        "type": "button",
                        "action_id": ids.DISMISS_DRAFT_ACTION,
                        "text": _plain("Discard draft"),
                        "value": view_id,
                    },
                ],
            },
        ],
    }


def admins_phrase(admin_ids: Sequence[str]) -> str:
    """Who can link people, as mentions."""
    if not admin_ids:
        return "a workspace admin"
    return ", ".join(f"<@{a}>" for a in sorted(admin_ids))


def not_linked_text(admin_ids: Sequence[str]) -> str:
    """What an unlinked person is told instead of getting the form."""
    return (
        "You are not linked to a MaxCare provider yet, so a task cannot be created as you. "
        f"Ask {admins_phrase(admin_ids)} to link you "
        "(`/task link @you prv_…` or `python -m bot links add`)."
    )


def help_text(command: str = ids.SLASH_COMMAND) -> str:
    """Usage of every command and shortcut."""
    return "\n".join(
        [
            "*MaxCare tasks from Slack*",
            f"• `{command}` opens the task form.",
            f"• `{command} nte_… @someone what to do` opens it prefilled: the note ID, "
            "the people to assign and the task text.",
            f"• `{command} help` shows this help.",
            f"• `{command} status tsk_…` shows a task's live card (only to you).",
            f"• `{command} mine` lists the open tasks assigned to you.",
            "• The app's *Home* tab shows your link, your recent tasks and a *Create task* button.",
            "• *Create MaxCare task* in a message's ⋯ menu opens the form prefilled from that "
            "message; the confirmation goes in its thread.",
            "• *Create MaxCare task* in the ⚡ shortcuts menu opens the form with a choice of "
            "where to post the confirmation.",
            f"• `{command} whoami` shows which MaxCare provider you are linked to.",
            "Everyone involved must be linked to a MaxCare provider. Admins: "
            f"`{command} link @someone prv_…` (or `{command} link` for a form with pickers), "
            f"`{command} unlink @someone`, `{command} links` (the table); on the server, "
            "`python -m bot links add SLACK_USER_ID prv_…`.",
        ]
    )
