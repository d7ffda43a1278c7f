"""Pure Block Kit builders for live status: the task card, `/task mine` pages, status texts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot import ids
from bot.maxcare import Task, normalize_id
from bot.slack.blocks import (
    Blocks,
    actions,
    button,
    context,
    escaped_within,
    fields,
    message,
    section,
)
from bot.slack.text import escape, shorten

STATUS_LABELS = {
    "not_started": "Not started",
    "in_progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
}
SYNC_LABELS = {"synced": "Synced to EHR", "pending": "Syncing to EHR…", "failed": "EHR sync failed"}
OPEN_STATUSES = ("not_started", "in_progress")
MINE_PAGE_SIZE = 20  # rows per message: 20 sections + header, headline and More stay under 50

SYNC_FAILED_HELP = (
    ":rotating_light: *EHR sync failed.* The task exists in MaxCare but did not reach the EHR. "
    "Open it in MaxCare to retry the sync, or give MaxCare support the task ID below. "
    "*Refresh* checks again."
)
FOLLOWING_NOTE = (
    ":hourglass_flowing_sand: Waiting for the EHR sync: this card updates by itself."
)
NOTES_SHOWN_MAX = 2900  # escaped; a section's text may hold 3,000 characters
ASSIGNEES_SHOWN_MAX = 1900  # escaped; a field may hold 2,000 characters
NAME_SHOWN_MAX = 100  # escaped, per person: twenty long names still fit one field
LABEL_SHOWN_MAX = 100  # escaped; unknown statuses are shown as MaxCare sent them
NEWS_NAMES_MAX = 5  # a status change names this many assignees, then how many more


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


def status_text(status: str | None) -> str:
    """status_label as mrkdwn: escaped and of bounded length."""
    return escaped_within(status_label(status), LABEL_SHOWN_MAX)


def sync_text(sync_status: str | None) -> str:
    """sync_label as mrkdwn: escaped and of bounded length."""
    return escaped_within(sync_label(sync_status), LABEL_SHOWN_MAX)


def slack_date(when: datetime) -> str:
    """A time each reader sees in their own time zone (UTC in clients that cannot)."""
    fallback = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(when.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def stopped_note(seconds: float) -> str:
    """Said on a card once the app stops checking its EHR sync by itself."""
    minutes = max(1, round(seconds / 60))
    return (
        f":pause_button: Not synced to the EHR after {minutes} min, so the app stopped checking "
        "by itself. Press *Refresh* to check again."
    )


# -- the task card ---------------------------------------------------------------------------


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


def people_text(assignees: Sequence[tuple[str, str | None]], limit: int) -> str:
    """`Dr. A (<@U1>), Dr. B`: escaped names with mentions, within limit ("and N more")."""
    shown: list[str] = []
    size = 0
    for done, (name, uid) in enumerate(assignees):
        item = escaped_within(name, NAME_SHOWN_MAX) + (f" (<@{uid}>)" if uid else "")
        more = len(assignees) - done - 1
        # Room for this one, and for "and N more" should the next not fit.
        tail = len(f", and {more} more") if more else 0
        if shown and size + 2 + len(item) + tail > limit:
            return ", ".join(shown) + f", and {len(assignees) - done} more"
        shown.append(item)
        size += len(item) + (2 if done else 0)
    return ", ".join(shown)


def task_card(card: CardData) -> dict[str, Any]:
    """The confirmation message: `text` and `blocks` for chat.postMessage and chat.update."""
    people = people_text(card.assignees, ASSIGNEES_SHOWN_MAX)
    plain_people = escaped_within(", ".join(name for name, _ in card.assignees), 300)
    notes = escaped_within(card.notes, NOTES_SHOWN_MAX) if card.notes else "_(no text)_"
    by = f" created by <@{card.creator_user_id}>" if card.creator_user_id else ""
    status = status_text(card.status)
    blocks: Blocks = [
        section(f":clipboard: *New MaxCare task*{by}" if by else ":clipboard: *MaxCare task*"),
        section(notes),
        fields(
            f"*Status*\n{status}",
            f"*EHR sync*\n{sync_text(card.sync_status)}",
            f"*Assigned to*\n{people or '—'}",
            f"*Note*\n`{escape(card.note_id)}`",
        ),
    ]
    if card.sync_status == "failed":
        blocks.append(section(SYNC_FAILED_HELP))
    about = [f"Task `{escape(card.task_id)}`"]
    if card.updated_at:
        about.append(f"last updated {slack_date(card.updated_at)}")
    if card.checked_at:
        about.append(f"checked {slack_date(card.checked_at)}")
    blocks.append(context(" · ".join(about)))
    if card.sync_note:
        blocks.append(context(card.sync_note))
    refresh = button(ids.REFRESH_TASK_ACTION, "Refresh", card.task_id)
    blocks.append(actions(refresh, block_id=ids.CARD_ACTIONS_BLOCK))
    if card.invite_hint:
        blocks.append(context(card.invite_hint))
    sync = " EHR sync failed." if card.sync_status == "failed" else ""
    text = (
        f"MaxCare task {card.task_id} created for {plain_people or 'nobody'}: "
        f"{escaped_within(card.notes, 150)} ({status}){sync}"
    )
    return message(text, blocks)


def news_sentence(status: str | None, assignees: Sequence[str]) -> str:
    """`Dr. James Wilson, MD completed the task`: what changed, by whom it is assigned to.

    MaxCare does not say who changed a task; one assignee is named as the one who did it.
    """
    who = [escaped_within(name, NAME_SHOWN_MAX) for name in assignees[:NEWS_NAMES_MAX]]
    if len(assignees) > NEWS_NAMES_MAX:
        who.append(f"{len(assignees) - NEWS_NAMES_MAX} more")
    people = ", ".join(who[:-1]) + f" and {who[-1]}" if len(who) > 1 else "".join(who)
    task = f"The task for {people}" if people else "The task"
    if status == "completed":
        return f"{people} completed the task" if len(who) == 1 else f"{task} was completed"
    if status == "in_progress":
        return f"{people} started the task" if len(who) == 1 else f"{task} was started"
    if status == "cancelled":
        return f"{task} was cancelled"
    return f"{task} is now *{status_text(status)}*"


def status_news(
    *,
    creator_user_id: str,
    task_id: str,
    note_id: str,
    status: str | None,
    assignees: Sequence[str],
) -> dict[str, Any]:
    """Tells a task's creator (in the card's thread, or a DM) that its status changed."""
    sentence = news_sentence(status, assignees)
    about = f"Task `{escape(task_id)}` · note `{escape(note_id)}`"
    text = f"<@{creator_user_id}> {sentence}: {task_id}."
    blocks: Blocks = [section(f"<@{creator_user_id}> {sentence}."), context(about)]
    return message(text, blocks)


# -- `/task status` and `/task mine` -----------------------------------------------------------


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


def newest_first(tasks: Sequence[Task]) -> list[Task]:
    """Tasks by creation time, newest first (MaxCare documents no sort order)."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(tasks, key=lambda t: t.created_at or oldest, reverse=True)


