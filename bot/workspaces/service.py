"""`python -m bot workspaces set-org`'s check before saving: one MaxCare call made as that
organization, with the ID rule `/task connect` uses (bot/workspaces/connect.py)."""

from __future__ import annotations

import httpx

from bot.maxcare import MaxCareClient
from bot.maxcare.ids import normalize_id
from bot.settings import Settings


def organization_id(text: str) -> str | None:
    """`org_…` from what someone typed (the prefixed ID or the dashed UUID, as `/task connect`
    takes it), or None when it is not one."""
    return normalize_id(text, "org")


async def verify_organization(
    settings: Settings, organization: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> None:
    """One cheap MaxCare call as this organization; raises MaxCareError with MaxCare's reason
    when the app's key cannot reach it (the clinic has not installed the app in MaxCare)."""
    async with MaxCareClient(
        base_url=settings.maxcare_api_url,
        api_key=settings.maxcare_api_key,
        organization_id=organization,
        timeout=settings.maxcare_timeout_seconds,
        max_attempts=1,  # a person is waiting for the answer
        transport=transport,
    ) as client:
        await client.ping()
