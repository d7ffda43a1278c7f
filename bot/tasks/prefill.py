"""What the task form starts with: parsed from `/task` text or from a message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.maxcare.ids import NOTE, find_id, normalize_note_id
from bot.slack.text import USER_MENTION_RE, cut, readable


@dataclass
class Prefill:
    """What the form starts with."""

    note_id: str = ""
    assignee_user_ids: list[str] = field(default_factory=list)
    notes: str = ""


def find_note_id(text: str) -> tuple[str | None, str]:
    """The first note ID in text (prefixed or UUID) and the text without it."""
    match = find_id(text, NOTE)
    if match is None:
        return None, text
    rest = (text[: match.start()] + text[match.end() :]).strip()
    return normalize_note_id(match.group(0)), rest


def mentioned_users(text: str) -> list[str]:
    """Slack user IDs mentioned in text, in order, without repeats."""
    return list(dict.fromkeys(m.group(1) for m in USER_MENTION_RE.finditer(text)))


def parse_command_text(text: str) -> Prefill:
    """`nte_… <@U1|wilson> review plan` → note ID, assignees and the rest as notes."""
    note_id, rest = find_note_id(text or "")
    users = mentioned_users(rest)
    notes = " ".join(USER_MENTION_RE.sub("", rest).split())
    return Prefill(note_id=note_id or "", assignee_user_ids=users, notes=cut(readable(notes)))


def prefill_from_message(
    text: str, name_for: Callable[[str], str | None] = lambda _: None
) -> Prefill:
    """Prefill from a message: its note ID, its mentioned people and its readable text."""
    note_id, _ = find_note_id(text or "")
    notes = cut(readable(text or "", name_for).strip())
    users = mentioned_users(text or "")
    return Prefill(note_id=note_id or "", assignee_user_ids=users, notes=notes)
