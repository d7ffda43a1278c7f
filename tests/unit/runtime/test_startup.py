"""Start-up's verdicts on Slack, the database and MaxCare, its retries, and the MaxCare check."""

from __future__ import annotations

import asyncio
import logging
import socket
import sqlite3
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from bot.db.store import SQLiteStore
from bot.errors import (
    Forbidden,
    MaxCareAmbiguous,
    MaxCareUnavailable,
    NotReady,
    ServerError,
    Unauthorized,
)
from bot.maxcare import MaxCareClient
from bot.runtime.startup import (
    MaxCareCheck,
    database_not_ready,
    maxcare_not_ready,
    origin,
    until_ready,
)
from bot.settings import Settings
from bot.slack.client import connect, not_ready
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.processes import free_port

URL = "https://api.maxcare.example/v4"


# --- Slack (auth.test through the app's own client)


@pytest.mark.parametrize("error", ["invalid_auth", "not_authed", "account_inactive"])
async def test_slack_refusing_the_token_is_permanent(
    settings: Settings, slack: FakeSlack, error: str
) -> None:
    slack.fail("auth.test", error)
    with pytest.raises(NotReady) as caught:
        await connect(settings)
    assert caught.value.permanent
    assert str(caught.value) == f"Slack refused SLACK_BOT_TOKEN ({error})"
    assert slack.token not in str(caught.value)


async def test_a_wrong_token_is_invalid_auth(settings: Settings) -> None:
    wrong = settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-not-the-token")})
    with pytest.raises(NotReady, match="refused SLACK_BOT_TOKEN") as caught:
        await connect(wrong)
    assert caught.value.permanent and "xoxb" not in str(caught.value)


async def test_slack_saying_not_now_is_worth_waiting_for(
    settings: Settings, slack: FakeSlack
) -> None:
    slack.fail("auth.test", "service_unavailable")
    with pytest.raises(NotReady) as caught:
        await connect(settings)
    assert not caught.value.permanent
    assert "answered service_unavailable" in str(caught.value)


async def test_an_unreachable_slack_is_worth_waiting_for(settings: Settings) -> None:
    closed = f"http://127.0.0.1:{free_port()}/api/?token=secret"
    with pytest.raises(NotReady) as caught:
        await connect(settings.model_copy(update={"slack_api_url": closed}))
    problem = caught.value
    assert not problem.permanent
    assert str(problem) == f"Slack unreachable at {origin(closed)} (connection refused)"
    assert "secret" not in str(problem) and "/api" not in str(problem)


def test_a_services_location_is_told_without_its_user_path_or_query() -> None:
    assert origin("https://bot:pw@slack.example:8443/api/?token=x") == "https://slack.example:8443"
    assert origin("https://api.maxcare.ai/v4") == "https://api.maxcare.ai"


def test_a_host_that_does_not_resolve_says_so() -> None:
    # Built rather than looked up: no test asks a real resolver.
    failed = aiohttp.ClientConnectionError("Cannot connect to host slack.example:443")
    failed.__cause__ = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    problem = not_ready(failed, token="SLACK_BOT_TOKEN", url="https://slack.example/api/")
    assert not problem.permanent
    said = "Slack unreachable at https://slack.example (cannot resolve the host name)"
    assert str(problem) == said


# --- The database


def test_a_directory_is_no_database(tmp_path: Path) -> None:
    with pytest.raises(OSError) as caught:
        SQLiteStore(tmp_path)
    problem = database_not_ready(caught.value, f"SQLite {tmp_path}")
    assert problem.permanent and str(tmp_path) in str(problem)


