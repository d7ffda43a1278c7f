"""Background loops survive failures and back off."""

from __future__ import annotations

import asyncio

import pytest

from bot.runtime.loops import forever


async def test_a_failing_step_is_retried_sooner_then_the_cadence_resumes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waits: list[float] = []
    calls = 0
    done = asyncio.Event()

    async def step() -> None:
        nonlocal calls
        calls += 1
        if calls in (1, 2):
            raise RuntimeError("database is locked: secret patient text")
        if calls == 4:
            done.set()

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if done.is_set():
            await asyncio.Event().wait()  # stay asleep until cancelled
        await asyncio.sleep(0)

    task = asyncio.create_task(forever("housekeeping", step, every=3600, sleep=sleep))
    await asyncio.wait_for(done.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert calls == 4
    assert 4.0 <= waits[0] <= 5.0 and 8.0 <= waits[1] <= 10.0  # backoff, doubling
    assert waits[2] == 3600  # back on the regular cadence after a success
    assert "RuntimeError" in caplog.text and "patient" not in caplog.text


async def test_backoff_never_exceeds_the_cadence() -> None:
    waits: list[float] = []
    seen = asyncio.Event()

    async def step() -> None:
        raise OSError("down")

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 10:
            seen.set()
        await asyncio.sleep(0)

    task = asyncio.create_task(forever("people", step, every=30, sleep=sleep))
    await asyncio.wait_for(seen.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert max(waits) <= 30
