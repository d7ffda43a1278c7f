"""Real local HTTP fakes of the Slack Web API and the MaxCare v4 API for tests."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import math
import re
import secrets
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Self
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web

from tests.support import payloads, slack_rules


class _ThreadedServer:
    """An aiohttp app served on 127.0.0.1:0 from its own event loop in a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def _make_app(self) -> web.Application:
        """Build the aiohttp application (subclasses add their routes)."""
        raise NotImplementedError

    @property
    def port(self) -> int:
        """The port the server listens on."""
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._port

    @property
    def base(self) -> str:
        """`http://127.0.0.1:<port>` without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start serving; returns once the socket is listening."""
        if self._thread is not None:
            return self
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(ready, failure), name=type(self).__name__, daemon=True
        )
        self._thread.start()
        ready.wait(10)
        if failure:
            self._thread.join()
            self._thread = None
            raise RuntimeError(f"{type(self).__name__} failed to start") from failure[0]
        return self

    def _run(self, ready: threading.Event, failure: list[BaseException]) -> None:
        """Thread body: serve until stop() stops the loop, then clean up everything."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            # A short shutdown timeout: a handler sleeping in a delay fault must not hold stop().
            runner = web.AppRunner(self._make_app(), access_log=None, shutdown_timeout=0.2)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            self._runner = runner
            self._port = runner.addresses[0][1]
        except BaseException as exc:  # reported to start()
            failure.append(exc)
            loop.close()
            ready.set()
            return
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._shutdown(runner))
            loop.close()

    @staticmethod
    async def _shutdown(runner: web.AppRunner) -> None:
        """Close the server, then cancel whatever handlers are still sleeping."""
        await runner.cleanup()
        current = asyncio.current_task()
        pending = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        await asyncio.get_running_loop().shutdown_asyncgens()

    def stop(self) -> None:
        """Stop serving and join the thread."""
        thread, loop = self._thread, self._loop
        if thread is None or loop is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# ---------------------------------------------------------------------------------------------
# Slack
# ---------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One recorded request to the fake Slack."""

    method: str
    params: dict[str, Any]
    error: str | None = None  # the fake's refusal, if it refused (injected faults too)


@dataclass
class _Trigger:
    issued: float  # on the fake's clock
    view_id: str | None  # the view the interaction happened in
    used: bool = False


@dataclass
class _Hook:
    issued: float  # on the fake's clock
    posts: int = 0


@dataclass
class _SlackFault:
    method: str
    error: str
    remaining: int
    when: Callable[[dict[str, Any]], bool] | None = None
    retry_after: int | None = None  # set for rate limits (HTTP 429)


# Fault kinds of FakeSlack.drop: close the connection before (or after) doing the work.
DROP, DROP_AFTER = "__drop__", "__drop_after__"

# Slack sends these as JSON strings inside form bodies; slack_sdk sends them as objects in JSON.
_JSON_PARAMS = ("blocks", "view", "attachments", "metadata")


def _invalid(error: str, problems: list[str]) -> dict[str, Any]:
    """A refusal with Slack's explanation of what was wrong."""
    return {"ok": False, "error": error, "response_metadata": {"messages": problems}}


def _random_id(prefix: str, length: int = 10) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


