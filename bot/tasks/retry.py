"""Retrying the outbox's calls until a deadline of the submission's own, with jittered backoff."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    wait_random_exponential,
)

from bot.maxcare import MaxCareError, RateLimited

log = logging.getLogger(__name__)
T = TypeVar("T")

_backoff = wait_random_exponential(multiplier=1, max=60)


class Transient(Exception):
    """Worth another try later (MaxCare or Slack unavailable, ambiguous answer)."""

    def __init__(self, cause: Exception, *, ambiguous: bool = False) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.ambiguous = ambiguous


class GaveUp(MaxCareError):
    """The deadline passed while the work still failed transiently; `ambiguous` when some
    attempt may have been applied and no lookup has answered since."""

    def __init__(self, cause: Exception, *, ambiguous: bool = False) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.ambiguous = ambiguous
        self.trace_id = getattr(cause, "trace_id", None)

    def user_message(self, action: str = "the task") -> str:
        """What the author is told when the task was certainly not created."""
        trace = f" (trace {self.trace_id})" if self.trace_id else ""
        return (
            "MaxCare did not accept the task in time; it is unavailable or very slow"
            f"{trace}. Try again later."
        )


def _delay(state: RetryCallState) -> float:
    """Jittered exponential backoff, but never sooner than MaxCare's Retry-After."""
    delay = _backoff(state)
    exc = state.outcome.exception() if state.outcome else None
    cause = exc.cause if isinstance(exc, Transient) else None
    if isinstance(cause, RateLimited) and cause.retry_after:
        delay = max(delay, cause.retry_after)
    return delay


async def until(
    fn: Callable[[], Awaitable[T]],
    *,
    deadline: datetime,
    clock: Callable[[], datetime],
    sleep: Callable[[float], Awaitable[None]],
) -> T:
    """Run fn, retrying Transient until `deadline` (at least once); raises GaveUp after it.

    Any other exception goes straight through: retrying would get the same answer.
    """
    ambiguous = False

    def remaining() -> float:
        return (deadline - clock()).total_seconds()

    def record(state: RetryCallState) -> bool:
        nonlocal ambiguous
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, Transient):
            ambiguous = exc.ambiguous
        return remaining() <= 0

    retrying = AsyncRetrying(
        retry=retry_if_exception_type(Transient),
        wait=lambda state: max(0.0, min(_delay(state), remaining())),
        stop=record,
        sleep=sleep,
        reraise=False,
    )
    try:
        return await retrying(fn)
    except RetryError as exc:
        cause = exc.last_attempt.exception()
        assert isinstance(cause, Transient)
        log.warning("gave up at the deadline: %s", type(cause.cause).__name__)
        raise GaveUp(cause.cause, ambiguous=ambiguous) from exc
