"""Stale links: people who left Slack, providers MaxCare no longer knows (`python -m bot check`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.db.store import STALE_PROVIDER, STALE_SLACK, Link, Store
from bot.maxcare import MaxCareClient, NotFound

Progress = Callable[[str], None]


@dataclass
class StaleLink:
    """A link that cannot be used, and every reason why."""

    link: Link
    reasons: list[str]


async def slack_people(
    slack: AsyncWebClient, *, page_size: int = 200, progress: Progress | None = None
) -> list[dict[str, Any]]:
    """Every member of the workspace (users.list, all pages), deleted ones included."""
    people: list[dict[str, Any]] = []
    cursor = None
    while True:
        resp = await slack.users_list(limit=page_size, cursor=cursor)
        people.extend(m for m in resp.get("members") or [] if isinstance(m, dict))
        if progress:
            progress(f"Slack: {len(people)} people read")
        cursor = (resp.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return people


async def deleted_in_slack(
    slack: AsyncWebClient, user_ids: set[str], progress: Progress | None = None
) -> set[str]:
    """Which of these users are deactivated (or unknown) in Slack."""
    members = {m.get("id"): m for m in await slack_people(slack, progress=progress)}
    gone = {u for u in user_ids if u in members and members[u].get("deleted")}
    for user_id in sorted(u for u in user_ids if u not in members):
        # Not in this workspace's list (another workspace of a grid?): ask about them one by one.
        try:
            user = (await slack.users_info(user=user_id)).get("user") or {}
        except SlackApiError as exc:
            if exc.response.get("error") not in ("user_not_found", "users_not_found"):
                raise
            gone.add(user_id)
            continue
        if user.get("deleted"):
            gone.add(user_id)
    return gone


async def unknown_providers(
    maxcare: MaxCareClient, provider_ids: set[str], progress: Progress | None = None
) -> set[str]:
    """Which of these providers MaxCare answers 404 for (listed first, then asked one by one)."""
    listed: set[str] = set()
    page = 1
    while True:
        result = await maxcare.list_providers(page=page)
        listed.update(p.id for p in result.providers)
        if progress:
            progress(f"MaxCare: {len(listed)} providers read")
        if page >= result.pagination.total_pages or not result.providers:
            break
        page += 1
    unknown = set()
    for provider_id in sorted(provider_ids - listed):
        try:
            await maxcare.get_provider(provider_id)
        except NotFound:
            unknown.add(provider_id)
    return unknown


async def find_stale(
    store: Store,
    slack: AsyncWebClient,
    maxcare: MaxCareClient,
    progress: Progress | None = None,
) -> list[StaleLink]:
    """Check every link with Slack and MaxCare; flag the stale ones, unflag the healthy ones."""
    links = store.list_links()
    if not links:
        return []
    gone = await deleted_in_slack(slack, {link.slack_user_id for link in links}, progress)
    unknown = await unknown_providers(maxcare, {link.provider_id for link in links}, progress)
    stale: list[StaleLink] = []
    for link in links:
        reasons = [STALE_SLACK] if link.slack_user_id in gone else []
        reasons += [STALE_PROVIDER] if link.provider_id in unknown else []
        if reasons:
            store.mark_stale(link.slack_user_id, reasons[0])
            stale.append(StaleLink(link, reasons))
        else:
            store.clear_stale(link.slack_user_id)
    return stale
