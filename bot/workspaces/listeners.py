"""Many-workspace mode's listeners: `/task connect`, and uninstalls."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.runtime.subcommands import Subcommands
from bot.slack.payload import dig_str
from bot.workspaces.connect import Connector


class WorkspaceListeners:
    def __init__(self, connector: Connector) -> None:
        self.connector = connector

    async def connect_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, rest: str
    ) -> None:
        """`/task connect org_…`; MaxCare is asked after the ack."""
        await ack()
        text = await self.connector.connect(dig_str(command, "user_id"), rest)
        await respond(response_type="ephemeral", text=text)


def register(app: AsyncApp, connector: Connector, subcommands: Subcommands) -> WorkspaceListeners:
    """`/task connect`, and Bolt's listeners that drop an uninstalled workspace's tokens."""
    listeners = WorkspaceListeners(connector)
    subcommands.add("connect", listeners.connect_command)
    app.enable_token_revocation_listeners()
    return listeners
