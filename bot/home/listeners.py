"""Home listeners: the App Home tab and its Create task button."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import ids
from bot.home.service import HomeService
from bot.runtime.answer import answer_at_ack
from bot.tasks.service import TaskService, UserFacingError


class HomeListeners:
    """Bolt calls these methods by their parameter names."""

    def __init__(self, home: HomeService, tasks: TaskService) -> None:
        self.home = home
        self.tasks = tasks

    @answer_at_ack
    async def home_opened(self, event: dict[str, Any]) -> None:
        """Publish Home when its tab is opened."""
        # Bolt has already acknowledged the event; the Messages tab needs nothing from us.
        if event.get("tab", "home") != "home" or not isinstance(event.get("user"), str):
            return
        await self.home.publish(event["user"])

    @answer_at_ack
    async def create_task(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """Create task on Home opens the same form as the global shortcut."""
        await ack()
        try:
            # Home has no conversation: the form asks where to post, like the global shortcut.
            await self.tasks.global_shortcut(body)
        except UserFacingError as exc:
            user = (body.get("user") or {}).get("id")
            if isinstance(user, str):
                await self.home.publish(user, notice=str(exc))


def register(app: AsyncApp, home: HomeService, tasks: TaskService) -> HomeListeners:
    """Publish Home when it is opened; its button opens the task form."""
    listeners = HomeListeners(home, tasks)
    app.event(ids.APP_HOME_OPENED)(listeners.home_opened)
    app.action(ids.HOME_CREATE_TASK_ACTION)(listeners.create_task)
    return listeners
