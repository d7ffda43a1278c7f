"""The MaxCare client's rate budget as the worker meets it: its own window, MaxCare's reset.

The request-pressure gauge the worker gives way to is tested in tests/unit/runtime/test_pressure.py.
"""

from __future__ import annotations

import httpx

from bot.maxcare import MaxCareClient
from tests.support.harness import ManualClock
from tests.support.ids import TASK

# MaxCare's X-RateLimit-Reset is a unix time: both sides read this one wall clock.
WALL = ManualClock(start=1_700_000_000.0)


def _answer(remaining: int, reset_in: int) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        headers = {
            "X-RateLimit-Limit": "2", "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(int(WALL()) + reset_in),
        }
        return httpx.Response(200, json={"code": "success", "data": {"id": TASK}},
                              headers=headers)

    return httpx.MockTransport(handler)


async def test_whole_second_reset_is_ignored_when_our_own_window_is_full() -> None:
    async with MaxCareClient(
        base_url="http://maxcare.test/v4", api_key="max_dev_ak_x", organization_id="org_x",
        rate_limit_per_minute=1, rate_window_seconds=0.5, transport=_answer(0, 30),
        clock=ManualClock(), wall_clock=WALL,
    ) as client:
        await client.get_task(TASK)
        # Our window (1 per 0.5 s) frees in 0.5 s: MaxCare's "reset in 30 s" adds nothing.
        assert client.budget_wait_seconds() == 0.5


async def test_reset_is_honoured_when_maxcare_counts_requests_we_did_not_make() -> None:
    async with MaxCareClient(
        base_url="http://maxcare.test/v4", api_key="max_dev_ak_x", organization_id="org_x",
        rate_limit_per_minute=100, transport=_answer(0, 20),
        clock=ManualClock(), wall_clock=WALL,
    ) as client:
        await client.get_task(TASK)
        assert client.budget_wait_seconds() == 20