def mine_page(tasks: Sequence[Task], *, offset: int, headline: str | None = None) -> dict[str, Any]:
    """One page of `/task mine`: a row per task with a Refresh button, and More when needed."""
    total = len(tasks)
    top = [context(headline)] if headline else []
    if total == 0:
        text = "No open MaxCare tasks are assigned to you."
        return message(text, [*top, section(f":tada: {text}")])
    offset = min(max(0, offset), (total - 1) // MINE_PAGE_SIZE * MINE_PAGE_SIZE)
    shown = tasks[offset : offset + MINE_PAGE_SIZE]
    last = offset + len(shown)
    summary = f"Your open MaxCare tasks: {offset + 1}–{last} of {total}, newest first"
    blocks: Blocks = [section(f"*{summary}*"), *top]
    for task in shown:
        notes = escape(shorten(" ".join((task.notes or "").split()), 150)) or "_(no text)_"
        note_id = escape(task.note_id or "—")
        line = (
            f"*{status_text(task.status)}* · {sync_text(task.sync_status)} · note `{note_id}`\n"
            f"{notes}\n`{escape(task.id)}`"
        )
        refresh = button(ids.MINE_REFRESH_ACTION, "Refresh", f"{task.id}:{offset}")
        blocks.append(section(line, refresh))
    if last < total:
        more = button(ids.MINE_MORE_ACTION, f"More ({total - last} left)", str(last))
        blocks.append(actions(more))
    return message(f"{summary}.", blocks)
