"""Fixtures of the store tests: a clock the test moves forward, and each test on both backends.

`store` (and `backend`, for more stores on the same database, as other processes would have)
is parametrised: every test that uses it runs on SQLite and on a fresh PostgreSQL database.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from bot.db import pg_schema, schema
from bot.db.interface import Store
from bot.db.postgres import LINK_CACHE_SECONDS, PostgresStore
from bot.db.store import SQLiteStore


class Clock:
    """A clock the test moves forward."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 20, 18, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@dataclass
class Backend:
    """One database on one backend, and what tests need to know about it."""

    name: str  # "sqlite" | "postgres"
    opener: Callable[..., Store]
    error: type[Exception]  # what a statement the database refuses raises
    latest: int  # the schema version of a migrated database
    env: dict[str, str]  # how the CLI and the app are pointed at this database
    opened: list[Store] = field(default_factory=list)

    def open(self, **kwargs: Any) -> Store:
        """Another store on the same database (as another process would have); closed after."""
        store = self.opener(**kwargs)
        self.opened.append(store)
        return store

    def count(self, store: Store, table: str) -> int:
        """The number of rows in a table, read outside the store's methods."""
        query = f"SELECT count(*) FROM {table}"
        if isinstance(store, SQLiteStore):
            return int(store.db.execute(query).fetchone()[0])
        assert isinstance(store, PostgresStore)
        with store.pool.connection() as conn:
            row = conn.execute(query).fetchone()
            assert row is not None
            return int(row[0])

    def in_transaction(self, store: Store) -> bool:
        """Whether the store was left inside a transaction."""
        if isinstance(store, SQLiteStore):
            return bool(store.db.conn.in_transaction)
        return getattr(store._held, "conn", None) is not None  # type: ignore[attr-defined]

    def others_seen(self, clock: Clock) -> None:
        """Let the store notice other processes' link writes (PostgreSQL: its memory expires;
        SQLite notices at once, and the clock does not matter to it)."""
        clock.tick(LINK_CACHE_SECONDS + 1)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """A database on each backend: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        path = tmp_path / "data" / "bot.db"
        made = Backend(
            "sqlite",
            lambda **kw: SQLiteStore(path, **kw),
            sqlite3.Error,
            len(schema.MIGRATIONS),
            {"DATABASE_PATH": str(path)},
        )
    else:
        url = str(request.getfixturevalue("pg_url"))
        made = Backend(
            "postgres",
            lambda **kw: PostgresStore(url, **kw),
            psycopg.Error,
            len(pg_schema.MIGRATIONS),
            {"DATABASE_URL": url},
        )
    yield made
    for store in made.opened:
        store.close()


@pytest.fixture
def store(backend: Backend, clock: Clock) -> Store:
    """A store on the test's database, on the test's clock."""
    return backend.open(clock=clock)
