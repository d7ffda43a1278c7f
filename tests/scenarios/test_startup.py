"""`python -m bot` starting with Slack, MaxCare or the database unreachable or refusing it:
one line saying which and why, retries while waiting can help, a non-zero exit when not."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.db.store import SQLiteStore
from tests.support import payloads
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import DOCTOR, NURSE
from tests.support.processes import App, free_port

WAIT = 30.0  # generous: the machine may be busy; every wait ends on an event


class Starting:
    """`python -m bot` launched without waiting for it to be healthy."""

    def __init__(self, app: App) -> None:
        self.app = app
        with app.log.open("ab") as sink:
            app.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"], cwd=app.cwd, env=app.env,
                stdout=sink, stderr=subprocess.STDOUT,
            )
        self.proc = app.proc

    def lines(self) -> list[str]:
        text = self.app.log.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines() if line.strip()]

    def line_with(self, text: str) -> str:
        """The first log line containing `text`, once the process has written it."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            found = [line for line in self.lines() if text in line]
            if found:
                return found[0]
            if self.proc.poll() is not None:
                pytest.fail(f"exited {self.proc.returncode} before saying {text!r}:\n"
                            + "\n".join(self.lines()))
            time.sleep(0.05)
        pytest.fail(f"never said {text!r}:\n" + "\n".join(self.lines()))

    def health(self) -> httpx.Response:
        return httpx.get(f"{self.app.url}/healthz", timeout=5)

    def until_healthy(self) -> None:
        def healthy() -> bool:
            try:
                return self.health().status_code == 200
            except httpx.TransportError:  # not listening yet
                return False

        _until(healthy, "/healthz 200", self)


def _until(condition: Callable[[], object], what: str, running: Starting) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n" + "\n".join(running.lines()))
        time.sleep(0.05)


@pytest.fixture
def app(slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path) -> Iterator[App]:
    running = App(slack, maxcare, tmp_path)
    try:
        yield running
    finally:
        running.stop()


def _exits(app: App) -> tuple[int, list[str]]:
    """Run the app to its end; its exit status and its non-empty output lines."""
    done = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=app.cwd, env=app.env,
        capture_output=True, text=True, timeout=WAIT,
    )
    output = done.stdout + done.stderr
    return done.returncode, [line for line in output.splitlines() if line.strip()]


def _no_secrets(lines: list[str], *secrets: str) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text
    for secret in secrets:
        assert secret not in text


def test_an_unreachable_slack_is_one_line_a_try_and_503_meanwhile(app: App) -> None:
    closed = free_port()  # nothing listens there
    app.env["SLACK_API_URL"] = f"http://127.0.0.1:{closed}/api/"
    running = Starting(app)

    first = running.line_with("(attempt 1)")
    assert f"Slack unreachable at http://127.0.0.1:{closed} (connection refused)" in first
    health = running.health()  # the port answers while start-up waits
    assert health.status_code == 503
    assert health.json()["status"] == "not ready"
    assert "Slack unreachable" in health.json()["waiting_for"]
    body, headers = payloads.slash_command("help")
    events = httpx.post(f"{app.url}/slack/events", content=body, headers=headers, timeout=5)
    assert (events.status_code, events.text) == (503, "not ready")  # Slack retries it later
    assert httpx.get(f"{app.url}/metrics", timeout=5).status_code == 503

    running.line_with("(attempt 2)")  # it keeps trying
    assert running.proc.poll() is None
    lines = running.lines()
    assert all("Slack unreachable" in line for line in lines), lines  # one line a try
    _no_secrets(lines, app.env["SLACK_BOT_TOKEN"])

    assert app.terminate(WAIT) == 0  # a SIGTERM while waiting ends it at once, cleanly


@pytest.mark.parametrize(("variable", "value"), [
    ("SLACK_BOT_TOKEN", "xoxb-not-this-workspaces-token"),
    ("SLACK_APP_TOKEN", "xapp-not-this-apps-token"),  # Socket Mode's token
])
def test_a_refused_slack_token_exits_with_one_line(app: App, variable: str, value: str) -> None:
    app.env[variable] = value
    status, lines = _exits(app)
    assert status == 2
    assert len(lines) == 1, lines
    assert f"Slack refused {variable} (invalid_auth); not starting" in lines[0]
    _no_secrets(lines, value)


