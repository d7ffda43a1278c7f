"""A share of the MaxCare budget: counted apart, enforced by the client, never overrun."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx

from bot.maxcare import MaxCareClient, purpose
from bot.maxcare.shares import Shares, current_purpose
from tests.support.ids import TASK as TSK

TASK = {"id": TSK, "status": "not_started", "syncStatus": "synced", "noteId": "nte_" + "0" * 32}


class Time:
    """A clock the client's sleeps move forward, and the sleeps it asked for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def client(
    time: Time,
    sent: list[float],
    *,
    limit: int,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> MaxCareClient:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(time.now)
        return httpx.Response(200, json={"code": "success", "data": TASK})

    return MaxCareClient(
        base_url="https://api.maxcare.test/v4", api_key="max_dev_ak_x", organization_id="org_x",
        rate_limit_per_minute=limit, transport=httpx.MockTransport(answer),
        clock=time.clock, sleep=sleep or time.sleep,
    )


def test_a_share_is_a_fraction_of_the_budget_and_at_least_one() -> None:
    assert Shares(1000, 60).cap("watch", 0.1) == 100
    assert Shares(5, 60).cap("watch", 0.1) == 1


def test_the_purpose_is_the_callers_own() -> None:
    assert current_purpose() is None
    with purpose("watch"):
        assert current_purpose() == "watch"
    assert current_purpose() is None


async def test_requests_for_a_share_wait_for_it_others_do_not() -> None:
    time, sent = Time(), []
    async with client(time, sent, limit=30) as maxcare:
        assert maxcare.limit_share("watch", 0.1) == 3
        with purpose("watch"):
            for _ in range(3):
                await maxcare.get_task(TSK)
        assert time.sleeps == []
        assert maxcare.share_used("watch") == 3
        assert maxcare.share_wait_seconds("watch") == 60.0
        assert maxcare.budget_wait_seconds() == 0.0  # the rest of the budget is free
        await maxcare.get_task(TSK)  # task creation, say: no wait
        assert time.sleeps == []
        with purpose("watch"):
            await maxcare.get_task(TSK)  # waits until its first request leaves the window
        assert time.sleeps == [60.0]
    assert len(sent) == 5


async def test_a_share_holds_under_concurrency() -> None:
    time, sent = Time(), []
    async with client(time, sent, limit=20) as maxcare:
        maxcare.limit_share("watch", 0.1)  # 2 a minute

        async def watched() -> None:
            with purpose("watch"):
                await maxcare.get_task(TSK)

        await asyncio.gather(*(watched() for _ in range(6)))
    assert len(sent) == 6
    for t in sent:  # never more than 2 in any 60-second window
        assert sum(1 for u in sent if t <= u < t + 60) <= 2


async def test_a_request_waiting_for_its_share_holds_no_other_back() -> None:
    """Requests wait for the budget one at a time (in turn); one whose share is spent waits
    for it out of turn, so a task creation behind it is not kept waiting."""
    time, sent = Time(), []
    woken = asyncio.Event()

    async def sleep(seconds: float) -> None:  # until the test moves the clock
        time.sleeps.append(seconds)
        await woken.wait()

    async with client(time, sent, limit=30, sleep=sleep) as maxcare:
        maxcare.limit_share("watch", 0.1)  # 3 a minute

        async def watched() -> None:
            with purpose("watch"):
                await maxcare.get_task(TSK)

        for _ in range(3):
            await watched()
        waiting = asyncio.create_task(watched())
        while not time.sleeps:
            await asyncio.sleep(0)
        await asyncio.wait_for(maxcare.get_task(TSK), 1.0)  # not behind the watch's request
        assert len(sent) == 4 and not waiting.done()
        time.now += 60.0
        woken.set()
        await waiting
    assert len(sent) == 5 and time.sleeps == [60.0]
