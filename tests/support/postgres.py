"""Real PostgreSQL in tests: the server named by TEST_DATABASE_URL, a fresh database per test.

Without a server the PostgreSQL tests skip, saying why; under CI (CI=true) they fail instead,
so a CI run can never pass without having run them. Tests marked `both_databases` run twice,
on SQLite and on PostgreSQL, through the `database` fixture (the `settings` fixture and the
process helpers read it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

TEST_URL_VARIABLE = "TEST_DATABASE_URL"
DATABASES = ("sqlite", "postgres")


@dataclass(frozen=True)
class PgServer:
    """A reachable PostgreSQL server, as a URL to its maintenance database."""

    url: str

    def url_for(self, dbname: str) -> str:
        """The same server and login, another database."""
        return urlunsplit(urlsplit(self.url)._replace(path=f"/{dbname}"))

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """A connection for CREATE and DROP DATABASE."""
        return psycopg.connect(self.url, autocommit=True, connect_timeout=5)

    @contextmanager
    def database(self, prefix: str = "bot_test") -> Iterator[str]:
        """The URL of a new, empty database, dropped afterwards (connections and all)."""
        name = f"{prefix}_{secrets.token_hex(6)}"
        with self.admin() as conn:
            # FILE_COPY: quicker than logging every page of the template, for a small database.
            create = "CREATE DATABASE {} TEMPLATE template0 STRATEGY FILE_COPY"
            conn.execute(sql.SQL(create).format(sql.Identifier(name)))
        try:
            yield self.url_for(name)
        finally:
            with self.admin() as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """The server of TEST_DATABASE_URL, checked once per session."""
    url = os.environ.get(TEST_URL_VARIABLE, "").strip()
    if not url:
        _unavailable(f"{TEST_URL_VARIABLE} is not set")
    server = PgServer(url.replace("postgres://", "postgresql://", 1))
    try:
        with server.admin() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        _unavailable(f"cannot reach the server of {TEST_URL_VARIABLE} ({exc})")
    return server


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test (connections and all)."""
    with pg_server.database() as url:
        yield url


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str:
    """Which backend the test runs on: "sqlite", or both for tests marked both_databases."""
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
def database_url(database: str, request: pytest.FixtureRequest) -> str | None:
    """DATABASE_URL for the test's backend: a fresh PostgreSQL database, or None for SQLite."""
    if database != "postgres":
        return None
    return str(request.getfixturevalue("pg_url"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests marked both_databases once per backend."""
    if "database" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "both_databases"
    ):
        metafunc.parametrize("database", DATABASES, indirect=True)