@pytest.mark.parametrize(("variable", "value", "status"), [
    ("MAXCARE_API_KEY", "max_dev_ak_not_the_key", 401),
    ("MAXCARE_ORGANIZATION_ID", "org_not_this_keys", 403),
])
def test_a_refused_maxcare_key_exits_with_one_line(
    app: App, maxcare: FakeMaxCare, variable: str, value: str, status: int
) -> None:
    app.env[variable] = value
    code, lines = _exits(app)
    assert code == 2
    assert len(lines) == 1, lines
    assert f"MaxCare refused {variable}" in lines[0] and f"({status} " in lines[0]
    assert "not starting" in lines[0]
    _no_secrets(lines, maxcare.api_key, value if status == 401 else maxcare.api_key)
    assert maxcare.requests("GET", "/providers")  # it was the one cheap GET that said so


def test_an_unreachable_maxcare_is_one_warning_and_the_app_serves(app: App) -> None:
    closed = free_port()
    app.env["MAXCARE_API_URL"] = f"http://127.0.0.1:{closed}/v4"
    running = Starting(app)
    running.until_healthy()
    warning = running.line_with("MaxCare unreachable")
    assert f"at http://127.0.0.1:{closed} (ConnectError)" in warning
    assert "WARNING" in warning
    assert len([line for line in running.lines() if "MaxCare" in line]) == 1
    assert app.terminate(WAIT) == 0


def test_a_down_maxcare_still_takes_submissions_and_creates_them_once_back(
    app: App, maxcare: FakeMaxCare
) -> None:
    nurse = maxcare.add_provider(first_name="Nina", last_name="Nurse")
    doctor = maxcare.add_provider(first_name="James", last_name="Wilson")
    app.cli("links", "add", NURSE, nurse["id"])
    app.cli("links", "add", DOCTOR, doctor["id"])
    maxcare.set_down(True)  # every request answered 503
    running = Starting(app)
    running.until_healthy()
    assert "MaxCare at" in running.line_with("answered 503")

    app.submit("Queued while MaxCare is down")  # validated, stored, acked
    assert maxcare.all_tasks() == []
    maxcare.set_down(False)
    _until(lambda: len(maxcare.all_tasks()) == 1, "the task, once MaxCare is back", running)
    running.line_with("MaxCare answers again")
    _no_secrets(running.lines(), maxcare.api_key, "Queued while MaxCare")


def test_an_unusable_database_location_exits_with_one_line(app: App, tmp_path: Path) -> None:
    app.env["DATABASE_PATH"] = str(tmp_path)  # a directory
    status, lines = _exits(app)
    assert status == 2
    assert len(lines) == 1, lines
    assert f"database SQLite {tmp_path} cannot be opened" in lines[0]
    assert "not starting" in lines[0]


def test_a_locked_database_is_waited_for(app: App, tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    SQLiteStore(path).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # as another process's long migration would
    try:
        running = Starting(app)
        line = running.line_with("(attempt 1)")
        assert f"database SQLite {path} is not available (database is locked)" in line
        health = running.health()
        assert health.status_code == 503 and "database" in health.json()["waiting_for"]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    running.until_healthy()
    running.line_with("ready in HTTP mode")
    assert app.proc is not None
    app.proc.send_signal(signal.SIGTERM)
    assert app.proc.wait(WAIT) == 0


def test_a_key_refused_once_maxcare_is_back_stops_the_app(
    app: App, maxcare: FakeMaxCare
) -> None:
    maxcare.set_down(True)
    running = Starting(app)
    running.until_healthy()  # serving without MaxCare
    maxcare.api_key = "max_dev_ak_rotated_meanwhile"  # the app's key is no longer accepted
    maxcare.set_down(False)
    line = running.line_with("MaxCare refused MAXCARE_API_KEY")
    assert line.endswith("; stopping")
    assert app.proc is not None and app.proc.wait(WAIT) == 2
    _no_secrets(running.lines(), maxcare.api_key, app.env["MAXCARE_API_KEY"])


def test_many_workspace_mode_starts_with_no_organization_to_check(
    app: App, slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    """No workspace is connected at start-up, so there is no organization to ask MaxCare as:
    the app starts, serves the install page, and sends MaxCare nothing meanwhile."""
    from bot.workspaces.tokens import new_key

    del app.env["SLACK_BOT_TOKEN"], app.env["MAXCARE_ORGANIZATION_ID"]
    app.env.pop("BOT_ADMINS", None)
    app.env.update(
        SLACK_CLIENT_ID=slack.client_id,
        SLACK_CLIENT_SECRET=slack.client_secret,
        TOKEN_ENCRYPTION_KEY=new_key(),
    )
    running = Starting(app)
    running.until_healthy()
    page = httpx.get(f"{app.url}/slack/install", timeout=5)
    assert page.status_code == 200 and "slack.com/oauth/v2/authorize" in page.text
    assert maxcare.requests() == []
    lines = running.lines()
    _no_secrets(lines, slack.client_secret, maxcare.api_key)
    assert app.terminate(WAIT) == 0
