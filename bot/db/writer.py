"""Submissions stored in groups: those handled in one turn of the event loop share one commit.

Every submission is stored before its ack (nothing typed is lost once Slack hears "got it").
Under load many submissions reach that point in the same turn of the event loop; writing them
together costs one transaction instead of one each, and keeps SQLite's code and pages warm
while it runs. A submission arriving alone (no other Slack request in hand or just arrived) is
written at once: no group to wait for, and no turn of the loop between its request and its ack.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.db.store import Store, Submission


class SubmissionWriter:
    """`await add(sub)`: the submission is committed (or the commit failed) when it returns."""

    def __init__(self, store: Store, *, busy: Callable[[], bool] = lambda: True) -> None:
        self.store = store
        self.busy = busy  # other requests in hand or arriving: worth waiting to group with
        self._pending: list[tuple[Submission, asyncio.Future[tuple[Submission, bool]]]] = []

    async def add(self, sub: Submission) -> tuple[Submission, bool]:
        """Store `sub` unless its view already has a row; returns (row, inserted)."""
        if not self._pending and not self.busy():
            return self.store.add_submissions([sub])[0]
        loop = asyncio.get_running_loop()
        done: asyncio.Future[tuple[Submission, bool]] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)  # after every request ready in this turn got here
        self._pending.append((sub, done))
        # A request cancelled while waiting cancels only its answer: the group is written
        # whole, and its row is taken up like any unfinished submission at the next start.
        # (No asyncio.shield: it would cost every submitter one more turn of the loop.)
        return await done

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
