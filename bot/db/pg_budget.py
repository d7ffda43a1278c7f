"""MaxCare's budget shared by every instance on one PostgreSQL database (see SharedBudget).

Each request holds a row of `maxcare_grants` from its grant until its answer is a window old;
the function `maxcare_take` (bot/db/pg_schema.py) counts them and grants under an advisory lock,
so two instances never both take the last slot. Both calls are one statement on a pooled
connection of their own, never a transaction in progress: the lock is held only while one
grant is decided.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

_TAKE = "SELECT grant_id, wait_s FROM maxcare_take(%s, %s, %s)"
_DONE = "UPDATE maxcare_grants SET done_at = clock_timestamp() WHERE id = %s"


class PgBudget:
    """SharedBudget on PostgreSQL (the server's clock is the one every instance reads)."""

    def __init__(self, pool: ConnectionPool[psycopg.Connection[Any]]) -> None:
        self._pool = pool

    def take(self, limit: int, window: float, stale: float) -> tuple[int | None, float]:
        """A grant's ID and 0 when a request fits now; else None and how long to wait."""
        with self._pool.connection() as conn:
            row = conn.execute(_TAKE, [limit, window, stale]).fetchone()
        assert row is not None  # the function returns one row on every path
        return row[0], float(row[1])

    def done(self, grant: int) -> None:
        """The request of this grant was answered (or failed) now."""
        with self._pool.connection() as conn:
            conn.execute(_DONE, [grant])
