"""The app built by build_bot and served on 127.0.0.1 with the fakes behind it; the test people."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from aiohttp import web

from bot.app import Bot, Tuning, build_bot
from bot.db.store import Store
from bot.runtime import answer
from bot.runtime.server import web_app
from bot.settings import Settings
from tests.support import payloads
from tests.support.fakes import FakeMaxCare, FakeSlack

NURSE = "UNURSE"
DOCTOR = "UDOCTOR"
ADMIN = "UADMIN"


def env_for(slack: FakeSlack, maxcare: FakeMaxCare, db: Path, **extra: str) -> dict[str, str]:
    """Environment variables that point the app at the fakes."""
    env = {
        "SLACK_BOT_TOKEN": slack.token,
        "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "MAXCARE_API_KEY": maxcare.api_key,
        "MAXCARE_ORGANIZATION_ID": maxcare.organization_id,
        "MAXCARE_API_URL": maxcare.url,
        "DATABASE_PATH": str(db),
        "BOT_ADMINS": ADMIN,
    }
    env.update(extra)
    return env


async def fast_sleep(seconds: float) -> None:
    """Retry waits shortened to a few milliseconds (still yielding, so loops cannot spin)."""
    await asyncio.sleep(min(seconds, 0.01))


# The harness's default: MaxCare retried for 5 s, with every backoff shortened.
FAST = Tuning(retry_seconds=5.0, sleep=fast_sleep)


class ManualClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


@dataclass
class Harness:
    """The app served over HTTP, with the fakes behind it."""

    bot: Bot
    slack: FakeSlack
    maxcare: FakeMaxCare
    http: httpx.AsyncClient
    doctor_provider: dict[str, Any]
    nurse_provider: dict[str, Any]

    async def post(self, signed: tuple[str, dict[str, str]]) -> httpx.Response:
        """POST a signed body to /slack/events."""
        body, headers = signed
        resp = await self.http.post("/slack/events", content=body, headers=headers)
        self.slack.acked(body, resp.text, resp.status_code)  # a plain ack closes its modal
        return resp

    def link(self, user_id: str, provider: dict[str, Any]) -> None:
        """Link a Slack user to a provider, as an admin would."""
        name = f"{provider['displayFirstName']} {provider['displayLastName']}"
        self.bot.store.set_link(user_id, provider["id"], actor="test", provider_name=name)

    async def settle(self) -> None:
        """Wait until listeners answered already and the worker have nothing in hand."""
        await answer.settle()
        await self.bot.outbox.idle()


@contextlib.asynccontextmanager
async def serve_harness(
    settings: Settings,
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    *,
    tuning: Tuning = FAST,
    maxcare_transport: httpx.AsyncBaseTransport | None = None,
    store: Store | None = None,
) -> AsyncIterator[Harness]:
    """The app built by the composition root and served by aiohttp on a free port."""
    bot = await build_bot(
        settings, tuning=tuning, maxcare_transport=maxcare_transport, store=store
    )
    runner = web.AppRunner(web_app(bot), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    await bot.start()
    doctor = maxcare.add_provider(
        first_name="James", last_name="Wilson", display_first_name="Dr. James",
        display_last_name="Wilson, MD",
    )
    nurse = maxcare.add_provider(
        first_name="Nina", last_name="Nurse", display_first_name="Nina",
        display_last_name="Nurse, RN", roles=("Nurse",),
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            yield Harness(bot, slack, maxcare, http, doctor, nurse)
    finally:
        await runner.cleanup()
        await bot.close(grace=1.0)


class MakeHarness(Protocol):
    """Builds and serves the app with what a test needs; every one is closed after the test."""

    def __call__(
        self,
        *,
        tuning: Tuning = ...,
        maxcare_transport: httpx.AsyncBaseTransport | None = ...,
        store: Store | None = ...,
        **settings_changes: Any,
    ) -> Awaitable[Harness]: ...