class FakeSlack(_ThreadedServer):
    """A fake Slack Web API that records every call, can inject faults, and refuses what Slack
    refuses: spent, expired or unknown triggers, unknown or closed views, invalid Block Kit,
    methods it does not serve or the manifest's scopes do not cover, overused response_urls.

    Triggers and views are learnt from the payload builders (tests.support.payloads), which
    play Slack's part of an interaction, and from `new_trigger_id`. `clock` (monotonic seconds)
    times trigger and response_url expiry; `scopes` defaults to the manifest's bot scopes;
    `accept_any_trigger` is for fakes in another process, which cannot hear of issued triggers.
    """

    token = "xoxb-test-token"
    team_id = "T0TEAM"
    team_name = "Test Clinic"
    enterprise_id: str | None = None
    bot_user_id = "UBOT"
    bot_id = "BBOT"

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        scopes: Iterable[str] | None = None,
        accept_any_trigger: bool = False,
    ) -> None:
        super().__init__()
        self.clock = clock
        self.scopes = frozenset(scopes) if scopes is not None else slack_rules.manifest_scopes()
        self.accept_any_trigger = accept_any_trigger
        self._calls: list[Call] = []
        self._faults: list[_SlackFault] = []
        self._channel_errors: dict[str, str] = {}
        self._response_url_faults: dict[str, tuple[int, int | None]] = {}
        self._users: dict[str, dict[str, Any]] = {}
        self._views: dict[str, dict[str, Any]] = {}  # open views (modals and Home tabs)
        self._home: dict[str, str] = {}  # user ID -> their Home tab's view ID
        self._triggers: dict[str, _Trigger] = {}
        self._hooks: dict[str, _Hook] = {}
        self._envelopes: dict[str, Any] = {}  # Socket Mode payloads sent and not yet acked
        self._ts_counter = 0
        self._sockets: list[web.WebSocketResponse] = []

    def start(self) -> Self:
        """Start serving and hear of the triggers and views the payload builders issue."""
        super().start()
        payloads.listen(self._hear)
        return self

    def stop(self) -> None:
        """Stop hearing of triggers and views, and stop serving."""
        payloads.unlisten(self._hear)
        super().stop()

    @property
    def api_url(self) -> str:
        """Web API base for slack_sdk (`base_url`); ends in `/` because slack_sdk uses urljoin."""
        return f"{self.base}/api/"

    def response_url(self, name: str) -> str:
        """A response_url, issued now, whose posts are recorded as `response_url:<name>`."""
        with self._lock:
            self._hooks.setdefault(name, _Hook(self.clock()))
        return f"{self.base}/response/{name}"

    # --- what Slack issued -----------------------------------------------------------------

    def _hear(self, kind: str, subject: Any, detail: Any) -> None:
        """A payload builder issued a trigger or showed a view (see payloads.listen)."""
        with self._lock:
            if kind == "trigger":
                self._triggers[subject] = _Trigger(self.clock(), detail)
            elif kind == "view" and isinstance(subject, dict) and subject.get("id"):
                self._views[str(subject["id"])] = copy.deepcopy(subject)

    def new_trigger_id(self, view_id: str | None = None) -> str:
        """A trigger_id issued now, as by an interaction (in view `view_id` if given)."""
        trigger = payloads.new_trigger_id(view_id)
        self._hear("trigger", trigger, view_id)
        return trigger

    def close_view(self, view_id: str) -> None:
        """The person closed the modal (or an ack closed it): views.update then finds nothing."""
        with self._lock:
            self._views.pop(view_id, None)

    def view(self, view_id: str) -> dict[str, Any] | None:
        """The open view with this ID as the fake holds it, or None when unknown or closed."""
        with self._lock:
            found = self._views.get(view_id)
            return copy.deepcopy(found) if found is not None else None

    def acked(self, body: str, answer: str, status: int = 200) -> None:
        """Learn from the app's HTTP answer to a signed body which modals it closed."""
        if status != 200:
            return  # Slack shows an error and the modal stays as it was
        try:
            payload = json.loads(dict(parse_qsl(body)).get("payload", ""))
            ack = json.loads(answer) if answer.strip() else {}
        except ValueError:
            return
        self._learn_from_ack(payload, ack)

    def _learn_from_ack(self, payload: Any, ack: Any) -> None:
        """A view_submission's plain ack closes its view; `clear` closes its whole stack."""
        if not isinstance(payload, dict) or payload.get("type") != "view_submission":
            return
        view = payload["view"] if isinstance(payload.get("view"), dict) else {}
        action = ack.get("response_action") if isinstance(ack, dict) else None
        view_id = str(view.get("id") or "")
        if action is None:  # a plain ack closes the submitted view
            self.close_view(view_id)
        elif action == "clear":  # every view of the stack
            root = str(view.get("root_view_id") or view_id)
            with self._lock:
                stack = [v for v, held in self._views.items()
                         if v in (view_id, root) or held.get("root_view_id") == root]
            for one in stack:
                self.close_view(one)

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{name}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        return app

    # --- Socket Mode ---------------------------------------------------------------------------

    app_token = "xapp-test-app-token"

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
        envelope_id = _random_id("E", 12)
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

    # --- recorded state ------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls in order, optionally only those of one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until `count` calls of `method` were recorded; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.calls(method)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(method, count, timeout))
            time.sleep(0.01)

    async def async_wait_for(
        self, method: str, count: int = 1, timeout: float = 5.0
    ) -> list[Call]:
        """Like wait_for, for async tests (does not block the test's event loop)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.calls(method)
            if len(found) >= count:
                return found
            if time.monotonic() >= deadline:
                raise AssertionError(self._timeout_message(method, count, timeout))
            await asyncio.sleep(0.01)

    def _timeout_message(self, method: str, count: int, timeout: float) -> str:
        seen = [c.method for c in self.calls()]
        return f"expected {count} call(s) of {method} within {timeout}s; seen: {seen}"

    def clear(self) -> None:
        """Forget recorded calls (users, faults and views stay)."""
        with self._lock:
            self._calls.clear()

    # --- users ---------------------------------------------------------------------------------

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        real_name: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        is_admin: bool = False,
        is_owner: bool = False,
        email: str | None = None,
        team_id: str | None = None,
    ) -> dict[str, Any]:
        """Register a user that users.info and users.list return."""
        name = name or user_id.lower()
        real_name = real_name if real_name is not None else name.title()
        user = {
            "id": user_id,
            "team_id": team_id or self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": deleted,
            "is_bot": is_bot,
            "is_app_user": False,
            "is_admin": is_admin,
            "is_owner": is_owner,
            "is_primary_owner": False,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "profile": {"real_name": real_name, "display_name": name, "email": email},
        }
        with self._lock:
            self._users[user_id] = user
        return copy.deepcopy(user)

    # --- faults --------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: str,
        *,
        times: int = 1,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Answer the next `times` matching calls of `method` with `{"ok": false, "error"}`."""
        with self._lock:
            self._faults.append(_SlackFault(method, error, times, when))

    def clear_faults(self) -> None:
        """Forget every injected fault (channel access and response_url faults too)."""
        with self._lock:
            self._faults.clear()
            self._channel_errors.clear()
            self._response_url_faults.clear()

    def drop(self, method: str, *, times: int = 1, after_apply: bool = False) -> None:
        """Close the connection of the next `times` calls without an answer (after carrying
        the call out, if asked: a message posted whose answer never arrives)."""
        with self._lock:
            self._faults.append(_SlackFault(method, DROP_AFTER if after_apply else DROP, times))

    def rate_limit(self, method: str, *, times: int = 1, retry_after: int = 1) -> None:
        """Answer the next `times` calls of `method` with HTTP 429 and `Retry-After`."""
        with self._lock:
            self._faults.append(_SlackFault(method, "ratelimited", times, None, retry_after))

    def set_channel_access(self, channel: str, error: str | None) -> None:
        """Make chat.postMessage, chat.postEphemeral and chat.update in `channel` (and
        conversations.info of it) fail with `error` until reset with None."""
        with self._lock:
            if error is None:
                self._channel_errors.pop(channel, None)
            else:
                self._channel_errors[channel] = error

    def fail_response_url(self, name: str, status: int = 404, *, times: int | None = None) -> None:
        """Answer posts to response_url `name` with `status` (`times=None`: always)."""
        with self._lock:
            self._response_url_faults[name] = (status, times)

    def _take_fault(self, method: str, params: dict[str, Any]) -> _SlackFault | None:
        with self._lock:
            for fault in self._faults:
                if fault.method != method or fault.remaining <= 0:
                    continue
                if fault.when is not None and not fault.when(params):
                    continue
                fault.remaining -= 1
                return fault
            return None

    # --- HTTP ----------------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        raw = await request.text()
        if raw:
            if request.content_type == "application/json":
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw}  # recorded as sent, so the test can see what was wrong
                if isinstance(body, dict):
                    params.update(body)
            else:
                params.update(parse_qsl(raw, keep_blank_values=True))
        for key in _JSON_PARAMS:
            value = params.get(key)
            if isinstance(value, str) and value[:1] in ("[", "{"):
                # Malformed JSON stays the string it was, for the test to see.
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._read_params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else params.get("token")
        answer, headers, drop = self._api_answer(method, params, token)
        error = None if answer.get("ok") else str(answer.get("error"))
        with self._lock:  # recorded once handled, so a test that waited for it sees the outcome
            self._calls.append(Call(method, params, error))
        if drop:
            assert request.transport is not None
            request.transport.close()  # the client sees the connection reset, no answer
            return web.Response(status=500)
        status = 429 if "Retry-After" in headers else 200
        return web.json_response(answer, status=status, headers=headers)

    def _api_answer(
        self, method: str, params: dict[str, Any], token: Any
    ) -> tuple[dict[str, Any], dict[str, str], bool]:
        """The answer to one Web API call, its extra headers, and whether to drop it unsent."""
        if method == "apps.connections.open":
            if token != self.app_token:
                return {"ok": False, "error": "invalid_auth"}, {}, False
            ws_url = self.base.replace("http://", "ws://") + "/socket"
            return {"ok": True, "url": ws_url}, {}, False
        if method not in slack_rules.METHOD_SCOPES:
            return {"ok": False, "error": "unknown_method"}, {}, False
        if token != self.token:
            return {"ok": False, "error": "invalid_auth"}, {}, False
        needed = slack_rules.scope_needed(method, self.scopes)
        if needed is not None:
            return {
                "ok": False, "error": "missing_scope", "needed": needed,
                "provided": ",".join(sorted(self.scopes)),
            }, {}, False
        fault = self._take_fault(method, params)
        if fault is not None and fault.retry_after is not None:
            headers = {"Retry-After": str(fault.retry_after)}
            return {"ok": False, "error": "ratelimited"}, headers, False
        if fault is not None and fault.error == DROP:
            return {"ok": False, "error": "connection_dropped"}, {}, True
        if fault is not None and fault.error == DROP_AFTER:
            return self._respond(method, params), {}, True
        if fault is not None:
            return {"ok": False, "error": fault.error}, {}, False
        return self._respond(method, params), {}, False

    def _respond(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The answer of a call that reaches the method itself."""
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            with self._lock:
                channel_error = self._channel_errors.get(str(params.get("channel")))
            if channel_error:
                return {"ok": False, "error": channel_error}
        return self._answer(method, params)

    def _next_ts(self) -> str:
        with self._lock:
            self._ts_counter += 1
            n = self._ts_counter
        return f"{1700000000 + n // 10000}.{(n % 10000) * 100:06d}"

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """The success body of one Web API method."""
        if method == "auth.test":
            answer: dict[str, Any] = {
                "ok": True,
                "url": "https://test-clinic.slack.com/",
                "team": self.team_name,
                "user": "maxcare",
                "team_id": self.team_id,
                "user_id": self.bot_user_id,
                "bot_id": self.bot_id,
                "is_enterprise_install": False,
            }
            if self.enterprise_id:
                answer["enterprise_id"] = self.enterprise_id
            return answer
        if method.startswith("views."):
            return self._answer_view(method, params)
        if method.startswith("chat."):
            return self._answer_chat(method, params)
        if method == "conversations.open":
            return self._answer_conversations_open(params)
        if method == "conversations.info":
            return self._answer_conversations_info(params)
        if method == "users.info":
            with self._lock:
                user = self._users.get(str(params.get("user")))
            if user is None:
                return {"ok": False, "error": "user_not_found"}
            return {"ok": True, "user": self._as_seen(user)}
        if method == "users.list":
            return self._answer_users_list(params)
        return {"ok": True}

    def _answer_view(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        given = params.get("view")
        if method == "views.publish" and isinstance(given, dict):
            given = {"type": "home", **given}
        problems = slack_rules.view_problems(given)
        if problems or not isinstance(given, dict):
            return _invalid("invalid_arguments", problems)
        view = copy.deepcopy(given)
        under: dict[str, Any] | None = None  # the view a push goes onto
        with self._lock:
            if method in ("views.open", "views.push"):
                trigger = self._exchange_trigger(params, push=method == "views.push")
                if isinstance(trigger, dict):
                    return trigger
                view_id = _random_id("V")
                under = self._views.get(trigger.view_id or "") if method == "views.push" else None
            elif method == "views.update":
                found = self._updated_view(params)
                if isinstance(found, dict):
                    return found
                view_id = found
            else:
                user = str(params.get("user_id") or "")
                if not user:
                    return _invalid("invalid_arguments", ["missing required field: user_id"])
                if view.get("type") != "home":
                    return _invalid("invalid_arguments", ["views.publish takes a home view"])
                view_id = self._home.setdefault(user, _random_id("V"))
            held = under or self._views.get(view_id, {})
            view.update(
                id=view_id,
                hash=f"{int(time.time())}.{secrets.token_hex(4)}",
                team_id=self.team_id,
                app_id="A0APP",
                bot_id=self.bot_id,
                root_view_id=held.get("root_view_id") or held.get("id") or view_id,
            )
            view.setdefault("private_metadata", "")
            view.setdefault("callback_id", "")
            view.setdefault("state", {"values": {}})
            self._views[view_id] = view
            return {"ok": True, "view": copy.deepcopy(view)}

    def _exchange_trigger(self, params: dict[str, Any], *, push: bool) -> _Trigger | dict[str, Any]:
        """Spend the call's trigger_id, or the refusal Slack would answer (lock held)."""
        trigger_id = params.get("trigger_id") or params.get("interactivity_pointer")
        if not isinstance(trigger_id, str) or not trigger_id:
            return _invalid("invalid_arguments", ["missing required field: trigger_id"])
        if not slack_rules.TRIGGER_RE.fullmatch(trigger_id):
            return {"ok": False, "error": "invalid_trigger_id"}
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            if not self.accept_any_trigger:
                return {"ok": False, "error": "invalid_trigger_id"}
            trigger = self._triggers[trigger_id] = _Trigger(self.clock(), None)
        elif trigger.used:
            return {"ok": False, "error": "exchanged_trigger_id"}
        elif self.clock() - trigger.issued > slack_rules.TRIGGER_SECONDS:
            return {"ok": False, "error": "expired_trigger_id"}
        if push and (trigger.view_id or "") not in self._views:
            return {"ok": False, "error": "not_found"}  # no open view to push onto
        trigger.used = True
        return trigger

    def _updated_view(self, params: dict[str, Any]) -> str | dict[str, Any]:
        """The open view a views.update names, or the refusal Slack would answer (lock held)."""
        view_id = params.get("view_id")
        external_id = params.get("external_id")
        if not view_id and not external_id:
            return _invalid("invalid_arguments", ["view_id or external_id is required"])
        if not view_id:
            view_id = next(
                (k for k, v in self._views.items() if v.get("external_id") == external_id), None
            )
        held = self._views.get(str(view_id)) if view_id else None
        if held is None:
            return {"ok": False, "error": "not_found"}
        if params.get("hash") and params["hash"] != held.get("hash"):
            return {"ok": False, "error": "hash_conflict"}
        return str(view_id)

    def _answer_chat(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update") and not channel:
            return {"ok": False, "error": "channel_not_found"}
        if channel[:1] in ("U", "W"):
            channel = "D" + channel  # posting to a user ID lands in the DM with them
        if method in ("chat.postMessage", "chat.postEphemeral", "chat.update"):
            if "blocks" in params:
                problems = slack_rules.blocks_problems(params["blocks"])
                if problems:
                    return _invalid("invalid_blocks", problems)
            if not (params.get("text") or params.get("blocks") or params.get("attachments")):
                return {"ok": False, "error": "no_text"}
        if method == "chat.postMessage":
            ts = self._next_ts()
            message: dict[str, Any] = {
                "type": "message",
                "user": self.bot_user_id,
                "bot_id": self.bot_id,
                "team": self.team_id,
                "text": params.get("text", ""),
                "ts": ts,
            }
            for key in ("blocks", "attachments", "thread_ts", "metadata"):
                if key in params:
                    message[key] = params[key]
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            ts = str(params.get("ts", ""))
            message = {"text": params.get("text", ""), "user": self.bot_user_id, "ts": ts}
            if "blocks" in params:
                message["blocks"] = params["blocks"]
            return {"ok": True, "channel": channel, "ts": ts, "text": message["text"],
                    "message": message}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "chat.delete":
            return {"ok": True, "channel": channel, "ts": params.get("ts")}
        if method == "chat.getPermalink":
            ts = str(params.get("message_ts", "")).replace(".", "")
            return {
                "ok": True,
                "channel": channel,
                "permalink": f"https://test-clinic.slack.com/archives/{channel}/p{ts}",
            }
        return {"ok": True}

    def _answer_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        users = params.get("users")
        if isinstance(users, list):
            users = ",".join(users)
        if users:
            return {"ok": True, "channel": {"id": "D" + str(users).split(",")[0]}}
        if params.get("channel"):
            return {"ok": True, "channel": {"id": params["channel"]}}
        return {"ok": False, "error": "users_list_not_supplied"}

    def _answer_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = str(params.get("channel") or "")
        with self._lock:
            error = self._channel_errors.get(channel)
        # Slack hides private channels the bot is not in: they look like they do not exist.
        if error == "channel_not_found" or not channel:
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": channel.lower(),
                "is_channel": channel[:1] == "C",
                "is_group": channel[:1] == "G",
                "is_im": channel[:1] == "D",
                "is_private": channel[:1] in ("G", "D"),
                "is_member": error is None,
            },
        }

    def _as_seen(self, user: dict[str, Any]) -> dict[str, Any]:
        """A copy of a user as the app's token may see them (email needs its own scope)."""
        seen = copy.deepcopy(user)
        if slack_rules.EMAIL_SCOPE not in self.scopes:
            seen["profile"].pop("email", None)
        return seen

    def _answer_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        limit = int(params.get("limit") or 1000)
        cursor = str(params.get("cursor") or "")
        start = int(cursor.removeprefix("next:")) if cursor.startswith("next:") else 0
        with self._lock:
            members = [self._as_seen(u) for u in self._users.values()]
        page = members[start : start + limit]
        next_cursor = f"next:{start + limit}" if start + limit < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}

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


