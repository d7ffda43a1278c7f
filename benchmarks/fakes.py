"""The test fakes with a fixed latency on every answer, served from their own process.

`python -m benchmarks.fakes --slack-latency-ms 20 --maxcare-latency-ms 50` starts the
tests' FakeSlack and FakeMaxCare on 127.0.0.1, prints one JSON line with their addresses,
and serves until its standard input closes (or SIGTERM, or --max-seconds).
Running them in their own process keeps
the load generator from competing with them for one GIL, which would blur their receipt timestamps.

Every answer is delayed by the configured latency *after* the request was handled (MaxCare counts a
request against its rate limit when it arrives). Receipt times (time.monotonic, which is system-wide
on Linux, so comparable with the benchmark process) are recorded before anything else and served at
`GET /_bench/receipts` for views.open (keyed by trigger_id), chat.postMessage (keyed by channel),
every MaxCare request and answer (keyed by "METHOD path") and each task MaxCare created (by note ID,
at the time of its answer).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from benchmarks.heap import keep_history_out_of_collections
from tests.support.fakes import FakeMaxCare, FakeSlack

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BENCH = "/_bench/"


class _Receipts:
    """Receipt records `[monotonic seconds, kind, key]`, appended from the fake's own loop."""

    def __init__(self) -> None:
        self.items: list[list[Any]] = []
        self.lock = threading.Lock()

    def add(self, t: float, kind: str, key: str) -> None:
        with self.lock:
            self.items.append([t, kind, key])

    async def serve(self, request: web.Request) -> web.Response:
        since = int(request.query.get("since", "0"))
        with self.lock:
            items = self.items[since:]
            end = len(self.items)
        return web.json_response({"next": end, "items": items})


def _slack_key(method: str, raw: bytes, content_type: str) -> str | None:
    """trigger_id of a views.open, channel of a chat.postMessage; None for other methods."""
    field = {"views.open": "trigger_id", "chat.postMessage": "channel"}.get(method)
    if field is None:
        return None
    text = raw.decode("utf-8", "replace")
    try:
        params = json.loads(text) if content_type == "application/json" else dict(parse_qsl(text))
    except ValueError:
        return ""
    return str(params.get(field, "")) if isinstance(params, dict) else ""


def _note_id(raw: bytes) -> str:
    """The noteId of a task-creation body ("" when there is none)."""
    try:
        body = json.loads(raw)
    except ValueError:
        return ""
    return str(body.get("noteId", "")) if isinstance(body, dict) else ""


