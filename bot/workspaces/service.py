"""What the command line needs of a workspace: `workspaces set-org`'s check before saving (one
MaxCare call made as that organization, with the ID rule `/task connect` uses), and an
installation's bot token for commands that ask Slack as it (`check`, `links suggest`)."""

from __future__ import annotations

from typing import Any

import httpx

from bot.db.interface import Store
from bot.maxcare import MaxCareClient
from bot.maxcare.ids import normalize_id
from bot.settings import Settings
from bot.workspaces.installations import DatabaseInstallationStore
from bot.workspaces.tokens import TokenCipher


def organization_id(text: str) -> str | None:
    """`org_…` from what someone typed (the prefixed ID or the dashed UUID, as `/task connect`
    takes it), or None when it is not one."""
    return normalize_id(text, "org")


def maxcare_as(settings: Settings, organization: str, **options: Any) -> MaxCareClient:
    """A MaxCare client of the command line's, asking as one organization."""
    return MaxCareClient(
        base_url=settings.maxcare_api_url,
        api_key=settings.maxcare_api_key,
        organization_id=organization,
        timeout=settings.maxcare_timeout_seconds,
        rate_limit_per_minute=settings.maxcare_rate_limit_per_minute,
        **options,
    )


async def verify_organization(
    settings: Settings, organization: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> None:
    """One cheap MaxCare call as this organization; raises MaxCareError with MaxCare's reason
    when the app's key cannot reach it (the clinic has not installed the app in MaxCare)."""
    # One attempt: a person is waiting for the answer.
    async with maxcare_as(settings, organization, max_attempts=1, transport=transport) as client:
        await client.ping()


def installed_bot_token(settings: Settings, store: Store, key: str) -> str | None:
    """The installation's bot token, decrypted (TokenKeyError: no key opens it); None unless
    the app is installed there now. Many-workspace mode only."""
    assert settings.token_encryption_key is not None  # many-workspace settings require it
    cipher = TokenCipher.from_setting(settings.token_encryption_key)
    bot = DatabaseInstallationStore(store, cipher).find_by_key(key)
    return bot.bot_token if bot is not None and bot.bot_token else None
