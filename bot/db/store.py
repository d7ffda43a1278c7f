"""The SQLite store: links, their audit, the submission outbox and created tasks in one file.

Longer than 400 lines on purpose: every SQL statement the app runs on SQLite is here, table by
table, so a reader (and bot/db/postgres.py, its PostgreSQL twin) can see them side by side;
only the installations of many-workspace mode have a module of their own
(bot/db/sqlite_installations.py).
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlite_utils

from bot import tenancy

# The shared names are re-exported: callers import the interface and the rows from here.
from bot.db.interface import (
    END_SUBMISSIONS,
    END_TASKS,
    LINK_CACHE_MAX,
    LINK_COLUMNS,
    OPEN_STATES,
    STALE_PROVIDER,
    STALE_SLACK,
    SUBMISSION_COLUMNS,
    WORKFLOW,
    Link,
    LinkEvent,
    Store,
    Submission,
    default_owner,
    submission_changes,
    submission_from_row,
    submission_values,
    utcnow,
)
from bot.db.schema import MIGRATIONS
from bot.db.sqlite_installations import SQLiteInstallations

__all__ = [
    "LINK_CACHE_MAX",
    "OPEN_STATES",
    "STALE_PROVIDER",
    "STALE_SLACK",
    "Link",
    "LinkEvent",
    "SQLiteStore",
    "Store",
    "Submission",
    "WORKFLOW",
    "default_owner",
    "utcnow",
]


# Built once: the insert runs before every submission's ack (sqlite3 caches the statement).
_INSERT_SUBMISSION = (
    f"INSERT OR IGNORE INTO submissions ({', '.join(SUBMISSION_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(SUBMISSION_COLUMNS))})"
)
_LINK_SELECT = f"SELECT {', '.join(LINK_COLUMNS)} FROM links"


class SQLiteStore(SQLiteInstallations):
    """Store on one SQLite file; one instance per process, used from the event loop thread."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Callable[[], datetime] = utcnow,
        scope: Callable[[], str] = tenancy.key_or_single,
    ) -> None:
        self.path = Path(path)
        self.clock = clock
        self.scope = scope  # the workspace whose rows each query reads and writes
        if str(path) != ":memory:":
            _create_private(self.path)
        conn = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db = sqlite_utils.Database(conn)
        self.db.execute("PRAGMA busy_timeout = 5000")
        if str(path) != ":memory:":
            _enable_wal(self.db)
        # In WAL mode NORMAL keeps every commit through a crash or kill -9 and skips the fsync
        # (a full sync costs 5x the whole insert); only a power loss could undo the last commits.
        self.db.execute("PRAGMA synchronous = NORMAL")
        # get_links' memory: workspace key -> Slack user ID -> link (None: not linked)
        self._links: dict[str, dict[str, Link | None]] = {}
        self._links_version = -1
        self.migrate()

    def migrate(self) -> None:
        """Bring the schema up to the latest version.

        The version is read inside the write transaction: of two processes starting on one new
        file, the second waits for the first and then finds nothing left to do.
        """
        with self.transaction():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
                step(self.db)
                self.db.execute(f"PRAGMA user_version = {number}")

    def schema_version(self) -> int:
        """How many migrations this database has had."""
        return int(self.db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One all-or-nothing transaction (the connection is otherwise in autocommit)."""
        if self.db.conn.in_transaction:
            yield
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            self._links_written()  # links read inside the transaction may be undone
            raise
        self.db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def ping(self) -> bool:
        """True when the database answers."""
        try:
            return self.db.execute("SELECT 1").fetchone() == (1,)
        except sqlite3.Error:
            return False

    def _now(self) -> str:
        return self.clock().isoformat()

    # -- links ------------------------------------------------------------------

    def get_link(self, slack_user_id: str) -> Link | None:
        """The link of one Slack user, if any (from memory, like get_links: every `/task` asks).

        sqlite-utils' rows_where re-reads the schema on every call, a tenth of a command's time.
        """
        return self.get_links([slack_user_id]).get(slack_user_id)

    def _read_link(self, slack_user_id: str) -> Link | None:
        """The link as the database has it now (inside a write's transaction)."""
        row = self.db.conn.execute(
            f"{_LINK_SELECT} WHERE workspace = ? AND slack_user_id = ?",
            [self.scope(), slack_user_id],
        ).fetchone()
        return Link(*row) if row else None

    def get_links(self, slack_user_ids: Iterable[str]) -> dict[str, Link]:
        """Links of several users, keyed by Slack user ID (runs before every submission's ack).

        Answered from memory while the links are unchanged: any write through this Store
        forgets them, and SQLite's data_version tells when another process (the CLI) wrote.
        """
        version = self.db.conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self._links_version:
            self._links.clear()
            self._links_version = version
        scope = self.scope()
        known = self._links.get(scope)
        if known is None or len(known) > LINK_CACHE_MAX:
            known = self._links[scope] = {}
        ids = list(dict.fromkeys(slack_user_ids))
        missing = [i for i in ids if i not in known]
        if missing:
            marks = ",".join("?" * len(missing))
            cur = self.db.conn.execute(
                f"{_LINK_SELECT} WHERE workspace = ? AND slack_user_id IN ({marks})",
                [scope, *missing],
            )
            found = {row[0]: Link(*row) for row in cur}
            for i in missing:
                known[i] = found.get(i)
        return {i: link for i in ids if (link := known[i]) is not None}

    def _links_written(self) -> None:
        """Forget the links read into memory (this connection's own writes)."""
        self._links.clear()

    def list_links(self) -> list[Link]:
        """Every link, ordered by Slack user ID."""
        rows = self.db.conn.execute(
            f"{_LINK_SELECT} WHERE workspace = ? ORDER BY slack_user_id", [self.scope()]
        )
        return [Link(*row) for row in rows]

    def count_links(self) -> int:
        """How many links the workspace has."""
        row = self.db.execute("SELECT count(*) FROM links WHERE workspace = ?", [self.scope()])
        return int(row.fetchone()[0])

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
        with self.transaction():
            old = self._read_link(slack_user_id)
            self._upsert_link(slack_user_id, provider_id, actor, provider_name, team_id, old)
        return old

    def _upsert_link(
        self,
        slack_user_id: str,
        provider_id: str,
        actor: str,
        provider_name: str | None,
        team_id: str | None,
        old: Link | None,
    ) -> None:
        now = self._now()
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
        # Plain SQL: sqlite-utils' upsert and insert introspect the table on every call, which made
        # a large `links import` several times slower.
        keys = ("workspace", "slack_user_id")
        changes = ", ".join(f"{col} = excluded.{col}" for col in row if col not in keys)
        self._links_written()
        self.db.execute(
            f"INSERT INTO links ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)}) "
            f"ON CONFLICT (workspace, slack_user_id) DO UPDATE SET {changes}",
            list(row.values()),
        )
        if old is None or old.provider_id != provider_id:
            self._audit(slack_user_id, actor, old.provider_id if old else None, provider_id, now)

    def remove_link(self, slack_user_id: str, *, actor: str) -> Link | None:
        """Unlink one person and audit it; returns the removed link."""
        with self.transaction():
            old = self._read_link(slack_user_id)
            if old is not None:
                self._links_written()
                self.db.execute(
                    "DELETE FROM links WHERE workspace = ? AND slack_user_id = ?",
                    [self.scope(), slack_user_id],
                )
                self._audit(slack_user_id, actor, old.provider_id, None, self._now())
        return old

    def import_links(self, rows: Sequence[tuple[str, str]], *, actor: str) -> int:
        """Link every (slack_user_id, provider_id) pair in one transaction: all or none."""
        existing = {link.slack_user_id: link for link in self.list_links()}
        with self.transaction():
            for slack_user_id, provider_id in rows:
                old = existing.get(slack_user_id)
                name = old.provider_name if old and old.provider_id == provider_id else None
                self._upsert_link(slack_user_id, provider_id, actor, name, None, old)
        return len(rows)

    def _audit(
        self, slack_user_id: str, actor: str, old: str | None, new: str | None, at: str
    ) -> None:
        self.db.execute(
            "INSERT INTO link_events (workspace, slack_user_id, actor, at, old_provider_id, "
            "new_provider_id) VALUES (?, ?, ?, ?, ?, ?)",
            [self.scope(), slack_user_id, actor, at, old, new],
        )

    def link_events(self, slack_user_id: str | None = None) -> list[LinkEvent]:
        """The audit trail, oldest first, for one user or everyone."""
        where, args = "workspace = ?", [self.scope()]
        if slack_user_id:
            where, args = f"{where} AND slack_user_id = ?", [*args, slack_user_id]
        rows = self.db.execute(
            f"SELECT {', '.join(LinkEvent.__dataclass_fields__)} FROM link_events "
            f"WHERE {where} ORDER BY id",
            args,
        )
        return [LinkEvent(*row) for row in rows]

    def mark_stale(self, slack_user_id: str, reason: str) -> bool:
        """Flag a link as unusable (STALE_SLACK / STALE_PROVIDER); True when it changed."""
        self._links_written()
        cur = self.db.execute(
            "UPDATE links SET stale_reason = ?, stale_since = ? "
            "WHERE workspace = ? AND slack_user_id = ? AND stale_reason IS NOT ?",
            [reason, self._now(), self.scope(), slack_user_id, reason],
        )
        return cur.rowcount == 1

    def clear_stale(self, slack_user_id: str, reason: str | None = None) -> bool:
        """Unflag a link (only when flagged for `reason`, if given); True when it changed."""
        sql = (
            "UPDATE links SET stale_reason = NULL, stale_since = NULL "
            "WHERE workspace = ? AND slack_user_id = ?"
        )
        args: list[Any] = [self.scope(), slack_user_id]
        sql += " AND stale_reason = ?" if reason else " AND stale_reason IS NOT NULL"
        args += [reason] if reason else []
        self._links_written()
        return self.db.execute(sql, args).rowcount == 1

    # -- submissions (the outbox) --------------------------------------------------

    def add_submission(self, sub: Submission) -> tuple[Submission, bool]:
        """Store a submission unless its view already has one; returns (row, inserted)."""
        return self.add_submissions([sub])[0]

    def add_submissions(self, subs: Sequence[Submission]) -> list[tuple[Submission, bool]]:
        """Store several submissions in one transaction (one commit): (row, inserted) each."""
        if len(subs) == 1:
            return [self._add_submission(subs[0])]  # autocommit: one statement, one commit
        with self.transaction():
            return [self._add_submission(sub) for sub in subs]

    def _add_submission(self, sub: Submission) -> tuple[Submission, bool]:
        now = self._now()
        sub.workspace = self.scope()
        sub.created_at = sub.created_at or now
        sub.updated_at = now
        cur = self.db.conn.execute(_INSERT_SUBMISSION, submission_values(sub))
        if cur.rowcount == 1:
            return sub, True
        stored = self.get_submission(sub.view_id)
        assert stored is not None
        return stored, False

    def get_submission(self, view_id: str) -> Submission | None:
        """One submission by its view ID."""
        cur = self.db.conn.execute("SELECT * FROM submissions WHERE view_id = ?", [view_id])
        row = cur.fetchone()
        if row is None:
            return None
        return submission_from_row(dict(zip([d[0] for d in cur.description], row, strict=True)))

    # -- claims: one process works a row at a time -------------------------------------------

    def _lease(self, seconds: float) -> str:
        return (self.clock() + timedelta(seconds=seconds)).isoformat()

    def claim_submission(self, view_id: str, owner: str, lease_seconds: float) -> Submission | None:
        """Claim one open submission for `owner` (or renew its claim); None if another holds it.

        One statement, so two processes racing for a row cannot both win it.
        """
        marks = ",".join("?" for _ in OPEN_STATES)
        cur = self.db.conn.execute(
            f"UPDATE submissions SET claimed_by = ?, lease_until = ? WHERE view_id = ? "
            f"AND state IN ({marks}) AND confirmed_at IS NULL "
            "AND (claimed_by = ? OR lease_until IS NULL OR lease_until <= ?) RETURNING *",
            [owner, self._lease(lease_seconds), view_id, *OPEN_STATES, owner, self._now()],
        )
        row = cur.fetchone()
        if row is None:
            return None
        return submission_from_row(dict(zip([d[0] for d in cur.description], row, strict=True)))

    def claim_due_submissions(
        self, owner: str, lease_seconds: float, limit: int = 100
    ) -> list[str]:
        """Claim open submissions nobody holds (or whose lease ran out), oldest first."""
        marks = ",".join("?" for _ in OPEN_STATES)
        now = self._now()
        rows = self.db.conn.execute(
            "UPDATE submissions SET claimed_by = ?, lease_until = ? WHERE view_id IN ("
            f"SELECT view_id FROM submissions WHERE state IN ({marks}) AND confirmed_at IS NULL "
            "AND (lease_until IS NULL OR lease_until <= ?) ORDER BY created_at LIMIT ?) "
            "RETURNING view_id, created_at",
            [owner, self._lease(lease_seconds), *OPEN_STATES, now, limit],
        ).fetchall()
        return [view_id for view_id, _ in sorted(rows, key=lambda r: r[1] or "")]

    def renew_claims(self, owner: str, view_ids: Iterable[str], lease_seconds: float) -> int:
        """Extend `owner`'s claims on these submissions; returns how many it still holds."""
        ids = list(view_ids)
        if not ids:
            return 0
        marks = ",".join("?" for _ in ids)
        cur = self.db.conn.execute(
            f"UPDATE submissions SET lease_until = ? WHERE claimed_by = ? AND view_id IN ({marks})",
            [self._lease(lease_seconds), owner, *ids],
        )
        return cur.rowcount

    def release_submission(
        self, view_id: str, owner: str, *, not_before: datetime | None = None
    ) -> None:
        """Give up `owner`'s claim; any process may take the row up from `not_before` on."""
        self.db.conn.execute(
            "UPDATE submissions SET claimed_by = NULL, lease_until = ? "
            "WHERE view_id = ? AND claimed_by = ?",
            [not_before.isoformat() if not_before else None, view_id, owner],
        )

    def open_submissions(self) -> list[Submission]:
        """Submissions not yet finished (to take up again at start-up), oldest first."""
        marks = ",".join("?" for _ in OPEN_STATES)
        rows = self.db.table("submissions").rows_where(
            f"state in ({marks}) and confirmed_at is null", list(OPEN_STATES), order_by="created_at"
        )
        return [submission_from_row(r) for r in rows]

    def outbox_summary(self) -> dict[str, tuple[int, str | None]]:
        """Unfinished submissions by state: how many, and the oldest latest ack (for /metrics)."""
        marks = ",".join("?" for _ in OPEN_STATES)
        rows = self.db.conn.execute(
            f"SELECT state, count(*), min(coalesce(acked_at, created_at)) FROM submissions "
            f"WHERE state IN ({marks}) AND confirmed_at IS NULL GROUP BY state",
            list(OPEN_STATES),
        )
        return {state: (count, oldest) for state, count, oldest in rows}

    def update_submission(self, view_id: str, **changes: Any) -> None:
        """Change some columns of one submission."""
        changes = submission_changes(changes, self._now())
        # A plain UPDATE (the worker runs several per submission; sqlite-utils' update re-reads
        # the row and the table's schema each time, 5x the cost).
        self.db.conn.execute(
            f"UPDATE submissions SET {', '.join(f'{k} = ?' for k in changes)} WHERE view_id = ?",
            [*changes.values(), view_id],
        )

    def task_for_message(self, message_key: str) -> str | None:
        """The task already created from a message (channel:ts), if any."""
        row = self.db.execute(
            "SELECT task_id FROM submissions WHERE message_key = ? AND workspace = ? "
            "AND task_id IS NOT NULL ORDER BY created_at DESC LIMIT 1",
            [message_key, self.scope()],
        ).fetchone()
        return row[0] if row else None

    def purge_drafts(self, older_than: datetime) -> int:
        """Clear the text of failed or discarded drafts older than a date; returns how many."""
        cur = self.db.execute(
            "UPDATE submissions SET notes = '', state = CASE WHEN state = 'failed' "
            "THEN 'expired' ELSE state END, updated_at = ? "
            "WHERE notes != '' AND state IN ('failed', 'reopened', 'dismissed') "
            "AND updated_at < ?",
            [self._now(), older_than.isoformat()],
        )
        return cur.rowcount

    def end_workspace_work(self, key: str) -> int:
        """An uninstalled workspace's work stops; its drafts' text is cleared."""
        opened = ", ".join(f"'{state}'" for state in OPEN_STATES)
        with self.transaction():
            ended = self.db.execute(
                END_SUBMISSIONS.format(open=opened, mark="?"), [self._now(), key]
            ).rowcount
            self.db.execute(END_TASKS.format(mark="?"), [key])
        return int(ended)

    # -- work done once ------------------------------------------------------------

    def claim_job(self, name: str, every_seconds: float, owner: str) -> bool:
        """True for the one caller that may run a job now: none ran it for `every_seconds`."""
        now = self.clock()
        cur = self.db.execute(
            "INSERT INTO jobs (name, last_run_at, ran_by) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at, "
            "ran_by = excluded.ran_by WHERE jobs.last_run_at <= ?",
            [name, now.isoformat(), owner, (now - timedelta(seconds=every_seconds)).isoformat()],
        )
        return cur.rowcount == 1

    def shared_budget(self) -> None:
        """None: one process owns a SQLite file, so its own count is the whole budget."""
        return None

    # -- tasks ---------------------------------------------------------------------

    def record_task(self, **row: Any) -> None:
        """Insert or update one created task."""
        now = self._now()
        row["updated_at"] = now
        row.setdefault("created_at", now)
        row["workspace"] = self.scope()
        if not all(key.isidentifier() for key in row):
            raise ValueError("task columns must be plain names")
        later = [k for k in row if k not in ("task_id", "created_at", "workspace")]
        self.db.conn.execute(
            f"INSERT INTO tasks ({', '.join(row)}) VALUES ({', '.join('?' * len(row))}) "
            f"ON CONFLICT(task_id) DO UPDATE SET {', '.join(f'{k} = excluded.{k}' for k in later)}",
            list(row.values()),
        )

    def get_task(self, task_id: str) -> dict[str, Any] | None:
        """One recorded task of the workspace."""
        cur = self.db.conn.execute(
            "SELECT * FROM tasks WHERE task_id = ? AND workspace = ?", [task_id, self.scope()]
        )
        row = cur.fetchone()
        return dict(zip([d[0] for d in cur.description], row, strict=True)) if row else None

    # -- task status and the EHR-sync follow-up ----------------------------------------------

    def update_task(self, task_id: str, **changes: Any) -> None:
        """Change some columns of a recorded task (unknown IDs are ignored)."""
        changes["updated_at"] = self._now()
        self.db.execute(
            f"UPDATE tasks SET {', '.join(f'{k} = ?' for k in changes)} WHERE task_id = ?",
            [*changes.values(), task_id],
        )

    def due_follows(self, now: str, limit: int = 20) -> list[dict[str, Any]]:
        """Followed tasks whose next check is due, most overdue first."""
        rows = self.db.table("tasks").rows_where(
            "follow_until IS NOT NULL AND next_check_at <= ?",
            [now],
            order_by="next_check_at",
            limit=limit,
        )
        return list(rows)

    def claim_due_follows(
        self, owner: str, lease_seconds: float, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Claim followed tasks whose check is due and that no other process is checking."""
        now = self._now()
        cur = self.db.conn.execute(
            "UPDATE tasks SET claimed_by = ?, lease_until = ? WHERE task_id IN ("
            "SELECT task_id FROM tasks WHERE follow_until IS NOT NULL AND next_check_at <= ? "
            "AND (lease_until IS NULL OR lease_until <= ? OR claimed_by = ?) "
            "ORDER BY next_check_at LIMIT ?) RETURNING *",
            [owner, self._lease(lease_seconds), now, now, owner, limit],
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return sorted(rows, key=lambda r: r["next_check_at"] or "")

    def release_follows(self, owner: str) -> int:
        """Give up `owner`'s claims on follow checks; returns how many it held."""
        cur = self.db.conn.execute(
            "UPDATE tasks SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = ?", [owner]
        )
        return cur.rowcount

    def next_follow_at(self) -> str | None:
        """When the earliest followed task is due, if any is followed."""
        row = self.db.execute(
            "SELECT min(next_check_at) FROM tasks WHERE follow_until IS NOT NULL"
        ).fetchone()
        return row[0] if row else None

    def unfollowed_unsynced(self, since: str) -> list[str]:
        """Tasks with a card, created since `since`, not synced and never followed."""
        rows = self.db.execute(
            "SELECT task_id FROM tasks WHERE follow_checks IS NULL AND message_ts IS NOT NULL "
            "AND coalesce(sync_status, '') != 'synced' AND created_at >= ?",
            [since],
        ).fetchall()
        return [r[0] for r in rows]

    def recent_tasks(self, created_by: str, limit: int = 10) -> list[dict[str, Any]]:
        """Tasks one person created through the app, newest first."""
        rows = self.db.table("tasks").rows_where(
            "created_by = ? AND workspace = ?",
            [created_by, self.scope()],
            order_by="created_at DESC",
            limit=limit,
        )
        return list(rows)

    # -- the task watch: open tasks the app created, checked for changes ---------------------

    def watch_task(self, task_id: str, *, next_at: datetime, status: str | None) -> None:
        """Start watching a task: its first check, and the status its creator knows."""
        self.update_task(task_id, watch_next_at=next_at.isoformat(), watch_status=status)

    def claim_due_watches(
        self, owner: str, lease_seconds: float, *, created_since: datetime, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Claim watched tasks whose check is due, created since then, that no other process
        is checking; the most overdue first."""
        now = self._now()
        cur = self.db.conn.execute(
            "UPDATE tasks SET watch_claimed_by = ?, watch_lease_until = ? WHERE task_id IN ("
            "SELECT task_id FROM tasks WHERE watch_next_at IS NOT NULL AND watch_next_at <= ? "
            "AND created_at >= ? AND (watch_lease_until IS NULL OR watch_lease_until <= ? "
            "OR watch_claimed_by = ?) ORDER BY watch_next_at LIMIT ?) RETURNING *",
            [owner, self._lease(lease_seconds), now, created_since.isoformat(), now, owner, limit],
        )
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        return sorted(rows, key=lambda r: r["watch_next_at"] or "")

    def end_watches(self, created_before: datetime) -> int:
        """Stop watching tasks created before then (the watch's age limit); returns how many."""
        cur = self.db.conn.execute(
            "UPDATE tasks SET watch_next_at = NULL, watch_claimed_by = NULL, "
            "watch_lease_until = NULL WHERE watch_next_at IS NOT NULL AND created_at < ?",
            [created_before.isoformat()],
        )
        return cur.rowcount

    def release_watches(self, owner: str) -> int:
        """Give up `owner`'s claims on watch checks; returns how many it held."""
        cur = self.db.conn.execute(
            "UPDATE tasks SET watch_claimed_by = NULL, watch_lease_until = NULL "
            "WHERE watch_claimed_by = ?",
            [owner],
        )
        return cur.rowcount

    def next_watch_at(self) -> str | None:
        """When the earliest watched task is due, if any is watched."""
        row = self.db.execute(
            "SELECT min(watch_next_at) FROM tasks WHERE watch_next_at IS NOT NULL"
        ).fetchone()
        return row[0] if row else None

    # -- preferences ---------------------------------------------------------------------

    def notify_assigned(self, slack_user_ids: Iterable[str]) -> dict[str, bool]:
        """Whether each person wants a DM for tasks assigned to them (yes unless turned off)."""
        ids = list(dict.fromkeys(slack_user_ids))
        if not ids:
            return {}
        marks = ",".join("?" for _ in ids)
        rows = self.db.conn.execute(
            "SELECT slack_user_id, notify_assigned FROM preferences "
            f"WHERE workspace = ? AND slack_user_id IN ({marks})",
            [self.scope(), *ids],
        ).fetchall()
        chosen = {user_id: bool(on) for user_id, on in rows}
        return {user_id: chosen.get(user_id, True) for user_id in ids}

    def set_notify_assigned(self, slack_user_id: str, on: bool) -> None:
        """Turn one person's DMs for tasks assigned to them on or off."""
        self.db.conn.execute(
            "INSERT INTO preferences (workspace, slack_user_id, notify_assigned, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (workspace, slack_user_id) DO UPDATE SET "
            "notify_assigned = excluded.notify_assigned, updated_at = excluded.updated_at",
            [self.scope(), slack_user_id, int(on), self._now()],
        )

    def users_for_providers(self, provider_ids: Iterable[str]) -> dict[str, str]:
        """Slack user IDs linked to these providers, keyed by provider ID."""
        ids = list(dict.fromkeys(provider_ids))
        if not ids:
            return {}
        marks = ",".join("?" for _ in ids)
        rows = self.db.execute(
            f"SELECT provider_id, slack_user_id FROM links WHERE workspace = ? "
            f"AND provider_id IN ({marks}) ORDER BY slack_user_id",
            [self.scope(), *ids],
        ).fetchall()
        found: dict[str, str] = {}
        for provider_id, user_id in rows:
            found.setdefault(provider_id, user_id)
        return found

    def count_stale_links(self) -> int | None:
        """Links marked stale; None while the `stale_reason` column is absent (old schemas)."""
        if "stale_reason" not in self.db.table("links").columns_dict:
            return None
        row = self.db.execute(
            "SELECT count(*) FROM links WHERE workspace = ? AND stale_reason IS NOT NULL "
            "AND stale_reason != ''",
            [self.scope()],
        ).fetchone()
        return int(row[0])


def _enable_wal(db: sqlite_utils.Database, *, patience: float = 5.0) -> None:
    """Switch a file to WAL mode, waiting for other processes opening it at the same moment.

    On a new file SQLite may refuse the switch at once ("database is locked") instead of waiting
    for the busy timeout: waiting could deadlock two connections that both hold a read lock.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite opens it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
