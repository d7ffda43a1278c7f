"""DATABASE_URL: which database the settings name, how it is spelled, and how it is shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.db import describe_database, open_store
from bot.db.postgres import PostgresStore
from bot.db.store import SQLiteStore
from bot.errors import ConfigError
from bot.settings import DatabaseSettings, load_settings
from tests.support.cli import ALL_VARS

REQUIRED = {
    "SLACK_BOT_TOKEN": "xoxb-1-2-token",
    "SLACK_SIGNING_SECRET": "signing",
    "MAXCARE_API_KEY": "max_dev_ak_key",
    "MAXCARE_ORGANIZATION_ID": "org_1",
}


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    for key, value in REQUIRED.items():
        monkeypatch.setenv(key, value)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("postgresql://bot:pw@db.example:5432/tasks", "postgresql://bot:pw@db.example:5432/tasks"),
        ("postgres://bot:pw@db.example:5432/tasks", "postgresql://bot:pw@db.example:5432/tasks"),
        (" POSTGRES://h/d?sslmode=require ", "postgresql://h/d?sslmode=require"),
    ],
)
def test_a_postgres_url_selects_postgresql_spelled_as_libpq_reads_it(
    given: str, kept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", given)
    settings = load_settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == kept
    assert "pw" not in repr(settings) and "pw" not in str(settings.database_url)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_unset_or_empty_means_sqlite_at_database_path(
    value: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is not None:
        monkeypatch.setenv("DATABASE_URL", value)
    monkeypatch.setenv("DATABASE_PATH", "data/tasks.db")
    settings = load_settings()
    assert settings.database_url is None
    assert describe_database(settings) == "SQLite data/tasks.db"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("mysql://u:hunter2@h/d", "must be a postgresql://"),
        ("sqlite:///hunter2.db", "must be a postgresql://"),
        ("hunter2", "must be a postgresql://"),
        ("postgres://u:hunter2%zz@h/d", "must be a PostgreSQL URL that libpq can read"),
        ("postgresql://u:hunter2@h/d?hunter2=1", "must be a PostgreSQL URL that libpq can read"),
    ],
)
def test_an_unusable_url_stops_start_up_without_echoing_it(
    value: str, reason: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", value)
    with pytest.raises(ConfigError) as failed:
        load_settings()
    assert f"DATABASE_URL {reason}" in str(failed.value)
    assert "hunter2" not in str(failed.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://bot:hunter2@db.example:5432/tasks", "PostgreSQL db.example:5432/tasks"),
        ("postgresql://bot:hunter2@db.example/tasks", "PostgreSQL db.example/tasks"),
        ("postgresql://bot:hunter2@[::1]:6543/tasks", "PostgreSQL [::1]:6543/tasks"),
        ("postgresql:///tasks?host=/run/postgresql", "PostgreSQL /run/postgresql/tasks"),
    ],
)
def test_the_database_is_shown_by_host_and_name_never_the_password(url: str, shown: str) -> None:
    settings = DatabaseSettings(database_url=url)  # type: ignore[arg-type]
    assert describe_database(settings) == shown


def test_open_store_opens_the_database_the_settings_name(tmp_path: Path, pg_url: str) -> None:
    sqlite = open_store(DatabaseSettings(database_path=tmp_path / "x.db"))
    postgres = open_store(DatabaseSettings(database_url=pg_url))  # type: ignore[arg-type]
    try:
        assert isinstance(sqlite, SQLiteStore) and isinstance(postgres, PostgresStore)
        postgres.set_link("UNURSE", "prv_" + "a" * 32, actor="t")
        assert postgres.count_links() == 1 and sqlite.count_links() == 0
    finally:
        sqlite.close()
        postgres.close()
