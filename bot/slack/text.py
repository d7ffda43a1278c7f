"""Pure text helpers: make Slack markup readable, cut and shorten text, escape user text."""

from __future__ import annotations

import re
from collections.abc import Callable

NOTES_MAX = 3000  # Slack's plain_text_input max_length; MaxCare documents no lower limit
TRUNCATION_MARKER = " … [cut: message longer than 3,000 characters]"

# Slack markup, read leniently (bot.slack.payload holds the strict ID patterns).
USER_MENTION_RE = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
CHANNEL_RE = re.compile(r"<#([CG][A-Z0-9]+)(?:\|([^>]*))?>")
SPECIAL_RE = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
SUBTEAM_RE = re.compile(r"<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>")
DATE_RE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
LINK_RE = re.compile(r"<((?:https?|mailto|tel):[^|>]+)(?:\|([^>]*))?>")


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
