"""The PostgreSQL store's installations (many-workspace mode) and OAuth states: SQLite's
statements (bot/db/sqlite_installations.py), each one round trip."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.db.interface import (
    INSTALLATION_COLUMNS,
    INSTALLATION_SAVED,
    UNINSTALLED,
    installation_from_row,
    installation_key,
    installation_row,
)
from bot.db.pg_connection import PgConnection

_SAVE = (
    f"INSERT INTO installations ({', '.join(INSTALLATION_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(INSTALLATION_COLUMNS))}) ON CONFLICT (key) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in INSTALLATION_SAVED)
    + ", installed_at = CASE WHEN installations.state = 'uninstalled' "
    "THEN excluded.installed_at ELSE installations.installed_at END, "
    f"state = excluded.state, uninstalled_at = NULL RETURNING {', '.join(INSTALLATION_COLUMNS)}"
)
_SELECT = f"SELECT {', '.join(INSTALLATION_COLUMNS)} FROM installations"


class PgInstallations(PgConnection):
    """Installations and OAuth states, as SQLite's store has them."""

    def save_installation(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store an installation, or a newer one of its key; the row as stored."""
        (saved,) = self._dicts(_SAVE, installation_row(row, self._now()))
        return installation_from_row(saved)

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
        rows = self._dicts(f"{_SELECT} WHERE key = %s", [key])
        return installation_from_row(rows[0]) if rows else None

    def list_installations(self) -> list[dict[str, Any]]:
        """Every installation, in any state, by first installation time."""
        rows = self._dicts(f"{_SELECT} ORDER BY installed_at, key")
        return [installation_from_row(r) for r in rows]

    def set_installation_org(self, key: str, organization_id: str | None) -> bool:
        """Connect an installation to its MaxCare organization; False when there is none."""
        return self._count(
            "UPDATE installations SET organization_id = %s, updated_at = %s WHERE key = %s",
            [organization_id, self._now(), key],
        ) == 1

    def mark_uninstalled(self, key: str) -> bool:
        """Remove the installation's tokens at once and mark it uninstalled; the row stays."""
        now = self._now()
        return self._count(
            "UPDATE installations SET bot_token_enc = NULL, bot_refresh_token_enc = NULL, "
            "bot_token_expires_at = NULL, state = %s, uninstalled_at = %s, updated_at = %s "
            "WHERE key = %s AND state <> %s",
            [UNINSTALLED, now, now, key, UNINSTALLED],
        ) == 1

    def delete_installation(self, key: str) -> bool:
        """Forget an installation entirely; False when there was none."""
        return self._count("DELETE FROM installations WHERE key = %s", [key]) == 1

    def replace_installation_tokens(
        self, key: str, old: tuple[str | None, str | None], new: tuple[str | None, str | None]
    ) -> bool:
        """Swap the (bot, refresh) token texts only if they are still `old`."""
        return self._count(
            "UPDATE installations SET bot_token_enc = %s, bot_refresh_token_enc = %s, "
            "updated_at = %s WHERE key = %s AND bot_token_enc IS NOT DISTINCT FROM %s "
            "AND bot_refresh_token_enc IS NOT DISTINCT FROM %s",
            [*new, self._now(), key, *old],
        ) == 1

    def count_links_by_workspace(self) -> dict[str, int]:
        """How many links each workspace has."""
        rows = self._all("SELECT workspace, count(*) FROM links GROUP BY workspace")
        return {team: int(count) for team, count in rows}

    def issue_oauth_state(self, state: str, expires_at: datetime) -> None:
        """Remember an OAuth state until it expires; expired ones are cleared (one trip)."""
        self._count(
            "WITH gone AS (DELETE FROM oauth_states WHERE expires_at <= %s) "
            "INSERT INTO oauth_states (state, expires_at) VALUES (%s, %s)",
            [self._now(), state, expires_at.isoformat()],
        )

    def consume_oauth_state(self, state: str, now: datetime) -> bool:
        """True once for a state issued and not expired."""
        return self._count(
            "DELETE FROM oauth_states WHERE state = %s AND expires_at > %s",
            [state, now.isoformat()],
        ) == 1
