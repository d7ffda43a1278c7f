"""The request-pressure gauge: background work waits while Slack requests keep coming, not longer.

The gauge runs on a clock the test moves (RequestPressure(clock=…)): what it decided is read from
its state and from the waiting work finishing, never from how long anything took.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from bot.runtime.pressure import RequestPressure
from tests.support.harness import ManualClock

WAIT = 10.0  # generous: a loaded machine may be slow to get round to the gauge's watcher


class WatchedClock(ManualClock):
    """A ManualClock that counts the reads made by the gauge's watcher: each is one look at
    whether requests are still busy."""

    def __init__(self) -> None:
        super().__init__()
        self.gauge: RequestPressure | None = None
        self.looks = 0

    def __call__(self) -> float:
        gauge = self.gauge
        if gauge is not None and gauge._watcher is asyncio.current_task():
            self.looks += 1
        return self.now


def watched(window: float = 0.05) -> tuple[RequestPressure, WatchedClock]:
    clock = WatchedClock()
    gauge = RequestPressure(window=window, clock=clock)
    clock.gauge = gauge
    return gauge, clock


async def next_look(clock: WatchedClock) -> None:
    """Wait until the watcher has looked at the gauge again."""
    seen = clock.looks
    async with asyncio.timeout(WAIT):
        while clock.looks == seen:
            await asyncio.sleep(0.001)


def ends_at_once(coro: Coroutine[Any, Any, None]) -> bool:
    """Whether the coroutine finishes in its first step, never giving up the event loop."""
    try:
        coro.send(None)
    except StopIteration:
        return True
    coro.close()
    return False


async def quieten(gauge: RequestPressure, clock: ManualClock) -> None:
    """Answer every request in hand and let the window pass; wait until the gauge says so."""
    while gauge._active:
        gauge.leave()
    clock.advance(3600)
    async with asyncio.timeout(WAIT):
        while not gauge.quiet:
            await asyncio.sleep(0.001)


async def test_give_way_returns_at_once_when_nothing_is_being_answered() -> None:
    gauge = RequestPressure(clock=ManualClock())
    assert gauge.quiet
    assert ends_at_once(gauge.give_way(gauge.deadline(1.0)))


async def test_give_way_waits_for_the_last_request_to_be_answered() -> None:
    gauge, clock = watched(window=0.02)
    for _ in range(3):
        gauge.enter()
    waiter = asyncio.create_task(gauge.give_way(gauge.deadline(3600)))
    clock.advance(1.0)  # the arrivals are long past: only the requests in hand count now
    gauge.leave()
    await next_look(clock)
    assert not waiter.done() and not gauge.quiet  # two requests still being answered
    gauge.leave()
    gauge.leave()
    await asyncio.wait_for(waiter, WAIT)  # let go at once, long before its deadline
    assert gauge.quiet


async def test_the_request_that_handed_over_the_work_does_not_hold_it() -> None:
    gauge = RequestPressure(clock=ManualClock())
    gauge.enter()  # the submission whose ack is on its way out
    assert not gauge.busy and gauge.quiet
    assert ends_at_once(gauge.give_way(gauge.deadline(1.0)))


async def test_a_stream_of_quick_requests_holds_background_work_until_it_stops() -> None:
    gauge, clock = watched(window=0.05)

    def one_request() -> None:
        gauge.enter()  # answered at once: never two in hand
        clock.advance(0.01)
        gauge.leave()

    one_request()
    one_request()
    assert gauge.busy  # two arrivals within the window
    waiter = asyncio.create_task(gauge.give_way(gauge.deadline(3600)))
    for _ in range(10):
        one_request()
        await next_look(clock)
        assert not waiter.done() and not gauge.quiet  # requests keep arriving, one at a time
    clock.advance(0.05)  # the stream stops: its last arrival leaves the window
    await asyncio.wait_for(waiter, WAIT)  # released by quiet, not by its deadline
    assert gauge.quiet


async def test_give_way_is_bounded_from_when_the_work_was_handed_over() -> None:
    clock = ManualClock()
    gauge = RequestPressure(clock=clock)
    handed_over = gauge.deadline(0.05)
    gauge.enter()
    gauge.enter()
    waiter = asyncio.create_task(gauge.give_way(handed_over))
    await asyncio.wait_for(waiter, WAIT)
    assert gauge.busy and not gauge.quiet  # delayed, never starved: its wait ran out while busy
    clock.advance(0.05)
    assert ends_at_once(gauge.give_way(handed_over))  # its time is up: no waiting again
    await quieten(gauge, clock)
