"""Opening the store the settings name: PostgreSQL when DATABASE_URL is set, else SQLite."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot import tenancy
from bot.db.interface import Store, utcnow
from bot.db.store import SQLiteStore
from bot.settings import DatabaseSettings


def open_store(
    settings: DatabaseSettings,
    *,
    clock: Callable[[], datetime] = utcnow,
    scope: Callable[[], str] = tenancy.key_or_single,
) -> Store:
    """The store of DATABASE_URL (PostgreSQL) or DATABASE_PATH (SQLite), migrated; `scope`
    names the workspace each query is for (many-workspace mode: the served one, or refused)."""
    if settings.database_url is not None:
        # Imported here: psycopg loads libpq, which a SQLite deployment never needs.
        from bot.db.postgres import PostgresStore

        return PostgresStore(settings.database_url.get_secret_value(), clock=clock, scope=scope)
    return SQLiteStore(settings.database_path, clock=clock, scope=scope)


def describe_database(settings: DatabaseSettings) -> str:
    """Which database, for people: the SQLite file, or PostgreSQL's host and database name.

    Never the URL itself: it may carry the password.
    """
    if settings.database_url is None:
        return f"SQLite {settings.database_path}"
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(settings.database_url.get_secret_value())
    except Exception:  # a malformed URL; the error would echo it
        return "PostgreSQL (unreadable DATABASE_URL)"
    host = str(parts.get("host") or "localhost")
    host = f"[{host}]" if ":" in host else host
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"PostgreSQL {host}{port}/{parts.get('dbname') or parts.get('user') or ''}"
