"""The App Home tab: link status, a Create task button, recent tasks, the assignment DMs
setting, and an admin summary."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.db.store import Store
from bot.home import views

log = logging.getLogger("bot.home")


class HomeService:
    """Publishes a person's Home tab from the local database only (no MaxCare call)."""

    def __init__(
        self,
        *,
        store: Store,
        slack: AsyncWebClient,
        admin_ids: Collection[str],
        is_admin: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.store = store
        self.slack = slack
        self.admin_ids = frozenset(admin_ids)  # named on Home as the people who link others
        self.is_admin = is_admin or self._listed

    async def _listed(self, user_id: str) -> bool:
        return user_id in self.admin_ids

    def view(
        self, user_id: str, notice: str | None = None, *, admin_view: bool = False
    ) -> dict[str, object]:
        """The Home view for one person (with the links summary for admins)."""
        admin = None
        if admin_view:
            admin = views.AdminSummary(
                links=self.store.count_links(), stale=self.store.count_stale_links()
            )
        return views.home_view(
            link=self.store.get_link(user_id),
            admin_ids=self.admin_ids,
            recent=self.store.recent_tasks(user_id, limit=views.HOME_RECENT),
            admin=admin,
            notice=notice,
            notify_assigned=self.store.notify_assigned([user_id])[user_id],
        )

    async def set_notify_assigned(self, user_id: str, on: bool) -> None:
        """Turn the person's assignment DMs on or off, and show the Home tab saying so."""
        self.store.set_notify_assigned(user_id, on)
        await self.publish(user_id)

    async def publish(self, user_id: str, notice: str | None = None) -> None:
        """views.publish the person's Home tab; Slack trouble is logged, not raised."""
        try:
            admin_view = await self.is_admin(user_id)  # BOT_ADMINS, workspace admins, owners
            view = self.view(user_id, notice, admin_view=admin_view)
            await self.slack.views_publish(user_id=user_id, view=view)
        except SlackClientError as exc:
            log.warning("Home of %s not published: %s", user_id, type(exc).__name__)
