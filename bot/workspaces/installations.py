"""slack_sdk's installation and OAuth-state stores over the app's own database (both backends).

Bolt's OAuth flow saves each installation through `async_save`, its `authorize` finds the
request's bot token through `async_find_installation` (or `async_find_bot`), its token rotation
saves refreshed tokens through `async_save`, and its `app_uninstalled` / `tokens_revoked`
listeners call the delete methods. Semantics follow slack_sdk's own SQL stores, with three
differences: one row per workspace (or per organization for org-wide installs) rather than one
per install, tokens encrypted at rest, and an uninstall that removes the tokens but keeps the
row (its MaxCare organization and the audit stay; `workspaces list` shows it uninstalled).
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from bot.db.interface import INSTALLED, Store
from bot.workspaces.tokens import TokenCipher

log = logging.getLogger(__name__)

STATE_SECONDS = 600  # how long an "Add to Slack" click stays valid


def _iso(epoch: int | float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


def _epoch(iso: str | None) -> int | None:
    return None if iso is None else int(datetime.fromisoformat(iso).timestamp())


class DatabaseInstallationStore(AsyncInstallationStore):
    """Installations in the Store, their bot (and refresh) tokens encrypted with TokenCipher."""

    def __init__(self, store: Store, cipher: TokenCipher) -> None:
        self.store = store
        self.cipher = cipher

    @property
    def logger(self) -> logging.Logger:
        return log

    # -- saving

    async def async_save(self, installation: Installation) -> None:
        """Store a new installation, or a newer one of its workspace (reinstall, refresh)."""
        await self.async_save_bot(installation.to_bot() if installation.bot_token else None,
                                  installer=installation.user_id)  # fmt: skip

    async def async_save_bot(self, bot: Bot | None, *, installer: str | None = None) -> None:
        """Store a bot installation; one without a bot token is not this app's and is skipped."""
        if bot is None or not bot.bot_token:
            log.warning("installation without a bot token not saved")
            return
        row: dict[str, Any] = {
            "team_id": bot.team_id,
            "enterprise_id": bot.enterprise_id,
            "is_enterprise_install": bool(bot.is_enterprise_install),
            "team_name": bot.team_name,
            "enterprise_name": bot.enterprise_name,
            "app_id": bot.app_id,
            "bot_user_id": bot.bot_user_id,
            "bot_id": bot.bot_id,
            "bot_token_enc": self.cipher.encrypt(bot.bot_token),
            "bot_refresh_token_enc": (
                self.cipher.encrypt(bot.bot_refresh_token) if bot.bot_refresh_token else None
            ),
            "bot_token_expires_at": _iso(bot.bot_token_expires_at),
            "bot_scopes": ",".join(bot.bot_scopes or []),
        }
        if installer is not None:  # a refreshed bot (token rotation) keeps who installed it
            row["installer_user_id"] = installer
        else:
            found = self.store.find_installation(
                bot.enterprise_id, bot.team_id, bool(bot.is_enterprise_install)
            )
            row["installer_user_id"] = found["installer_user_id"] if found else None
        saved = self.store.save_installation(row)
        log.info("installation %s saved", saved["key"])  # the key only: never a token

    # -- finding

    def _active(
        self, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
    ) -> dict[str, Any] | None:
        row = self.store.find_installation(enterprise_id, team_id, bool(is_enterprise_install))
        if row is None or row["state"] != INSTALLED or row["bot_token_enc"] is None:
            return None
        return row

    def _bot(self, row: dict[str, Any]) -> Bot:
        refresh = row["bot_refresh_token_enc"]
        return Bot(
            app_id=row["app_id"],
            enterprise_id=row["enterprise_id"],
            enterprise_name=row["enterprise_name"],
            team_id=row["team_id"],
            team_name=row["team_name"],
            bot_token=self.cipher.decrypt(row["bot_token_enc"]),  # TokenKeyError: wrong key
            bot_id=row["bot_id"],
            bot_user_id=row["bot_user_id"],
            bot_scopes=row["bot_scopes"] or "",
            bot_refresh_token=self.cipher.decrypt(refresh) if refresh else None,
            bot_token_expires_at=_epoch(row["bot_token_expires_at"]),
            is_enterprise_install=row["is_enterprise_install"],
            installed_at=datetime.fromisoformat(row["installed_at"]),
            custom_values={"organization_id": row["organization_id"], "key": row["key"]},
        )

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        """The workspace's (or org-wide) bot, tokens decrypted; None unless installed."""
        row = self._active(enterprise_id, team_id, is_enterprise_install)
        return self._bot(row) if row else None

    def find_by_key(self, key: str) -> Bot | None:
        """An installation's bot by its key (background work's way in); None unless installed."""
        row = self.store.get_installation(key)
        if row is None or row["state"] != INSTALLED or row["bot_token_enc"] is None:
            return None
        return self._bot(row)

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The workspace's installation, tokens decrypted; None unless installed.

        Asked for one person's installation (user_id), there is none: this app keeps no user
        tokens. Bolt asks that for every request by someone other than the installer, and
        answers it without a database round trip this way.
        """
        if user_id is not None:
            return None
        row = self._active(enterprise_id, team_id, is_enterprise_install)
        if row is None:
            return None
        bot = self._bot(row)
        return Installation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            enterprise_name=bot.enterprise_name,
            team_id=bot.team_id,
            team_name=bot.team_name,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
            user_id=row["installer_user_id"] or "",
            is_enterprise_install=bot.is_enterprise_install,
            token_type="bot",
            installed_at=bot.installed_at,
            custom_values=bot.custom_values,
        )

    # -- uninstalls (app_uninstalled, tokens_revoked)

    def _key(self, enterprise_id: str | None, team_id: str | None) -> str | None:
        """Which installation the IDs of an uninstall event name: the workspace's own, else
        its organization's org-wide one (those events do not say which it is)."""
        if team_id and self.store.get_installation(team_id) is not None:
            return team_id
        if enterprise_id:
            row = self.store.get_installation(enterprise_id)
            if row is not None and row["is_enterprise_install"]:
                return enterprise_id
        return None

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """The bot's tokens are revoked: remove them at once; the row stays, uninstalled."""
        key = self._key(enterprise_id, team_id)
        if key is not None and self.store.mark_uninstalled(key):
            ended = self.store.end_workspace_work(key)
            log.info(
                "installation %s uninstalled: its tokens are removed, %d submission(s) ended",
                key, ended,
            )  # fmt: skip

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """The app is uninstalled (no user_id): as async_delete_bot. A person's user token
        revoked (user_id): nothing to do, no user tokens are kept."""
        if user_id is None:
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)


class DatabaseOAuthStateStore(AsyncOAuthStateStore):
    """OAuth states in the Store: random, valid for STATE_SECONDS, each accepted once."""

    def __init__(self, store: Store, *, expiration_seconds: float = STATE_SECONDS) -> None:
        self.store = store
        self.expiration_seconds = expiration_seconds

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        """A new state, remembered until it expires."""
        state = secrets.token_urlsafe(32)
        expires = self.store.clock() + timedelta(seconds=self.expiration_seconds)
        self.store.issue_oauth_state(state, expires)
        return state

    async def async_consume(self, state: str) -> bool:
        """True once for a state this app issued that has not expired."""
        return self.store.consume_oauth_state(state, self.store.clock())
