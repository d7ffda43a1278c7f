"""Pure Block Kit builders for live status: `/task mine` pages, the Home tab, status texts."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot import ids
from bot.db.store import Link
from bot.maxcare import Task, normalize_id
from bot.slack.text import escape, shorten
from bot.tasks.views import Blocks, not_linked_text, slack_date, status_label, sync_label

OPEN_STATUSES = ("not_started", "in_progress")
MINE_PAGE_SIZE = 20  # rows per message: 20 sections + header, headline and More stay under 50
HOME_RECENT = 10

FOLLOWING_NOTE = (
    ":hourglass_flowing_sand: Waiting for the EHR sync: this card updates by itself."
)


def stopped_note(seconds: float) -> str:
    """Said on a card once the app stops checking its EHR sync by itself."""
    minutes = max(1, round(seconds / 60))
    return (
        f":pause_button: Not synced to the EHR after {minutes} min, so the app stopped checking "
        "by itself. Press *Refresh* to check again."
    )


def parse_task_id(text: str) -> tuple[str | None, str | None]:
    """(task ID, None) from `/task status` text, or (None, what to tell the person)."""
    raw = text.strip().strip("`").strip()
    if not raw:
        return None, "Which task? Type `/task status tsk_…` (the ID is at the bottom of each card)."
    task_id = normalize_id(raw.split()[0], "tsk")
    if task_id is None:
        return None, (
            f"`{escape(shorten(raw, 80))}` is not a MaxCare task ID. Task IDs look like "
            "`tsk_` followed by 32 characters 0-9 and a-f (the ID is at the bottom of each card)."
        )
    return task_id, None


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _section(text: str, accessory: dict[str, Any] | None = None) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if accessory:
        block["accessory"] = accessory
    return block


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _button(action_id: str, text: str, value: str, style: str | None = None) -> dict[str, Any]:
    button = {"type": "button", "action_id": action_id, "text": _plain(text), "value": value}
    if style:
        button["style"] = style
    return button


def newest_first(tasks: Sequence[Task]) -> list[Task]:
    """Tasks by creation time, newest first (MaxCare documents no sort order)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(tasks, key=lambda t: t.created_at or oldest, reverse=True)


def mine_page(tasks: Sequence[Task], *, offset: int, headline: str | None = None) -> dict[str, Any]:
    """One page of `/task mine`: a row per task with a Refresh button, and More when needed."""
    total = len(tasks)
    top = [_context(headline)] if headline else []
    if total == 0:
        text = "No open MaxCare tasks are assigned to you."
        return {"text": text, "blocks": [*top, _section(f":tada: {text}")]}
    offset = min(max(0, offset), (total - 1) // MINE_PAGE_SIZE * MINE_PAGE_SIZE)
    shown = tasks[offset : offset + MINE_PAGE_SIZE]
    last = offset + len(shown)
    summary = f"Your open MaxCare tasks: {offset + 1}–{last} of {total}, newest first"
    blocks: Blocks = [_section(f"*{summary}*"), *top]
    for task in shown:
        status = escape(status_label(task.status))
        sync = escape(sync_label(task.sync_status))
        notes = escape(shorten(" ".join((task.notes or "").split()), 150)) or "_(no text)_"
        note_id = escape(task.note_id or "—")
        line = f"*{status}* · {sync} · note `{note_id}`\n{notes}\n`{escape(task.id)}`"
        refresh = _button(ids.MINE_REFRESH_ACTION, "Refresh", f"{task.id}:{offset}")
        blocks.append(_section(line, refresh))
    if last < total:
        more = _button(ids.MINE_MORE_ACTION, f"More ({total - last} left)", str(last))
        blocks.append({"type": "actions", "elements": [more]})
    return {"text": f"{summary}.", "blocks": blocks}


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


def home_view(
    *,
    link: Link | None,
    admin_ids: Collection[str],
    recent: Sequence[dict[str, Any]],
    admin: AdminSummary | None = None,
    notice: str | None = None,
) -> dict[str, Any]:
    """The Home tab: link status, Create task, recent tasks, and an admin summary."""
    blocks: Blocks = [{"type": "header", "text": _plain("MaxCare Tasks")}]
    if notice:
        blocks.append(_section(f":warning: {escape(notice)}"))
    if link is not None:
        name = escape(link.provider_name) if link.provider_name else f"`{escape(link.provider_id)}`"
        create = _button(ids.HOME_CREATE_TASK_ACTION, "Create task", "home", style="primary")
        blocks.append(_section(f":white_check_mark: Linked as *{name}*", create))
        blocks.append(_context("Tasks you create are created in MaxCare as this provider."))
    else:
        blocks.append(_section(f":warning: {not_linked_text(sorted(admin_ids))}"))
    blocks += [{"type": "divider"}, _section("*Your recent tasks*")]
    if not recent:
        blocks.append(
            _context("None yet. Create one here, with `/task`, or from a message's ⋯ menu.")
        )
    for row in recent[:HOME_RECENT]:
        status = escape(status_label(row.get("status")))
        sync = escape(sync_label(row.get("sync_status")))
        line = f"*{status}* · {sync} · note `{escape(str(row.get('note_id') or '—'))}`"
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
        blocks.append(_section(line + "\n" + " · ".join(about)))
    blocks += [
        {"type": "divider"},
        _context(
            "`/task status tsk_…` shows a task's live status · `/task mine` lists the open "
            "tasks assigned to you · `/task help` for more"
        ),
    ]
    if admin is not None:
        stale = "not tracked yet" if admin.stale is None else str(admin.stale)
        blocks += [
            {"type": "divider"},
            _section(
                f"*Admin* · people linked: *{admin.links}* · stale links: *{stale}*\n"
                "Manage links with `/task link`, `/task links` or `python -m bot links …`."
            ),
        ]
    return {"type": "home", "blocks": blocks}