# ---------------------------------------------------------------------------------------------
# MaxCare
# ---------------------------------------------------------------------------------------------


@dataclass
class Request:
    """One recorded request to the fake MaxCare."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any


@dataclass
class _MaxFault:
    kind: str  # "fail", "delay", "drop" or "stall"
    method: str
    path: str
    remaining: int
    after_apply: bool
    status: int = 500
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    429: "rate_limit_exceeded",
}
_ERROR_MESSAGES = {
    400: "Missing or invalid request parameter",
    401: "Invalid or missing API key",
    403: "Insufficient scope",
    404: "Resource not found",
    429: "Rate limit exceeded",
}


def _prefixed_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _valid_id(prefix: str, value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(rf"{prefix}_[0-9a-f]{{32}}", value) is not None


def _iso_now() -> str:
    """Now as ISO 8601 with `Z`, the style of provider timestamps."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pg_now() -> str:
    """Now in MaxCare's Postgres text style, e.g. `2026-03-20 18:35:10.209452+00`."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"


class _ApiError(Exception):
    """Raised inside handlers to answer a MaxCare error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_SUMMARY_KEYS = (
    "id", "firstName", "lastName", "displayFirstName", "displayLastName", "username", "roles",
    "individualNpi", "canFinalize", "canCosign",
)
_CREATE_FIELDS = ("noteId", "providerId", "notes", "assigneeIds")


