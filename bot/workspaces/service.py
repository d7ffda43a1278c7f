"""Connecting a workspace to its MaxCare organization: the one check both the command line and
`/task connect` make before saving (one MaxCare call with that organization)."""

from __future__ import annotations

import re

import httpx

from bot.maxcare import MaxCareClient
from bot.settings import Settings

# MaxCare's organization IDs are `org_` + 32 hex or the dashed UUID; which forms v4 accepts is
# not documented, so any plain token is sent as given and MaxCare's answer decides.
_ORG_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,100}")


def organization_id(text: str) -> str | None:
    """The organization ID in what someone typed, or None when it cannot be one."""
    text = text.strip()
    return text if _ORG_SHAPE.fullmatch(text) else None


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
