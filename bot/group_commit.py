"""Submissions stored in groups: those handled in one turn of the event loop share one commit.

Every submission is stored before its ack (nothing typed is lost once Slack hears "got it").
Under load many submissions reach that point in the same turn of the event loop; writing them
together costs one transaction instead of one each, and keeps SQLite's code and pages warm
while it runs. Alone, a submission waits for nothing but the next turn of the loop.
"""

from __future__ import annotations

import asyncio

from bot.store import Store, Submission


class SubmissionWriter:
    """`await add(sub)`: the submission is committed (or the commit failed) when it returns."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._pending: list[tuple[Submission, asyncio.Future[tuple[Submission, bool]]]] = []

    async def add(self, sub: Submission) -> tuple[Submission, bool]:
        """Store `sub` unless its view already has a row; returns (row, inserted)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[Submission, bool]] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)  # after every request ready in this turn got here
        self._pending.append((sub, done))
        # Shielded: a request cancelled while waiting leaves the group whole; its row, if
        # stored, is taken up like any unfinished submission at the next start.
        return await asyncio.shield(done)

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        try:
            results = self.store.add_submissions([sub for sub, _ in batch])
        except Exception as exc:  # the whole group rolled back: each submitter hears it
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        for (_, done), result in zip(batch, results, strict=True):
            if not done.done():
                done.set_result(result)
