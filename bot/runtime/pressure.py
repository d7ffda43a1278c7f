"""Slack requests being answered, so the worker's background work can give way to them.

Slack gives an ack 3 seconds; a task's card can wait a moment. The worker shares the event loop
(and the CPU) with the request handler, so while requests keep arriving it waits, for at most a
bounded time counted from when each piece of work was handed over: delayed, never starved.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable

# Two or more requests arriving within this many seconds (or in hand at once) mean "busy".
BUSY_WINDOW = 0.05
# How long background work may be held back, from the moment it was handed over.
MAX_WAIT = 2.0


class RequestPressure:
    """Counts requests in hand and recent arrivals; background work waits while they are busy."""

    def __init__(
        self, *, window: float = BUSY_WINDOW, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window
        self.clock = clock
        self._active = 0
        self._arrivals: collections.deque[float] = collections.deque()
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._watcher: asyncio.Task[None] | None = None

    def enter(self) -> None:
        """A request arrived."""
        self._active += 1
        self._arrivals.append(self.clock())
        if self._quiet.is_set() and self.busy:
            self._quiet.clear()
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    def leave(self) -> None:
        """A request was answered."""
        self._active = max(0, self._active - 1)

    @property
    def busy(self) -> bool:
        """More than one request in hand, or more than one arrived within the window.

        One is the request that handed work over, still finishing its answer: not a reason
        to wait, or every card would be late by the window.
        """
        horizon = self.clock() - self.window
        arrivals = self._arrivals
        while arrivals and arrivals[0] < horizon:
            arrivals.popleft()
        return self._active > 1 or len(arrivals) > 1

    @property
    def quiet(self) -> bool:
        """Nothing to give way to (set by the watcher once requests stop being busy)."""
        return self._quiet.is_set()

    def deadline(self, max_wait: float = MAX_WAIT) -> float:
        """The latest time (on this clock) work handed over now may be held back until."""
        return self.clock() + max_wait

    async def give_way(self, deadline: float) -> None:
        """Wait while busy, but not past `deadline` (from `deadline()`)."""
        remaining = deadline - self.clock()
        if remaining > 0 and not self._quiet.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._quiet.wait(), remaining)

    async def _watch(self) -> None:
        # One watcher while busy (not one timer per waiting piece of work).
        try:
            while self.busy:
                await asyncio.sleep(self.window / 2)
        finally:
            self._quiet.set()
            self._watcher = None
