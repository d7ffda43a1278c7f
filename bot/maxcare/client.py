"""Async client for the MaxCare v4 public API: tasks and providers (errors: see `bot.errors`).

Longer than 400 lines on purpose: the rate budget (its sliding window, MaxCare's headers, the
shares background work may use) and the one request path that keeps to it read together; the
models, the errors and the shares' counting (shares.py) are apart already.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from bot import __version__
from bot.errors import (
    API_ERRORS,
    BudgetUnreadable,
    MaxCareAmbiguous,
    MaxCareAPIError,
    MaxCareUnavailable,
    NotConnected,
    RateLimited,
    ServerError,
)
from bot.fair import FairSlots
from bot.maxcare.models import Provider, ProviderPage, Task, TaskPage
from bot.maxcare.shares import SharedBudget, Shares, current_purpose

__all__ = ["MaxCareClient"]

logger = logging.getLogger("bot.maxcare")
T = TypeVar("T")
# Failures where the request never left this machine.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)
_PAGE_SIZE = 100


def _number(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


class MaxCareClient:
    """MaxCare v4 client: retries, a client-side rate budget, typed results."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | SecretStr,
        organization_id: str,
        timeout: float = 10.0,
        rate_limit_per_minute: int = 1000,
        rate_window_seconds: float = 60.0,
        max_attempts: int = 4,
        max_wait_seconds: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        wall_clock: Callable[[], float] = time.time,
        on_outcome: Callable[[str, str], None] | None = None,
        log: logging.Logger = logger,
        shared: SharedBudget | None = None,
        organization: Callable[[], str | None] | None = None,
        workspace: Callable[[], str | None] | None = None,
    ) -> None:
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        one_org = bool(organization_id and organization_id.strip())
        if not key or not key.strip() or (not one_org and organization is None):
            raise ValueError("MaxCare api_key and organization_id must not be empty")
        if rate_limit_per_minute < 1 or max_attempts < 1:
            raise ValueError("rate_limit_per_minute and max_attempts must be at least 1")
        self._secret = key.strip()
        self._limit = rate_limit_per_minute
        self._window = rate_window_seconds
        self._max_attempts = max_attempts
        self._max_wait = max_wait_seconds
        self._clock, self._sleep, self._wall_clock = clock, sleep, wall_clock
        # Told (method, outcome) as each attempt ends: "2xx", "4xx", "5xx" or the error's type.
        self._on_outcome = on_outcome or (lambda method, outcome: None)
        self._log = log
        # MaxCare counts a request when it arrives, which is before we see its answer: counting
        # ours from the answer (and in-flight ones meanwhile) can never run ahead of its window.
        self._done: deque[float] = deque()  # answer times, non-decreasing
        self._in_flight = 0
        self._paused_until = float("-inf")
        self._shares = Shares(rate_limit_per_minute, rate_window_seconds)  # background work's
        # One request at a time waits for the budget, the others for their turn to: handed out
        # round-robin between workspaces (`workspace`: the key of the one being served), so a
        # clinic's backlog queued for a spent budget does not all go before another clinic's
        # next request. It also wakes one waiter when the budget frees, not every one.
        self._turns = FairSlots(1)
        self._workspace = workspace or (lambda: None)
        # Other instances spend the same budget: each request also takes a grant from the count
        # they all keep. One coroutine at a time asks it, so a full budget is polled once, not
        # once per waiting request. A grant never told its answer frees once the latest answer
        # it could have had (the timeout, on every attempt's connect, read and write) is a
        # window old.
        self._shared = shared
        self._shared_lock = asyncio.Lock()
        self._shared_stale = rate_window_seconds + 3 * timeout
        # Many workspaces: each request goes to the organization of the workspace being served
        # (one client, so one budget, for every clinic); None from it means none is connected.
        self._organization = organization
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",  # relative paths then keep the /v4 part
            headers={
                "Authorization": f"Bearer {self._secret}",
                "Accept": "application/json",
                "User-Agent": user_agent or f"maxcare-tasks-slack/{__version__} (+httpx)",
                **({"X-Organization-Id": organization_id.strip()} if one_org else {}),
            },
            timeout=httpx.Timeout(timeout),
            transport=transport,
        )

    async def __aenter__(self) -> MaxCareClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- Tasks
    async def create_task(
        self, *, note_id: str, provider_id: str, notes: str, assignee_ids: Sequence[str]
    ) -> Task:
        """POST tasks. Never retried once it may have been applied (see the module docstring)."""
        body = {
            "noteId": note_id,
            "providerId": provider_id,
            "notes": notes,
            "assigneeIds": list(assignee_ids),
        }
        return await self._call("POST", "tasks", Task.model_validate, json=body)

    async def get_task(self, task_id: str) -> Task:
        return await self._call("GET", f"tasks/{quote(task_id, safe='')}", Task.model_validate)

    async def list_tasks(
        self,
        *,
        note_id: str | None = None,
        provider_id: str | None = None,
        status: Sequence[str] | None = None,
        page: int = 1,
        page_size: int = _PAGE_SIZE,
    ) -> TaskPage:
        params: dict[str, str | int] = {"page": page, "pageSize": page_size}
        if note_id:
            params["noteId"] = note_id
        if provider_id:
            params["providerId"] = provider_id
        if status:
            params["status"] = status if isinstance(status, str) else ",".join(status)
        return await self._call("GET", "tasks", TaskPage.model_validate, params=params)

    async def all_tasks(
        self,
        *,
        note_id: str | None = None,
        provider_id: str | None = None,
        status: Sequence[str] | None = None,
        max_pages: int = 50,
    ) -> list[Task]:
        tasks: list[Task] = []
        for page in range(1, max_pages + 1):
            result = await self.list_tasks(
                note_id=note_id, provider_id=provider_id, status=status, page=page
            )
            tasks.extend(result.tasks)
            if page >= result.pagination.total_pages or not result.tasks:
                return tasks
        self._log.warning("MaxCare task listing stopped at max_pages=%d", max_pages)
        return tasks

    # --- Providers
    async def get_provider(self, provider_id: str) -> Provider:
        path = f"providers/{quote(provider_id, safe='')}"
        return await self._call("GET", path, Provider.model_validate)

    async def list_providers(
        self, *, search: str | None = None, page: int = 1, page_size: int = _PAGE_SIZE
    ) -> ProviderPage:
        params: dict[str, str | int] = {"page": page, "pageSize": page_size}
        if search:
            params["search"] = search
        return await self._call("GET", "providers", ProviderPage.model_validate, params=params)

    async def all_providers(
        self, *, search: str | None = None, max_pages: int = 100
    ) -> list[Provider]:
        providers: list[Provider] = []
        for page in range(1, max_pages + 1):
            result = await self.list_providers(search=search, page=page)
            providers.extend(result.providers)
            if page >= result.pagination.total_pages or not result.providers:
                return providers
        self._log.warning("MaxCare provider listing stopped at max_pages=%d", max_pages)
        return providers

    async def ping(self) -> None:
        """One cheap authenticated GET; raises a MaxCareError when key, org or network is wrong."""
        await self._call("GET", "providers", lambda data: None, params={"pageSize": 1})

    # --- Rate budget
    def budget_wait_seconds(self) -> float:
        """How long a request started now would wait for the rate budget."""
        now = self._clock()
        return max(0.0, self._next_slot(now) - now)

    @property
    def rate_limit(self) -> int:
        """The budget: requests allowed in one window."""
        return self._limit

    def budget_used(self) -> int:
        """Requests counted in the current window, those in flight included."""
        self._next_slot(self._clock())  # forgets answers that left the window
        return self._in_flight + len(self._done)

    def limit_share(self, name: str, share: float) -> int:
        """Requests made `with purpose(name)` may use at most `share` of the budget."""
        return self._shares.cap(name, share)

    def share_used(self, name: str) -> int:
        """Requests for `name` in the current window (answered or in flight)."""
        return self._shares.used(name, self._clock())

    def share_wait_seconds(self, name: str) -> float:
        """How long a request for `name` started now would wait for its share or the budget."""
        now = self._clock()
        return max(0.0, max(self._next_slot(now), self._shares.next_slot(name, now)) - now)

    def _next_slot(self, now: float) -> float:
        """Earliest time a request could fit the sliding window (an estimate while in flight)."""
        while self._done and self._done[0] <= now - self._window:
            self._done.popleft()
        slot = max(now, self._paused_until)
        used = self._in_flight + len(self._done)
        if used >= self._limit:
            index = used - self._limit  # the answer that must leave the window first
            if index < len(self._done):
                slot = max(slot, self._done[index] + self._window)
            else:
                slot = max(slot, now + min(self._window, 0.05))  # wait for answers in flight
        return slot

    async def _acquire_slot(self, purpose: str | None = None) -> int | None:
        """Take a slot of this instance's budget, then a grant of the shared one (if any)."""
        key = self._workspace() or ""
        told = False
        while True:
            await self._turns.acquire(key)
            try:
                share_wait, told = await self._take_in_turn(purpose, told)
            finally:
                self._turns.release()
            if share_wait <= 0:
                break
            # Its share is spent, not the budget: it waits for that out of turn (at the back
            # of its workspace's queue afterwards), so others' requests are not held behind it.
            await self._sleep(share_wait)
        if self._shared is None:
            return None
        try:
            return await self._take_shared()
        except BaseException:
            # Nothing was sent: the slot is free again rather than counted for a window.
            self._in_flight -= 1
            self._shares.given_back(purpose)
            raise

    async def _take_in_turn(self, purpose: str | None, told: bool) -> tuple[float, bool]:
        """With the turn: sleep until the budget has a slot and take it (0.0), or give the
        turn up with how long `purpose`'s share needs first. Also whether the wait was told."""
        while True:
            now = self._clock()
            share_slot = self._shares.next_slot(purpose, now)
            if share_slot > now:
                return share_slot - now, told
            slot = self._next_slot(now)
            if slot <= now:
                self._in_flight += 1
                self._shares.started(purpose)
                return 0.0, told
            if not told:
                told = True
                self._log.info("MaxCare request queued %.1f s for the rate budget", slot - now)
            await self._sleep(slot - now)

    async def _take_shared(self) -> int:
        assert self._shared is not None
        told = False
        async with self._shared_lock:
            while True:
                try:
                    grant, wait = self._shared.take(self._limit, self._window, self._shared_stale)
                except Exception as exc:  # the database: never send what the fleet cannot count
                    self._log.warning("shared MaxCare budget unreadable: %s", type(exc).__name__)
                    raise BudgetUnreadable("the shared rate budget could not be read") from exc
                if grant is not None:
                    return grant
                if not told:
                    told = True
                    self._log.info("MaxCare request queued %.1f s for the shared budget", wait)
                await self._sleep(wait)

    def _release_slot(self, purpose: str | None = None, grant: int | None = None) -> None:
        self._in_flight -= 1
        now = self._clock()
        self._done.append(now)
        self._shares.ended(purpose, now)
        if grant is not None and self._shared is not None:
            try:
                self._shared.done(grant)
            except Exception as exc:  # the grant then counts until it is stale: only slower
                self._log.warning("shared MaxCare budget not told: %s", type(exc).__name__)

    def _reset_delay(self, headers: httpx.Headers) -> float | None:
        reset = _number(headers.get("X-RateLimit-Reset"))
        if reset is None:
            return None
        # Documented as unix seconds; small values can only be a delay in seconds.
        return max(0.0, reset - self._wall_clock() if reset > 1e9 else reset)

    def _retry_after(self, headers: httpx.Headers) -> float | None:
        value = headers.get("Retry-After")
        seconds = _number(value)
        if seconds is None and value:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - self._wall_clock()
            except (TypeError, ValueError):
                seconds = None
        return max(0.0, seconds) if seconds is not None else self._reset_delay(headers)

    def _observe_rate_headers(self, headers: httpx.Headers) -> None:
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        if remaining is None or remaining > 0:
            return
        if self._shared is not None:
            return  # the shared count knows every instance's requests: it waits exactly
        if self._in_flight + len(self._done) >= self._limit:
            # Our own window is full too and frees exactly when MaxCare's does; the header's
            # reset is rounded up to whole seconds, so pausing on it would waste budget.
            return
        delay = self._reset_delay(headers)
        if delay:  # MaxCare counts requests we did not make (another process with this key)
            until = self._clock() + min(delay, self._max_wait)
            self._paused_until = max(self._paused_until, until)

    # --- Requests
    def _retryable(self, exc: BaseException, idempotent: bool) -> bool:
        if isinstance(exc, RateLimited):
            # Waiting less than MaxCare asked only earns another 429: give up instead.
            return exc.retry_after is None or exc.retry_after <= self._max_wait
        if isinstance(exc, MaxCareUnavailable):
            return True
        return idempotent and isinstance(exc, ServerError | MaxCareAmbiguous)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, RateLimited) and exc.retry_after:  # 0 (a reset already past): back off
            return min(exc.retry_after, self._max_wait)
        # Exponential backoff with jitter (written out: tenacity renamed its jitter knobs in 9.x).
        backoff = 0.5 * 2 ** (state.attempt_number - 1) + random.uniform(0, 0.5)
        return min(backoff, self._max_wait)

    def _log_retry(self, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        self._log.warning(
            "MaxCare attempt %d failed (%s); retrying in %.1f s",
            state.attempt_number,
            type(exc).__name__,
            wait,
        )

    async def _call(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        *,
        params: dict[str, str | int] | None = None,
        json: dict[str, Any] | None = None,
    ) -> T:
        idempotent = method == "GET"
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=self._wait,
            retry=retry_if_exception(lambda exc: self._retryable(exc, idempotent)),
            before_sleep=self._log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        return await retrying(self._send, method, path, parse, params, json)

    async def _send(
        self,
        method: str,
        path: str,
        parse: Callable[[Any], T],
        params: dict[str, str | int] | None,
        json: dict[str, Any] | None,
    ) -> T:
        """One attempt: wait for the budget (and the caller's share), send, translate."""
        full_path = self._http.base_url.path + path
        where = {"method": method, "path": full_path}
        headers = None
        if self._organization is not None:
            organization = self._organization()
            if not organization:  # never sent to some other clinic's organization
                raise NotConnected("no MaxCare organization is connected", **where)
            headers = {"X-Organization-Id": organization}
        purpose = current_purpose()
        grant = await self._acquire_slot(purpose)
        started = self._clock()
        try:
            response = await self._http.request(
                method, path, params=params, json=json, headers=headers
            )
        except _NOT_SENT as exc:
            self._release_slot(purpose, grant)
            self._on_outcome(method, type(exc).__name__)
            self._log.warning("MaxCare %s %s not sent: %s", method, full_path, type(exc).__name__)
            raise MaxCareUnavailable(f"could not connect ({type(exc).__name__})", **where) from exc
        except httpx.RequestError as exc:  # timeouts, resets, protocol and decoding errors
            self._release_slot(purpose, grant)
            self._on_outcome(method, type(exc).__name__)
            self._log.warning("MaxCare %s %s no answer: %s", method, full_path, type(exc).__name__)
            raise MaxCareAmbiguous(f"no answer ({type(exc).__name__})", **where) from exc
        except BaseException:
            self._release_slot(purpose, grant)  # cancelled mid-request: the slot still counts
            raise
        self._release_slot(purpose, grant)
        self._on_outcome(method, f"{response.status_code // 100}xx")
        elapsed_ms = (self._clock() - started) * 1000
        self._observe_rate_headers(response.headers)
        error = None if response.is_success else self._api_error(response, method, full_path)
        level = logging.DEBUG if error is None else logging.WARNING
        self._log.log(
            level,
            "MaxCare %s %s -> %d in %.0f ms (trace %s)",
            method,
            full_path,
            response.status_code,
            elapsed_ms,
            (error.trace_id if error else None) or "-",
            extra={"maxcare_status": response.status_code, "elapsed_ms": round(elapsed_ms)},
        )
        if error is not None:
            raise error
        try:
            payload = response.json()
            return parse(payload["data"])
        except (ValueError, KeyError, TypeError, ValidationError):
            # `from None`: pydantic and json errors quote the body, which can hold patient data.
            raise MaxCareAmbiguous(
                f"unusable {response.status_code} answer (not the documented JSON)", **where
            ) from None

    def _api_error(self, response: httpx.Response, method: str, path: str) -> MaxCareAPIError:
        try:
            body = response.json()
        except ValueError:
            body = None
        fields = body if isinstance(body, dict) else {}

        def text(name: str) -> str | None:
            value = fields.get(name)
            if value is None or isinstance(value, dict | list):
                return None
            return str(value).replace(self._secret, "[redacted]")

        cls = API_ERRORS.get(response.status_code, ServerError)
        args = (response.status_code, text("code"), text("message"), text("trace_id"))
        if cls is RateLimited:
            retry_after = self._retry_after(response.headers)
            return RateLimited(*args, retry_after=retry_after, method=method, path=path)
        return cls(*args, method=method, path=path)
