"""The slash command (whatever name the workspace gave it)."""

import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.service import TaskService, UserFacingError


def register(app: AsyncApp, service: TaskService) -> None:
    """Answer every slash command routed to the app, so renaming it changes no code."""

    @app.command(re.compile(r"^/"))
    async def task_command(ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond) -> None:
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
