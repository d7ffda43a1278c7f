"""The client spending a budget other instances share (SharedBudget): it waits for the fleet's
count, asks it one request at a time, tells every answer, and never sends what it cannot count."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.errors import BudgetUnreadable
from bot.maxcare import MaxCareClient
from tests.support.ids import TASK as TSK
from tests.unit.maxcare.test_shares import TASK, Time


class Budget:
    """SharedBudget in memory, on the test's clock: what maxcare_take does in PostgreSQL."""

    def __init__(self, time: Time) -> None:
        self.time = time
        self.grants: dict[int, float | None] = {}  # grant -> when its answer came
        self.granted_at: dict[int, float] = {}
        self.takes = 0
        self.broken = False
        self._next = 0

    def take(self, limit: int, window: float, stale: float) -> tuple[int | None, float]:
        self.takes += 1
        if self.broken:
            raise OSError("connection to the database lost")
        now = self.time.now
        for g, done in list(self.grants.items()):
            if (done is not None and done <= now - window) or (
                done is None and self.granted_at[g] <= now - stale
            ):
                del self.grants[g]
        if len(self.grants) < limit:
            self._next += 1
            self.grants[self._next] = None
            self.granted_at[self._next] = now
            return self._next, 0.0
        answered = sorted(d for d in self.grants.values() if d is not None)
        index = len(self.grants) - limit
        if index >= len(answered):
            return None, 0.05
        return None, answered[index] + window - now

    def done(self, grant: int) -> None:
        if self.broken:
            raise OSError("connection to the database lost")
        self.grants[grant] = self.time.now


def instance(time: Time, budget: Budget, sent: list[float], *, limit: int) -> MaxCareClient:
    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(time.now)
        return httpx.Response(200, json={"code": "success", "data": TASK})

    return MaxCareClient(
        base_url="https://api.maxcare.test/v4", api_key="max_dev_ak_x", organization_id="org_x",
        rate_limit_per_minute=limit, transport=httpx.MockTransport(answer),
        clock=time.clock, sleep=time.sleep, shared=budget,
    )  # fmt: skip


async def test_instances_together_keep_to_one_budget() -> None:
    time, sent = Time(), []
    budget = Budget(time)
    async with (
        instance(time, budget, sent, limit=3) as a,
        instance(time, budget, sent, limit=3) as b,
    ):
        await a.get_task(TSK)
        time.now += 10
        await a.get_task(TSK)
        await b.get_task(TSK)
        assert time.sleeps == []
        assert b.budget_used() == 1  # its own count knows only its own request
        await b.get_task(TSK)  # the fleet's third slot frees when a's first answer is a minute old
        assert time.sleeps == [50.0]
    assert sent == [1000.0, 1010.0, 1010.0, 1060.0]
    assert all(done is not None for done in budget.grants.values())  # every answer was told


async def test_a_full_budget_is_asked_by_one_request_at_a_time() -> None:
    time, sent = Time(), []
    budget = Budget(time)
    async with instance(time, budget, sent, limit=5) as other:  # another instance spends it all
        await asyncio.gather(*(other.get_task(TSK) for _ in range(5)))
    budget.takes = 0
    async with instance(time, budget, sent, limit=5) as maxcare:
        await asyncio.gather(*(maxcare.get_task(TSK) for _ in range(5)))
    assert sent[5:] == [1060.0] * 5
    assert budget.takes == 6  # one look that waited a minute, then one grant each


async def test_an_unreadable_shared_budget_sends_nothing() -> None:
    time, sent = Time(), []
    budget = Budget(time)
    budget.broken = True
    async with instance(time, budget, sent, limit=10) as maxcare:
        with pytest.raises(BudgetUnreadable) as raised:
            await maxcare.get_task(TSK)
        assert maxcare.budget_used() == 0  # nothing sent: this instance's own slots are free
    assert sent == []
    assert budget.takes == 4  # retried like any request that was never sent, then given up
    assert "database did not answer" in raised.value.user_message("the task")


async def test_an_answer_not_told_to_the_budget_does_not_fail_the_request() -> None:
    time, sent = Time(), []
    budget = Budget(time)
    async with instance(time, budget, sent, limit=10) as maxcare:
        await maxcare.get_task(TSK)
        budget.done = lambda grant: (_ for _ in ()).throw(OSError("lost"))  # type: ignore[method-assign]
        task = await maxcare.get_task(TSK)
    assert task.id == TSK and len(sent) == 2
    assert list(budget.grants.values()).count(None) == 1  # counted until it is stale


async def test_a_failed_request_still_tells_its_answer() -> None:
    time = Time()
    budget = Budget(time)

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"code": "internal", "message": "boom"})

    maxcare = MaxCareClient(
        base_url="https://api.maxcare.test/v4", api_key="max_dev_ak_x", organization_id="org_x",
        transport=httpx.MockTransport(refuse), clock=time.clock, sleep=time.sleep,
        shared=budget, max_attempts=2,
    )  # fmt: skip
    async with maxcare:
        with pytest.raises(Exception, match="500|internal|boom"):
            await maxcare.get_task(TSK)
    assert len(budget.grants) == 2 and None not in budget.grants.values()
