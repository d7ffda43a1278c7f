"""Buttons: reopen or discard a draft that MaxCare refused."""

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot import ids
from bot.runtime.answer import answer_at_ack
from bot.tasks.service import TaskService, UserFacingError


def _value(body: dict[str, Any]) -> Any:
    actions = body.get("actions")
    return actions[0].get("value") if isinstance(actions, list) and actions else None


def register(app: AsyncApp, service: TaskService) -> None:
    """Draft buttons on failure notices."""

    @app.action(ids.REOPEN_DRAFT_ACTION)
    @answer_at_ack
    async def reopen(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user = (body.get("user") or {}).get("id", "")
        try:
            problem = await service.reopen_draft(user, _value(body), body.get("trigger_id"))
        except UserFacingError as exc:
            problem = str(exc)
        if problem:
            await respond(response_type="ephemeral", text=problem, replace_original=False)
        else:
            await respond(text="Draft reopened in a form.", replace_original=True)

    @app.action(ids.DISMISS_DRAFT_ACTION)
    @answer_at_ack
    async def dismiss(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        user = (body.get("user") or {}).get("id", "")
        await respond(text=service.dismiss_draft(user, _value(body)), replace_original=True)
