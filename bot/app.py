"""build_bot(settings): the one composition root (Slack, MaxCare, the store, the worker)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.db import open_store
from bot.db.checkpoint import Checkpointer
from bot.db.store import SQLiteStore, Store, default_owner
from bot.home import listeners as home_listeners
from bot.home.service import HomeService
from bot.links import listeners as admin_listeners
from bot.links.service import AdminCheck, AdminService
from bot.maxcare import MaxCareClient
from bot.runtime import answer as prompt
from bot.settings import Settings
from bot.slack.people import People
from bot.status import listeners as status_listeners
from bot.status.follower import SyncFollower
from bot.status.service import StatusService, TaskCards
from bot.tasks import listeners
from bot.tasks.notifier import Confirmer
from bot.tasks.outbox import Outbox
from bot.tasks.service import TaskService

log = logging.getLogger("bot.app")

SLACK_HOOK_HOSTS = ("hooks.slack.com", "hooks.slack-gov.com")
# Idle keep-alive connections to Slack are closed after this long (aiohttp: 15 s).
SLACK_KEEPALIVE_SECONDS = 60.0


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
    admin: AdminService | None = None
    follower: SyncFollower | None = None
    people: People | None = None
    checkpointer: Checkpointer | None = None
    _background: list[asyncio.Task[None]] = field(default_factory=list)
    _checkpoints: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Take up unfinished submissions; clear expired drafts every hour."""
        if self.checkpointer is not None:
            self._checkpoints = asyncio.create_task(self.checkpointer.run(), name="checkpoints")
        self.outbox.start()  # takes up unfinished rows, then sweeps and clears old drafts
        if self.follower is not None:
            self.follower.start()  # resumes following task syncs from the database
        if self.people is not None:
            self._background.append(asyncio.create_task(self.people.run(), name="people"))

    async def close(self, grace: float = 20.0) -> None:
        """Finish or park work in hand, then release connections."""
        for task in self._background:
            task.cancel()
        if self.follower is not None:
            await self.follower.stop()
        started = time.monotonic()
        await prompt.settle(grace)  # replies and modals of requests already answered
        await self.outbox.stop(max(0.0, grace - (time.monotonic() - started)))
        await self.maxcare.aclose()
        if self.checkpointer is not None and self._checkpoints is not None:
            self.checkpointer.stop()
            await self._checkpoints
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
    follow_seconds: float = 3600.0,
) -> Bot:
    """Build the app: learn who we are from auth.test, then wire every part."""
    slack = slack_client(settings)
    auth = await slack.auth_test()
    team_id = str(auth["team_id"])
    enterprise_id = auth.get("enterprise_id") or None
    bot_user_id = str(auth["user_id"])
    # One keep-alive session for every later Slack call: slack_sdk otherwise opens (against
    # slack.com, TLS-handshakes) a new connection per call; that was 43 % of /task's CPU in the
    # issue 7 benchmark. No pool limit: a views.open must never queue behind other calls (its
    # trigger expires in 3 s). Idle connections are kept a minute, not aiohttp's 15 s: the pool
    # grown for one burst of requests is still there for the next (at 200 concurrent /task, the
    # 15 s default had a third of the pool re-opened per burst, each views.open on a new
    # connection 100-150 ms later). Closed with bot.slack.session at shutdown.
    slack.session = aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=SLACK_KEEPALIVE_SECONDS),
        timeout=aiohttp.ClientTimeout(total=slack.timeout),
    )
    store = open_store(settings)
    checkpointer: Checkpointer | None = None  # PostgreSQL checkpoints by itself
    if isinstance(store, SQLiteStore) and str(store.path) != ":memory:":
        checkpointer = Checkpointer(store)
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
    owner = default_owner()  # this process, in the database's claims
    outbox = Outbox(
        store=store,
        maxcare=maxcare,
        confirmer=confirmer,
        retry_seconds=retry_seconds or settings.maxcare_retry_window_seconds,
        reconcile_seconds=settings.maxcare_reconcile_hours * 3600,
        lease_seconds=settings.outbox_lease_seconds,
        owner=owner,
        **extra,
    )
    people = People(slack)
    service = TaskService(
        store=store,
        slack=slack,
        enqueue=outbox.enqueue,
        admin_ids=settings.admin_ids,
        bot_user_id=bot_user_id,
        response_url_ok=response_url_checker(settings),
        name_for=people.name,
        busy=lambda: outbox.foreground.busy,  # Slack requests in hand: group their commits
    )
    signing = settings.slack_signing_secret
    app = AsyncApp(
        client=slack,
        signing_secret=signing.get_secret_value() if signing else None,
        process_before_response=True,  # answers go out at ack: listeners/prompt.py
        raise_error_for_unhandled_request=False,
    )
    app.use(OnlyInstalledTeam(team_id, enterprise_id))
    admin = AdminService(
        store=store, slack=slack, maxcare=maxcare, admins=AdminCheck(slack, settings.admin_ids)
    )
    cards = TaskCards(store=store)
    follower = SyncFollower(
        store=store,
        maxcare=maxcare,
        slack=slack,
        cards=cards,
        follow_seconds=follow_seconds,
        foreground=outbox.foreground,
        owner=owner,
    )
    outbox.card_posted = follower.card_posted
    status = StatusService(store=store, maxcare=maxcare, slack=slack, cards=cards)
    subcommands = {
        **admin_listeners.subcommands(admin),
        **status_listeners.subcommands(status, settings.admin_ids),
    }
    listeners.register(app, service, subcommands)
    status_listeners.register(app, status)
    home = HomeService(
        store=store, slack=slack, admin_ids=settings.admin_ids, is_admin=admin.admins.is_admin
    )
    home_listeners.register(app, home, service)
    admin_listeners.register(app, admin)

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
        admin=admin,
        follower=follower,
        people=people,
        checkpointer=checkpointer,
    )


class OnlyInstalledTeam(AsyncMiddleware):
    """Refuses requests from any workspace but the one the token belongs to.

    A middleware class, not a function: Bolt injects arguments into function middleware on
    every request, and this runs on every request.
    """

    def __init__(self, team_id: str, enterprise_id: str | None) -> None:
        self.team_id = team_id
        self.enterprise_id = enterprise_id

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        """Continue the chain for our workspace; 403 for any other."""
        context = req.context
        ours = context.team_id == self.team_id or (
            self.enterprise_id is not None and context.enterprise_id == self.enterprise_id
        )
        if not ours:
            log.warning("refused a request from another workspace")
            return BoltResponse(status=403, body="This app serves one workspace only.")
        return await next()
