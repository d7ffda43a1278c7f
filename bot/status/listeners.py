"""Live status listeners: Refresh on cards, `/task status`, `/task mine` and its paging."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot import ids
from bot.maxcare import TASK_ID_RE
from bot.runtime.answer import answer_at_ack
from bot.runtime.subcommands import Subcommands
from bot.slack.payload import dig_str
from bot.status import views
from bot.status.service import StatusService
from bot.tasks import views as task_views


def _action(body: dict[str, Any]) -> tuple[str, str]:
    """(user ID, the clicked button's value)."""
    return dig_str(body, "user", "id"), dig_str(body, "actions", 0, "value")


class StatusListeners:
    """The status sub-commands and buttons; Bolt calls the buttons by their parameter names."""

    def __init__(self, status: StatusService, admin_ids: Collection[str]) -> None:
        self.status = status
        self.admin_ids = sorted(admin_ids)

    async def status_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, rest: str
    ) -> None:
        """`/task status tsk_…`: the task's live card, privately."""
        task_id, problem = views.parse_task_id(rest)
        if task_id is None:
            await ack(response_type="ephemeral", text=problem or "")
            return
        if not self._may_read(dig_str(command, "user_id")):
            await ack(response_type="ephemeral", text=self._not_linked())
            return
        await ack()  # MaxCare is asked only after Slack has its answer
        await respond(response_type="ephemeral", **await self.status.status(task_id))

    async def mine_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, rest: str
    ) -> None:
        """`/task mine`: the caller's open tasks, a page at a time."""
        user_id = dig_str(command, "user_id")
        if not self._may_read(user_id):
            await ack(response_type="ephemeral", text=self._not_linked())
            return
        await ack()
        await respond(response_type="ephemeral", **await self.status.mine(user_id))

    @answer_at_ack
    async def refresh(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Refresh on a card: ask MaxCare, update the card where it is."""
        await ack()
        user_id, task_id = _action(body)
        if not TASK_ID_RE.fullmatch(task_id):
            return  # not a button this app made
        if not self._may_read(user_id):  # the card stays as everyone in the channel sees it
            await respond(
                text=self._not_linked(), response_type="ephemeral", replace_original=False
            )
            return
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        await self.status.refresh(
            task_id=task_id,
            channel_id=channel if isinstance(channel, str) else None,
            message_ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
            ephemeral=bool(container.get("is_ephemeral")),
            respond=respond,
        )

    def _may_read(self, user_id: str) -> bool:
        # A task's text is patient care: only people the clinic linked may read it here, and
        # MaxCare is not asked for anyone else.
        return bool(user_id) and self.status.store.get_link(user_id) is not None

    def _not_linked(self) -> str:
        return task_views.not_linked_to_read_text(self.admin_ids)

    @answer_at_ack
    async def more(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """The next page of `/task mine`."""
        await ack()
        user_id, value = _action(body)
        offset = int(value) if value.isdigit() else 0
        page = await self.status.mine(user_id, offset=offset)
        await respond(replace_original=True, **page)

    @answer_at_ack
    async def refresh_row(
        self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """Refresh on one row of `/task mine`: the same page, that task re-checked."""
        await ack()
        user_id, value = _action(body)
        task_id, _, offset = value.partition(":")
        if not TASK_ID_RE.fullmatch(task_id):
            return
        page = await self.status.mine(
            user_id, offset=int(offset) if offset.isdigit() else 0, refreshed=task_id
        )
        await respond(replace_original=True, **page)


def register(
    app: AsyncApp, status: StatusService, subcommands: Subcommands, admin_ids: Collection[str]
) -> StatusListeners:
    """`/task status` and `/task mine`, and the buttons on cards and on `/task mine` pages."""
    listeners = StatusListeners(status, admin_ids)
    subcommands.add("status", listeners.status_command)
    subcommands.add("mine", listeners.mine_command)
    app.action(ids.REFRESH_TASK_ACTION)(listeners.refresh)
    app.action(ids.MINE_MORE_ACTION)(listeners.more)
    app.action(ids.MINE_REFRESH_ACTION)(listeners.refresh_row)
    return listeners
