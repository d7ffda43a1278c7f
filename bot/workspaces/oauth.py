"""Bolt's OAuth install for many-workspace mode: "Add to Slack" at /slack/install, Slack's
redirect back at /slack/oauth_redirect, installations and states in the app's database."""

from __future__ import annotations

import html
import logging
from collections.abc import Sequence

from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.oauth.async_callback_options import (
    AsyncCallbackOptions,
    AsyncFailureArgs,
    AsyncSuccessArgs,
)
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.db.interface import Store
from bot.settings import Settings
from bot.workspaces.installations import DatabaseInstallationStore, DatabaseOAuthStateStore
from bot.workspaces.tokens import TokenCipher

_PAGE = (
    "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>"
    "<body style=\"font-family: sans-serif; max-width: 40em; margin: 3em auto\">"
    "<h1>{title}</h1><p>{text}</p></body></html>"
)


def oauth_settings(
    settings: Settings, store: Store, cipher: TokenCipher, slack: AsyncWebClient
) -> AsyncOAuthSettings:
    """The install flow's settings; every Slack call it makes goes to SLACK_API_URL."""
    assert settings.slack_client_id is not None and settings.slack_client_secret is not None
    secret = settings.slack_client_secret.get_secret_value()
    installations = DatabaseInstallationStore(store, cipher)
    oauth = AsyncOAuthSettings(
        client_id=settings.slack_client_id,
        client_secret=secret,
        scopes=list(ids.BOT_SCOPES),
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=DatabaseOAuthStateStore(store),
        install_path=ids.INSTALL_PATH,
        redirect_uri_path=ids.REDIRECT_PATH,
        callback_options=AsyncCallbackOptions(success=_installed, failure=_not_installed),
    )
    # Its own authorize would refresh rotated tokens through a client of its own, at slack.com
    # whatever SLACK_API_URL says: this one uses the app's.
    oauth.authorize = AsyncInstallationStoreAuthorize(
        logger=logging.getLogger("bot.workspaces"),
        client_id=settings.slack_client_id,
        client_secret=secret,
        installation_store=installations,
        bot_only=True,
        client=slack,
        token_rotation_expiration_minutes=oauth.token_rotation_expiration_minutes,
    )
    return oauth


async def _installed(args: AsyncSuccessArgs) -> BoltResponse:
    text = (
        "The app is installed in your workspace. Next, a workspace admin connects it to the "
        "clinic's MaxCare organization: in Slack, type <code>/task connect org_…</code> with "
        "the organization ID MaxCare gave you. Until then /task says it is not connected."
    )
    return _page(200, "MaxCare Tasks is installed", text)


async def _not_installed(args: AsyncFailureArgs) -> BoltResponse:
    # The reason is Bolt's code (invalid_state, access_denied…), never a token.
    reason = html.escape(str(args.reason))
    text = (
        f"The installation did not complete ({reason}). Go back to Slack and try "
        "\"Add to Slack\" again; ask your Slack admin if it keeps failing."
    )
    return _page(args.suggested_status_code, "MaxCare Tasks was not installed", text)


def _page(status: int, title: str, text: str) -> BoltResponse:
    body = _PAGE.format(title=title, text=text)
    headers: dict[str, str | Sequence[str]] = {"content-type": "text/html; charset=utf-8"}
    return BoltResponse(status=status, body=body, headers=headers)
