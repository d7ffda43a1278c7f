"""The task form's submission."""

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import ids
from bot.tasks.service import TaskService

log = logging.getLogger("bot.listeners")


def register(app: AsyncApp, service: TaskService) -> None:
    """Validate, store, ack; the worker does the rest."""

    @app.view(ids.CREATE_TASK_VIEW)
    async def submit(ack: AsyncAck, body: dict[str, Any]) -> None:
        try:
            result = await service.submit(body)
        except Exception:
            # Keep the modal open with everything typed in it, whatever went wrong.
            log.exception("submission could not be processed")
            await ack(
                response_action="errors",
                errors={ids.NOTES_BLOCK: "Something went wrong on our side. Please submit again."},
            )
            return
        await ack(**result.ack)
        if result.enqueue:
            service.enqueue(result.enqueue)
