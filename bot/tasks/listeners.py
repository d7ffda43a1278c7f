"""Task listeners: the slash command, both shortcuts, the form's submission, the draft buttons."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.runtime.answer import answer_at_ack
from bot.runtime.subcommands import Subcommands
from bot.slack.payload import dig, dig_str
from bot.tasks.service import TaskService, UserFacingError

log = logging.getLogger("bot.listeners")


def _value(body: dict[str, Any]) -> Any:
    return dig(body, "actions", 0, "value")


def _user(body: dict[str, Any]) -> Any:
    return dig(body, "user", "id")


class TaskListeners:
    """Bolt calls these methods by their parameter names; each acks, calls the service, renders."""

    def __init__(self, service: TaskService, subcommands: Subcommands) -> None:
        self.service = service
        self.subcommands = subcommands

    async def submit(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The form's submission: validate, store, ack; the worker does the rest."""
        try:
            result = await self.service.submit(body)
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
            self.service.enqueue(result.enqueue)

    @answer_at_ack
    async def slash_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Every slash command routed to the app (renaming it changes no code)."""
        routed = self.subcommands.route(dig_str(command, "text"))
        if routed is not None:
            handler, rest = routed
            await handler(ack, command, respond, rest)
            return
        reply = self.service.slash_command(command)
        if reply.text is not None:
            await ack(response_type="ephemeral", text=reply.text)
            return
        await ack()
        assert reply.view is not None
        try:
            await self.service.open_view(command.get("trigger_id"), reply.view)
        except UserFacingError as exc:
            await respond(response_type="ephemeral", text=str(exc))

    @answer_at_ack
    async def message_shortcut(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """The message shortcut opens the form about that message."""
        await ack()
        try:
            await self.service.message_shortcut(body)
        except UserFacingError as exc:
            await respond(response_type="ephemeral", text=str(exc), replace_original=False)

    @answer_at_ack
    async def global_shortcut(
        self, ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The global shortcut opens the form, asking where to post."""
        await ack()
        try:
            await self.service.global_shortcut(body)
        except UserFacingError as exc:
            # A global shortcut has no conversation to answer in: say it in a DM.
            try:
                opened = await client.conversations_open(users=_user(body))
                await client.chat_postMessage(channel=opened["channel"]["id"], text=str(exc))
            except SlackClientError:
                pass

    @answer_at_ack
    async def reopen_draft(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Reopen in a form a draft MaxCare refused."""
        await ack()
        user = _user(body) or ""
        try:
            problem = await self.service.reopen_draft(user, _value(body), body.get("trigger_id"))
        except UserFacingError as exc:
            problem = str(exc)
        if problem:
            await respond(response_type="ephemeral", text=problem, replace_original=False)
        else:
            await respond(text="Draft reopened in a form.", replace_original=True)

    @answer_at_ack
    async def dismiss_draft(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Discard a draft MaxCare refused."""
        await ack()
        user = _user(body) or ""
        await respond(text=self.service.dismiss_draft(user, _value(body)), replace_original=True)


def register(app: AsyncApp, service: TaskService, subcommands: Subcommands) -> TaskListeners:
    """Attach the task listeners; `/task <word> …` goes to whatever `subcommands` routes.

    Bolt tries listeners in order, paying its argument injection for each one tried: the form
    submission (the one request that writes before its ack) goes first. No two listeners here
    match the same request, so the order changes nothing else.
    """
    listeners = TaskListeners(service, subcommands)
    app.view(ids.CREATE_TASK_VIEW)(listeners.submit)
    app.command(re.compile(r"^/"))(listeners.slash_command)
    app.shortcut(ids.MESSAGE_SHORTCUT)(listeners.message_shortcut)
    app.shortcut(ids.GLOBAL_SHORTCUT)(listeners.global_shortcut)
    app.action(ids.REOPEN_DRAFT_ACTION)(listeners.reopen_draft)
    app.action(ids.DISMISS_DRAFT_ACTION)(listeners.dismiss_draft)
    return listeners
