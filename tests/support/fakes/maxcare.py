"""FakeMaxCare: a fake MaxCare v4 API that records every request and injects faults.

Its records (providers, notes, tasks) and the endpoints that read and write them are in
maxcare_data.py; this module holds the server, the rate budget and the faults (longer than 300
lines: every fault kind is injected and carried out here, side by side).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.fakes.maxcare_data import MaxCareData, error_response, prefixed_id
from tests.support.fakes.records import Request
from tests.support.fakes.server import ThreadedServer


class Hold:
    """Requests the fake MaxCare keeps unanswered until the test releases them."""

    def __init__(self) -> None:
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._holding = 0

    @property
    def holding(self) -> int:
        """Requests that arrived and are being held right now."""
        with self._lock:
            return self._holding

    @property
    def released(self) -> bool:
        """True once release() was called."""
        return self._released.is_set()

    def release(self) -> None:
        """Answer the requests held, and any later ones this hold catches at once."""
        self._released.set()

    async def keep(self) -> None:
        """Run by the fake's handler: wait (on the fake's own loop) until released."""
        with self._lock:
            self._holding += 1
        try:
            while not self._released.is_set():
                await asyncio.sleep(0.005)
        finally:
            with self._lock:
                self._holding -= 1


@dataclass
class _MaxFault:
    kind: str  # "fail", "delay", "drop", "stall" or "hold"
    method: str
    path: str
    remaining: int
    after_apply: bool
    status: int = 500
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    hold: Hold | None = None


class FakeMaxCare(MaxCareData, ThreadedServer):
    """A fake MaxCare v4 API following openapi-v4.json, with fault injection.

    As strict as the real one: notes exist only once registered with `add_note` (`any_note`
    makes every well-formed note ID exist, for fakes in another process), JSON bodies need
    `Content-Type: application/json`, and every answer carries the X-RateLimit headers of
    MaxCare's documented budget (`rate_limit=None`: no budget and no headers). With
    `normalise_notes`, task notes are stored trimmed, with `\n` line endings, as a real
    service may store them. `clock` (monotonic seconds) times the budget's sliding window.
    """

    def __init__(
        self,
        *,
        api_key: str = "max_dev_ak_test",
        organization_id: str | None = None,
        rate_limit: int | None = 1000,
        rate_window: float = 60.0,
        any_note: bool = False,
        normalise_notes: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.organization_id = organization_id or prefixed_id("org")
        self.organizations = {self.organization_id}
        self.org_of: dict[str, str] = {}
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.clock = clock
        self.rate_limited_count = 0
        self.any_note = any_note
        self.normalise_notes = normalise_notes
        self.default_sync_status = "synced"
        self.providers: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.created_by: dict[str, str] = {}  # task ID -> providerId; MaxCare does not return it
        self.notes: dict[str, dict[str, Any]] = {}
        self.missing_notes: set[str] = set()
        self._requests: list[Request] = []
        self._faults: list[_MaxFault] = []
        self._hits: deque[float] = deque()
        self._down = False
        self._holds: list[Hold] = []

    @property
    def url(self) -> str:
        """API base including the version, without a trailing slash."""
        return f"{self.base}/v4"

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/v4/{tail:.*}", self._handle)
        return app

    # --- recorded state ------------------------------------------------------------------------

    def requests(self, method: str | None = None, path: str | None = None) -> list[Request]:
        """Recorded requests, optionally filtered by method and exact path (relative to /v4)."""
        path = _normalise_path(path) if path is not None else None
        with self._lock:
            return [
                r for r in self._requests
                if (method is None or r.method == method.upper())
                and (path is None or r.path == path)
            ]

    def all_tasks(self) -> list[dict[str, Any]]:
        """Copies of every task, oldest first."""
        with self._lock:
            return copy.deepcopy(list(self.tasks.values()))

    def clear(self) -> None:
        """Forget recorded requests (data and faults stay)."""
        with self._lock:
            self._requests.clear()

    # --- faults --------------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        path: str,
        status: int,
        *,
        times: int = 1,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        after_apply: bool = False,
    ) -> None:
        """Answer the next matching requests with `status` (after carrying them out if asked)."""
        fault_headers = dict(headers or {})
        if status == 429:
            fault_headers.setdefault("Retry-After", "1")
        self._add_fault(_MaxFault(
            "fail", method.upper(), _normalise_path(path), times, after_apply, status, body,
            fault_headers,
        ))

    def delay_next(
        self, method: str, path: str, seconds: float, *, times: int = 1, after_apply: bool = True
    ) -> None:
        """Sleep `seconds` before answering; with after_apply the work is done before the sleep."""
        self._add_fault(_MaxFault(
            "delay", method.upper(), _normalise_path(path), times, after_apply, seconds=seconds
        ))

    def drop_next(
        self, method: str, path: str, times: int = 1, after_apply: bool = False
    ) -> None:
        """Close the connection without an answer (optionally after carrying the request out)."""
        self._add_fault(
            _MaxFault("drop", method.upper(), _normalise_path(path), times, after_apply)
        )

    def stall_next(self, method: str, path: str, seconds: float, *, times: int = 1) -> None:
        """Hold the request `seconds` (past the client's timeout), then close the connection
        without ever carrying it out: delayed, then not applied."""
        self._add_fault(
            _MaxFault("stall", method.upper(), _normalise_path(path), times, False,
                      seconds=seconds)
        )

    def hold_next(
        self, method: str, path: str, *, times: int = 1, after_apply: bool = True
    ) -> Hold:
        """Keep the next matching requests unanswered until `release()` on the returned Hold
        (with after_apply the work is done before the hold), so a test can see what the app
        does while MaxCare has not answered, without timing it."""
        hold = Hold()
        with self._lock:
            self._holds.append(hold)
        self._add_fault(_MaxFault(
            "hold", method.upper(), _normalise_path(path), times, after_apply, hold=hold
        ))
        return hold

    def stop(self) -> None:
        """Let every held request go (nothing waits on a test that is over), then stop."""
        with self._lock:
            holds = list(self._holds)
        for hold in holds:
            hold.release()
        super().stop()

    def clear_faults(self) -> None:
        """Forget every injected fault that has not happened yet."""
        with self._lock:
            self._faults.clear()

    def set_down(self, down: bool = True) -> None:
        """While down, every request is answered 503."""
        with self._lock:
            self._down = down

    def _add_fault(self, fault: _MaxFault) -> None:
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, path: str) -> _MaxFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and fault.method == method and path.startswith(fault.path):
                    fault.remaining -= 1
                    return fault
            return None

    # --- HTTP ----------------------------------------------------------------------------------

    def _rate_check(self) -> tuple[dict[str, str], web.Response | None]:
        """Count this request in the sliding window: its headers, or a 429 when over budget."""
        if self.rate_limit is None:
            return {}, None
        now = self.clock()
        with self._lock:
            while self._hits and now - self._hits[0] >= self.rate_window:
                self._hits.popleft()
            over = len(self._hits) >= self.rate_limit
            if over:
                self.rate_limited_count += 1
                wait = self._hits[0] + self.rate_window - now
            else:
                self._hits.append(now)
                wait = (self._hits[0] + self.rate_window - now) if self._hits else 0.0
            remaining = max(0, self.rate_limit - len(self._hits))
        headers = {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": str(math.ceil(time.time() + wait)),
        }
        if not over:
            return headers, None
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
        message = (
            f"Rate limit exceeded. Maximum {self.rate_limit} requests per "
            f"{self.rate_window:g} seconds."
        )
        return headers, error_response(429, message, headers)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        raw = await request.read()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with self._lock:
            self._requests.append(Request(
                request.method,
                path,
                dict(request.query),
                {k.lower(): v for k, v in request.headers.items()},
                body,
            ))
        rate_headers, limited = self._rate_check()  # MaxCare counts a request when it arrives
        response = limited if limited is not None else await self._answer(request, path, raw, body)
        response.headers.update(rate_headers)
        return response

    async def _answer(
        self, request: web.Request, path: str, raw: bytes, body: Any
    ) -> web.StreamResponse:
        """The answer to one request within the budget: errors, injected faults, or the work."""
        with self._lock:
            down = self._down
        if down:
            return error_response(503, "Service unavailable")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return error_response(401, "Invalid or missing API key")
        org = request.headers.get("X-Organization-Id") or ""
        with self._lock:
            reachable = org in self.organizations
        if not reachable:
            return error_response(403, "Organization not accessible with this API key")
        if raw and request.content_type != "application/json":
            # Without the JSON content type the body is not parsed, so nothing is in it.
            return error_response(400, "Request body must be JSON (Content-Type: application/json)")

        fault = self._take_fault(request.method, path)
        response: web.StreamResponse | None = None
        if fault is None or fault.after_apply:
            response = self._route(request.method, path, request.query, body, org)
        if fault is not None:
            if fault.kind in ("delay", "stall"):
                await asyncio.sleep(fault.seconds)
            elif fault.hold is not None:
                await fault.hold.keep()
            if fault.kind in ("delay", "hold"):
                if response is None:
                    response = self._route(request.method, path, request.query, body, org)
            elif fault.kind in ("drop", "stall"):
                # No answer at all: the client sees the connection reset mid-request.
                # aiohttp then fails to write the placeholder response quietly.
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=204)
            else:
                if fault.body is not None:
                    response = web.json_response(fault.body, status=fault.status)
                else:
                    response = error_response(fault.status)
                response.headers.update(fault.headers)
        assert response is not None
        return response


def _normalise_path(path: str) -> str:
    """`tasks`, `/tasks` and `/v4/tasks` all mean `/tasks`."""
    path = "/" + path.lstrip("/")
    return path.removeprefix("/v4") or "/"


