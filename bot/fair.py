"""Slots handed out fairly between workspaces with work waiting: the outbox's workers, and the
turn to wait for MaxCare's budget (bot.maxcare.client).

A burst of hundreds from one clinic would otherwise fill every slot and the queue behind them,
and another clinic's single task would wait for the whole burst. Here the waiters queue per
workspace, and each freed slot goes to the next workspace in turn (round-robin), first come
first served within one: that task waits for at most one slot per workspace ahead of it.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque


class FairSlots:
    """At most `size` holders at once; waiters served round-robin by key, in order per key."""

    def __init__(self, size: int) -> None:
        self._free = size
        # Key -> its waiters; the front key is served next, then moves to the back.
        self._queues: OrderedDict[str, deque[asyncio.Future[None]]] = OrderedDict()

    @property
    def waiting(self) -> int:
        return sum(len(q) for q in self._queues.values())

    async def acquire(self, key: str) -> None:
        """Wait for a slot (cancelling the wait gives up the place, or the slot if given)."""
        if self._free > 0 and not self._queues:
            self._free -= 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(key, deque()).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed over just as the wait was cancelled: pass it on
            else:
                self._forget(key, waiter)
            raise

    def release(self) -> None:
        """Give a slot back: to the next workspace's first waiter, else to the pool."""
        while self._queues:
            key, queue = next(iter(self._queues.items()))
            waiter = queue.popleft()
            if queue:
                self._queues.move_to_end(key)
            else:
                del self._queues[key]
            if not waiter.done():
                waiter.set_result(None)
                return
        self._free += 1

    def _forget(self, key: str, waiter: asyncio.Future[None]) -> None:
        queue = self._queues.get(key)
        if queue is None:
            return
        try:
            queue.remove(waiter)
        except ValueError:
            return
        if not queue:
            del self._queues[key]
