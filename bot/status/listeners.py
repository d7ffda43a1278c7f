"""Live status: Refresh on cards, `/task status`, `/task mine` and its paging."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot import ids
from bot.maxcare import TASK_ID_RE
from bot.runtime.answer import answer_at_ack
from bot.status import views
from bot.status.service import StatusService
from bot.tasks import views as task_views
from bot.tasks.listeners.commands import Subcommand


def _action(body: dict[str, Any]) -> tuple[str, str]:
    """(user ID, the clicked button's value)."""
    actions = body.get("actions")
    value = actions[0].get("value") if isinstance(actions, list) and actions else None
    return str((body.get("user") or {}).get("id") or ""), value if isinstance(value, str) else ""


def subcommands(status: StatusService, admin_ids: Collection[str]) -> dict[str, Subcommand]:
    """`/task status tsk_…` and `/task mine`, for the slash command's sub-command mapping."""

    async def status_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, rest: str
    ) -> None:
        task_id, problem = views.parse_task_id(rest)
        if task_id is None:
            await ack(response_type="ephemeral", text=problem or "")
            return
        await ack()  # MaxCare is asked only after Slack has its answer
        await respond(response_type="ephemeral", **await status.status(task_id))

    async def mine_command(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, rest: str
    ) -> None:
        user_id = str(command.get("user_id") or "")
        if status.store.get_link(user_id) is None:
            await ack(response_type="ephemeral", text=task_views.not_linked_text(sorted(admin_ids)))
            return
        await ack()
        await respond(response_type="ephemeral", **await status.mine(user_id))

    return {"status": status_command, "mine": mine_command}


def register(app: AsyncApp, status: StatusService) -> None:
    """The buttons on cards and on `/task mine` pages."""

    @app.action(ids.REFRESH_TASK_ACTION)
    @answer_at_ack
    async def refresh(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        _, task_id = _action(body)
        if not TASK_ID_RE.fullmatch(task_id):
            return  # not a button this app made
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        await status.refresh(
            task_id=task_id,
            channel_id=channel if isinstance(channel, str) else None,
            message_ts=container.get("message_ts") or (body.get("message") or {}).get("ts"),
            ephemeral=bool(container.get("is_ephemeral")),
            respond=respond,
        )

    @app.action(ids.MINE_MORE_ACTION)
    @answer_at_ack
    async def more(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, value = _action(body)
        offset = int(value) if value.isdigit() else 0
        page = await status.mine(user_id, offset=offset)
        await respond(replace_original=True, **page)

    @app.action(ids.MINE_REFRESH_ACTION)
    @answer_at_ack
    async def refresh_row(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user_id, value = _action(body)
        task_id, _, offset = value.partition(":")
        if not TASK_ID_RE.fullmatch(task_id):
            return
        page = await status.mine(
            user_id, offset=int(offset) if offset.isdigit() else 0, refreshed=task_id
        )
        await respond(replace_original=True, **page)
