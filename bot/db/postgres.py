"""The PostgreSQL store (DATABASE_URL): the SQLite store's methods and rows, for several instances.

Synchronous, like the SQLite store, through psycopg 3's blocking API (bot/db/interface.py says
why): every call that reaches the server holds the event loop for its round trip, so calls are
one statement where they can be, and links are answered from memory (bot/db/pg_links.py). What
differs from SQLite because other instances share the database: sweeps claim rows with
`UPDATE … WHERE … IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`, so two instances sweeping at
once take different rows and never wait for each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from psycopg.rows import dict_row

from bot.db.interface import (
    END_SUBMISSIONS,
    END_TASKS,
    OPEN_STATES,
    SUBMISSION_COLUMNS,
    Submission,
    submission_changes,
    submission_from_row,
    submission_values,
)
from bot.db.pg_budget import PgBudget
from bot.db.pg_connection import update_sql, upsert_sql
from bot.db.pg_installations import PgInstallations
from bot.db.pg_links import LINK_CACHE_SECONDS, PgLinks
from bot.db.pg_watch import PgWatch

__all__ = ["LINK_CACHE_SECONDS", "PostgresStore"]

_SUBMISSION_MARKS = ", ".join(["%s"] * len(SUBMISSION_COLUMNS))
# One round trip: insert unless the view has a row; if it had, that row (the statement's
# snapshot predates its own insert, so a row is returned only when there was one already).
_ADD_SUBMISSION = (
    f"WITH ins AS (INSERT INTO submissions ({', '.join(SUBMISSION_COLUMNS)}) "
    f"VALUES ({_SUBMISSION_MARKS}) ON CONFLICT (view_id) DO NOTHING RETURNING view_id) "
    "SELECT EXISTS (SELECT 1 FROM ins) AS inserted, s.* FROM (VALUES (1)) AS one "
    "LEFT JOIN submissions s ON s.view_id = %s"
)


class PostgresStore(PgLinks, PgWatch, PgInstallations):
    """Store on a PostgreSQL database; one instance per process, used from the event loop."""

    # -- submissions (the outbox) --------------------------------------------------

    def add_submission(self, sub: Submission) -> tuple[Submission, bool]:
        """Store a submission unless its view already has one; returns (row, inserted)."""
        return self.add_submissions([sub])[0]

    def add_submissions(self, subs: Sequence[Submission]) -> list[tuple[Submission, bool]]:
        """Store several submissions in one transaction (one commit): (row, inserted) each."""
        now = self._now()
        params = []
        for sub in subs:
            sub.workspace = self.scope()
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

    def outbox_summary(self) -> dict[str, tuple[int, str | None]]:
        """Unfinished submissions by state: how many, and the oldest latest ack (for /metrics)."""
        rows = self._all(
            "SELECT state, count(*), min(coalesce(acked_at, created_at)) FROM submissions "
            "WHERE state = ANY(%s) AND confirmed_at IS NULL GROUP BY state",
            [list(OPEN_STATES)],
        )
        return {str(state): (int(count), oldest) for state, count, oldest in rows}

    def update_submission(self, view_id: str, **changes: Any) -> None:
        """Change some columns of one submission."""
        changes = submission_changes(changes, self._now())
        query = update_sql("submissions", "view_id", tuple(changes))
        self._count(query, [*changes.values(), view_id])

    def task_for_message(self, message_key: str) -> str | None:
        """The task already created from a message (channel:ts), if any."""
        rows = self._all(
            "SELECT task_id FROM submissions WHERE message_key = %s AND workspace = %s "
            "AND task_id IS NOT NULL ORDER BY created_at DESC LIMIT 1",
            [message_key, self.scope()],
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

    def end_workspace_work(self, key: str) -> int:
        """An uninstalled workspace's work stops; its drafts' text is cleared."""
        opened = ", ".join(f"'{state}'" for state in OPEN_STATES)
        with self.transaction(), self._conn() as conn:
            ended = conn.execute(
                END_SUBMISSIONS.format(open=opened, mark="%s"), [self._now(), key]
            ).rowcount
            conn.execute(END_TASKS.format(mark="%s"), [key])
        return int(ended)

    # -- work done once, and MaxCare's budget ---------------------------------------

    def claim_job(self, name: str, every_seconds: float, owner: str) -> bool:
        """True for the one caller that may run a job now: none ran it for `every_seconds`."""
        now = self.clock()
        # One statement: of instances racing for the row, the first to write it wins and the
        # others' WHERE then sees its new time.
        return (
            self._count(
                "INSERT INTO jobs (name, last_run_at, ran_by) VALUES (%s, %s, %s) "
                "ON CONFLICT (name) DO UPDATE SET last_run_at = excluded.last_run_at, "
                "ran_by = excluded.ran_by WHERE jobs.last_run_at <= %s",
                [
                    name,
                    now.isoformat(),
                    owner,
                    (now - timedelta(seconds=every_seconds)).isoformat(),
                ],
            )
            == 1
        )

    def shared_budget(self) -> PgBudget:
        """MaxCare's budget as every instance on this database counts it."""
        return PgBudget(self.pool)

    # -- tasks ---------------------------------------------------------------------

    def record_task(self, **row: Any) -> None:
        """Insert or update one created task."""
        now = self._now()
        row["updated_at"] = now
        row.setdefault("created_at", now)
        row["workspace"] = self.scope()
        if not all(key.isidentifier() for key in row):
            raise ValueError("task columns must be plain names")
        keep = ("created_at", "workspace")
        self._count(upsert_sql("tasks", "task_id", tuple(row), keep=keep),
                    list(row.values()))  # fmt: skip

    def get_task(self, task_id: str) -> dict[str, Any] | None:
        """One recorded task of the workspace."""
        rows = self._dicts(
            "SELECT * FROM tasks WHERE task_id = %s AND workspace = %s", [task_id, self.scope()]
        )
        return rows[0] if rows else None

    def update_task(self, task_id: str, **changes: Any) -> None:
        """Change some columns of a recorded task (unknown IDs are ignored)."""
        changes["updated_at"] = self._now()
        self._count(update_sql("tasks", "task_id", tuple(changes)), [*changes.values(), task_id])

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

    def release_follows(self, owner: str) -> int:
        """Give up `owner`'s claims on follow checks; returns how many it held."""
        return self._count(
            "UPDATE tasks SET claimed_by = NULL, lease_until = NULL WHERE claimed_by = %s", [owner]
        )

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
            "SELECT * FROM tasks WHERE created_by = %s AND workspace = %s "
            "ORDER BY created_at DESC LIMIT %s",
            [created_by, self.scope(), limit],
        )
