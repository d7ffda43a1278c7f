"""Pure Block Kit builders for the App Home tab: link status, Create task, recent tasks, admin."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot import ids
from bot.db.store import Link
from bot.slack.blocks import (
    Blocks,
    actions,
    button,
    checkboxes,
    context,
    divider,
    escaped_within,
    header,
    home,
    section,
)
from bot.slack.text import escape
from bot.status.views import slack_date, status_text, sync_text
from bot.tasks.views import not_linked_text

HOME_RECENT = 10
NAME_SHOWN_MAX = 200  # escaped; the provider's name as cached with the link
NOTICE_SHOWN_MAX = 2000  # escaped; a section's text may hold 3,000 characters
NOTIFY_LABEL = "Tell me when I'm assigned a task"
NOTIFY_BLOCK = "home_notify"


@dataclass
class AdminSummary:
    """What an admin sees about the links table on the Home tab."""

    links: int
    stale: int | None  # None: this version does not track stale links


def _when(value: Any) -> str | None:
    try:
        when = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return slack_date(when if when.tzinfo else when.replace(tzinfo=UTC)) if when else None


def _recent_line(row: dict[str, Any]) -> str:
    """One recent task: status, sync, note, ID, when, and where its card is."""
    note_id = escape(str(row.get("note_id") or "—"))
    line = f"*{status_text(row.get('status'))}* · {sync_text(row.get('sync_status'))} · "
    line += f"note `{note_id}`"
    about = [f"`{escape(str(row['task_id']))}`"]
    created = _when(row.get("created_at"))
    if created:
        about.append(f"created {created}")
    seen = _when(row.get("checked_at") or row.get("updated_at"))
    if seen:
        about.append(f"status as of {seen}")
    channel = str(row.get("channel_id") or "")
    if channel[:1] in ("C", "G"):
        about.append(f"card in <#{channel}>")
    return line + "\n" + " · ".join(about)


def home_view(
    *,
    link: Link | None,
    admin_ids: Collection[str],
    recent: Sequence[dict[str, Any]],
    admin: AdminSummary | None = None,
    notice: str | None = None,
    notify_assigned: bool = True,
) -> dict[str, Any]:
    """The Home tab: link status, Create task, recent tasks, the assignment DMs setting, and
    an admin summary."""
    blocks: Blocks = [header("MaxCare Tasks")]
    if notice:
        blocks.append(section(f":warning: {escaped_within(notice, NOTICE_SHOWN_MAX)}"))
    if link is not None:
        name = (
            escaped_within(link.provider_name, NAME_SHOWN_MAX)
            if link.provider_name
            else f"`{escape(link.provider_id)}`"
        )
        create = button(ids.HOME_CREATE_TASK_ACTION, "Create task", "home", style="primary")
        blocks.append(section(f":white_check_mark: Linked as *{name}*", create))
        blocks.append(context("Tasks you create are created in MaxCare as this provider."))
        selected = [ids.NOTIFY_ON_VALUE] if notify_assigned else []
        box = checkboxes(ids.HOME_NOTIFY_ACTION, [(ids.NOTIFY_ON_VALUE, NOTIFY_LABEL)], selected)
        blocks.append(actions(box, block_id=NOTIFY_BLOCK))
        blocks.append(
            context("A direct message with the task, whenever someone assigns you one.")
        )
    else:
        blocks.append(section(f":warning: {not_linked_text(sorted(admin_ids))}"))
    blocks += [divider(), section("*Your recent tasks*")]
    if not recent:
        blocks.append(
            context("None yet. Create one here, with `/task`, or from a message's ⋯ menu.")
        )
    blocks += [section(_recent_line(row)) for row in recent[:HOME_RECENT]]
    blocks += [
        divider(),
        context(
            "`/task status tsk_…` shows a task's live status · `/task mine` lists the open "
            "tasks assigned to you · `/task help` for more"
        ),
    ]
    if admin is not None:
        stale = "not tracked yet" if admin.stale is None else str(admin.stale)
        blocks += [
            divider(),
            section(
                f"*Admin* · people linked: *{admin.links}* · stale links: *{stale}*\n"
                "Manage links with `/task link`, `/task links` or `python -m bot links …`."
            ),
        ]
    return home(blocks)
