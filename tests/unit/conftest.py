"""Fixtures of the command-line tests: an empty working directory, or one pointed at the fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.cli import ALL_VARS
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import env_for


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with DATABASE_PATH set and nothing else configured."""
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "links.db"
    monkeypatch.setenv("DATABASE_PATH", str(path))
    return path


@pytest.fixture
def fakes(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeSlack, FakeMaxCare, Path]:
    """The environment pointing the CLI at the fakes and an empty database."""
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "cli.db"
    for key, value in env_for(slack, maxcare, db).items():
        monkeypatch.setenv(key, value)
    return slack, maxcare, db
