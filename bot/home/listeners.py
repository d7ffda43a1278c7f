"""The App Home tab and its Create task button."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import ids
from bot.home.service import HomeService
from bot.runtime.answer import answer_at_ack
from bot.tasks.service import TaskService, UserFacingError


def register(app: AsyncApp, home: HomeService, service: TaskService) -> None:
    """Publish Home when it is opened; its button opens the same task form as the shortcut."""

    @app.event(ids.APP_HOME_OPENED)
    @answer_at_ack
    async def home_opened(event: dict[str, Any]) -> None:
        # Bolt has already acknowledged the event; the Messages tab needs nothing from us.
        if event.get("tab", "home") != "home" or not isinstance(event.get("user"), str):
            return
        await home.publish(event["user"])

    @app.action(ids.HOME_CREATE_TASK_ACTION)
    @answer_at_ack
    async def create_task(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        try:
            # Home has no conversation: the form asks where to post, like the global shortcut.
            await service.global_shortcut(body)
        except UserFacingError as exc:
            user = (body.get("user") or {}).get("id")
            if isinstance(user, str):
                await home.publish(user, notice=str(exc))
