"""The PostgreSQL store's task watch (its schedule and claims) and people's preferences."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bot.db.pg_connection import PgConnection


class PgWatch(PgConnection):
    """The task watch's rows and the preferences table, as SQLite's store has them."""

    def watch_task(self, task_id: str, *, next_at: datetime, status: str | None) -> None:
        """Start watching a task: its first check, and the status its creator knows."""
        self._count(
            "UPDATE tasks SET watch_next_at = %s, watch_status = %s, updated_at = %s "
            "WHERE task_id = %s",
            [next_at.isoformat(), status, self._now(), task_id],
        )

    def claim_due_watches(
        self, owner: str, lease_seconds: float, *, created_since: datetime, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Claim watched tasks whose check is due, created since then, that no other process
        is checking; the most overdue first (rows another instance is claiming are skipped)."""
        now = self._now()
        rows = self._dicts(
            "UPDATE tasks SET watch_claimed_by = %s, watch_lease_until = %s WHERE task_id IN ("
            "SELECT task_id FROM tasks WHERE watch_next_at IS NOT NULL AND watch_next_at <= %s "
            "AND created_at >= %s AND (watch_lease_until IS NULL OR watch_lease_until <= %s "
            "OR watch_claimed_by = %s) ORDER BY watch_next_at LIMIT %s FOR UPDATE SKIP LOCKED) "
            "RETURNING *",
            [owner, self._lease(lease_seconds), now, created_since.isoformat(), now, owner,
             limit],
        )
        return sorted(rows, key=lambda r: r["watch_next_at"] or "")

    def end_watches(self, created_before: datetime) -> int:
        """Stop watching tasks created before then (the watch's age limit); returns how many."""
        return self._count(
            "UPDATE tasks SET watch_next_at = NULL, watch_claimed_by = NULL, "
            "watch_lease_until = NULL WHERE watch_next_at IS NOT NULL AND created_at < %s",
            [created_before.isoformat()],
        )

    def release_watches(self, owner: str) -> int:
        """Give up `owner`'s claims on watch checks; returns how many it held."""
        return self._count(
            "UPDATE tasks SET watch_claimed_by = NULL, watch_lease_until = NULL "
            "WHERE watch_claimed_by = %s",
            [owner],
        )

    def next_watch_at(self) -> str | None:
        """When the earliest watched task is due, if any is watched."""
        rows = self._all("SELECT min(watch_next_at) FROM tasks WHERE watch_next_at IS NOT NULL")
        return rows[0][0] if rows else None

    def notify_assigned(self, slack_user_ids: Iterable[str]) -> dict[str, bool]:
        """Whether each person wants a DM for tasks assigned to them (yes unless turned off)."""
        ids = list(dict.fromkeys(slack_user_ids))
        if not ids:
            return {}
        rows = self._all(
            "SELECT slack_user_id, notify_assigned FROM preferences "
            "WHERE workspace = %s AND slack_user_id = ANY(%s)",
            [self.scope(), ids],
        )
        chosen = {user_id: bool(on) for user_id, on in rows}
        return {user_id: chosen.get(user_id, True) for user_id in ids}

    def set_notify_assigned(self, slack_user_id: str, on: bool) -> None:
        """Turn one person's DMs for tasks assigned to them on or off."""
        self._count(
            "INSERT INTO preferences (workspace, slack_user_id, notify_assigned, updated_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (workspace, slack_user_id) DO UPDATE SET "
            "notify_assigned = excluded.notify_assigned, updated_at = excluded.updated_at",
            [self.scope(), slack_user_id, int(on), self._now()],
        )
