"""The Slack Web API client, its keep-alive session, and which response_url hosts to trust."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings

SLACK_HOOK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
SLACK_TIMEOUT_SECONDS = 10
# Idle keep-alive connections to Slack are closed after this long (aiohttp: 15 s).
SLACK_KEEPALIVE_SECONDS = 60.0


@dataclass(frozen=True)
class Installation:
    """Whom the bot token belongs to: the one workspace this app serves."""

    team_id: str
    enterprise_id: str | None
    bot_user_id: str


def slack_client(
    settings: Settings, *, session: aiohttp.ClientSession | None = None
) -> AsyncWebClient:
    """The Slack Web API client, retrying rate limits and connection errors."""
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=SLACK_TIMEOUT_SECONDS,
        session=session,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def keepalive_session() -> aiohttp.ClientSession:
    """One session for every Slack call of the running app (closed by Bot.close).

    slack_sdk otherwise opens (and TLS-handshakes) a new connection per call. No pool limit: a
    views.open must never queue behind other calls (its trigger expires in 3 s). Idle
    connections are kept a minute, not aiohttp's 15 s, so the pool grown for one burst of
    requests is still there for the next.
    """
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=SLACK_KEEPALIVE_SECONDS),
        timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT_SECONDS),
    )


async def connect(settings: Settings) -> tuple[AsyncWebClient, Installation]:
    """The app's long-lived Slack client, and whom its token is for (auth.test)."""
    session = keepalive_session()
    slack = slack_client(settings, session=session)
    try:
        auth = await slack.auth_test()
    except BaseException:
        await session.close()
        raise
    installed = Installation(
        team_id=str(auth["team_id"]),
        enterprise_id=auth.get("enterprise_id") or None,
        bot_user_id=str(auth["user_id"]),
    )
    return slack, installed


def response_url_checker(settings: Settings) -> Callable[[str], bool]:
    """True for URLs Slack hands out as response_url (or the configured Slack host)."""
    api = urlsplit(settings.slack_api_url)

    def ok(url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname in SLACK_HOOK_HOSTS:
            return True
        return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)

    return ok
