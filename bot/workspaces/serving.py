"""Many-workspace mode: serve each Slack request as its workspace, and stop at the door any
request of a workspace not connected to MaxCare yet (except the admin's `/task connect`)."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackClientError, SlackTokenRotationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids, tenancy
from bot.db.interface import INSTALLED, Store, installation_key
from bot.settings import Settings
from bot.tasks.views import info_modal
from bot.tenancy import Workspace
from bot.workspaces.installations import DatabaseInstallationStore
from bot.workspaces.oauth import oauth_settings
from bot.workspaces.tokens import TokenCipher

log = logging.getLogger("bot.workspaces")

# Each instance remembers a workspace's organization this long: connecting it in Slack takes
# effect at once on the instance that took the command, within this on the others.
ORGANIZATION_CACHE_SECONDS = 30.0

NOT_CONNECTED_TEXT = (
    "This workspace is not connected to MaxCare yet, so tasks cannot be created or read here. "
    "A workspace admin can connect it with `/task connect org_…` (the clinic's MaxCare "
    "organization ID)."
)
# Said (by Bolt) to a person in a workspace the app has no installation for, e.g. after an
# uninstall: nothing of theirs is read or sent anywhere.
NOT_INSTALLED_TEXT = (
    "MaxCare Tasks is not installed in this workspace (any more), so nothing was done. "
    "A workspace admin can install it again from the clinic's install link."
)
# What a disconnected workspace may still do: connect, and read the help.
_OPEN_WORDS = ("connect", "help")


class Organizations:
    """Each installation's MaxCare organization, read from the database at most every 30 s."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.clock = clock
        self._known: dict[str, tuple[float, str | None]] = {}

    def of(self, key: str) -> str | None:
        now = self.clock()
        hit = self._known.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = self.store.get_installation(key)
        org = row.get("organization_id") if row else None
        self._known[key] = (now + ORGANIZATION_CACHE_SECONDS, org)
        return org

    def connected(self, key: str, organization_id: str) -> None:
        """This instance connected it: use the new organization now."""
        self._known[key] = (self.clock() + ORGANIZATION_CACHE_SECONDS, organization_id)


class ServeWorkspace(AsyncMiddleware):
    """After Bolt found the request's installation: serve the rest of it as that workspace."""

    def __init__(self, organizations: Organizations, slack: AsyncWebClient) -> None:
        self.organizations = organizations
        self.slack = slack  # the workspace client: each call as the workspace served

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        context = req.context
        found = context.authorize_result
        if found is None or not found.bot_token:  # events that need no token (uninstalls)
            tenancy.enter(None)
            return await next()
        key = installation_key(
            context.enterprise_id, context.team_id, bool(context.is_enterprise_install)
        )
        workspace = Workspace(
            key=key,
            team_id=context.team_id,
            enterprise_id=context.enterprise_id,
            bot_token=found.bot_token,
            bot_user_id=found.bot_user_id,
            organization_id=self.organizations.of(key),
        )
        tenancy.enter(workspace)  # until the request's end (the server isolates each one)
        if workspace.organization_id is None:
            refused = await self._not_connected(req.body)
            if refused is not None:
                return refused
        return await next()


    async def _not_connected(self, body: dict[str, Any]) -> BoltResponse | None:
        """The answer to a request needing MaxCare from a workspace without it; None: go on."""
        if body.get("command") == ids.SLASH_COMMAND:
            word = str(body.get("text") or "").strip().split(" ")[0].lower()
            if word in _OPEN_WORDS:
                return None
            answer = {"response_type": "ephemeral", "text": NOT_CONNECTED_TEXT}
            return BoltResponse(
                status=200, body=json.dumps(answer), headers={"content-type": "application/json"}
            )
        if body.get("type") in ("shortcut", "message_action") and body.get("trigger_id"):
            view = info_modal(NOT_CONNECTED_TEXT)
            try:
                await self.slack.views_open(trigger_id=str(body["trigger_id"]), view=view)
            except SlackClientError as exc:
                log.info("not-connected notice not shown: %s", type(exc).__name__)
            return BoltResponse(status=200, body="")
        return None


class Workspaces:
    """Background work's way to a workspace: its bot token and organization, from its row."""

    def __init__(
        self,
        installations: DatabaseInstallationStore,
        organizations: Organizations,
        rotator: AsyncTokenRotator | None = None,
        rotate_minutes: int = 120,
    ) -> None:
        self.installations = installations
        self.organizations = organizations
        self.rotator = rotator  # token rotation: Bolt refreshes a request's token, this the rest
        self.rotate_minutes = rotate_minutes
        self._rotating: dict[str, asyncio.Lock] = {}

    async def of_key(self, key: str) -> Workspace | None:
        """The workspace stored rows belong to, by its key; None once it is uninstalled."""
        bot = self.installations.find_by_key(key) if key else None
        if bot is None:
            return None
        if self.rotator is not None and bot.bot_refresh_token:
            bot = await self._fresh(key, bot)
        return Workspace(
            key=key,
            team_id=bot.team_id,
            enterprise_id=bot.enterprise_id,
            bot_token=bot.bot_token or "",
            bot_user_id=bot.bot_user_id,
            organization_id=self.organizations.of(key),
        )

    async def _fresh(self, key: str, bot: Bot) -> Bot:
        """The bot with a token that is not about to expire (refreshed and saved if it was).

        One refresh at a time per workspace: a refresh token is spent by its use, so the
        others read the token the first one saved."""
        assert self.rotator is not None
        async with self._rotating.setdefault(key, asyncio.Lock()):
            bot = self.installations.find_by_key(key) or bot
            try:
                refreshed = await self.rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=self.rotate_minutes
                )
            except (SlackTokenRotationError, SlackClientError) as exc:
                # The current token is used while it lasts; the next piece of work tries again.
                log.warning("token of %s not refreshed: %s", key, type(exc).__name__)
                return bot
            if refreshed is None:
                return bot
            await self.installations.async_save_bot(refreshed)
            log.info("token of %s refreshed", key)  # the key only, never a token
            return refreshed

    def installed(self) -> list[str]:
        """The keys of every workspace the app is installed in now."""
        return [
            row["key"]
            for row in self.installations.store.list_installations()
            if row["state"] == INSTALLED and row["bot_token_enc"] is not None
        ]


def served_organization() -> str | None:
    """The MaxCare organization of the workspace being served (the MaxCare client asks)."""
    workspace = tenancy.current()
    return workspace.organization_id if workspace is not None else None


@dataclass(frozen=True)
class Tenants:
    """Many-workspace mode's parts: the install flow, organizations and workspaces."""

    oauth: AsyncOAuthSettings
    organizations: Organizations
    workspaces: Workspaces


def workspaces_of(settings: Settings, store: Store, slack: AsyncWebClient) -> Tenants:
    """Build many-workspace mode's parts over the app's database and Slack client."""
    assert settings.token_encryption_key is not None  # the settings refuse to start without
    cipher = TokenCipher.from_setting(settings.token_encryption_key)
    oauth = oauth_settings(settings, store, cipher, slack)
    organizations = Organizations(store)
    installations = DatabaseInstallationStore(store, cipher)
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    rotator = AsyncTokenRotator(
        client_id=settings.slack_client_id,
        client_secret=settings.slack_client_secret.get_secret_value(),
        client=slack,  # refreshes go to SLACK_API_URL, as Bolt's do
    )
    workspaces = Workspaces(
        installations, organizations, rotator, oauth.token_rotation_expiration_minutes
    )
    return Tenants(oauth, organizations, workspaces)
