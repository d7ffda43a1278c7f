"""Background loops that outlive any one failure: run a step on a cadence, back off on errors."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def forever(
    name: str,
    step: Callable[[], Awaitable[object]],
    *,
    every: float,
    first_backoff: float = 5.0,
    max_backoff: float = 300.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    run_first: bool = True,
) -> None:
    """Call `step` every `every` seconds until cancelled; after a failure, again sooner.

    A failure is logged by type only (an exception's text may carry what a person typed) and
    retried with jittered exponential backoff, never later than the regular cadence.
    """
    failures = 0
    if not run_first:
        await sleep(every)
    while True:
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failures += 1
            delay = min(first_backoff * 2 ** min(failures - 1, 16), max_backoff, every)
            delay *= random.uniform(0.8, 1.0)
            log.error("%s failed (%s); trying again in %.0f s", name, type(exc).__name__, delay)
            await sleep(delay)
            continue
        failures = 0
        await sleep(every)
