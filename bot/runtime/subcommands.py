"""The slash command's sub-commands (`/task link …`, `/task mine`): a handler per first word."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond

# A handler gets the ack, the command payload, respond, and the text after its word.
Subcommand = Callable[[AsyncAck, dict[str, Any], AsyncRespond, str], Awaitable[None]]


class Subcommands:
    """First word of the command's text → its handler, added by each feature's `register`."""

    def __init__(self) -> None:
        self._handlers: dict[str, Subcommand] = {}

    def add(self, word: str, handler: Subcommand) -> None:
        """Route `/task <word> …` to `handler`; each word belongs to one feature."""
        key = word.lower()
        if key in self._handlers:
            raise ValueError(f"the sub-command {word!r} is already routed")
        self._handlers[key] = handler

    def route(self, text: str) -> tuple[Subcommand, str] | None:
        """The handler for the command's text and the text after its word, or None."""
        word, _, rest = text.strip().partition(" ")
        handler = self._handlers.get(word.lower())
        return None if handler is None else (handler, rest.strip())

    def words(self) -> list[str]:
        """Every routed word, sorted."""
        return sorted(self._handlers)
