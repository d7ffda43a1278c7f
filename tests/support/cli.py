"""Running `python -m bot …` in-process or as a real process, and reading the links table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.db.store import SQLiteStore
from tests.support import ROOT

# Every variable the app reads, so a test can start from none of them.
ALL_VARS = (
    "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_API_URL",
    "MAXCARE_API_KEY", "MAXCARE_ORGANIZATION_ID", "MAXCARE_API_URL",
    "MAXCARE_RATE_LIMIT_PER_MINUTE", "MAXCARE_TIMEOUT_SECONDS", "DATABASE_PATH", "DATABASE_URL",
    "PORT",
    "BOT_ADMINS", "LOG_LEVEL", "LOG_FORMAT", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET",
    "TOKEN_ENCRYPTION_KEY",
)  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`python -m bot ARGV` in this process: (exit status, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def table(path: Path) -> list[tuple[str, str]]:
    """The links table of the database at path, as (Slack user, provider) pairs."""
    store = SQLiteStore(path)
    try:
        return [(link.slack_user_id, link.provider_id) for link in store.list_links()]
    finally:
        store.close()


def configure(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """Set these environment variables for the test."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def process_env(**extra: str) -> dict[str, str]:
    """A bare environment for a child process: PATH, the repository, and extra."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **extra}


def run_process(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGV` as a real process in tmp_path."""
    return subprocess.run(
        [sys.executable, "-m", "bot", *argv],
        cwd=tmp_path, env=process_env(**env), capture_output=True, text=True, timeout=30,
    )  # fmt: skip
