"""The WAL is copied into the database file by a thread, never by a submission's commit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.db.checkpoint import Checkpointer
from bot.db.store import SQLiteStore, Submission
from tests.support.status import wait_until

WAIT = 10.0  # generous: the checkpoint runs in a thread on a machine that may be busy


@pytest.fixture(autouse=True)
def _sqlite_only(request: pytest.FixtureRequest) -> None:
    """Decided before the database is made: PostgreSQL has no log for the app to copy."""
    if request.node.callspec.params.get("backend") == "postgres":
        pytest.skip("checkpoints are SQLite's: PostgreSQL checkpoints its own log")


def submission(i: int) -> Submission:
    return Submission(
        view_id=f"V{i:010d}",
        team_id="T0",
        user_id="UNURSE",
        source="command",
        note_id="nte_" + f"{i:032x}",
        notes="Review the plan " * 20,
        assignee_user_ids=["UDOCTOR"],
        provider_id="prv_" + "a" * 32,
        assignee_ids=["prv_" + "b" * 32],
        channel_id="C0GENERAL",
    )


async def test_commits_leave_the_log_to_the_checkpointer(store: SQLiteStore) -> None:
    checkpointer = Checkpointer(store, interval=0.05)
    try:
        start_size = store.path.stat().st_size
        for i in range(1500):  # past SQLite's default of 1,000 pages several times over
            store.add_submission(submission(i))
        wal = Path(f"{store.path}-wal")
        assert wal.stat().st_size > 4 * 1024 * 1024  # the log grew: no commit checkpointed it
        assert store.path.stat().st_size == start_size

        runner = asyncio.create_task(checkpointer.run())
        await wait_until(lambda: checkpointer.last is not None)
        checkpointer.stop()
        await asyncio.wait_for(runner, WAIT)

        assert checkpointer.last is not None
        busy, frames, copied = checkpointer.last
        assert (busy, copied) == (0, frames) and frames > 1000
        assert store.path.stat().st_size > 512 * 1024  # the rows are in the file now
        assert len(store.open_submissions()) == 1500
    finally:
        store.close()


async def test_stop_ends_the_loop_without_waiting_for_the_interval(store: SQLiteStore) -> None:
    checkpointer = Checkpointer(store, interval=3600)
    try:
        runner = asyncio.create_task(checkpointer.run())
        await asyncio.sleep(0)  # one turn of the loop: it starts waiting out its interval
        checkpointer.stop()
        await asyncio.wait_for(runner, WAIT)  # well before the hour is up
        assert checkpointer.last is not None  # the one checkpoint it runs on its way out
    finally:
        store.close()


async def test_a_failed_checkpoint_is_logged_and_tried_again(
    store: SQLiteStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpointer = Checkpointer(store, interval=0.02)
    checkpointer.path = tmp_path / "gone" / "bot.db"  # cannot be opened

    def failures() -> list[str]:
        return [r.getMessage() for r in caplog.records if "WAL checkpoint failed" in r.getMessage()]

    try:
        runner = asyncio.create_task(checkpointer.run())
        await wait_until(lambda: len(failures()) >= 2)
        assert not runner.done()  # still trying
        checkpointer.stop()
        await asyncio.wait_for(runner, WAIT)
        assert "OperationalError" in failures()[0]
        assert checkpointer.last is None
    finally:
        store.close()
