"""What the command line needs of a workspace: `workspaces set-org`'s check before saving (one
MaxCare call made as that organization, with the ID rule `/task connect` uses), and an
installed workspace for commands that ask Slack and MaxCare as it (`check`, `links suggest`)."""

from __future__ import annotations

from typing import Any

import httpx

from bot.db.interface import Store
from bot.maxcare import MaxCareClient
from bot.maxcare.ids import normalize_id
from bot.settings import Settings
from bot.slack.client import workspace_client
from bot.tenancy import Workspace
from bot.workspaces.serving import workspaces_of


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


async def as_installed(settings: Settings, store: Store, key: str) -> Workspace | None:
    """An installed workspace as the command line asks as it: its bot token (refreshed and
    saved first when token rotation has it about to expire) and its MaxCare organization; None
    unless the app is installed there now. TokenKeyError when no key opens its token."""
    slack = workspace_client(settings)  # the app's own: oauth.v2.access for a refresh only
    try:
        return await workspaces_of(settings, store, slack).workspaces.of_key(key)
    finally:
        if slack.session is not None and not slack.session.closed:
            await slack.session.close()
