"""Thin Bolt listeners: ack, parse, call one service function, render."""

from collections.abc import Mapping

from slack_bolt.async_app import AsyncApp

from bot.tasks.listeners import actions, commands, shortcuts, submit
from bot.tasks.listeners.commands import Subcommand
from bot.tasks.service import TaskService


def register(
    app: AsyncApp, service: TaskService, subcommands: Mapping[str, Subcommand] | None = None
) -> None:
    """Attach every listener to the app; sub-commands (`/task link …`) come from other services.

    Bolt tries listeners in order, paying its argument injection for each one tried: the form
    submission (the one request that writes before its ack) goes first. No two listeners here
    match the same request, so the order changes nothing else.
    """
    submit.register(app, service)
    commands.register(app, service, subcommands or {})
    for module in (shortcuts, actions):
        module.register(app, service)
