"""Shared fixtures: the fakes, settings pointing at them, and the app served on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import settings as hypothesis_settings

from bot.app import Tuning
from bot.db.store import Store
from bot.settings import Settings, load_settings
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import (
    ADMIN,
    DOCTOR,
    FAST,
    NURSE,
    Harness,
    MakeHarness,
    env_for,
    serve_harness,
)

# Real PostgreSQL: TEST_DATABASE_URL's server, and the `database` fixture of both_databases tests.
pytest_plugins = ("tests.support.postgres",)

# CI replays the same examples every run (reproducible); developers get fresh ones.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")


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


@pytest.fixture
async def make_harness(
    settings: Settings, slack: FakeSlack, maxcare: FakeMaxCare
) -> AsyncIterator[MakeHarness]:
    """`await make_harness(tuning=…, maxcare_transport=…, store=…, <setting>=…)`."""
    async with contextlib.AsyncExitStack() as stack:

        async def make(
            *,
            tuning: Tuning = FAST,
            maxcare_transport: httpx.AsyncBaseTransport | None = None,
            store: Store | None = None,
            **settings_changes: Any,
        ) -> Harness:
            changed = settings.model_copy(update=settings_changes)
            served = serve_harness(
                changed, slack, maxcare,
                tuning=tuning, maxcare_transport=maxcare_transport, store=store,
            )
            return await stack.enter_async_context(served)

        yield make


@pytest.fixture
async def harness(make_harness: MakeHarness) -> Harness:
    """The app built by the composition root and served by aiohttp on a free port."""
    return await make_harness()
