"""Display names of the workspace's people, kept in memory so forms open on local lookups only."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import tenancy
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
    """User ID → display name, by workspace, from `users.list` at start-up and every hour."""

    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        refresh_seconds: float = 3600.0,
        workspaces: tuple[Callable[[], list[str]], tenancy.WorkspaceOf] | None = None,
    ) -> None:
        self.slack = slack
        self.refresh_seconds = refresh_seconds
        # Many workspaces: the installed ones' keys, and the way to serve each.
        self.workspaces = workspaces
        self._names: dict[str, dict[str, str]] = {}  # workspace key -> user ID -> name

    def _known(self) -> dict[str, str]:
        return self._names.setdefault(tenancy.key_or_single(), {})

    def name(self, user_id: str) -> str | None:
        """The person's display name in the workspace served, if known."""
        return self._known().get(user_id)

    def remember(self, user: dict[str, Any]) -> None:
        """Learn a name from a user object Slack returned anyway."""
        name = display_name(user)
        if isinstance(user.get("id"), str) and name:
            self._known()[user["id"]] = name

    async def refresh_all(self) -> int:
        """Refresh every installed workspace's names (one workspace's: refresh)."""
        if self.workspaces is None:
            return await self.refresh()
        installed, workspace_of = self.workspaces
        keys = installed()
        for key in set(self._names) - set(keys):
            del self._names[key]  # uninstalled: its people are forgotten
        count, failed = 0, None
        for key in keys:
            workspace = await workspace_of(key)
            if workspace is None:
                continue
            try:
                with tenancy.serving(workspace):
                    count += await self.refresh()
            except Exception as exc:  # the others are refreshed all the same
                failed = exc
        if failed is not None:
            raise failed  # run() tries again sooner than the hour
        return count

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
        return len(self._known())

    async def run(self) -> None:
        """Refresh now and then every refresh_seconds, until cancelled; failures back off."""
        await forever("people directory", self._refresh_step, every=self.refresh_seconds)

    async def _refresh_step(self) -> None:
        count = await self.refresh_all()
        log.info("%d people's names known", count)
