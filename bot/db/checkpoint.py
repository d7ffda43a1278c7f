"""Copies SQLite's write-ahead log into the database file in a thread, off the ack path.

SQLite's default is to checkpoint inline: the commit that takes the log past 1,000 pages copies
them all into the database file before it returns. In the app that commit is a submission's
outbox row, written before its ack, so every few hundred submissions one ack (and every request
queued behind it on the event loop) waited for megabytes of writes (docs/performance.md has the
measurement). The serving app leaves checkpoints to this thread instead; SQLite releases the GIL
while it copies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

from bot.db.store import SQLiteStore

log = logging.getLogger("bot.checkpoint")

# Inline checkpoints still happen past this many pages (~40 MB), should this thread fall behind.
FALLBACK_PAGES = 10_000
# Keep the log file itself no larger than this once checkpointed (it is reused, not regrown).
LOG_LIMIT_BYTES = 64 * 1024 * 1024


class Checkpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` every `interval` seconds in a thread."""

    def __init__(self, store: SQLiteStore, *, interval: float = 1.0) -> None:
        self.path: Path = store.path
        self.interval = interval
        self.last: tuple[int, int, int] | None = None  # (busy, log frames, checkpointed frames)
        self._stop = asyncio.Event()
        store.db.execute(f"PRAGMA wal_autocheckpoint = {FALLBACK_PAGES}")
        store.db.execute(f"PRAGMA journal_size_limit = {LOG_LIMIT_BYTES}")

    async def run(self) -> None:
        """Until stop(): wait, checkpoint in a thread, repeat. Failures are logged, not fatal."""
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
            try:
                self.last = await asyncio.to_thread(_checkpoint, self.path)
            except Exception as exc:  # the app keeps serving; SQLite's fallback bounds the log
                log.warning("WAL checkpoint failed (%s); will try again", type(exc).__name__)

    def stop(self) -> None:
        """Finish after the checkpoint in hand (one more runs first, so little is left over)."""
        self._stop.set()


def _checkpoint(path: Path) -> tuple[int, int, int]:
    # A connection of its own, opened and closed in the thread: cancelling the task that waits
    # for this can never close it mid-checkpoint.
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[0]), int(row[1]), int(row[2])
    finally:
        conn.close()
