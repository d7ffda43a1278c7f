"""build_bot(settings): the one composition root (Slack, MaxCare, the store, the worker)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from slack_bolt.async_app import AsyncApp, AsyncBoltContext
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot import listeners
from bot.confirm import Confirmer
from bot.maxcare import MaxCareClient
from bot.outbox import Outbox
from bot.service import TaskService
from bot.settings import Settings
from bot.store import Store

log = logging.getLogger("bot.app")

SLACK_HOOK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")


@dataclass
class Bot:
    """Everything the running app holds, built once."""

    settings: Settings
    app: AsyncApp
    slack: AsyncWebClient
    store: Store
    maxcare: MaxCareClient
    outbox: Outbox
    service: TaskService
    team_id: str
    enterprise_id: str | None
    bot_user_id: str
    verifier: SignatureVerifier | None = None

    async def start(self) -> None:
        """Take up unfinished submissions; clear expired drafts every hour."""
        self.outbox.resume()
        self._housekeeping = asyncio.create_task(self._hourly(), name="housekeeping")

    async def _hourly(self) -> None:
        while True:
            await asyncio.sleep(3600)
            self.outbox.purge_drafts()

    async def close(self, grace: float = 20.0) -> None:
        """Finish or park work in hand, then release connections."""
        housekeeping = getattr(self, "_housekeeping", None)
        if housekeeping is not None:
            housekeeping.cancel()
        await self.outbox.stop(grace)
        await self.maxcare.aclose()
        self.store.close()


def slack_client(settings: Settings) -> AsyncWebClient:
    """The Slack Web API client, retrying rate limits and connection errors."""
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        ],
    )


def response_url_checker(settings: Settings) -> Callable[[str], bool]:
    """True for URLs Slack hands out as response_url (or the configured Slack host)."""
    api = urlsplit(settings.slack_api_url)

    def ok(url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname in SLACK_HOOK_HOSTS:
            return True
        return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)

    return ok


async def build_bot(
    settings: Settings,
    *,
    maxcare_transport: httpx.AsyncBaseTransport | None = None,
    retry_seconds: float | None = None,
    rate_window_seconds: float = 60.0,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> Bot:
    """Build the app: learn who we are from auth.test, then wire every part."""
    slack = slack_client(settings)
    auth = await slack.auth_test()
    team_id = str(auth["team_id"])
    enterprise_id = auth.get("enterprise_id") or None
    bot_user_id = str(auth["user_id"])
    store = Store(settings.database_path)
    extra: dict[str, Any] = {"sleep": sleep} if sleep else {}
    maxcare = MaxCareClient(
        base_url=settings.maxcare_api_url,
        api_key=settings.maxcare_api_key,
        organization_id=settings.maxcare_organization_id,
        timeout=settings.maxcare_timeout_seconds,
        rate_limit_per_minute=settings.maxcare_rate_limit_per_minute,
        rate_window_seconds=rate_window_seconds,
        transport=maxcare_transport,
        **extra,
    )
    confirmer = Confirmer(slack=slack, store=store)
    outbox = Outbox(
        store=store,
        maxcare=maxcare,
        confirmer=confirmer,
        retry_seconds=retry_seconds or settings.maxcare_retry_window_seconds,
        **extra,
    )
    service = TaskService(
        store=store,
        slack=slack,
        enqueue=outbox.enqueue,
        admin_ids=settings.admin_ids,
        bot_user_id=bot_user_id,
        response_url_ok=response_url_checker(settings),
    )
    signing = settings.slack_signing_secret
    app = AsyncApp(
        client=slack,
        signing_secret=signing.get_secret_value() if signing else None,
        process_before_response=False,
        raise_error_for_unhandled_request=False,
    )
    app.use(_only_team(team_id, enterprise_id))
    listeners.register(app, service)

    @app.error
    async def on_error(error: Exception) -> None:
        # Names only: an exception's text may carry what a person typed.
        log.error("unhandled %s in a listener", type(error).__name__)

    return Bot(
        settings=settings,
        app=app,
        slack=slack,
        store=store,
        maxcare=maxcare,
        outbox=outbox,
        service=service,
        team_id=team_id,
        enterprise_id=enterprise_id,
        bot_user_id=bot_user_id,
        verifier=SignatureVerifier(signing.get_secret_value()) if signing else None,
    )


def _only_team(
    team_id: str, enterprise_id: str | None
) -> Callable[..., Awaitable[BoltResponse | None]]:
    async def only_installed_team(
        context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        ours = context.team_id == team_id or (
            enterprise_id is not None and context.enterprise_id == enterprise_id
        )
        if not ours:
            log.warning("refused a request from another workspace")
            return BoltResponse(status=403, body="This app serves one workspace only.")
        await next()
        return None

    return only_installed_team