def test_a_file_that_is_not_sqlite_is_no_database(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    path.write_bytes(b"not a database at all, " * 100)
    with pytest.raises(sqlite3.DatabaseError) as caught:
        SQLiteStore(path)
    assert database_not_ready(caught.value, "SQLite bot.db").permanent


def test_a_locked_database_is_worth_waiting_for() -> None:
    problem = database_not_ready(sqlite3.OperationalError("database is locked"), "SQLite x")
    assert not problem.permanent
    assert str(problem) == "database SQLite x is not available (database is locked)"


class _PsycopgLike(Exception):
    """An exception as the PostgreSQL driver raises them (its module, its sqlstate)."""

    __module__ = "psycopg"

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class ProgrammingError(_PsycopgLike):
    """Named as the driver names its "bad connection string" error."""

    __module__ = "psycopg"


@pytest.mark.parametrize(("exc", "permanent", "said"), [
    (_PsycopgLike('password authentication failed for user "bot"', "28P01"), True,
     "refused the credentials"),
    (_PsycopgLike("FATAL: password authentication failed"), True, "refused the credentials"),
    (_PsycopgLike('database "bot" does not exist', "3D000"), True, "does not exist"),
    (ProgrammingError('invalid dsn: missing "=" after "postgresql://u:hunter2@db"'), True,
     "malformed DATABASE_URL"),
    (_PsycopgLike("the database system is starting up", "57P03"), False, "57P03"),
    (_PsycopgLike("connection refused"), False, "not available"),
])
def test_postgresql_failures_are_sorted_by_their_code(
    exc: Exception, permanent: bool, said: str
) -> None:
    problem = database_not_ready(exc, "PostgreSQL db:5432/bot")
    assert problem.permanent is permanent
    assert said in str(problem)
    assert "hunter2" not in str(problem) and "FATAL" not in str(problem)  # no driver text


# --- MaxCare


@pytest.mark.parametrize(("exc", "permanent"), [
    (Unauthorized(401, "unauthorized", "Invalid or missing API key"), True),
    (Forbidden(403, "forbidden", "Organization not accessible"), True),
    (ServerError(503, "unavailable", "down"), False),
    (MaxCareUnavailable("could not connect (ConnectError)"), False),
    (MaxCareAmbiguous("no answer (ReadTimeout)"), False),
])
def test_only_a_refusal_of_the_credentials_is_fatal(exc: Exception, permanent: bool) -> None:
    assert isinstance(exc, Unauthorized | Forbidden | ServerError | MaxCareUnavailable
                      | MaxCareAmbiguous)
    problem = maxcare_not_ready(exc, URL)
    assert problem.permanent is permanent and problem.service == "MaxCare"
    assert "/v4" not in str(problem)  # where, not which path


def _client(maxcare: FakeMaxCare, key: str | None = None) -> MaxCareClient:
    return MaxCareClient(
        base_url=maxcare.url, api_key=key or maxcare.api_key,
        organization_id=maxcare.organization_id, max_attempts=1,
    )


async def test_the_check_of_a_down_maxcare_warns_once_then_sees_it_back(
    maxcare: FakeMaxCare, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot.startup")
    maxcare.set_down(True)
    refusals: list[NotReady] = []
    check = MaxCareCheck(_client(maxcare), maxcare.url, refused=refusals.append, first=0.01)
    running = asyncio.create_task(check.run())
    await asyncio.wait_for(check.answered.wait(), 10)
    assert check.waiting_for is not None and "answered 503" in str(check.waiting_for)
    while len(maxcare.requests("GET", "/providers")) < 3:  # still checking
        await asyncio.sleep(0.01)
    maxcare.set_down(False)
    await asyncio.wait_for(running, 10)
    assert refusals == [] and check.waiting_for is None
    warnings = [r for r in caplog.records if r.name == "bot.startup" and r.levelname == "WARNING"]
    assert len(warnings) == 1 and "MaxCare at" in warnings[0].getMessage()
    assert any("answers again" in r.getMessage() for r in caplog.records)


async def test_the_check_reports_a_refused_key_even_after_an_outage(
    maxcare: FakeMaxCare,
) -> None:
    maxcare.set_down(True)
    refusals: list[NotReady] = []
    check = MaxCareCheck(
        _client(maxcare, key="max_dev_ak_wrong"), maxcare.url, refused=refusals.append,
        first=0.01,
    )
    running = asyncio.create_task(check.run())
    await asyncio.wait_for(check.answered.wait(), 10)
    assert refusals == []
    maxcare.set_down(False)
    await asyncio.wait_for(running, 10)
    (refused,) = refusals
    assert refused.permanent and "refused MAXCARE_API_KEY" in str(refused)
    assert "max_dev_ak_wrong" not in str(refused)


# --- Retrying


async def test_until_ready_retries_what_can_pass_and_says_so_each_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tries = 0
    heard: list[NotReady | None] = []

    async def attempt() -> str:
        nonlocal tries
        tries += 1
        if tries < 3:
            raise NotReady("Slack", "unreachable at http://x (connection refused)",
                           permanent=False)
        return "built"

    got = await until_ready(attempt, stop=asyncio.Event(), waiting=heard.append, first=0.001)
    assert got == "built" and tries == 3
    assert [str(h) if h else None for h in heard] == [
        "Slack unreachable at http://x (connection refused)",
        "Slack unreachable at http://x (connection refused)",
        None,
    ]
    lines = [r.getMessage() for r in caplog.records if r.name == "bot.startup"]
    assert [line.endswith(f"(attempt {n})") for n, line in enumerate(lines, 1)] == [True, True]


async def test_until_ready_gives_up_at_once_on_a_permanent_problem() -> None:
    tries = 0

    async def attempt() -> str:
        nonlocal tries
        tries += 1
        raise NotReady("Slack", "refused SLACK_BOT_TOKEN (invalid_auth)", permanent=True)

    with pytest.raises(NotReady, match="invalid_auth"):
        await until_ready(attempt, stop=asyncio.Event(), first=0.001)
    assert tries == 1


async def test_stopping_cancels_the_attempt_in_hand() -> None:
    stop = asyncio.Event()
    started, cancelled = asyncio.Event(), asyncio.Event()

    async def attempt() -> str:
        started.set()
        try:
            await asyncio.Event().wait()  # an auth.test that never answers
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "never"

    waiting = asyncio.create_task(until_ready(attempt, stop=stop))
    await started.wait()
    stop.set()
    assert await asyncio.wait_for(waiting, 10) is None
    assert cancelled.is_set()


async def test_stopping_ends_the_wait_between_attempts() -> None:
    stop = asyncio.Event()
    tries = 0

    async def attempt() -> str:
        nonlocal tries
        tries += 1
        stop.set()  # a SIGTERM while the first attempt fails
        raise NotReady("database", "SQLite x is not available (locked)", permanent=False)

    # The first wait is an hour: only the stop can end it within the test's timeout.
    assert await until_ready(attempt, stop=stop, first=3600.0, longest=3600.0) is None
    assert tries == 1
