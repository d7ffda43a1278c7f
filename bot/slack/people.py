"""Display names of the workspace's people, kept in memory so forms open on local lookups only."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime.loops import forever
from bot.slack.failures import describe

log = logging.getLogger("bot.people")


def display_name(user: dict[str, Any]) -> str | None:
    """The name Slack shows for a user object."""
    profile = user.get("profile") if isinstance(user.get("profile"), dict) else {}
    assert isinstance(profile, dict)
    for name in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"),
                 user.get("name")):
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


class People:
    """User ID → display name, from `users.list` at start-up and every hour."""

    def __init__(self, slack: AsyncWebClient, *, refresh_seconds: float = 3600.0) -> None:
        self.slack = slack
        self.refresh_seconds = refresh_seconds
        self._names: dict[str, str] = {}

    def name(self, user_id: str) -> str | None:
        """The person's display name, if known."""
        return self._names.get(user_id)

    def remember(self, user: dict[str, Any]) -> None:
        """Learn a name from a user object Slack returned anyway."""
        name = display_name(user)
        if isinstance(user.get("id"), str) and name:
            self._names[user["id"]] = name

    async def refresh(self, max_pages: int = 200) -> int:
        """Read every page of `users.list`; returns how many names are known."""
        cursor: str | None = None
        for _ in range(max_pages):
            try:
                resp = await self.slack.users_list(limit=200, cursor=cursor)
            except Exception as exc:
                # Names stay as they were; run() tries again sooner than the hour.
                log.warning("users.list failed (%s)", describe(exc))
                raise
            for user in resp.get("members") or []:
                if isinstance(user, dict):
                    self.remember(user)
            cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
        return len(self._names)

    async def run(self) -> None:
        """Refresh now and then every refresh_seconds, until cancelled; failures back off."""
        await forever("people directory", self._refresh_step, every=self.refresh_seconds)

    async def _refresh_step(self) -> None:
        count = await self.refresh()
        log.info("%d people's names known", count)
