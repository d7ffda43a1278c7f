"""The PostgreSQL store's connections: a small pool, transactions on one held connection, and
the helpers its statements run through."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from bot import tenancy
from bot.db.interface import utcnow
from bot.db.pg_schema import migrate as apply_migrations
from bot.db.pg_schema import schema_version as version_of

# Each call blocks the event loop while it waits: for the server to accept a connection, or
# for a free connection of the pool (only a thread other than the loop's could hold them all).
CONNECT_TIMEOUT_SECONDS = 5
POOL_TIMEOUT_SECONDS = 5.0
POOL_MIN, POOL_MAX = 1, 4
TCP_USER_TIMEOUT_MS = 15_000


class PgConnection:
    """The pool (autocommit: a call that is one statement is one round trip and one commit)."""

    def __init__(
        self,
        url: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        scope: Callable[[], str] = tenancy.key_or_single,
    ) -> None:
        self.clock = clock
        self.scope = scope  # the workspace whose rows each query reads and writes
        # Migrated on a connection of its own first: a server that cannot be reached or refuses
        # the login says so here, in libpq's words, rather than as a pool timeout.
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS) as c:
            apply_migrations(c)
        self.pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=POOL_MIN,
            max_size=POOL_MAX,
            kwargs={
                "autocommit": True,
                "connect_timeout": CONNECT_TIMEOUT_SECONDS,
                # A server gone silent (a network cut, a failover) would otherwise hold the
                # event loop in a call until the kernel gives up on the connection: minutes.
                "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
            },
            timeout=POOL_TIMEOUT_SECONDS,
            name="bot-store",
            open=True,
        )
        self._held = threading.local()  # .conn: the connection of this thread's transaction

    def migrate(self) -> None:
        """Bring the schema up to the latest version (under an advisory lock)."""
        with self._conn() as conn:
            apply_migrations(conn)

    def schema_version(self) -> int:
        """How many migrations this database has had."""
        with self._conn() as conn:
            return version_of(conn)

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection of the transaction in progress, else one from the pool."""
        held = getattr(self._held, "conn", None)
        if held is not None:
            yield held
            return
        with self.pool.connection() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One all-or-nothing transaction on one connection, held for the block."""
        if getattr(self._held, "conn", None) is not None:
            yield
            return
        with self.pool.connection() as conn:
            self._held.conn = conn
            try:
                with conn.transaction():
                    yield
            except BaseException:
                self._rolled_back()
                raise
            finally:
                self._held.conn = None

    def _rolled_back(self) -> None:
        """Forget what was read inside a transaction that was undone."""

    def close(self) -> None:
        """Close the pool's connections."""
        self.pool.close()

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            with self.pool.connection(timeout=POOL_TIMEOUT_SECONDS) as conn:
                return conn.execute("SELECT 1").fetchone() == (1,)
        except psycopg.Error:
            return False

    def _now(self) -> str:
        return self.clock().isoformat()

    def _lease(self, seconds: float) -> str:
        return (self.clock() + timedelta(seconds=seconds)).isoformat()

    def _all(self, query: Any, params: Sequence[Any] | dict[str, Any] = ()) -> list[Any]:
        with self._conn() as conn:
            return conn.execute(query, params).fetchall()

    def _dicts(self, query: Any, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._conn() as conn:
            return conn.cursor(row_factory=dict_row).execute(query, params).fetchall()

    def _count(self, query: Any, params: Sequence[Any] = ()) -> int:
        """Runs a write; returns how many rows it changed."""
        with self._conn() as conn:
            return conn.execute(query, params).rowcount


@lru_cache(maxsize=256)
def update_sql(table: str, key: str, columns: tuple[str, ...]) -> bytes:
    """`UPDATE table SET c = %s, … WHERE key = %s`, names quoted (built once per column set)."""
    sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)
    query = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
        sql.Identifier(table), sets, sql.Identifier(key)
    )
    return query.as_bytes()


@lru_cache(maxsize=256)
def upsert_sql(
    table: str, key: str | tuple[str, ...], columns: tuple[str, ...], keep: tuple[str, ...] = ()
) -> bytes:
    """Insert a row or, when its key exists, update every column but the key and `keep`."""
    keys = (key,) if isinstance(key, str) else key
    later = [c for c in columns if c not in keys and c not in keep]
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        sql.SQL(", ").join(map(sql.Identifier, keys)),
        sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in later),
    )
    return query.as_bytes()

