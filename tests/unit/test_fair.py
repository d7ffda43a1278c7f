"""FairSlots: worker slots handed out round-robin between workspaces, in order within one."""

from __future__ import annotations

import asyncio

import pytest

from bot.fair import FairSlots


async def _holders(slots: FairSlots, keys: list[str], order: list[str]) -> list[asyncio.Task[None]]:
    async def hold(name: str) -> None:
        await slots.acquire(name.split("-")[0])
        order.append(name)

    tasks = []
    for key in keys:
        tasks.append(asyncio.create_task(hold(key)))
        await asyncio.sleep(0)  # queued in this order
    return tasks


async def test_a_burst_does_not_keep_another_workspace_waiting() -> None:
    slots, order = FairSlots(2), []
    burst = await _holders(slots, [f"A-{i}" for i in range(10)], order)
    late = await _holders(slots, ["B-0"], order)
    await asyncio.sleep(0)
    assert order == ["A-0", "A-1"] and slots.waiting == 9
    for _ in range(3):
        slots.release()
        await asyncio.sleep(0)
    # The next freed slot went to A (its turn came first), the one after to B.
    assert order == ["A-0", "A-1", "A-2", "B-0", "A-3"]
    for _ in range(6):
        slots.release()
        await asyncio.sleep(0)
    assert order[5:] == [f"A-{i}" for i in range(4, 10)]  # in order within a workspace
    await asyncio.gather(*burst, *late)


async def test_workspaces_take_turns() -> None:
    slots, order = FairSlots(1), []
    tasks = await _holders(slots, ["A-0", "A-1", "A-2", "B-0", "B-1", "C-0"], order)
    for _ in range(5):
        slots.release()
        await asyncio.sleep(0)
    assert order == ["A-0", "A-1", "B-0", "C-0", "A-2", "B-1"]
    await asyncio.gather(*tasks)


async def test_a_cancelled_wait_gives_up_its_place_or_passes_the_slot_on() -> None:
    slots, order = FairSlots(1), []
    first = await _holders(slots, ["A-0"], order)
    waiting = await _holders(slots, ["B-0", "C-0"], order)
    waiting[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting[0]
    slots.release()
    await asyncio.sleep(0)
    assert order == ["A-0", "C-0"]  # B's place was given up
    late = await _holders(slots, ["D-0"], order)
    slots.release()  # handed to D...
    late[0].cancel()  # ...which is cancelled before it runs: the slot must not be lost
    with pytest.raises(asyncio.CancelledError):
        await late[0]
    await asyncio.wait_for(slots.acquire("E"), 5)
    await asyncio.gather(*first, waiting[1])
