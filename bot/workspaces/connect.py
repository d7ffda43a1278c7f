"""`/task connect org_…`: a workspace admin connects the workspace to its MaxCare organization,
checked with one MaxCare call made as that organization before it is saved."""

from __future__ import annotations

import dataclasses
import logging

from bot import tenancy
from bot.db.interface import Store
from bot.links.service import AdminCheck
from bot.maxcare import MaxCareClient, MaxCareError
from bot.maxcare.ids import normalize_id
from bot.slack.text import escape
from bot.workspaces.serving import Organizations

log = logging.getLogger("bot.workspaces")

USAGE = "Usage: `/task connect org_…` with your clinic's MaxCare organization ID."


class Connector:
    """Checks and saves a workspace's MaxCare organization."""

    def __init__(
        self,
        *,
        store: Store,
        maxcare: MaxCareClient,
        admins: AdminCheck,
        organizations: Organizations,
    ) -> None:
        self.store = store
        self.maxcare = maxcare
        self.admins = admins
        self.organizations = organizations

    async def connect(self, user_id: str, text: str) -> str:
        """What to tell the admin (or the person who is not one)."""
        workspace = tenancy.current()
        if workspace is None:
            return "This command works only in a workspace the app is installed in."
        if not await self.admins.is_admin(user_id):
            return "Only a workspace admin or owner can connect this workspace to MaxCare."
        typed = text.strip()
        org = normalize_id(typed, "org")
        if org is None:
            return f"`{escape(typed[:60])}` is not an organization ID. {USAGE}" if typed else USAGE
        candidate = dataclasses.replace(workspace, organization_id=org)
        with tenancy.serving(candidate):
            try:
                await self.maxcare.ping()
            except MaxCareError as exc:
                log.info("organization check for %s: %s", workspace.key, type(exc).__name__)
                return f"Not connected: {exc.user_message('the check')}."
        self.store.set_installation_org(workspace.key, org)
        self.organizations.connected(workspace.key, org)
        log.info("workspace %s connected to a MaxCare organization", workspace.key)
        before = workspace.organization_id
        moved = f" (it was `{before}`)" if before and before != org else ""
        return (
            f":white_check_mark: This workspace is connected to MaxCare organization `{org}`"
            f"{moved}. Next: link people with `/task link @someone prv_…`."
        )
