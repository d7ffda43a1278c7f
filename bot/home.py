"""The App Home tab: link status, a Create task button, recent tasks, and an admin summary."""

from __future__ import annotations

import logging
from collections.abc import Collection

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import status_blocks
from bot.store import Store

log = logging.getLogger("bot.home")


class HomeService:
    """Publishes a person's Home tab from the local database only (no MaxCare call)."""

    def __init__(self, *, store: Store, slack: AsyncWebClient, admin_ids: Collection[str]) -> None:
        self.store = store
        self.slack = slack
        # NOTE: issue 5 is building a richer admin check (bot/admin.py, workspace admins and
        # owners too); switch to it once merged. Until then BOT_ADMINS decides.
        self.admin_ids = frozenset(admin_ids)

    def view(self, user_id: str, notice: str | None = None) -> dict[str, object]:
        """The Home view for one person."""
        admin = None
        if user_id in self.admin_ids:
            admin = status_blocks.AdminSummary(
                links=self.store.count_links(), stale=self.store.count_stale_links()
            )
        return status_blocks.home_view(
            link=self.store.get_link(user_id),
            admin_ids=self.admin_ids,
            recent=self.store.recent_tasks(user_id, limit=status_blocks.HOME_RECENT),
            admin=admin,
            notice=notice,
        )

    async def publish(self, user_id: str, notice: str | None = None) -> None:
        """views.publish the person's Home tab; Slack trouble is logged, not raised."""
        try:
            await self.slack.views_publish(user_id=user_id, view=self.view(user_id, notice))
        except SlackClientError as exc:
            log.warning("Home of %s not published: %s", user_id, type(exc).__name__)
