"""Thin Bolt listeners: ack, parse, call one service function, render."""

from collections.abc import Mapping

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands, shortcuts, views
from bot.listeners.commands import Subcommand
from bot.service import TaskService


def register(
    app: AsyncApp, service: TaskService, subcommands: Mapping[str, Subcommand] | None = None
) -> None:
    """Attach every listener to the app; sub-commands (`/task link …`) come from other services."""
    commands.register(app, service, subcommands or {})
    for module in (shortcuts, views, actions):
        module.register(app, service)
