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
at the time of its answer). Every task POST is also kept with its note ID, the organization it was
sent for and its answer's status (`GET /_bench/task_posts`).

Many-workspace mode needs other clinics: Slack's `POST /_bench/workspace`, `/_bench/user`,
`/_bench/approve` (the installer on Slack's authorize page), `/_bench/response_url` and
`GET /_bench/calls`; MaxCare's `POST /_bench/organizations` and `/_bench/providers` with an
`organization_id`. They call the tests' fakes' own methods, so they behave as in the tests.
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
    """Receipt records `[monotonic seconds, kind, key]` (or other fields after the time),
    appended from the fake's own loop."""

    def __init__(self) -> None:
        self.items: list[list[Any]] = []
        self.lock = threading.Lock()

    def add(self, t: float, *fields: Any) -> None:
        with self.lock:
            self.items.append([t, *fields])

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
        app.router.add_post(BENCH + "workspace", self._workspace)
        app.router.add_post(BENCH + "user", self._user)
        app.router.add_post(BENCH + "approve", self._approve)
        app.router.add_post(BENCH + "response_url", self._response_url)
        app.router.add_get(BENCH + "calls", self._calls_of)
        return app

    async def _workspace(self, request: web.Request) -> web.Response:
        """Another workspace the app can be installed in: `{team_id, name}`."""
        body = await request.json()
        self.add_workspace(str(body["team_id"]), str(body["name"]))
        return web.json_response({"ok": True})

    async def _user(self, request: web.Request) -> web.Response:
        """A person of a workspace: `{user_id, team_id, is_admin}`."""
        body = await request.json()
        self.add_user(
            str(body["user_id"]), team_id=body.get("team_id"), is_admin=bool(body.get("is_admin"))
        )
        return web.json_response({"ok": True})

    async def _approve(self, request: web.Request) -> web.Response:
        """The installer approves on Slack's authorize page: `{url, team_id, user_id}` →
        `{code, state}` for the redirect (refused with 400 where Slack's page would refuse)."""
        body = await request.json()
        try:
            code, state = self.approve(str(body["url"]), str(body["team_id"]), str(body["user_id"]))
        except AssertionError as exc:
            return web.json_response({"error": str(exc)}, status=400)
        return web.json_response({"code": code, "state": state})

    async def _response_url(self, request: web.Request) -> web.Response:
        """Issue a response_url now: `{name}` → `{url}`; its posts are `response_url:<name>`."""
        return web.json_response({"url": self.response_url(str((await request.json())["name"]))})

    async def _calls_of(self, request: web.Request) -> web.Response:
        """The parameters and error of each recorded call of `?method=`, in order."""
        calls = self.calls(request.query["method"])
        return web.json_response({"items": [{"params": c.params, "error": c.error} for c in calls]})

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
        self.task_posts = _Receipts()  # [arrived, note ID, X-Organization-Id, status]

    def _make_app(self) -> web.Application:
        app = super()._make_app()
        app.middlewares.append(self._delay)
        app.router.add_get(BENCH + "receipts", self.receipts.serve)
        app.router.add_post(BENCH + "config", self._config)
        app.router.add_post(BENCH + "providers", self._providers)
        app.router.add_post(BENCH + "organizations", self._organizations)
        app.router.add_get(BENCH + "stats", self._stats)
        app.router.add_get(BENCH + "task_posts", self.task_posts.serve)
        return app

    @web.middleware
    async def _delay(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(BENCH):
            return await handler(request)
        key = f"{request.method} {request.path}"
        # Arrived once the body is in: httpx sends it apart from the headers, and the wait for
        # it is the sender's transit, which must not count as time spent inside MaxCare.
        raw = await request.read()
        arrived = time.monotonic()
        self.receipts.add(arrived, "maxcare", key)
        response = await handler(request)
        if request.method == "POST" and request.path.endswith("/tasks"):
            org = request.headers.get("X-Organization-Id", "")
            self.task_posts.add(arrived, _note_id(raw), org, response.status)
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
        """`{count, organization_id}` providers (the first organization's when none is named)."""
        body = await request.json()
        count, org = int(body.get("count", 1)), body.get("organization_id")
        ids = [
            self.add_provider(first_name=f"P{i}", last_name="Bench", organization_id=org)["id"]
            for i in range(count)
        ]
        return web.json_response({"ids": ids})

    async def _organizations(self, request: web.Request) -> web.Response:
        """Another organization the API key reaches: `{id}`."""
        return web.json_response({"id": self.add_organization()})

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
                    "slack_client_id": slack.client_id,
                    "slack_client_secret": slack.client_secret,
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
