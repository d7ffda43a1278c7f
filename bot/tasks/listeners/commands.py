"""The slash command (whatever name the workspace gave it) and its sub-commands."""

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.runtime.answer import answer_at_ack
from bot.tasks.service import TaskService, UserFacingError

# A sub-command handler gets the ack, the command payload, respond, and the text after its word.
Subcommand = Callable[[AsyncAck, dict[str, Any], AsyncRespond, str], Awaitable[None]]


def register(app: AsyncApp, service: TaskService, subcommands: Mapping[str, Subcommand]) -> None:
    """Answer every slash command routed to the app, so renaming it changes no code."""

    @app.command(re.compile(r"^/"))
    @answer_at_ack
    async def task_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
        word, _, rest = str(command.get("text") or "").strip().partition(" ")
        handler = subcommands.get(word.lower())
        if handler is not None:
            await handler(ack, command, respond, rest.strip())
            return
        reply = service.slash_command(command)
        if reply.text is not None:
            await ack(response_type="ephemeral", text=reply.text)
            return
        await ack()
        assert reply.view is not None
        try:
            await service.open_view(command.get("trigger_id"), reply.view)
        except UserFacingError as exc:
            await respond(response_type="ephemeral", text=str(exc))