class LatentSlack(FakeSlack):
    """FakeSlack whose every answer takes `latency` seconds more, with receipt times."""

    def __init__(self, latency: float = 0.0) -> None:
        # In its own process it cannot hear of the triggers the load generator issues.
        super().__init__(accept_any_trigger=True)
        self.latency = latency
        self.receipts = _Receipts()

    def _make_app(self) -> web.Application:
        app = super()._make_app()
        app.middlewares.append(self._delay)
        app.router.add_get(BENCH + "receipts", self.receipts.serve)
        app.router.add_get(BENCH + "counts", self._counts)
        app.router.add_post(BENCH + "arrive", self._arrive)
        return app

    async def _arrive(self, request: web.Request) -> web.Response:
        """Record when a request got here and answer at once: the delivery floor (phase 3)."""
        self.receipts.add(time.monotonic(), "arrive", request.query.get("key", ""))
        await request.read()
        return web.Response(status=200)

    @web.middleware
    async def _delay(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(BENCH):
            return await handler(request)
        raw = await request.read()  # received: the whole request, body included
        received = time.monotonic()
        if request.path.startswith("/api/"):
            method = request.path.removeprefix("/api/")
            key = _slack_key(method, raw, request.content_type)
            if key is not None:
                self.receipts.add(received, method, key)
        response = await handler(request)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        return response

    async def _counts(self, request: web.Request) -> web.Response:
        counts = collections.Counter(c.method for c in self.calls())
        return web.json_response(dict(counts))


class LatentMaxCare(FakeMaxCare):
    """FakeMaxCare whose every answer takes `latency` seconds more, with receipt times."""

    def __init__(self, latency: float = 0.0) -> None:
        # Notes are made up by the load generator; the budget is set per phase (/_bench/config).
        super().__init__(any_note=True, rate_limit=None)
        self.latency = latency
        self.receipts = _Receipts()

    def _make_app(self) -> web.Application:
        app = super()._make_app()
        app.middlewares.append(self._delay)
        app.router.add_get(BENCH + "receipts", self.receipts.serve)
        app.router.add_post(BENCH + "config", self._config)
        app.router.add_post(BENCH + "providers", self._providers)
        app.router.add_get(BENCH + "stats", self._stats)
        return app

    @web.middleware
    async def _delay(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(BENCH):
            return await handler(request)
        key = f"{request.method} {request.path}"
        # Arrived once the body is in: httpx sends it apart from the headers, and the wait for
        # it is the sender's transit, which must not count as time spent inside MaxCare.
        raw = await request.read()
        self.receipts.add(time.monotonic(), "maxcare", key)
        response = await handler(request)
        if self.latency > 0:
            await asyncio.sleep(self.latency)
        # Arrival to here is the time the request spent inside "MaxCare": phase 3 subtracts it.
        answered = time.monotonic()
        self.receipts.add(answered, "maxcare-answer", key)
        if request.method == "POST" and request.path.endswith("/tasks") and response.status < 300:
            # A task created: when its card is posted is measured from here (by note ID).
            self.receipts.add(answered, "task-created", _note_id(raw))
        return response

    async def _config(self, request: web.Request) -> web.Response:
        """Set rate_limit (null: none) and rate_window; the 429 count restarts from 0."""
        body = await request.json()
        with self._lock:
            self.rate_limit = body.get("rate_limit")
            self.rate_window = float(body.get("rate_window", 60.0))
            self.rate_limited_count = 0
            self._hits.clear()
        return web.json_response({"ok": True})

    async def _providers(self, request: web.Request) -> web.Response:
        count = int((await request.json()).get("count", 1))
        ids = [self.add_provider(first_name=f"P{i}", last_name="Bench")["id"] for i in range(count)]
        return web.json_response({"ids": ids})

    async def _stats(self, request: web.Request) -> web.Response:
        """Task counts by notes text (duplicates show as counts above 1) and the 429 count;
        with `by_note=1`, the number of tasks of each note ID too (of those tasks)."""
        prefix = request.query.get("prefix", "")
        with self._lock:
            tasks = [t for t in self.tasks.values() if t["notes"].startswith(prefix)]
            limited = self.rate_limited_count
        mine = collections.Counter(t["notes"] for t in tasks)
        body: dict[str, Any] = {
            "tasks": sum(mine.values()),
            "distinct": len(mine),
            "duplicates": sum(v - 1 for v in mine.values()),
            "rate_limited": limited,
        }
        if request.query.get("by_note"):
            body["by_note"] = dict(collections.Counter(t["noteId"] for t in tasks))
        return web.json_response(body)


def main(argv: list[str] | None = None) -> int:
    """Serve both fakes until standard input closes, SIGTERM, or --max-seconds."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.fakes")
    p.add_argument("--slack-latency-ms", type=float, default=0.0)
    p.add_argument("--maxcare-latency-ms", type=float, default=0.0)
    p.add_argument("--max-seconds", type=float, default=3600.0)
    args = p.parse_args(argv)
    keep_history_out_of_collections()
    slack = LatentSlack(args.slack_latency_ms / 1000)
    maxcare = LatentMaxCare(args.maxcare_latency_ms / 1000)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    slack.start()
    maxcare.start()
    try:
        print(
            json.dumps(
                {
                    "slack_base": slack.base,
                    "slack_api_url": slack.api_url,
                    "slack_token": slack.token,
                    "maxcare_base": maxcare.base,
                    "maxcare_url": maxcare.url,
                    "maxcare_api_key": maxcare.api_key,
                    "maxcare_org": maxcare.organization_id,
                }
            ),
            flush=True,
        )

        def watch_stdin() -> None:
            sys.stdin.read()  # returns at EOF: the parent closed the pipe or exited
            done.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
        done.wait(args.max_seconds)
    finally:
        slack.stop()
        maxcare.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
