"""build_bot(settings): the one composition root, and the Bot it returns (start, health, close)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from slack_bolt.async_app import AsyncApp
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot import tenancy
from bot.db import describe_database, open_store
from bot.db.checkpoint import Checkpointer
from bot.db.store import SQLiteStore, Store, default_owner, utcnow
from bot.home import listeners as home_listeners
from bot.home.service import HomeService
from bot.links import listeners as link_listeners
from bot.links.service import AdminCheck, AdminService
from bot.maxcare import MaxCareClient, Task
from bot.runtime import answer
from bot.runtime.metrics import Metrics
from bot.runtime.pressure import RequestPressure
from bot.runtime.startup import database_not_ready
from bot.runtime.subcommands import Subcommands
from bot.runtime.team import OnlyInstalledTeam
from bot.settings import Settings
from bot.slack.client import connect, response_url_checker, workspace_client
from bot.slack.people import People
from bot.status import listeners as status_listeners
from bot.status.cards import TaskCards
from bot.status.follower import FOLLOW_MAX_WAIT, SyncFollower
from bot.status.service import StatusService
from bot.status.watch import TaskWatch
from bot.tasks import listeners as task_listeners
from bot.tasks.notifier import Notifier
from bot.tasks.outbox import Outbox
from bot.tasks.service import TaskService
from bot.workflow import listeners as workflow_listeners
from bot.workflow.service import WorkflowService
from bot.workspaces import listeners as workspace_listeners
from bot.workspaces.connect import Connector
from bot.workspaces.serving import (
    NOT_INSTALLED_TEXT,
    ServeWorkspace,
    served_organization,
    workspaces_of,
)

log = logging.getLogger("bot.app")


@dataclass(frozen=True)
class Tuning:
    """How long the parts wait, and the clocks they read; the defaults are production's."""

    retry_seconds: float | None = None  # MaxCare's retry window (None: the setting)
    follow_seconds: float = 3600.0  # how long a new task's EHR sync is followed
    follow_first_delay: float = 10.0  # the first sync check, after the card is posted
    follow_max_delay: float = 300.0  # sync checks back off up to this
    follow_max_wait: float = FOLLOW_MAX_WAIT  # a round of checks gives way to acks this long
    watch_share: float = 0.1  # the share of MaxCare's budget the task watch may use
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep  # retry backoff
    now: Callable[[], datetime] = utcnow  # the database's wall clock
    maxcare_clock: Callable[[], float] = time.monotonic  # MaxCare's rate budget
    cache_clock: Callable[[], float] = time.monotonic  # admin checks and provider searches
    pressure_clock: Callable[[], float] = time.monotonic  # the request-pressure gauge


PRODUCTION = Tuning()


