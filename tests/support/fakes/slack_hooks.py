"""FakeSlack's ways back to the app: response_urls (5 posts within 30 minutes) and Socket Mode."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web

from tests.support.fakes import slack_rules
from tests.support.fakes.records import Call
from tests.support.fakes.slack_views import random_id


@dataclass
class Hook:
    """A response_url Slack issued with an interaction."""

    issued: float  # on the fake's clock
    posts: int = 0


class SlackHooks:
    """The response_url and Socket Mode part of FakeSlack (a mixin: FakeSlack holds the state)."""

    app_token = "xapp-test-app-token"

    clock: Callable[[], float]
    base: str
    _lock: threading.Lock
    _loop: asyncio.AbstractEventLoop | None
    _calls: list[Call]
    _hooks: dict[str, Hook]
    _response_url_faults: dict[str, tuple[int, int | None]]
    _envelopes: dict[str, Any]  # Socket Mode payloads sent and not yet acked
    _sockets: list[web.WebSocketResponse]
    _learn_from_ack: Callable[[Any, Any], None]

    def response_url(self, name: str) -> str:
        """A response_url, issued now, whose posts are recorded as `response_url:<name>`."""
        with self._lock:
            self._hooks.setdefault(name, Hook(self.clock()))
        return f"{self.base}/response/{name}"

    def fail_response_url(self, name: str, status: int = 404, *, times: int | None = None) -> None:
        """Answer posts to response_url `name` with `status` (`times=None`: always)."""
        with self._lock:
            self._response_url_faults[name] = (status, times)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        raw = await request.text()
        try:
            body = json.loads(raw) if raw else {}
        except ValueError:
            body = {"_raw": raw}
        status, text = self._response_url_answer(name, body)
        with self._lock:
            self._calls.append(Call(f"response_url:{name}", body, None if status == 200 else text))
        return web.Response(status=status, text=text)

    def _response_url_answer(self, name: str, body: Any) -> tuple[int, str]:
        """HTTP status and text of Slack's answer to one post to a response_url."""
        with self._lock:
            fault = self._response_url_faults.get(name)
            if fault is not None:
                status, times = fault
                if times is not None:
                    if times <= 1:
                        del self._response_url_faults[name]
                    else:
                        self._response_url_faults[name] = (status, times - 1)
                return status, "no_active_hooks"
        blocks = body.get("blocks") if isinstance(body, dict) else None
        if blocks is not None and slack_rules.blocks_problems(blocks):
            return 400, "invalid_blocks"
        with self._lock:
            hook = self._hooks.get(name)
            if hook is None:  # never issued: no such URL
                return 404, "no_active_hooks"
            if self.clock() - hook.issued > slack_rules.RESPONSE_URL_SECONDS:
                return 404, "expired_url"
            if hook.posts >= slack_rules.RESPONSE_URL_POSTS:
                return 404, "used_url"
            hook.posts += 1
        return 200, "ok"

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        """A Socket Mode connection: hello, then envelopes pushed by socket_send; acks recorded."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        with self._lock:
            self._sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": 1})
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                ack = json.loads(message.data)
                with self._lock:
                    self._calls.append(Call("socket_ack", ack))
                    sent = self._envelopes.pop(str(ack.get("envelope_id")), None)
                self._learn_from_ack(sent, ack.get("payload") or {})
        with self._lock:
            self._sockets.remove(ws)
        return ws

    def socket_connected(self) -> bool:
        """True while an app holds a Socket Mode connection."""
        with self._lock:
            return bool(self._sockets)

    def socket_send(self, envelope_type: str, payload: dict[str, Any]) -> str:
        """Push one envelope (`slash_commands`, `interactive`, `events_api`); returns its ID."""
        envelope_id = random_id("E", 12)
        envelope = {
            "envelope_id": envelope_id, "type": envelope_type, "payload": payload,
            "accepts_response_payload": envelope_type != "events_api", "retry_attempt": 0,
            "retry_reason": "",
        }
        with self._lock:
            sockets = list(self._sockets)
            self._envelopes[envelope_id] = payload
        if not sockets or self._loop is None:
            raise AssertionError("no Socket Mode connection")
        asyncio.run_coroutine_threadsafe(sockets[-1].send_json(envelope), self._loop).result(5)
        return envelope_id

