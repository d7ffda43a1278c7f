"""Pure Block Kit builders for the task form and its notices: data in, dict out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import ids
from bot.slack.blocks import (
    Blocks,
    actions,
    button,
    context,
    escaped_within,
    input_block,
    message,
    modal,
    plain_text,
    section,
)
from bot.slack.text import NOTES_MAX, escape
from bot.status.views import NOTES_SHOWN_MAX, status_text
from bot.tasks.prefill import Prefill

MODAL_TITLE = "Create MaxCare task"
ADMINS_NAMED_MAX = 10  # more mentions than this read as a wall (and could outgrow a section)


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
        blocks.append(section(f":warning: {error}"))
    if notice:
        blocks.append(section(f":information_source: {notice}"))
    note: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.NOTE_ACTION,
        "placeholder": plain_text("nte_… or the note's UUID"),
        "max_length": 100,
    }
    if prefill.note_id:
        note["initial_value"] = prefill.note_id
    users: dict[str, Any] = {
        "type": "multi_users_select",
        "action_id": ids.ASSIGNEES_ACTION,
        "placeholder": plain_text("Who should do it?"),
    }
    if prefill.assignee_user_ids:
        users["initial_users"] = prefill.assignee_user_ids
    notes: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.NOTES_ACTION,
        "multiline": True,
        "max_length": NOTES_MAX,
        "placeholder": plain_text("What needs doing?"),
    }
    if prefill.notes:
        notes["initial_value"] = prefill.notes
    blocks += [
        input_block(
            ids.NOTE_BLOCK, "Note ID", note, hint="The MaxCare note the task belongs to."
        ),
        input_block(ids.ASSIGNEES_BLOCK, "Assign to", users),
        input_block(ids.NOTES_BLOCK, "Task", notes),
    ]
    if destination:
        picker = {
            "type": "conversations_select",
            "action_id": ids.DESTINATION_ACTION,
            "default_to_current_conversation": True,
            "response_url_enabled": True,
            "filter": {"exclude_bot_users": True},
        }
        blocks.append(input_block(ids.DESTINATION_BLOCK, "Post the confirmation in", picker))
    return modal(
        MODAL_TITLE,
        blocks,
        callback_id=ids.CREATE_TASK_VIEW,
        submit="Create task",
        close="Cancel",
        private_metadata=private_metadata,
    )


def info_modal(text: str, *, title: str = "MaxCare task") -> dict[str, Any]:
    """A modal with one message and a Close button."""
    return modal(title, [section(text)], close="Close")


def creating_modal(note_id: str) -> dict[str, Any]:
    """What the form turns into once accepted, until the task exists."""
    return info_modal(
        f":hourglass_flowing_sand: Creating the task on note `{note_id}`…\n"
        "You can close this window: the confirmation will be posted in the conversation."
    )


def created_modal(task_id: str, status: str | None) -> dict[str, Any]:
    """What an open form shows once the task exists."""
    return info_modal(
        f":white_check_mark: Task `{task_id}` created ({status_text(status)}).\n"
        "The confirmation card has been posted."
    )


def failure_message(view_id: str, reason: str) -> dict[str, Any]:
    """Tells the author the task was not created, with buttons to get the draft back."""
    text = f"Your MaxCare task was not created. {escape(reason)} Your draft is saved."
    return message(
        text,
        [
            section(f":x: *Your MaxCare task was not created.*\n{escape(reason)}"),
            section("Nothing you typed is lost: reopen the draft to fix it and try again."),
            actions(
                button(ids.REOPEN_DRAFT_ACTION, "Reopen draft", view_id, style="primary"),
                button(ids.DISMISS_DRAFT_ACTION, "Discard draft", view_id),
            ),
        ],
    )


def assigned_message(
    *, task_id: str, note_id: str, notes: str, creator_user_id: str
) -> dict[str, Any]:
    """The DM an assignee gets: who asked, the task text, the note and task IDs, Refresh."""
    asked = f"<@{creator_user_id}> assigned you a MaxCare task"
    body = escaped_within(notes, NOTES_SHOWN_MAX) if notes else "_(no text)_"
    refresh = button(ids.REFRESH_TASK_ACTION, "Refresh", task_id)
    blocks: Blocks = [
        section(f":inbox_tray: *{asked}*"),
        section(body),
        context(f"Note `{escape(note_id)}` · Task `{escape(task_id)}`"),
        actions(refresh, block_id=ids.CARD_ACTIONS_BLOCK),
        context("Turn these messages off on the app's *Home* tab."),
    ]
    text = f"{asked}: {escaped_within(notes, 150)} (task {task_id})"
    return message(text, blocks)


def admins_phrase(admin_ids: Sequence[str]) -> str:
    """Who can link people, as mentions (the first few, then how many others)."""
    if not admin_ids:
        return "a workspace admin"
    named = sorted(admin_ids)
    if len(named) <= ADMINS_NAMED_MAX:
        return ", ".join(f"<@{a}>" for a in named)
    others = len(named) - ADMINS_NAMED_MAX
    shown = ", ".join(f"<@{a}>" for a in named[:ADMINS_NAMED_MAX])
    return f"{shown} or one of {others} other admins"


def not_linked_text(admin_ids: Sequence[str]) -> str:
    """What an unlinked person is told instead of getting the form."""
    return (
        "You are not linked to a MaxCare provider yet, so a task cannot be created as you. "
        f"Ask {admins_phrase(admin_ids)} to link you "
        "(`/task link @you prv_…` or `python -m bot links add`)."
    )


def not_linked_to_read_text(admin_ids: Sequence[str]) -> str:
    """What an unlinked person is told instead of a task's status: tasks hold patient care."""
    return (
        "Only people linked to a MaxCare provider can read MaxCare tasks from Slack. "
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
