"""Thin Bolt listeners: ack, parse, call one service function, render."""

from slack_bolt.async_app import AsyncApp

from bot.listeners import actions, commands, shortcuts, views
from bot.service import TaskService


def register(app: AsyncApp, service: TaskService) -> None:
    """Attach every listener to the app."""
    for module in (commands, shortcuts, views, actions):
        module.register(app, service)
