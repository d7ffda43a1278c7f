"""The least work a submission needs after its ack: create the task, post the card, update the form.

Shared by the relay (the end-to-end floor) and the like-for-like bare Bolt app, so both make the
hops the bot makes, with its choices of client (httpx for MaxCare; slack_sdk on one kept-alive
aiohttp session for Slack) and nothing else: no validation, storage, rate limit or retries.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp
import httpx
from slack_sdk.web.async_client import AsyncWebClient

# The bot keeps idle Slack connections this long (aiohttp's default is 15 s).
KEEPALIVE_SECONDS = 60.0
CREATED_MODAL: dict[str, Any] = {
    "type": "modal",
    "title": {"type": "plain_text", "text": "Task created"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Created."}}],
}


def slack_session() -> aiohttp.ClientSession:
    """One kept-alive session with no pool limit, as the bot has (call inside a running loop)."""
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=KEEPALIVE_SECONDS)
    return aiohttp.ClientSession(connector=connector)


class Hops:
    """MaxCare task, Slack card, modal update: one submission's outside calls."""

    def __init__(self, env: Mapping[str, str], session: aiohttp.ClientSession) -> None:
        self.slack = AsyncWebClient(
            token=env["SLACK_BOT_TOKEN"], base_url=env["SLACK_API_URL"], session=session
        )
        self.maxcare = httpx.AsyncClient(
            base_url=env["MAXCARE_API_URL"],
            headers={
                "Authorization": f"Bearer {env['MAXCARE_API_KEY']}",
                "X-Organization-Id": env["MAXCARE_ORGANIZATION_ID"],
            },
        )
        self.provider = env["RELAY_PROVIDER_ID"]

    async def create_and_confirm(self, view: Mapping[str, Any], *, update: bool = True) -> None:
        """POST the task, post a card in the view's channel, then (update) say so in the form."""
        channel = json.loads(view["private_metadata"])["channel_id"]
        values = view["state"]["values"]
        note = next(iter(values["note"].values()))["value"]
        created = await self.maxcare.post(
            "/tasks",
            json={
                "noteId": note,
                "providerId": self.provider,
                "notes": "relay",
                "assigneeIds": [self.provider],
            },
        )
        task_id = created.json()["data"]["id"]
        await self.slack.chat_postMessage(channel=channel, text=f"Task {task_id} created")
        if update:
            await self.slack.views_update(view_id=view["id"], view=CREATED_MODAL)

    async def aclose(self) -> None:
        """Close the MaxCare client (the Slack session belongs to whoever made it)."""
        await self.maxcare.aclose()
