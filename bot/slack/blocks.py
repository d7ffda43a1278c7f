"""The only Block Kit primitives: plain dicts in the shapes Slack documents, one function each."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.slack.text import escape

Block = dict[str, Any]
Blocks = list[Block]

OPTION_TEXT_MAX = 75  # Slack's limit for an option's text (and a button's)


def plain_text(text: str) -> dict[str, Any]:
    """A plain_text object (shown as typed, emoji codes allowed)."""
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    """A mrkdwn text object; `text` is trusted markup (escape what users wrote first)."""
    return {"type": "mrkdwn", "text": text}


def section(text: str, accessory: dict[str, Any] | None = None) -> Block:
    """A section of mrkdwn text, with an optional element (a button) beside it."""
    block: Block = {"type": "section", "text": mrkdwn(text)}
    if accessory is not None:
        block["accessory"] = accessory
    return block


def fields(*texts: str) -> Block:
    """A section of mrkdwn fields, shown two columns wide."""
    return {"type": "section", "fields": [mrkdwn(t) for t in texts]}


def context(*texts: str) -> Block:
    """A context block: small grey mrkdwn lines."""
    return {"type": "context", "elements": [mrkdwn(t) for t in texts]}


def button(
    action_id: str, text: str, value: str | None = None, style: str | None = None
) -> dict[str, Any]:
    """A button element; `style` is "primary" or "danger"."""
    element: dict[str, Any] = {"type": "button", "action_id": action_id, "text": plain_text(text)}
    if value is not None:
        element["value"] = value
    if style is not None:
        element["style"] = style
    return element


def checkboxes(
    action_id: str, options: Sequence[tuple[str, str]], selected: Sequence[str] = ()
) -> dict[str, Any]:
    """A checkboxes element of (value, text) options; `selected` values start ticked."""
    element: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": action_id,
        "options": [option(value, text) for value, text in options],
    }
    ticked = [option(value, text) for value, text in options if value in selected]
    if ticked:  # Slack refuses an empty initial_options
        element["initial_options"] = ticked
    return element


def actions(*elements: dict[str, Any], block_id: str | None = None) -> Block:
    """An actions block holding buttons (or other interactive elements)."""
    block: Block = {"type": "actions", "elements": list(elements)}
    if block_id is not None:
        block["block_id"] = block_id
    return block


def header(text: str) -> Block:
    """A header block: large bold plain text."""
    return {"type": "header", "text": plain_text(text)}


def divider() -> Block:
    """A divider block."""
    return {"type": "divider"}


def option(value: str, text: str) -> dict[str, Any]:
    """A select menu option; its text is cut to Slack's 75 characters."""
    if len(text) > OPTION_TEXT_MAX:
        text = text[: OPTION_TEXT_MAX - 1] + "…"
    return {"text": plain_text(text), "value": value}


def input_block(
    block_id: str, label: str, element: dict[str, Any], *, hint: str | None = None
) -> Block:
    """An input block of a modal: a label, the element, and an optional hint below it."""
    block: Block = {"type": "input", "block_id": block_id, "label": plain_text(label)}
    if hint is not None:
        block["hint"] = plain_text(hint)
    block["element"] = element
    return block


def modal(
    title: str,
    blocks: Blocks,
    *,
    submit: str | None = None,
    close: str | None = None,
    callback_id: str | None = None,
    private_metadata: str | None = None,
) -> dict[str, Any]:
    """A modal view; title, submit and close are plain text (Slack allows 24 characters each)."""
    view: dict[str, Any] = {"type": "modal", "title": plain_text(title), "blocks": blocks}
    if callback_id is not None:
        view["callback_id"] = callback_id
    if submit is not None:
        view["submit"] = plain_text(submit)
    if close is not None:
        view["close"] = plain_text(close)
    if private_metadata:  # Slack sends "" back for a view without any
        view["private_metadata"] = private_metadata
    return view


def home(blocks: Blocks) -> dict[str, Any]:
    """An App Home tab view."""
    return {"type": "home", "blocks": blocks}


def message(text: str, blocks: Sequence[Block]) -> dict[str, Any]:
    """A message: `text` for notifications and screen readers, `blocks` for the eye."""
    return {"text": text, "blocks": list(blocks)}


def escaped_within(text: str, limit: int) -> str:
    """User text escaped and within limit characters; shortened (with …) before escaping."""
    escaped = escape(text)
    if len(escaped) <= limit:
        return escaped
    size = 0
    for cut, char in enumerate(text):
        size += len(escape(char))
        if size > limit - 1:
            return escape(text[:cut].rstrip()) + "…"
    return escaped
