"""Pure text helpers: parse `/task` text, make Slack markup readable, escape user text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

NOTES_MAX = 3000  # Slack's plain_text_input max_length; MaxCare documents no lower limit
TRUNCATION_MARKER = " … [cut: message longer than 3,000 characters]"

NOTE_ID_RE = re.compile(r"\bnte_[0-9a-f]{32}\b", re.IGNORECASE)
UUID_RE = re.compile(
    r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE
)
USER_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
CHANNEL_RE = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
SPECIAL_RE = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
SUBTEAM_RE = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
DATE_RE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
LINK_RE = re.compile(r"<((?:https?|mailto|tel):[^|>]+)(?:\|([^>]*))?>")


@dataclass
class Prefill:
    """What the form starts with."""

    note_id: str = ""
    assignee_user_ids: list[str] = field(default_factory=list)
    notes: str = ""


def normalize_note_id(value: str) -> str | None:
    """`nte_` + 32 hex from either that form or a dashed UUID; None when it is neither."""
    value = value.strip().lower()
    if re.fullmatch(r"nte_[0-9a-f]{32}", value):
        return value
    if re.fullmatch(UUID_RE.pattern.replace(r"\b", ""), value):
        return "nte_" + value.replace("-", "")
    return None


def find_note_id(text: str) -> tuple[str | None, str]:
    """The first note ID in text (prefixed or UUID) and the text without it."""
    for pattern in (NOTE_ID_RE, UUID_RE):
        match = pattern.search(text)
        if match:
            rest = (text[: match.start()] + text[match.end() :]).strip()
            return normalize_note_id(match.group(0)), rest
    return None, text


def mentioned_users(text: str) -> list[str]:
    """Slack user IDs mentioned in text, in order, without repeats."""
    return list(dict.fromkeys(m.group(1) for m in USER_MENTION_RE.finditer(text)))


def parse_command_text(text: str) -> Prefill:
    """`nte_… <@U1|wilson> review plan` → note ID, assignees and the rest as notes."""
    note_id, rest = find_note_id(text or "")
    users = mentioned_users(rest)
    notes = " ".join(USER_MENTION_RE.sub("", rest).split())
    return Prefill(note_id=note_id or "", assignee_user_ids=users, notes=cut(readable(notes)))


def readable(text: str, name_for: Callable[[str], str | None] = lambda _: None) -> str:
    """Slack markup turned into what a person reads: @name, #channel, label (url)."""

    def user(m: re.Match[str]) -> str:
        return "@" + (m.group(2) or name_for(m.group(1)) or m.group(1))

    def link(m: re.Match[str]) -> str:
        url, label = m.group(1), m.group(2)
        bare = url.removeprefix("mailto:").removeprefix("tel:")
        if not label or label in (url, bare):
            return bare
        return f"{label} ({url})"

    text = USER_MENTION_RE.sub(user, text)
    text = CHANNEL_RE.sub(lambda m: "#" + (m.group(2) or m.group(1)), text)
    text = SPECIAL_RE.sub(lambda m: "@" + m.group(1), text)
    text = SUBTEAM_RE.sub(lambda m: m.group(1) or "@group", text)
    text = DATE_RE.sub(lambda m: m.group(1), text)
    text = LINK_RE.sub(link, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def prefill_from_message(
    text: str, name_for: Callable[[str], str | None] = lambda _: None
) -> Prefill:
    """Prefill from a message: its note ID, its mentioned people and its readable text."""
    note_id, _ = find_note_id(text or "")
    notes = cut(readable(text or "", name_for).strip())
    users = mentioned_users(text or "")
    return Prefill(note_id=note_id or "", assignee_user_ids=users, notes=notes)


def cut(text: str, limit: int = NOTES_MAX) -> str:
    """Text within limit characters, with a visible marker when it was cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARKER)].rstrip() + TRUNCATION_MARKER


def escape(text: str) -> str:
    """Escape the three characters Slack treats as markup, so user text cannot ping or link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def shorten(text: str, limit: int) -> str:
    """Text within limit characters, ending in an ellipsis when shortened."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
