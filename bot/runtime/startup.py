"""Start-up that explains itself: why the database or MaxCare is not ready, retries with backoff
while waiting can help, and the background check of MaxCare that never holds up serving."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

from bot.errors import (
    Forbidden,
    MaxCareAPIError,
    MaxCareError,
    MaxCareUnavailable,
    NotReady,
    Unauthorized,
)
from bot.maxcare import MaxCareClient

log = logging.getLogger("bot.startup")
T = TypeVar("T")

# Waiting for Slack or the database: the first retry after this long, doubling up to LONGEST.
FIRST_RETRY = 1.0
LONGEST_RETRY = 30.0
# MaxCare, in the background while the app serves: checked less eagerly.
MAXCARE_LONGEST_RETRY = 300.0

# PostgreSQL's SQLSTATE classes and codes that waiting cannot fix: credentials refused
# (class 28), no such database (3D000).
_PG_REFUSED_CLASSES = ("28",)
_PG_PERMANENT = frozenset({"3D000"})
_PG_REFUSED_WORDS = ("password authentication failed", "no password supplied",
                     "authentication failed")  # fmt: skip


def origin(url: str) -> str:
    """Scheme, host and port of a URL: never its user part, path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")


def database_not_ready(exc: BaseException, where: str) -> NotReady:
    """What a failure to open (or migrate) the database means: a bad location, or not now.

    `where` names the database for people (never a URL, which may hold a password). The
    PostgreSQL driver is recognised by its SQLSTATE without importing it.
    """
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        if "unable to open" in text:
            return NotReady("database", f"{where} cannot be opened ({text})", permanent=True)
        # Locked or busy: another process holds the write lock (a migration, say).
        return NotReady("database", f"{where} is not available ({text})", permanent=False)
    if isinstance(exc, sqlite3.DatabaseError):
        return NotReady("database", f"{where} is not a usable database ({exc})", permanent=True)
    if isinstance(exc, OSError):  # a directory, a path through a file, no permission
        why = exc.strerror or type(exc).__name__
        return NotReady("database", f"{where} cannot be opened ({why})", permanent=True)
    if type(exc).__module__.startswith("psycopg"):
        return _postgres_not_ready(exc, where)
    return NotReady("database", f"{where} failed to open ({type(exc).__name__})", permanent=True)


def _postgres_not_ready(exc: BaseException, where: str) -> NotReady:
    # Only codes and fixed words: the driver's messages can quote the connection string.
    sqlstate = getattr(exc, "sqlstate", None) or ""
    text = str(exc).lower()
    name = type(exc).__name__
    if sqlstate.startswith(_PG_REFUSED_CLASSES) or any(w in text for w in _PG_REFUSED_WORDS):
        return NotReady("database", f"{where} refused the credentials", permanent=True)
    if sqlstate in _PG_PERMANENT:
        return NotReady("database", f"{where} does not exist ({sqlstate})", permanent=True)
    if name in ("ProgrammingError", "InterfaceError") and not sqlstate:
        return NotReady("database", f"{where}: malformed DATABASE_URL", permanent=True)
    why = sqlstate or name  # 57P03 "starting up", refused connections, timeouts: wait for it
    return NotReady("database", f"{where} is not available ({why})", permanent=False)


def maxcare_not_ready(exc: MaxCareError, url: str) -> NotReady:
    """What a failed MaxCare check means: the key or organisation refused, or not now."""
    if isinstance(exc, Unauthorized):
        return NotReady("MaxCare", f"refused MAXCARE_API_KEY ({exc.detail})", permanent=True)
    if isinstance(exc, Forbidden):
        reason = f"refused MAXCARE_ORGANIZATION_ID for this key ({exc.detail})"
        return NotReady("MaxCare", reason, permanent=True)
    where = origin(url)
    if isinstance(exc, MaxCareAPIError):
        return NotReady("MaxCare", f"at {where} answered {exc.status}", permanent=False)
    cause = type(exc.__cause__).__name__ if exc.__cause__ else exc.detail
    if isinstance(exc, MaxCareUnavailable):
        return NotReady("MaxCare", f"unreachable at {where} ({cause})", permanent=False)
    return NotReady("MaxCare", f"did not answer at {where} ({cause})", permanent=False)


def backoff(failures: int, *, first: float = FIRST_RETRY, longest: float = LONGEST_RETRY) -> float:
    """Seconds to wait after this many failures in a row: doubling, capped, jittered."""
    return min(first * 2 ** min(failures - 1, 16), longest) * random.uniform(0.8, 1.0)


async def until_stopped(stop: asyncio.Event, seconds: float) -> bool:
    """Wait this long, or until `stop` is set; True when it was."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def unless_stopped(attempt: Awaitable[T], stop: asyncio.Event) -> T | None:
    """The attempt's result, or None once `stop` is set first (the attempt is then cancelled)."""
    task = asyncio.ensure_future(attempt)
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        if task.cancelled() or task.exception() is not None:
            return None
    return task.result()  # finished, even if stop came too: the caller closes what it made


async def until_ready(
    attempt: Callable[[], Awaitable[T]],
    *,
    stop: asyncio.Event,
    waiting: Callable[[NotReady | None], None] = lambda _: None,
    first: float = FIRST_RETRY,
    longest: float = LONGEST_RETRY,
) -> T | None:
    """Try until the attempt succeeds: one line per failure, backing off between tries.

    A permanent NotReady is raised at once; None means `stop` was set before success.
    `waiting` hears what is awaited (None once the attempt succeeds).
    """
    failures = 0
    while not stop.is_set():
        try:
            result = await unless_stopped(attempt(), stop)
        except NotReady as exc:
            waiting(exc)
            if exc.permanent:
                raise
            failures += 1
            delay = backoff(failures, first=first, longest=longest)
            log.warning("%s; retrying in %.0f s (attempt %d)", exc, delay, failures)
            if await until_stopped(stop, delay):
                return None
            continue
        waiting(None)
        return result
    return None


class MaxCareCheck:
    """One cheap authenticated GET to MaxCare at start-up, repeated in the background until
    MaxCare answers: a refused key stops the app, an unreachable MaxCare does not."""

    def __init__(
        self,
        client: MaxCareClient,
        url: str,
        *,
        refused: Callable[[NotReady], None],
        first: float = FIRST_RETRY,
        longest: float = MAXCARE_LONGEST_RETRY,
    ) -> None:
        self._client = client
        self._url = url
        self._refused = refused
        self._first, self._longest = first, longest
        self.answered = asyncio.Event()  # set after the first attempt, whatever its outcome
        self.waiting_for: NotReady | None = None  # while MaxCare has not answered

    async def run(self) -> None:
        """Check until MaxCare answers (or refuses); the first failure is one warning line."""
        failures = 0
        try:
            while True:
                try:
                    await self._client.ping()
                except MaxCareError as exc:
                    problem = maxcare_not_ready(exc, self._url)
                    if problem.permanent:
                        self._refused(problem)
                        return
                    failures += 1
                    if failures == 1:
                        log.warning("%s; the app serves without it, checking again", problem)
                    self.waiting_for = problem
                    self.answered.set()
                    await asyncio.sleep(backoff(failures, first=self._first, longest=self._longest))
                    continue
                if failures:
                    log.info("MaxCare answers again, after %d failed check(s)", failures)
                self.waiting_for = None
                return
        finally:
            self.answered.set()
            await self._client.aclose()
