"""Shared fixtures: the fakes, settings pointing at them, and the app served on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web
from hypothesis import settings as hypothesis_settings

from bot.app import Bot, build_bot
from bot.runtime import answer as prompt
from bot.runtime.server import web_app
from bot.settings import Settings, load_settings
from tests.support import payloads
from tests.support.fakes import FakeMaxCare, FakeSlack

# Real PostgreSQL: TEST_DATABASE_URL's server, and the `database` fixture of both_databases tests.
pytest_plugins = ("tests.support.postgres",)

# CI replays the same examples every run (reproducible); developers get fresh ones.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

NURSE = "UNURSE"
DOCTOR = "UDOCTOR"
ADMIN = "UADMIN"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """A fake Slack Web API with a nurse, a doctor and an admin."""
    with FakeSlack() as fake:
        fake.add_user(NURSE, name="nurse", real_name="Nina Nurse")
        fake.add_user(DOCTOR, name="drwilson", real_name="James Wilson")
        fake.add_user(ADMIN, name="admin", real_name="Ada Admin", is_admin=True)
        yield fake


@pytest.fixture
def maxcare() -> Iterator[FakeMaxCare]:
    """A fake MaxCare API."""
    with FakeMaxCare() as fake:
        yield fake


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


@pytest.fixture
def settings(
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None,
) -> Settings:
    """Settings for the fakes, read through the real environment path (PostgreSQL for the
    postgres run of a both_databases test, else SQLite in tmp_path)."""
    monkeypatch.chdir(tmp_path)  # no stray .env from the developer's checkout
    for key, value in env_for(slack, maxcare, tmp_path / "bot.db").items():
        monkeypatch.setenv(key, value)
    if database_url is None:
        monkeypatch.delenv("DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("DATABASE_URL", database_url)
    return load_settings()


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
        return await self.http.post("/slack/events", content=body, headers=headers)

    def link(self, user_id: str, provider: dict[str, Any]) -> None:
        """Link a Slack user to a provider, as an admin would."""
        name = f"{provider['displayFirstName']} {provider['displayLastName']}"
        self.bot.store.set_link(user_id, provider["id"], actor="test", provider_name=name)

    async def settle(self) -> None:
        """Wait until listeners answered already and the worker have nothing in hand."""
        await prompt.settle()
        await self.bot.outbox.idle()


async def fast_sleep(seconds: float) -> None:
    """Retry waits shortened to a few milliseconds (still yielding, so loops cannot spin)."""
    await asyncio.sleep(min(seconds, 0.01))


@pytest.fixture
async def harness(
    settings: Settings, slack: FakeSlack, maxcare: FakeMaxCare
) -> AsyncIterator[Harness]:
    """The app built by the composition root and served by aiohttp on a free port."""
    bot = await build_bot(settings, retry_seconds=5.0, sleep=fast_sleep)
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
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        h = Harness(bot, slack, maxcare, http, doctor, nurse)
        yield h
    await runner.cleanup()
    await bot.close(grace=1.0)
    await bot.slack.session.close() if bot.slack.session else None
