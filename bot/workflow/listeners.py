"""Workflow listener: a run of the "Create MaxCare task" step (the function_executed event)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import ids
from bot.workflow.service import WorkflowService


class WorkflowListeners:
    """Bolt calls these methods by their parameter names."""

    def __init__(self, service: WorkflowService) -> None:
        self.service = service

    async def create_task(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """A workflow ran the step: check and store the run, ack; the worker does the rest.

        Not answered at ack: everything before the ack is local (the store), and an event
        acked before its row is written could be lost. A failure to store goes to the app's
        error handler, Slack gets an error and delivers the event again.
        """
        key = await self.service.accept(body)
        await ack()
        if key is not None:
            self.service.enqueue(key)


def register(app: AsyncApp, service: WorkflowService) -> WorkflowListeners:
    """Listen for runs of the Workflow Builder step."""
    listeners = WorkflowListeners(service)
    app.function(ids.WORKFLOW_STEP)(listeners.create_task)
    return listeners
