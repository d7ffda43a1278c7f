"""Small parts of the worker and the client's budget, on their own."""

from __future__ import annotations

import asyncio
import time

import httpx

from bot.maxcare import MaxCareClient
from bot.runtime.pressure import RequestPressure


async def test_give_way_returns_at_once_when_nothing_is_being_answered() -> None:
    fg = RequestPressure()
    start = time.monotonic()
    await fg.give_way(fg.deadline(1.0))
    assert time.monotonic() - start < 0.05


async def test_give_way_waits_for_the_last_request_to_be_answered() -> None:
    fg = RequestPressure(window=0.02)
    for _ in range(3):
        fg.enter()
    waiter = asyncio.create_task(fg.give_way(fg.deadline(2.0)))
    await asyncio.sleep(0.05)
    fg.leave()
    await asyncio.sleep(0.05)
    assert not waiter.done()  # two requests still being answered
    fg.leave()
    fg.leave()
    await asyncio.wait_for(waiter, 0.5)


async def test_the_request_that_handed_over_the_work_does_not_hold_it() -> None:
    fg = RequestPressure()
    fg.enter()  # the submission whose ack is on its way out
    start = time.monotonic()
    await fg.give_way(fg.deadline(1.0))
    assert time.monotonic() - start < 0.05


async def test_a_stream_of_quick_requests_holds_background_work_until_it_stops() -> None:
    fg = RequestPressure(window=0.05)

    async def stream(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:  # each answered at once, never two in hand
            fg.enter()
            await asyncio.sleep(0.005)
            fg.leave()

    await stream(0.02)
    waiter = asyncio.create_task(fg.give_way(fg.deadline(5.0)))
    await stream(0.3)
    assert not waiter.done()  # requests kept arriving, though one at a time
    stopped = time.monotonic()
    await asyncio.wait_for(waiter, 0.5)
    assert time.monotonic() - stopped < 0.2


async def test_give_way_is_bounded_from_when_the_work_was_handed_over() -> None:
    fg = RequestPressure()
    handed_over = fg.deadline(0.1)
    fg.enter()
    fg.enter()
    start = time.monotonic()
    await fg.give_way(handed_over)
    assert 0.05 <= time.monotonic() - start < 0.5  # background work is delayed, never starved
    start = time.monotonic()
    await fg.give_way(handed_over)  # its time is up: the next step does not wait again
    assert time.monotonic() - start < 0.05


def _answer(remaining: int, reset_in: int) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {
            "X-RateLimit-Limit": "2", "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(time.time()) + reset_in),
        }
        return httpx.Response(200, json={"code": "success", "data": {"id": "tsk_" + "a" * 32}},
                              headers=headers)

    return httpx.MockTransport(handler)


async def test_whole_second_reset_is_ignored_when_our_own_window_is_full() -> None:
    async with MaxCareClient(
        base_url="http://maxcare.test/v4", api_key="max_dev_ak_x", organization_id="org_x",
        rate_limit_per_minute=1, rate_window_seconds=0.5, transport=_answer(0, 30),
    ) as client:
        await client.get_task("tsk_" + "a" * 32)
        # Our window (1 per 0.5 s) frees in 0.5 s: MaxCare's "reset in 30 s" adds nothing.
        assert client.budget_wait_seconds() <= 0.5


async def test_reset_is_honoured_when_maxcare_counts_requests_we_did_not_make() -> None:
    async with MaxCareClient(
        base_url="http://maxcare.test/v4", api_key="max_dev_ak_x", organization_id="org_x",
        rate_limit_per_minute=100, transport=_answer(0, 20),
    ) as client:
        await client.get_task("tsk_" + "a" * 32)
        assert 15 <= client.budget_wait_seconds() <= 21
