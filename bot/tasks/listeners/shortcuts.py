"""The message shortcut and the global shortcut."""

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.runtime.answer import answer_at_ack
from bot.tasks.service import TaskService, UserFacingError


def register(app: AsyncApp, service: TaskService) -> None:
    """Both shortcuts open the same form."""

    @app.shortcut(ids.MESSAGE_SHORTCUT)
    @answer_at_ack
    async def from_message(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        await ack()
        try:
            await service.message_shortcut(body)
        except UserFacingError as exc:
            await respond(response_type="ephemeral", text=str(exc), replace_original=False)

    @app.shortcut(ids.GLOBAL_SHORTCUT)
    @answer_at_ack
    async def from_anywhere(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        try:
            await service.global_shortcut(body)
        except UserFacingError as exc:
            # A global shortcut has no conversation to answer in: say it in a DM.
            user = (body.get("user") or {}).get("id")
            try:
                opened = await client.conversations_open(users=user)
                await client.chat_postMessage(channel=opened["channel"]["id"], text=str(exc))
            except SlackClientError:
                pass
