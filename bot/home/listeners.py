"""Home listeners: the App Home tab, its Create task button and its assignment DMs setting."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot import ids
from bot.home.service import HomeService
from bot.runtime.answer import answer_at_ack
from bot.slack.payload import dig_list, dig_str
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


    @answer_at_ack
    async def notify_setting(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """"Tell me when I'm assigned a task" ticked or unticked."""
        await ack()
        user = dig_str(body, "user", "id")
        if not user:
            return
        ticked = dig_list(body, "actions", 0, "selected_options")
        on = any(dig_str(option, "value") == ids.NOTIFY_ON_VALUE for option in ticked)
        await self.home.set_notify_assigned(user, on)


def register(app: AsyncApp, home: HomeService, tasks: TaskService) -> HomeListeners:
    """Publish Home when it is opened; its button opens the task form; its box sets DMs."""
    listeners = HomeListeners(home, tasks)
    app.event(ids.APP_HOME_OPENED)(listeners.home_opened)
    app.action(ids.HOME_CREATE_TASK_ACTION)(listeners.create_task)
    app.action(ids.HOME_NOTIFY_ACTION)(listeners.notify_setting)
    return listeners
