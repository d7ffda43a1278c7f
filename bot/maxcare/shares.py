"""Shares of the MaxCare budget: background work that may use only part of it, counted apart;
and the budget itself shared by several instances (SharedBudget, kept in their database)."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Protocol

# Who is asking: requests made inside `with purpose(name)` count towards that name's share.
_PURPOSE: ContextVar[str | None] = ContextVar("maxcare_purpose", default=None)


@contextmanager
def purpose(name: str) -> Iterator[None]:
    """Count the MaxCare requests made inside (in this task) towards `name`'s share."""
    token = _PURPOSE.set(name)
    try:
        yield
    finally:
        _PURPOSE.reset(token)


def current_purpose() -> str | None:
    """Whose share the requests made now count towards, if anyone's."""
    return _PURPOSE.get()


class Shares:
    """Name → at most so many requests per sliding window, counted as the whole budget is.

    A request counts from when it starts until its answer is a window old (MaxCare counts it
    on arrival, which lies in between), so a share can never run ahead of MaxCare's own count.
    """

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._caps: dict[str, int] = {}
        self._done: dict[str, deque[float]] = {}  # answer times, non-decreasing
        self._in_flight: dict[str, int] = {}

    def cap(self, name: str, share: float) -> int:
        """Requests for `name` may use at most `share` of the budget, at least one a window."""
        self._caps[name] = max(1, math.floor(self.limit * share))
        self._done.setdefault(name, deque())
        self._in_flight.setdefault(name, 0)
        return self._caps[name]

    def capped(self, name: str | None) -> bool:
        """True when `name` has a share."""
        return name is not None and name in self._caps

    def used(self, name: str, now: float) -> int:
        """Requests for `name` in the window ending now (answered or in flight)."""
        if name not in self._caps:
            return 0
        self._forget(name, now)
        return self._in_flight[name] + len(self._done[name])

    def next_slot(self, name: str | None, now: float) -> float:
        """Earliest time a request for `name` fits its share (now when it has none)."""
        if name is None or name not in self._caps:
            return now
        used = self.used(name, now)
        if used < self._caps[name]:
            return now
        done = self._done[name]
        index = used - self._caps[name]  # the answer that must leave the window first
        if index < len(done):
            return done[index] + self.window
        return now + min(self.window, 0.05)  # wait for answers in flight

    def started(self, name: str | None) -> None:
        """A request for `name` took its slot."""
        if name is not None and name in self._caps:
            self._in_flight[name] += 1

    def given_back(self, name: str | None) -> None:
        """A request for `name` gave its slot back before anything was sent."""
        if name is not None and name in self._caps:
            self._in_flight[name] -= 1

    def ended(self, name: str | None, now: float) -> None:
        """A request for `name` was answered (or failed) at `now`."""
        if name is not None and name in self._caps:
            self._in_flight[name] -= 1
            self._done[name].append(now)

    def _forget(self, name: str, now: float) -> None:
        done = self._done[name]
        while done and done[0] <= now - self.window:
            done.popleft()


class SharedBudget(Protocol):
    """The app's MaxCare budget across every instance (the PostgreSQL store keeps one).

    A grant counts from when it is taken until its answer is a window old, as the client's own
    count does; one whose answer is never told counts until `stale` seconds after its grant.
    """

    def take(self, limit: int, window: float, stale: float) -> tuple[int | None, float]:
        """A grant's ID and 0 when a request fits now; else None and how long to wait."""

    def done(self, grant: int) -> None:
        """The request of this grant was answered (or failed) now."""
