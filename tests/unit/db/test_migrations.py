"""SQLite migrations from every earlier schema version, with rows in it, up to the latest."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from bot.db.schema import MIGRATIONS
from bot.db.store import SQLiteStore
from tests.support.ids import NOTE, PRV_A, TASK


def _database_at(path: Path, version: int) -> None:
    """A database as a release with `version` migrations left it, with a row in every table."""
    db = sqlite_utils.Database(sqlite3.connect(str(path), isolation_level=None))
    for step in MIGRATIONS[:version]:
        step(db)
    db.execute(f"PRAGMA user_version = {version}")
    db.execute(
        "INSERT INTO links (slack_user_id, provider_id, provider_name, team_id, linked_by, "
        "linked_at) VALUES ('UDOC', ?, 'Dr. Wilson', 'T0TEAM', 'test', ?)",
        [PRV_A, "2026-01-01T00:00:00+00:00"],
    )
    db.execute(
        "INSERT INTO link_events (slack_user_id, actor, at, old_provider_id, new_provider_id) "
        "VALUES ('UDOC', 'test', '2026-01-01T00:00:00+00:00', NULL, ?)", [PRV_A],
    )
    db.execute(
        "INSERT INTO submissions (view_id, team_id, user_id, source, note_id, notes, "
        "assignee_user_ids, provider_id, assignee_ids, state, attempts, created_at, updated_at) "
        "VALUES ('VOLD', 'T0TEAM', 'UNURSE', 'command', ?, 'Old text', ?, ?, ?, 'pending', 0, "
        "'2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
        [NOTE, json.dumps(["UDOC"]), PRV_A, json.dumps([PRV_A])],
    )
    db.execute(
        "INSERT INTO tasks (task_id, view_id, note_id, status, sync_status, created_by, "
        "created_at, updated_at) VALUES (?, 'VOLD', ?, 'not_started', 'pending', 'UNURSE', "
        "'2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')",
        [TASK, NOTE],
    )
    db.close()


@pytest.mark.parametrize("version", range(1, len(MIGRATIONS)))
def test_every_earlier_version_with_rows_migrates_to_the_latest(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / f"v{version}.db"
    _database_at(path, version)
    store = SQLiteStore(path)
    try:
        assert store.schema_version() == len(MIGRATIONS)
        link = store.get_link("UDOC")
        assert link is not None and link.provider_id == PRV_A and link.stale_reason is None
        assert [e.new_provider_id for e in store.link_events("UDOC")] == [PRV_A]
        sub = store.get_submission("VOLD")
        assert sub is not None and sub.notes == "Old text" and sub.ambiguous == 0
        assert sub.claimed_by is None and sub.lease_until is None
        assert store.claim_due_submissions("me", 30) == ["VOLD"]  # taken up after the upgrade
        task = store.get_task(TASK)
        assert task is not None and task["status"] == "not_started"
        assert task["follow_until"] is None and task["claimed_by"] is None
    finally:
        store.close()
