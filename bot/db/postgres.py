"""The PostgreSQL store (DATABASE_URL): the SQLite store's methods and rows, for several instances.

Synchronous, like the SQLite store (bot/db/interface.py says why): psycopg 3's blocking API over
a small psycopg_pool.ConnectionPool in autocommit, so a call that is one statement is one round
trip and one commit. What differs from SQLite because other instances share the database:
- Claims: sweeps claim with `UPDATE … WHERE … IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`,
  so two instances sweeping at once take different rows and never wait for each other.
- Links in memory: another instance's writes cannot be noticed cheaply (SQLite's data_version
  has no equivalent), so get_links answers from memory for at most LINK_CACHE_SECONDS.
- Link writes take a table lock (readers are not blocked): a link's previous value, read to
  audit the change, cannot change before the write, as SQLite's one writer guarantees.
Over 300 lines: one method per interface method, each a statement or two.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from bot.db import pg_schema
from bot.db.interface import (
    LINK_CACHE_MAX,
    LINK_COLUMNS,
    OPEN_STATES,
    STALE_PROVIDER,
    SUBMISSION_COLUMNS,
    Link,
    LinkEvent,
    Submission,
    submission_changes,
    submission_from_row,
    submission_values,
    utcnow,
)

# get_links answers from memory for at most this long: other instances change links too.
LINK_CACHE_SECONDS = 30.0
# Each call blocks the event loop while it waits: for the server to accept a connection, or
# for a free connection of the pool (only a thread other than the loop's could hold them all).
CONNECT_TIMEOUT_SECONDS = 5
POOL_TIMEOUT_SECONDS = 5.0
POOL_MIN, POOL_MAX = 1, 4
TCP_USER_TIMEOUT_MS = 15_000

_LINK_SELECT = f"SELECT {', '.join(LINK_COLUMNS)} FROM links"
_SUBMISSION_MARKS = ", ".join(["%s"] * len(SUBMISSION_COLUMNS))
# One round trip: insert unless the view has a row; if it had, that row (the statement's
# snapshot predates its own insert, so a row is returned only when there was one already).
_ADD_SUBMISSION = (
    f"WITH ins AS (INSERT INTO submissions ({', '.join(SUBMISSION_COLUMNS)}) "
    f"VALUES ({_SUBMISSION_MARKS}) ON CONFLICT (view_id) DO NOTHING RETURNING view_id) "
    "SELECT EXISTS (SELECT 1 FROM ins) AS inserted, s.* FROM (VALUES (1)) AS one "
    "LEFT JOIN submissions s ON s.view_id = %s"
)
_IMPORT_TABLE = (
    'CREATE TEMP TABLE import_rows (ord integer, slack_user_id text COLLATE "C", '
    'provider_id text COLLATE "C") ON COMMIT DROP'
)
# Both read the links as they were before the import (the table is locked against writers).
_IMPORT_AUDIT = (
    "INSERT INTO link_events (slack_user_id, actor, at, old_provider_id, new_provider_id) "
    "SELECT r.slack_user_id, %(actor)s, %(now)s, l.provider_id, r.provider_id "
    "FROM import_rows r LEFT JOIN links l USING (slack_user_id) "
    "WHERE l.provider_id IS DISTINCT FROM r.provider_id ORDER BY r.ord"
)
# Row by row, the SQLite store keeps a name only for the same provider, and clears the
# "provider not found" flag once any row brings another provider; the last row wins.
_IMPORT_UPSERT = (
    "INSERT INTO links (slack_user_id, provider_id, provider_name, team_id, linked_by, "
    "linked_at, stale_reason, stale_since) "
    "SELECT DISTINCT ON (slack_user_id) slack_user_id, provider_id, name, NULL, %(actor)s, "
    "%(now)s, CASE WHEN cleared THEN NULL ELSE stale_reason END, "
    "CASE WHEN cleared THEN NULL ELSE stale_since END FROM ("
    "SELECT r.ord, r.slack_user_id, r.provider_id, l.stale_reason, l.stale_since, "
    "CASE WHEN l.provider_id = r.provider_id THEN l.provider_name END AS name, "
    "l.stale_reason = %(provider)s AND bool_or(l.provider_id <> r.provider_id) "
    "OVER (PARTITION BY r.slack_user_id) AS cleared "
    "FROM import_rows r LEFT JOIN links l USING (slack_user_id)) AS x "
    "ORDER BY slack_user_id, ord DESC ON CONFLICT (slack_user_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in LINK_COLUMNS if c != "slack_user_id")
)


class PostgresStore:
    """Store on a PostgreSQL database; one instance per process, used from the event loop."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock
        # Migrated on a connection of its own first: a server that cannot be reached or refuses
        # the login says so here, in libpq's words, rather than as a pool timeout.
        with psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS) as c:
            pg_schema.migrate(c)
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
        self._links: dict[str, Link | None] = {}  # get_links' memory; None: not linked
        self._links_read_at: datetime | None = None

    def migrate(self) -> None:
        """Bring the schema up to the latest version (under an advisory lock)."""
        with self._conn() as conn:
            pg_schema.migrate(conn)

    def schema_version(self) -> int:
        """How many migrations this database has had."""
        with self._conn() as conn:
            return pg_schema.schema_version(conn)

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
                self._links_written()  # links read inside the transaction may be undone
                raise
            finally:
                self._held.conn = None

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

    # -- links ------------------------------------------------------------------

    def get_link(self, slack_user_id: str) -> Link | None:
        """The link of one Slack user, if any (from memory, like get_links)."""
        return self.get_links([slack_user_id]).get(slack_user_id)

    def get_links(self, slack_user_ids: Iterable[str]) -> dict[str, Link]:
        """Links of several users, keyed by Slack user ID (runs before every submission's ack).

        Answered from memory for at most LINK_CACHE_SECONDS (any write through this store
        forgets them at once; another instance's writes are seen when the memory expires).
        """
        now = self.clock()
        read_at = self._links_read_at
        fresh = read_at is not None and timedelta(0) <= now - read_at < _CACHE_AGE
        if not fresh or len(self._links) > LINK_CACHE_MAX:
            self._links.clear()
            self._links_read_at = now
        ids = list(dict.fromkeys(slack_user_ids))
        missing = [i for i in ids if i not in self._links]
        if missing:
            rows = self._all(f"{_LINK_SELECT} WHERE slack_user_id = ANY(%s)", [missing])
            found = {row[0]: Link(*row) for row in rows}
            for i in missing:
                self._links[i] = found.get(i)
        return {i: link for i in ids if (link := self._links[i]) is not None}

    def _links_written(self) -> None:
        """Forget the links read into memory (this store's own writes)."""
        self._links.clear()

    def list_links(self) -> list[Link]:
        """Every link, ordered by Slack user ID."""
        return [Link(*row) for row in self._all(f"{_LINK_SELECT} ORDER BY slack_user_id")]

    def count_links(self) -> int:
        """How many links there are."""
        return int(self._all("SELECT count(*) FROM links")[0][0])

    def _lock_links(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("LOCK TABLE links IN SHARE ROW EXCLUSIVE MODE")  # one link writer at once

    def _read_link(self, conn: psycopg.Connection[Any], slack_user_id: str) -> Link | None:
        """The link as the database has it now, the links table locked against writers."""
        self._lock_links(conn)
        row = conn.execute(f"{_LINK_SELECT} WHERE slack_user_id = %s", [slack_user_id]).fetchone()
        return Link(*row) if row else None

    def set_link(
        self,
        slack_user_id: str,
        provider_id: str,
        *,
        actor: str,
        provider_name: str | None = None,
        team_id: str | None = None,
    ) -> Link | None:
        """Link (or re-link) one person and audit it; returns the previous link."""
        now = self._now()
        with self.transaction(), self._conn() as conn:
            old = self._read_link(conn, slack_user_id)
            row: dict[str, Any] = {
                "slack_user_id": slack_user_id,
                "provider_id": provider_id,
                "provider_name": provider_name,
                "team_id": team_id,
                "linked_by": actor,
                "linked_at": now,
            }
            if old and old.provider_id != provider_id and old.stale_reason == STALE_PROVIDER:
                row.update(stale_reason=None, stale_since=None)  # the unknown provider is replaced
            self._links_written()
            conn.execute(_upsert("links", "slack_user_id", tuple(row)), list(row.values()))
            if old is None or old.provider_id != provider_id:
                self._audit(conn, slack_user_id, actor, old.provider_id if old else None,
                            provider_id, now)  # fmt: skip
        return old

    def remove_link(self, slack_user_id: str, *, actor: str) -> Link | None:
        """Unlink one person and audit it; returns the removed link."""
        with self.transaction(), self._conn() as conn:
            old = self._read_link(conn, slack_user_id)
            if old is not None:
                self._links_written()
                conn.execute("DELETE FROM links WHERE slack_user_id = %s", [slack_user_id])
                self._audit(conn, slack_user_id, actor, old.provider_id, None, self._now())
        return old

    def import_links(self, rows: Sequence[tuple[str, str]], *, actor: str) -> int:
        """Link every (slack_user_id, provider_id) pair in one transaction: all or none.

        The rows are copied into a temporary table (COPY), then audited and upserted by two
        statements, whatever their number.
        """
        args = {"actor": actor, "now": self._now(), "provider": STALE_PROVIDER}
        with self.transaction(), self._conn() as conn:
            self._lock_links(conn)
            conn.execute(_IMPORT_TABLE)
            with conn.cursor().copy(
                "COPY import_rows (ord, slack_user_id, provider_id) FROM STDIN"
            ) as copy:
                for i, (slack_user_id, provider_id) in enumerate(rows):
                    copy.write_row((i, slack_user_id, provider_id))
            self._links_written()
            conn.execute(_IMPORT_AUDIT, args)
            conn.execute(_IMPORT_UPSERT, args)
            conn.execute("DROP TABLE import_rows")  # an enclosing transaction may import again
        return len(rows)

    def _audit(
        self,
        conn: psycopg.Connection[Any],
        slack_user_id: str,
        actor: str,
        old: str | None,
        new: str | None,
        at: str,
    ) -> None:
        conn.execute(
            "INSERT INTO link_events (slack_user_id, actor, at, old_provider_id, new_provider_id) "
            "VALUES (%s, %s, %s, %s, %s)",
            [slack_user_id, actor, at, old, new],
        )

    def link_events(self, slack_user_id: str | None = None) -> list[LinkEvent]:
        """The audit trail, oldest first, for one user or everyone."""
        select = f"SELECT {', '.join(LinkEvent.__dataclass_fields__)} FROM link_events"
        if slack_user_id:
            rows = self._all(f"{select} WHERE slack_user_id = %s ORDER BY id", [slack_user_id])
        else:
            rows = self._all(f"{select} ORDER BY id")
        return [LinkEvent(*row) for row in rows]

    def mark_stale(self, slack_user_id: str, reason: str) -> bool:
        """Flag a link as unusable (STALE_SLACK / STALE_PROVIDER); True when it changed."""
        self._links_written()
        changed = self._count(
            "UPDATE links SET stale_reason = %s, stale_since = %s "
            "WHERE slack_user_id = %s AND stale_reason IS DISTINCT FROM %s",
            [reason, self._now(), slack_user_id, reason],
        )
        return changed == 1

    def clear_stale(self, slack_user_id: str, reason: str | None = None) -> bool:
        """Unflag a link (only when flagged for `reason`, if given); True when it changed."""
        query = "UPDATE links SET stale_reason = NULL, stale_since = NULL WHERE slack_user_id = %s"
        args: list[Any] = [slack_user_id]
        query += " AND stale_reason = %s" if reason else " AND stale_reason IS NOT NULL"
        args += [reason] if reason else []
        self._links_written()
        return self._count(query, args) == 1

    def users_for_providers(self, provider_ids: Iterable[str]) -> dict[str, str]:
        """Slack user IDs linked to these providers, keyed by provider ID."""
        ids = list(dict.fromkeys(provider_ids))
        if not ids:
            return {}
        found: dict[str, str] = {}
        for provider_id, user_id in self._all(
            "SELECT provider_id, slack_user_id FROM links WHERE provider_id = ANY(%s) "
            "ORDER BY slack_user_id",
            [ids],
        ):
            found.setdefault(provider_id, user_id)
        return found

    def count_stale_links(self) -> int | None:
        """Links marked stale."""
        query = "SELECT count(*) FROM links WHERE stale_reason IS NOT NULL AND stale_reason <> ''"
        return int(self._all(query)[0][0])

    # -- submissions (the outbox) --------------------------------------------------

    def add_submission(self, sub: Submission) -> tuple[Submission, bool]:
        """Store a submission unless its view already has one; returns (row, inserted)."""
        return self.add_submissions([sub])[0]

    def add_submissions(self, subs: Sequence[Submission]) -> list[tuple[Submission, bool]]:
        """Store several submissions in one transaction (one commit): (row, inserted) each."""
        now = self._now()
        params = []
        for sub in subs:
            sub.created_at = sub.created_at or now
            sub.updated_at = now
            params.append([*submission_values(sub), sub.view_id])
        if len(subs) == 1:  # autocommit: one statement, one round trip, one commit
            (row,) = self._dicts(_ADD_SUBMISSION, params[0])
            return [self._added(subs[0], row)]
        with self.transaction(), self._conn() as conn:
            cur = conn.cursor(row_factory=dict_row)
            cur.executemany(_ADD_SUBMISSION, params, returning=True)  # pipelined
            answers = [result.fetchone() for result in cur.results()]
            return [self._added(sub, row) for sub, row in zip(subs, answers, strict=True)]

    def _added(self, sub: Submission, row: dict[str, Any] | None) -> tuple[Submission, bool]:
        if row is not None and row["inserted"]:
            return sub, True
        if row is not None and row["view_id"] is not None:
            return submission_from_row(row), False
        # Another instance inserted it after this statement's snapshot: read it now.
        stored = self.get_submission(sub.view_id)
        assert stored is not None
        return stored, False

    def get_submission(self, view_id: str) -> Submission | None:
        """One submission by its view ID."""
        rows = self._dicts("SELECT * FROM submissions WHERE view_id = %s", [view_id])
        return submission_from_row(rows[0]) if rows else None

    def claim_submission(self, view_id: str, owner: str, lease_seconds: float) -> Submission | None:
        """Claim one open submission for `owner` (or renew its claim); None if another holds it.

        One statement: of two instances racing for the row, the second waits for the first's
        commit, then finds the row claimed.
        """
        rows = self._dicts(
            "UPDATE submissions SET claimed_by = %s, lease_until = %s WHERE view_id = %s "
            "AND state = ANY(%s) AND confirmed_at IS NULL "
            "AND (claimed_by = %s OR lease_until IS NULL OR lease_until <= %s) RETURNING *",
            [owner, self._lease(lease_seconds), view_id, list(OPEN_STATES), owner, self._now()],
        )
        return submission_from_row(rows[0]) if rows else None

    def claim_due_submissions(
        self, owner: str, lease_seconds: float, limit: int = 100
    ) -> list[str]:
        """Claim open submissions nobody holds (or whose lease ran out), oldest first."""
        rows = self._all(
            "UPDATE submissions SET claimed_by = %s, lease_until = %s WHERE view_id IN ("
            "SELECT view_id FROM submissions WHERE state = ANY(%s) AND confirmed_at IS NULL "
            "AND (lease_until IS NULL OR lease_until <= %s) ORDER BY created_at LIMIT %s "
            "FOR UPDATE SKIP LOCKED) RETURNING view_id, created_at",
            [owner, self._lease(lease_seconds), list(OPEN_STATES), self._now(), limit],
        )
        return [view_id for view_id, _ in sorted(rows, key=lambda r: r[1] or "")]

    def renew_claims(self, owner: str, view_ids: Iterable[str], lease_seconds: float) -> int:
        """Extend `owner`'s claims on these submissions; returns how many it still holds."""
        ids = list(view_ids)
        if not ids:
            return 0
        return self._count(
            "UPDATE submissions SET lease_until = %s WHERE claimed_by = %s AND view_id = ANY(%s)",
            [self._lease(lease_seconds), owner, ids],
        )

    def release_submission(
        self, view_id: str, owner: str, *, not_before: datetime | None = None
    ) -> None:
        """Give up `owner`'s claim; any process may take the row up from `not_before` on."""
        self._count(
            "UPDATE submissions SET claimed_by = NULL, lease_until = %s "
            "WHERE view_id = %s AND claimed_by = %s",
            [not_before.isoformat() if not_before else None, view_id, owner],
        )

    def open_submissions(self) -> list[Submission]:
        """Submissions not yet finished (to take up again at start-up), oldest first."""
        rows = self._dicts(
            "SELECT * FROM submissions WHERE state = ANY(%s) AND confirmed_at IS NULL "
            "ORDER BY created_at",
            [list(OPEN_STATES)],
        )
        return [submission_from_row(r) for r in rows]

    def update_submission(self, view_id: str, **changes: Any) -> None:
        """Change some columns of one submission."""
        changes = submission_changes(changes, self._now())
        self._count(_update("submissions", "view_id", tuple(changes)), [*changes.values(), view_id])

    def task_for_message(self, message_key: str) -> str | None:
        """The task already created from a message (channel:ts), if any."""
        rows = self._all(
            "SELECT task_id FROM submissions WHERE message_key = %s AND task_id IS NOT NULL "
            "ORDER BY created_at DESC LIMIT 1",
            [message_key],
        )
        return rows[0][0] if rows else None

    def purge_drafts(self, older_than: datetime) -> int:
        """Clear the text of failed or discarded drafts older than a date; returns how many."""
        return self._count(
            "UPDATE submissions SET notes = '', state = CASE WHEN state = 'failed' "
            "THEN 'expired' ELSE state END, updated_at = %s "
            "WHERE notes <> '' AND state IN ('failed', 'reopened', 'dismissed') "
            "AND updated_at < %s",
            [self._now(), older_than.isoformat()],
        )

    # -- tasks ---------------------------------------------------------------------

    def record_task(self, **row: Any) -> None:
        """Insert or update one created task."""
        now = self._now()
        row["updated_at"] = now
        row.setdefault("created_at", now)
        if not all(key.isidentifier() for key in row):
            raise ValueError("task columns must be plain names")
        self._count(_upsert("tasks", "task_id", tuple(row), keep=("created_at",)),
                    list(row.values()))  # fmt: skip

    def get_task(self, task_id: str) -> dict[str, Any] | None:
        """One recorded task."""
        rows = self._dicts("SELECT * FROM tasks WHERE task_id = %s", [task_id])
        return rows[0] if rows else None

    def update_task(self, task_id: str, **changes: Any) -> None:
        """Change some columns of a recorded task (unknown IDs are ignored)."""
        changes["updated_at"] = self._now()
        self._count(_update("tasks", "task_id", tuple(changes)), [*changes.values(), task_id])

    def due_follows(self, now: str, limit: int = 20) -> list[dict[str, Any]]:
        """Followed tasks whose next check is due, most overdue first."""
        return self._dicts(
            "SELECT * FROM tasks WHERE follow_until IS NOT NULL AND next_check_at <= %s "
            "ORDER BY next_check_at LIMIT %s",
            [now, limit],
        )

    def claim_due_follows(
        self, owner: str, lease_seconds: float, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Claim followed tasks whose check is due and that no other process is checking."""
        now = self._now()
        rows = self._dicts(
            "UPDATE tasks SET claimed_by = %s, lease_until = %s WHERE task_id IN ("
            "SELECT task_id FROM tasks WHERE follow_until IS NOT NULL AND next_check_at <= %s "
            "AND (lease_until IS NULL OR lease_until <= %s OR claimed_by = %s) "
            "ORDER BY next_check_at LIMIT %s FOR UPDATE SKIP LOCKED) RETURNING *",
            [owner, self._lease(lease_seconds), now, now, owner, limit],
        )
        return sorted(rows, key=lambda r: r["next_check_at"] or "")

    def next_follow_at(self) -> str | None:
        """When the earliest followed task is due, if any is followed."""
        rows = self._all("SELECT min(next_check_at) FROM tasks WHERE follow_until IS NOT NULL")
        return rows[0][0] if rows else None

    def unfollowed_unsynced(self, since: str) -> list[str]:
        """Tasks with a card, created since `since`, not synced and never followed."""
        rows = self._all(
            "SELECT task_id FROM tasks WHERE follow_checks IS NULL AND message_ts IS NOT NULL "
            "AND coalesce(sync_status, '') <> 'synced' AND created_at >= %s",
            [since],
        )
        return [r[0] for r in rows]

    def recent_tasks(self, created_by: str, limit: int = 10) -> list[dict[str, Any]]:
        """Tasks one person created through the app, newest first."""
        return self._dicts(
            "SELECT * FROM tasks WHERE created_by = %s ORDER BY created_at DESC LIMIT %s",
            [created_by, limit],
        )


_CACHE_AGE = timedelta(seconds=LINK_CACHE_SECONDS)


@lru_cache(maxsize=256)
def _update(table: str, key: str, columns: tuple[str, ...]) -> bytes:
    """`UPDATE table SET c = %s, … WHERE key = %s`, names quoted (built once per column set)."""
    sets = sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(c)) for c in columns)
    query = sql.SQL("UPDATE {} SET {} WHERE {} = %s").format(
        sql.Identifier(table), sets, sql.Identifier(key)
    )
    return query.as_bytes()


@lru_cache(maxsize=256)
def _upsert(table: str, key: str, columns: tuple[str, ...], keep: tuple[str, ...] = ()) -> bytes:
    """Insert a row or, when its key exists, update every column but the key and `keep`."""
    later = [c for c in columns if c != key and c not in keep]
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({}) ON CONFLICT ({}) DO UPDATE SET {}").format(
        sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        sql.Identifier(key),
        sql.SQL(", ").join(sql.SQL("{0} = excluded.{0}").format(sql.Identifier(c)) for c in later),
    )
    return query.as_bytes()
