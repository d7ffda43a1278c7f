"""The middleware that refuses requests from any workspace but the installed one."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger("bot.app")


class OnlyInstalledTeam(AsyncMiddleware):
    """Refuses requests from any workspace but the one the token belongs to.

    A middleware class, not a function: Bolt injects arguments into function middleware on
    every request, and this runs on every request.
    """

    def __init__(self, team_id: str, enterprise_id: str | None) -> None:
        self.team_id = team_id
        self.enterprise_id = enterprise_id

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        """Continue the chain for our workspace; 403 for any other."""
        context = req.context
        ours = context.team_id == self.team_id or (
            self.enterprise_id is not None and context.enterprise_id == self.enterprise_id
        )
        if not ours:
            log.warning("refused a request from another workspace")
            return BoltResponse(status=403, body="This app serves one workspace only.")
        return await next()