class FakeMaxCare(_ThreadedServer):
    """A fake MaxCare v4 API following openapi-v4.json, with fault injection.

    As strict as the real one: notes exist only once registered with `add_note` (`any_note`
    makes every well-formed note ID exist, for fakes in another process), JSON bodies need
    `Content-Type: application/json`, and every answer carries the X-RateLimit headers of
    MaxCare's documented budget (`rate_limit=None`: no budget and no headers). With
    `normalise_notes`, task notes are stored trimmed, with `\n` line endings, as a real
    service may store them.
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
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.organization_id = organization_id or _prefixed_id("org")
        self.rate_limit = rate_limit
        self.rate_window = rate_window
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

    # --- data ----------------------------------------------------------------------------------

    def add_provider(
        self,
        *,
        id: str | None = None,
        first_name: str = "James",
        last_name: str = "Wilson",
        display_first_name: str | None = None,
        display_last_name: str | None = None,
        username: str | None = None,
        roles: Iterable[str] = ("Physician",),
    ) -> dict[str, Any]:
        """Register a provider (ProviderV3 shape) and return a copy."""
        now = _iso_now()
        provider_id = id or _prefixed_id("prv")
        provider: dict[str, Any] = {
            "id": provider_id,
            "firstName": first_name,
            "lastName": last_name,
            "displayFirstName": display_first_name,
            "displayLastName": display_last_name,
            "username": username if username is not None else (first_name[:1] + last_name).lower(),
            "roles": list(roles),
            "individualNpi": "".join(secrets.choice("0123456789") for _ in range(10)),
            "canFinalize": True,
            "canCosign": False,
            "hidden": False,
            "createdAt": now,
            "updatedAt": now,
        }
        with self._lock:
            self.providers[provider_id] = provider
        return copy.deepcopy(provider)

    def add_note(self, note_id: str | None = None, **fields: Any) -> dict[str, Any]:
        """Register a note (a fresh ID unless given): tasks can be made on it, GET /notes lists
        it; `fields` override the generated ones."""
        note = {**self._make_note(note_id or _prefixed_id("nte")), **fields}
        with self._lock:
            self.notes[note["id"]] = note
        return copy.deepcopy(note)

    def add_task(
        self, *, assignee_ids: Iterable[str], status: str = "not_started", **fields: Any
    ) -> dict[str, Any]:
        """Store a task as if made outside the app (the EHR, the Max AI UI); returns a copy."""
        now = _pg_now()
        with self._lock:
            task = {
                "id": _prefixed_id("tsk"),
                "status": status,
                "syncStatus": "synced",
                "notes": "Task made outside Slack",
                "noteId": _prefixed_id("nte"),
                "ehrType": "modmed",
                "assignedProviders": [
                    {k: self.providers[a].get(k) for k in _SUMMARY_KEYS} for a in assignee_ids
                ],
                "createdAt": now,
                "updatedAt": now,
                **fields,
            }
            self.tasks[task["id"]] = task
            return copy.deepcopy(task)

    def set_task(self, task_id: str, **fields: Any) -> dict[str, Any]:
        """Change a task as the EHR would (status, syncStatus, updatedAt…); returns a copy."""
        with self._lock:
            task = self.tasks[task_id]
            fields.setdefault("updatedAt", _pg_now())
            task.update(fields)
            return copy.deepcopy(task)

    def _make_note(self, note_id: str) -> dict[str, Any]:
        return {
            "id": note_id,
            "version": 1,
            "visitDate": _pg_now(),
            "status": "awaiting_sign",
            "aiStatus": "issues_found",
            "aiIssueCount": 1,
            "patient": {
                "id": "pat_8de030393a9e417ab2b3a8b8df183631",
                "mrn": "MRN-10042",
                "firstName": "Sarah",
                "lastName": "Johnson",
                "middleName": None,
                "gender": None,
                "dateOfBirth": "1985-03-15",
                "email": None,
                "phone": None,
                "avatar": None,
                "createdAt": "2024-08-15T09:30:00.000Z",
                "updatedAt": "2025-01-20T14:22:00.000Z",
            },
            "facility": {
                "id": "fac_b2c3d4e5f6a74b8c9d0e1f2a3b4c5d6e",
                "name": "West LA Dermatology",
                "timezone": "America/Los_Angeles",
            },
            "ehrType": "modmed",
            "assignedProviders": [],
        }

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

    def _error(
        self, status: int, message: str | None = None, headers: dict[str, str] | None = None
    ) -> web.Response:
        code = _ERROR_CODES.get(status, "internal_error" if status >= 500 else "error")
        body = {
            "code": code,
            "message": message or _ERROR_MESSAGES.get(status, "Internal server error"),
            "trace_id": str(uuid.uuid4()),
        }
        return web.json_response(body, status=status, headers=headers)

    def _rate_check(self) -> tuple[dict[str, str], web.Response | None]:
        """Count this request in the sliding window: its headers, or a 429 when over budget."""
        if self.rate_limit is None:
            return {}, None
        now = time.monotonic()
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
        return headers, self._error(429, message, headers)

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
            return self._error(503, "Service unavailable")
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self._error(401, "Invalid or missing API key")
        if request.headers.get("X-Organization-Id") != self.organization_id:
            return self._error(403, "Organization not accessible with this API key")
        if raw and request.content_type != "application/json":
            # Without the JSON content type the body is not parsed, so nothing is in it.
            return self._error(400, "Request body must be JSON (Content-Type: application/json)")

        fault = self._take_fault(request.method, path)
        response: web.StreamResponse | None = None
        if fault is None or fault.after_apply:
            response = self._route(request.method, path, request.query, body)
        if fault is not None:
            if fault.kind in ("delay", "stall"):
                await asyncio.sleep(fault.seconds)
            if fault.kind == "delay":
                if response is None:
                    response = self._route(request.method, path, request.query, body)
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
                    response = self._error(fault.status)
                response.headers.update(fault.headers)
        assert response is not None
        return response

    def _route(
        self, method: str, path: str, query: Any, body: Any
    ) -> web.Response:
        """Dispatch one authorised request to its endpoint."""
        parts = [p for p in path.split("/") if p]
        try:
            if method == "POST" and parts == ["tasks"]:
                return web.json_response({"code": "success", "data": self._create_task(body)},
                                         status=201)
            if method != "GET" or not parts or len(parts) > 2:
                raise _ApiError(404, f"Cannot {method} {path}")
            resource = parts[0]
            if len(parts) == 2:
                data = self._get_one(resource, parts[1])
            else:
                data = self._list(resource, query)
            return web.json_response({"code": "success", "data": data})
        except _ApiError as exc:
            return self._error(exc.status, exc.message)

    def _get_one(self, resource: str, item_id: str) -> dict[str, Any]:
        prefixes = {"tasks": ("tsk", "Task"), "providers": ("prv", "Provider"),
                    "notes": ("nte", "Note")}
        if resource not in prefixes:
            raise _ApiError(404, f"Cannot GET /{resource}/{item_id}")
        prefix, label = prefixes[resource]
        if not _valid_id(prefix, item_id):
            raise _ApiError(400, "'id' must be a valid ID")
        found: dict[str, Any] | None
        with self._lock:
            if resource == "notes":
                found = self.notes.get(item_id)
                if found is None and self._note_exists(item_id):
                    found = self._make_note(item_id)
                if found is None or item_id in self.missing_notes:
                    raise _ApiError(404, "Note not found")
            else:
                found = (self.tasks if resource == "tasks" else self.providers).get(item_id)
            if found is None:
                raise _ApiError(404, f"{label} not found")
            return copy.deepcopy(found)

    def _list(self, resource: str, query: Any) -> dict[str, Any]:
        page = _int_param(query, "page", 1, 1, None)
        page_size = _int_param(query, "pageSize", 100, 1, 100)
        with self._lock:
            if resource == "tasks":
                items = self._filter_tasks(query)
            elif resource == "providers":
                items = self._filter_providers(query)
            elif resource == "notes":
                items = [
                    n for n in self.notes.values()
                    if n["id"] not in self.missing_notes
                    and query.get("patientId") in (None, n["patient"]["id"])
                    and (query.get("providerId") is None
                         or any(p["id"] == query["providerId"] for p in n["assignedProviders"]))
                ]
            else:
                raise _ApiError(404, f"Cannot GET /{resource}")
            total = len(items)
            chunk = copy.deepcopy(items[(page - 1) * page_size : page * page_size])
        pagination = {
            "page": page,
            "pageSize": page_size,
            "totalCount": total,
            "totalPages": math.ceil(total / page_size),
        }
        return {resource: chunk, "pagination": pagination}

    def _filter_tasks(self, query: Any) -> list[dict[str, Any]]:
        statuses = set(filter(None, query.get("status", "").split(",")))
        tasks = list(reversed(self.tasks.values()))  # newest first
        return [
            t for t in tasks
            if (not statuses or t["status"] in statuses)
            and query.get("noteId") in (None, t["noteId"])
            and (query.get("providerId") is None
                 or any(p["id"] == query["providerId"] for p in t["assignedProviders"]))
        ]

    def _filter_providers(self, query: Any) -> list[dict[str, Any]]:
        search = query.get("search", "").lower()
        hidden = query.get("hidden")
        found = []
        for p in self.providers.values():
            names = (p["firstName"], p["lastName"], p["displayFirstName"],
                     p["displayLastName"], p["username"])
            if search and not any(search in (n or "").lower() for n in names):
                continue
            if hidden is not None and p["hidden"] != (hidden == "true"):
                continue
            found.append(p)
        return found

    def _note_exists(self, note_id: str) -> bool:
        """A registered note (or any, with any_note) not made missing (lock held)."""
        known = note_id in self.notes or self.any_note
        return known and note_id not in self.missing_notes

    def _create_task(self, body: Any) -> dict[str, Any]:
        """Validate a CreateTaskRequest and store the new task."""
        if not isinstance(body, dict):
            raise _ApiError(400, "Request body must be a JSON object")
        for name in _CREATE_FIELDS:
            if name not in body or body[name] is None:
                raise _ApiError(400, f"'{name}' is required")
        for name in body:
            if name not in _CREATE_FIELDS:
                raise _ApiError(400, f"'{name}' is not allowed")
        if not _valid_id("nte", body["noteId"]):
            raise _ApiError(400, "'noteId' must be a valid ID")
        if not _valid_id("prv", body["providerId"]):
            raise _ApiError(400, "'providerId' must be a valid ID")
        if not isinstance(body["notes"], str) or not body["notes"].strip():
            raise _ApiError(400, "'notes' must be a non-empty string")
        assignees = body["assigneeIds"]
        if not isinstance(assignees, list) or not assignees:
            raise _ApiError(400, "'assigneeIds' must contain at least 1 element")
        if not all(_valid_id("prv", a) for a in assignees):
            raise _ApiError(400, "'assigneeIds' must contain valid IDs")
        with self._lock:
            if body["providerId"] not in self.providers:
                raise _ApiError(404, "Provider not found")
            if any(a not in self.providers for a in assignees):
                raise _ApiError(404, "Provider not found")
            if not self._note_exists(body["noteId"]):
                raise _ApiError(404, "Note not found")
            now = _pg_now()
            task = {
                "id": _prefixed_id("tsk"),
                "status": "not_started",
                "syncStatus": self.default_sync_status,
                "notes": _normalised(body["notes"]) if self.normalise_notes else body["notes"],
                "noteId": body["noteId"],
                "ehrType": "modmed",
                "assignedProviders": [
                    {k: self.providers[a].get(k) for k in _SUMMARY_KEYS}
                    for a in dict.fromkeys(assignees)
                ],
                "createdAt": now,
                "updatedAt": now,
            }
            self.tasks[task["id"]] = task
            self.created_by[task["id"]] = body["providerId"]
            return copy.deepcopy(task)


def _normalised(notes: str) -> str:
    """Task notes as a service that tidies text stores them: `\n` line endings, trimmed."""
    return notes.replace("\r\n", "\n").replace("\r", "\n").strip()


def _normalise_path(path: str) -> str:
    """`tasks`, `/tasks` and `/v4/tasks` all mean `/tasks`."""
    path = "/" + path.lstrip("/")
    return path.removeprefix("/v4") or "/"


def _int_param(query: Any, name: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _ApiError(400, f"'{name}' must be an integer") from None
    if value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _ApiError(400, f"'{name}' must be {limit}")
    return value