@dataclass
class Bot:
    """Everything the running app holds, built once."""

    settings: Settings
    app: AsyncApp
    slack: AsyncWebClient
    store: Store
    maxcare: MaxCareClient
    pressure: RequestPressure  # Slack requests in hand: background work gives way to them
    outbox: Outbox
    service: TaskService
    admin: AdminService
    follower: SyncFollower
    watch: TaskWatch
    people: People
    team_id: str | None  # single-workspace mode's workspace (None: many workspaces)
    enterprise_id: str | None
    bot_user_id: str | None
    verifier: SignatureVerifier | None = None
    checkpointer: Checkpointer | None = None
    metrics: Metrics = field(default_factory=Metrics)  # GET /metrics
    _background: list[asyncio.Task[None]] = field(default_factory=list)
    _checkpoints: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Take up unfinished submissions; clear expired drafts every hour."""
        if self.checkpointer is not None:
            self._checkpoints = asyncio.create_task(self.checkpointer.run(), name="checkpoints")
        self.outbox.start()  # takes up unfinished rows, then sweeps and clears old drafts
        self.follower.start()  # resumes following task syncs from the database
        self.watch.start()  # resumes watching the open tasks the app created
        self._background.append(asyncio.create_task(self.people.run(), name="people"))

    def health(self) -> dict[str, bool | int]:
        """What /healthz reports: whether the database answers, and submissions in hand."""
        return {"database": self.store.ping(), "in_hand": self.outbox.busy}

    async def close(self, grace: float = 20.0) -> None:
        """Finish or park work in hand, then release connections."""
        for task in self._background:
            task.cancel()
        await self.follower.stop()
        await self.watch.stop()
        started = time.monotonic()
        await answer.settle(grace)  # replies and modals of requests already answered
        await self.outbox.stop(max(0.0, grace - (time.monotonic() - started)))
        await self.maxcare.aclose()
        if self.checkpointer is not None and self._checkpoints is not None:
            self.checkpointer.stop()
            await self._checkpoints
        self.store.close()
        if self.slack.session is not None:
            await self.slack.session.close()


async def build_bot(
    settings: Settings,
    *,
    tuning: Tuning = PRODUCTION,
    maxcare_transport: httpx.AsyncBaseTransport | None = None,
    store: Store | None = None,
) -> Bot:
    """Learn who we are from auth.test, construct every part, and register each feature.

    Raises NotReady when Slack or the database is unreachable or refuses the app.
    """
    many = settings.mode == "many"
    slack, installed = (workspace_client(settings), None) if many else await connect(settings)
    if store is None:
        # Many workspaces: every query a person's request reaches is for the workspace served,
        # and one made while serving none is refused rather than answered from some workspace.
        scope = tenancy.served_key if many else tenancy.key_or_single
        try:
            store = open_store(settings, clock=tuning.now, scope=scope)
        except Exception as exc:
            if slack.session is not None:
                await slack.session.close()
            raise database_not_ready(exc, describe_database(settings)) from None
    checkpointer: Checkpointer | None = None  # PostgreSQL checkpoints by itself
    if isinstance(store, SQLiteStore) and str(store.path) != ":memory:":
        checkpointer = Checkpointer(store)
    pressure = RequestPressure(clock=tuning.pressure_clock)
    metrics = Metrics()
    maxcare = MaxCareClient(
        base_url=settings.maxcare_api_url,
        api_key=settings.maxcare_api_key,
        organization_id="" if many else settings.maxcare_organization_id,
        timeout=settings.maxcare_timeout_seconds,
        rate_limit_per_minute=settings.maxcare_rate_limit_per_minute,
        rate_window_seconds=settings.maxcare_rate_window_seconds,
        transport=maxcare_transport,
        clock=tuning.maxcare_clock,
        sleep=tuning.sleep,
        on_outcome=metrics.maxcare_outcome,
        shared=store.shared_budget(),  # several instances on PostgreSQL spend one budget
        organization=served_organization if many else None,  # one budget for every clinic
        workspace=tenancy.key_or_single if many else None,  # shared fairly between them
    )
    metrics.watch(store, maxcare)
    tenants = workspaces_of(settings, store, slack) if many else None
    # Background work (the outbox's sweeps, sync checks, the watch, the people directory)
    # serves each stored row's workspace, found by its key.
    workspace_of = tenants.workspaces.of_key if tenants is not None else None
    cards = TaskCards(store=store)
    owner = default_owner()  # this process, in the database's claims
    follower = SyncFollower(
        store=store,
        maxcare=maxcare,
        slack=slack,
        cards=cards,
        follow_seconds=tuning.follow_seconds,
        first_delay=tuning.follow_first_delay,
        max_delay=tuning.follow_max_delay,
        max_wait=tuning.follow_max_wait,
        pressure=pressure,
        owner=owner,
        workspace_of=workspace_of,
    )

    def card_posted(task: Task) -> None:
        follower.card_posted(task)  # its EHR sync, while pending
        watch.watch(task)  # its status, until done (or 14 days)

    outbox = Outbox(
        store=store,
        maxcare=maxcare,
        notifier=Notifier(slack=slack, store=store, cards=cards, sleep=tuning.sleep),
        retry_seconds=tuning.retry_seconds or settings.maxcare_retry_window_seconds,
        reconcile_seconds=settings.maxcare_reconcile_hours * 3600,
        lease_seconds=settings.outbox_lease_seconds,
        owner=owner,
        sleep=tuning.sleep,
        pressure=pressure,
        card_posted=card_posted,
        workspace_of=workspace_of,
    )
    watch = TaskWatch(
        store=store,
        maxcare=maxcare,
        slack=slack,
        cards=cards,
        every=settings.task_watch_seconds,
        share=tuning.watch_share,
        creating=lambda: outbox.busy > 0,  # task creation first
        pressure=pressure,
        owner=owner,
        max_wait=tuning.follow_max_wait,
        workspace_of=workspace_of,
    )
    people = People(
        slack,
        workspaces=(tenants.workspaces.installed, tenants.workspaces.of_key) if tenants else None,
    )
    tasks = TaskService(
        store=store,
        slack=slack,
        enqueue=outbox.enqueue,
        admin_ids=settings.admin_ids,
        bot_user_id=installed.bot_user_id if installed else None,
        response_url_ok=response_url_checker(settings),
        name_for=people.name,
        busy=lambda: pressure.busy,  # Slack requests in hand: group their commits
    )
    admins = AdminCheck(slack, settings.admin_ids, clock=tuning.cache_clock)
    admin = AdminService(
        store=store, slack=slack, maxcare=maxcare, admins=admins, clock=tuning.cache_clock
    )
    workflow = WorkflowService(
        store=store,
        slack=slack,
        enqueue=outbox.enqueue,
        bot_user_id=installed.bot_user_id if installed else None,
        user_names=tasks.user_names,
        busy=lambda: pressure.busy,
    )
    outbox.steps = workflow  # the worker tells Slack each step's outcome through it
    status = StatusService(store=store, maxcare=maxcare, slack=slack, cards=cards)
    home = HomeService(
        store=store, slack=slack, admin_ids=settings.admin_ids, is_admin=admins.is_admin
    )
    signing = settings.slack_signing_secret
    logging.getLogger("slack_bolt.AsyncApp").addFilter(_CLIENT_NOTICE)  # once: the same filter
    app = AsyncApp(
        client=slack,
        signing_secret=signing.get_secret_value() if signing else None,
        process_before_response=True,  # answers go out at ack: bot/runtime/answer.py
        raise_error_for_unhandled_request=False,
        oauth_settings=tenants.oauth if tenants is not None else None,
        user_facing_authorize_error_message=NOT_INSTALLED_TEXT,
    )
    subcommands = Subcommands()  # `/task <word> …`, filled by the features that own the words
    if tenants is None:
        assert installed is not None
        app.use(OnlyInstalledTeam(installed.team_id, installed.enterprise_id))
    else:
        app.use(ServeWorkspace(tenants.organizations, slack))
        connector = Connector(
            store=store, maxcare=maxcare, admins=admins, organizations=tenants.organizations
        )
        workspace_listeners.register(app, connector, subcommands)
    task_listeners.register(app, tasks, subcommands)  # first: its form submission goes first
    status_listeners.register(app, status, subcommands, settings.admin_ids)
    home_listeners.register(app, home, tasks)
    link_listeners.register(app, admin, subcommands)
    workflow_listeners.register(app, workflow)
    app.error(log_listener_error)
    return Bot(
        settings=settings,
        app=app,
        slack=slack,
        store=store,
        maxcare=maxcare,
        pressure=pressure,
        outbox=outbox,
        service=tasks,
        admin=admin,
        follower=follower,
        watch=watch,
        people=people,
        team_id=installed.team_id if installed else None,
        enterprise_id=installed.enterprise_id if installed else None,
        bot_user_id=installed.bot_user_id if installed else None,
        verifier=SignatureVerifier(signing.get_secret_value()) if signing else None,
        checkpointer=checkpointer,
        metrics=metrics,
    )


class _ClientNotice(logging.Filter):
    """Drops Bolt's notice that SLACK_BOT_TOKEN, which it reads from the environment itself,
    gives way to the client we pass: said at every start, it is noise, not a problem."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


_CLIENT_NOTICE = _ClientNotice()


async def log_listener_error(error: Exception) -> None:
    """The app's one error handler: log the failure by type."""
    # Names only: an exception's text may carry what a person typed.
    log.error("unhandled %s in a listener", type(error).__name__)
