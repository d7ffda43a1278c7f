"""The PostgreSQL store's links: the table and its audit, remembered for a while, imported in bulk.

Another instance's writes cannot be noticed cheaply (SQLite's data_version has no equivalent),
so links are answered from memory for at most LINK_CACHE_SECONDS. Link writes take a table lock
(readers are not blocked): a link's previous value, read to audit the change, cannot change
before the write, as SQLite's single writer guarantees.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg

from bot.db.interface import (
    LINK_CACHE_MAX,
    LINK_COLUMNS,
    STALE_PROVIDER,
    Link,
    LinkEvent,
)
from bot.db.pg_connection import PgConnection, upsert_sql

# get_links answers from memory for at most this long: other instances change links too.
LINK_CACHE_SECONDS = 30.0
_CACHE_AGE = timedelta(seconds=LINK_CACHE_SECONDS)

_LINK_SELECT = f"SELECT {', '.join(LINK_COLUMNS)} FROM links"
_IMPORT_TABLE = (
    'CREATE TEMP TABLE import_rows (ord integer, slack_user_id text COLLATE "C", '
    'provider_id text COLLATE "C") ON COMMIT DROP'
)
# Both read the workspace's links as they were before the import (the table is locked against
# writers).
_IMPORT_JOIN = (
    "FROM import_rows r LEFT JOIN links l "
    "ON l.workspace = %(workspace)s AND l.slack_user_id = r.slack_user_id"
)
_IMPORT_AUDIT = (
    "INSERT INTO link_events (workspace, slack_user_id, actor, at, old_provider_id, "
    "new_provider_id) "
    "SELECT %(workspace)s, r.slack_user_id, %(actor)s, %(now)s, l.provider_id, r.provider_id "
    f"{_IMPORT_JOIN} "
    "WHERE l.provider_id IS DISTINCT FROM r.provider_id ORDER BY r.ord"
)
# Row by row, the SQLite store keeps a name only for the same provider, and clears the
# "provider not found" flag once any row brings another provider; the last row wins.
_IMPORT_UPSERT = (
    "INSERT INTO links (workspace, slack_user_id, provider_id, provider_name, team_id, "
    "linked_by, linked_at, stale_reason, stale_since) "
    "SELECT DISTINCT ON (slack_user_id) %(workspace)s, slack_user_id, provider_id, name, NULL, "
    "%(actor)s, "
    "%(now)s, CASE WHEN cleared THEN NULL ELSE stale_reason END, "
    "CASE WHEN cleared THEN NULL ELSE stale_since END FROM ("
    "SELECT r.ord, r.slack_user_id, r.provider_id, l.stale_reason, l.stale_since, "
    "CASE WHEN l.provider_id = r.provider_id THEN l.provider_name END AS name, "
    "l.stale_reason = %(provider)s AND bool_or(l.provider_id <> r.provider_id) "
    "OVER (PARTITION BY r.slack_user_id) AS cleared "
    f"{_IMPORT_JOIN}) AS x "
    "ORDER BY slack_user_id, ord DESC ON CONFLICT (workspace, slack_user_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in LINK_COLUMNS if c != "slack_user_id")
)


class PgLinks(PgConnection):
    """The links part of the PostgreSQL store."""

    def __init__(self, url: str, **options: Any) -> None:
        super().__init__(url, **options)
        # get_links' memory: workspace key -> Slack user ID -> link (None: not linked)
        self._links: dict[str, dict[str, Link | None]] = {}
        self._links_read_at: datetime | None = None

    def _rolled_back(self) -> None:
        self._links_written()  # links read inside the transaction may be undone

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
        if not fresh:
            self._links.clear()
            self._links_read_at = now
        scope = self.scope()
        known = self._links.get(scope)
        if known is None or len(known) > LINK_CACHE_MAX:
            known = self._links[scope] = {}
        ids = list(dict.fromkeys(slack_user_ids))
        missing = [i for i in ids if i not in known]
        if missing:
            rows = self._all(
                f"{_LINK_SELECT} WHERE workspace = %s AND slack_user_id = ANY(%s)",
                [scope, missing],
            )
            found = {row[0]: Link(*row) for row in rows}
            for i in missing:
                known[i] = found.get(i)
        return {i: link for i in ids if (link := known[i]) is not None}

    def _links_written(self) -> None:
        """Forget the links read into memory (this store's own writes)."""
        self._links.clear()

    def list_links(self) -> list[Link]:
        """Every link, ordered by Slack user ID."""
        rows = self._all(
            f"{_LINK_SELECT} WHERE workspace = %s ORDER BY slack_user_id", [self.scope()]
        )
        return [Link(*row) for row in rows]

    def count_links(self) -> int:
        """How many links the workspace has."""
        rows = self._all("SELECT count(*) FROM links WHERE workspace = %s", [self.scope()])
        return int(rows[0][0])

    def _lock_links(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute("LOCK TABLE links IN SHARE ROW EXCLUSIVE MODE")  # one link writer at once

    def _read_link(self, conn: psycopg.Connection[Any], slack_user_id: str) -> Link | None:
        """The link as the database has it now, the links table locked against writers."""
        self._lock_links(conn)
        row = conn.execute(
            f"{_LINK_SELECT} WHERE workspace = %s AND slack_user_id = %s",
            [self.scope(), slack_user_id],
        ).fetchone()
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
                "workspace": self.scope(),
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
            conn.execute(
                upsert_sql("links", ("workspace", "slack_user_id"), tuple(row)), list(row.values())
            )
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
                conn.execute(
                    "DELETE FROM links WHERE workspace = %s AND slack_user_id = %s",
                    [self.scope(), slack_user_id],
                )
                self._audit(conn, slack_user_id, actor, old.provider_id, None, self._now())
        return old

    def import_links(self, rows: Sequence[tuple[str, str]], *, actor: str) -> int:
        """Link every (slack_user_id, provider_id) pair in one transaction: all or none.

        The rows are copied into a temporary table (COPY), then audited and upserted by two
        statements, whatever their number.
        """
        args = {
            "actor": actor, "now": self._now(), "provider": STALE_PROVIDER,
            "workspace": self.scope(),
        }  # fmt: skip
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
            "INSERT INTO link_events (workspace, slack_user_id, actor, at, old_provider_id, "
            "new_provider_id) VALUES (%s, %s, %s, %s, %s, %s)",
            [self.scope(), slack_user_id, actor, at, old, new],
        )

    def link_events(self, slack_user_id: str | None = None) -> list[LinkEvent]:
        """The audit trail, oldest first, for one user or everyone."""
        select = f"SELECT {', '.join(LinkEvent.__dataclass_fields__)} FROM link_events"
        if slack_user_id:
            rows = self._all(
                f"{select} WHERE workspace = %s AND slack_user_id = %s ORDER BY id",
                [self.scope(), slack_user_id],
            )
        else:
            rows = self._all(f"{select} WHERE workspace = %s ORDER BY id", [self.scope()])
        return [LinkEvent(*row) for row in rows]

    def mark_stale(self, slack_user_id: str, reason: str) -> bool:
        """Flag a link as unusable (STALE_SLACK / STALE_PROVIDER); True when it changed."""
        self._links_written()
        changed = self._count(
            "UPDATE links SET stale_reason = %s, stale_since = %s "
            "WHERE workspace = %s AND slack_user_id = %s AND stale_reason IS DISTINCT FROM %s",
            [reason, self._now(), self.scope(), slack_user_id, reason],
        )
        return changed == 1

    def clear_stale(self, slack_user_id: str, reason: str | None = None) -> bool:
        """Unflag a link (only when flagged for `reason`, if given); True when it changed."""
        query = (
            "UPDATE links SET stale_reason = NULL, stale_since = NULL "
            "WHERE workspace = %s AND slack_user_id = %s"
        )
        args: list[Any] = [self.scope(), slack_user_id]
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
            "SELECT provider_id, slack_user_id FROM links WHERE workspace = %s "
            "AND provider_id = ANY(%s) ORDER BY slack_user_id",
            [self.scope(), ids],
        ):
            found.setdefault(provider_id, user_id)
        return found

    def count_stale_links(self) -> int | None:
        """Links marked stale."""
        query = (
            "SELECT count(*) FROM links WHERE workspace = %s "
            "AND stale_reason IS NOT NULL AND stale_reason <> ''"
        )
        return int(self._all(query, [self.scope()])[0][0])
