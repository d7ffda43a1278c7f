"""The Home listeners called alone: a tiny Home service that records what it publishes."""

from __future__ import annotations

from typing import Any, cast

from bot.home.listeners import HomeListeners
from bot.home.service import HomeService
from bot.runtime import answer
from bot.tasks.service import TaskService, UserFacingError
from tests.support.harness import NURSE
from tests.support.recorder import Recorder


class Home:
    """Records every publish instead of calling Slack."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str | None]] = []

    async def publish(self, user_id: str, notice: str | None = None) -> None:
        self.published.append((user_id, notice))


class NoForm:
    """A task service whose form cannot open."""

    async def global_shortcut(self, body: dict[str, Any]) -> None:
        raise UserFacingError("Slack sent no trigger to open the form with; please try again.")


def listeners(home: Home) -> HomeListeners:
    return HomeListeners(cast(HomeService, home), cast(TaskService, NoForm()))


async def test_home_is_published_when_its_tab_opens_only() -> None:
    home = Home()
    on = listeners(home)

    await on.home_opened(event={"type": "app_home_opened", "user": NURSE, "tab": "messages"})
    await on.home_opened(event={"type": "app_home_opened", "user": NURSE, "tab": "home"})
    await on.home_opened(event={"type": "app_home_opened", "tab": "home"})  # no user
    await answer.settle(1.0)

    assert home.published == [(NURSE, None)]


async def test_a_form_that_cannot_open_is_said_on_home() -> None:
    home = Home()
    ack = Recorder()

    await listeners(home).create_task(ack=ack, body={"user": {"id": NURSE}})
    await answer.settle(1.0)

    assert ack.only == {}
    assert home.published == [
        (NURSE, "Slack sent no trigger to open the form with; please try again.")
    ]
