"""The SQLite store's installations (many-workspace mode) and OAuth states.

Their SQL sits here rather than in store.py, which is long already; bot/db/pg_installations.py
is the PostgreSQL twin, statement for statement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

import sqlite_utils

from bot.db.interface import (
    INSTALLATION_COLUMNS,
    INSTALLATION_SAVED,
    UNINSTALLED,
    installation_from_row,
    installation_key,
    installation_row,
)

_SAVE = (
    f"INSERT INTO installations ({', '.join(INSTALLATION_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(INSTALLATION_COLUMNS))}) ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in INSTALLATION_SAVED)
    + ", installed_at = CASE WHEN installations.state = 'uninstalled' "
    "THEN excluded.installed_at ELSE installations.installed_at END, "
    "state = excluded.state, uninstalled_at = NULL"
)
_SELECT = f"SELECT {', '.join(INSTALLATION_COLUMNS)} FROM installations"


class SQLiteInstallations:
    """Installations and OAuth states on the SQLite file (SQLiteStore's part of them)."""

    db: sqlite_utils.Database
    clock: Callable[[], datetime]
    transaction: Callable[[], AbstractContextManager[None]]

    def _installations(self, where: str = "", params: list[Any] | None = None) -> Iterator[dict]:
        cur = self.db.execute(f"{_SELECT} {where}", params or [])
        names = [d[0] for d in cur.description]
        for values in cur.fetchall():
            yield installation_from_row(dict(zip(names, values, strict=True)))

    def save_installation(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store an installation, or a newer one of its key; the row as stored."""
        values = installation_row(row, self.clock().isoformat())
        with self.transaction():
            self.db.execute(_SAVE, values)
            saved = self.get_installation(values[0])
        assert saved is not None
        return saved

    def find_installation(
        self, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool
    ) -> dict[str, Any] | None:
        """The installation these IDs name (the enterprise's when org-wide), in any state."""
        try:
            # As slack_sdk's stores: no team ID means the enterprise's org-wide install.
            key = installation_key(enterprise_id, team_id, is_enterprise_install or not team_id)
        except ValueError:
            return None
        return self.get_installation(key)

    def get_installation(self, key: str) -> dict[str, Any] | None:
        """One installation by its key."""
        return next(self._installations("WHERE key = ?", [key]), None)

    def list_installations(self) -> list[dict[str, Any]]:
        """Every installation, in any state, by first installation time."""
        return list(self._installations("ORDER BY installed_at, key"))

    def set_installation_org(self, key: str, organization_id: str | None) -> bool:
        """Connect an installation to its MaxCare organization; False when there is none."""
        cur = self.db.execute(
            "UPDATE installations SET organization_id = ?, updated_at = ? WHERE key = ?",
            [organization_id, self.clock().isoformat(), key],
        )
        return cur.rowcount == 1

    def mark_uninstalled(self, key: str) -> bool:
        """Remove the installation's tokens at once and mark it uninstalled; the row stays."""
        now = self.clock().isoformat()
        cur = self.db.execute(
            "UPDATE installations SET bot_token_enc = NULL, bot_refresh_token_enc = NULL, "
            "bot_token_expires_at = NULL, state = ?, uninstalled_at = ?, updated_at = ? "
            "WHERE key = ? AND state <> ?",
            [UNINSTALLED, now, now, key, UNINSTALLED],
        )
        return cur.rowcount == 1

    def delete_installation(self, key: str) -> bool:
        """Forget an installation entirely; False when there was none."""
        return self.db.execute("DELETE FROM installations WHERE key = ?", [key]).rowcount == 1

    def replace_installation_tokens(
        self, key: str, old: tuple[str | None, str | None], new: tuple[str | None, str | None]
    ) -> bool:
        """Swap the (bot, refresh) token texts only if they are still `old`."""
        cur = self.db.execute(
            "UPDATE installations SET bot_token_enc = ?, bot_refresh_token_enc = ?, "
            "updated_at = ? WHERE key = ? AND bot_token_enc IS ? AND bot_refresh_token_enc IS ?",
            [*new, self.clock().isoformat(), key, *old],
        )
        return cur.rowcount == 1

    def count_links_by_workspace(self) -> dict[str, int]:
        """How many links each workspace has."""
        rows = self.db.execute("SELECT workspace, count(*) FROM links GROUP BY workspace")
        return {team: count for team, count in rows.fetchall()}

    def issue_oauth_state(self, state: str, expires_at: datetime) -> None:
        """Remember an OAuth state until it expires; expired ones are cleared."""
        with self.transaction():
            self.db.execute(
                "DELETE FROM oauth_states WHERE expires_at <= ?", [self.clock().isoformat()]
            )
            self.db.execute(
                "INSERT INTO oauth_states (state, expires_at) VALUES (?, ?)",
                [state, expires_at.isoformat()],
            )

    def consume_oauth_state(self, state: str, now: datetime) -> bool:
        """True once for a state issued and not expired."""
        cur = self.db.execute(
            "DELETE FROM oauth_states WHERE state = ? AND expires_at > ?", [state, now.isoformat()]
        )
        return cur.rowcount == 1
