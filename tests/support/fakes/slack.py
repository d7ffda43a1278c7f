"""FakeSlack: a fake Slack Web API that records every call and injects faults.

Its views and triggers are in slack_views.py, its messages and people in slack_answers.py, its
response_urls and Socket Mode in slack_hooks.py, and what Slack refuses in slack_rules.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import parse_qsl

from aiohttp import web

from tests.support import payloads
from tests.support.fakes import slack_rules
from tests.support.fakes.records import Call
from tests.support.fakes.server import ThreadedServer
from tests.support.fakes.slack_answers import SlackAnswers, json_object
from tests.support.fakes.slack_hooks import Hook, SlackHooks
from tests.support.fakes.slack_oauth import SlackOAuth, Workspace
from tests.support.fakes.slack_views import SlackViews, Trigger

# Waits for a call give up after this long: generous, for a machine busy with other work.
WAIT_SECONDS = 10.0


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


class FakeSlack(SlackViews, SlackAnswers, SlackHooks, SlackOAuth, ThreadedServer):
    """A fake Slack Web API that records every call, can inject faults, and refuses what Slack
    refuses: spent, expired or unknown triggers, unknown or closed views, invalid Block Kit,
    methods it does not serve or the manifest's scopes do not cover, overused response_urls.

    Triggers and views are learnt from the payload builders (tests.support.payloads), which
    play Slack's part of an interaction, and from `new_trigger_id`. `clock` (monotonic seconds)
    times trigger and response_url expiry; `scopes` defaults to the manifest's bot scopes;
    `accept_any_trigger` is for fakes in another process, which cannot hear of issued triggers.
    Other workspaces, the OAuth install and per-token answers: slack_oauth.py.
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
        self._triggers: dict[str, Trigger] = {}
        self._hooks: dict[str, Hook] = {}
        self._envelopes: dict[str, Any] = {}  # Socket Mode payloads sent and not yet acked
        self._ts_counter = 0
        self._sockets: list[web.WebSocketResponse] = []
        self._completed: dict[str, str] = {}  # function execution ID -> the method that ended it
        self._init_oauth()

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

    def _make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{name}", self._handle_response_url)
        app.router.add_get("/socket", self._handle_socket)
        return app

    # --- recorded state ------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Recorded calls in order, optionally only those of one method."""
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def completions(self, execution_id: str | None = None) -> list[Call]:
        """functions.completeSuccess/completeError calls in order (outputs read as an object),
        all of them or those of one execution."""
        found = []
        for call in self.calls():
            if call.method not in ("functions.completeSuccess", "functions.completeError"):
                continue
            if execution_id not in (None, call.params.get("function_execution_id")):
                continue
            params = dict(call.params)
            if "outputs" in params:
                params["outputs"] = json_object(params["outputs"])
            found.append(Call(call.method, params))
        return found

    def wait_for(self, method: str, count: int = 1, timeout: float = WAIT_SECONDS) -> list[Call]:
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
        self, method: str, count: int = 1, timeout: float = WAIT_SECONDS
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
        if method == "oauth.v2.access":  # the client's ID and secret, not a token
            answer, headers, drop = self._answer_oauth_access(params, auth), {}, False
            token = None
        else:
            answer, headers, drop = self._api_answer(method, params, token)
        error = None if answer.get("ok") else str(answer.get("error"))
        used = token if isinstance(token, str) else None
        with self._lock:  # recorded once handled, so a test that waited for it sees the outcome
            self._calls.append(Call(method, params, error, used))
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
        workspace = self.workspace_of(token)
        if token != self.token and workspace is None:
            error = "token_expired" if self.token_expired(token) else "invalid_auth"
            return {"ok": False, "error": error}, {}, False
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
            return self._respond(method, params, workspace), {}, True
        if fault is not None:
            return {"ok": False, "error": fault.error}, {}, False
        return self._respond(method, params, workspace), {}, False

    def _respond(
        self, method: str, params: dict[str, Any], workspace: Workspace | None = None
    ) -> dict[str, Any]:
        """The answer of a call that reaches the method itself (`workspace`: the token's, when
        it is not the first workspace's)."""
        if workspace is not None and method == "auth.test":
            return _auth_test(workspace)
        if method in ("users.info", "users.list"):  # people of the token's workspace only
            team = workspace.team_id if workspace is not None else self.team_id
            return self._answer_people(method, params, team)
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
        if method in ("functions.completeSuccess", "functions.completeError"):
            return self._answer_function_completion(method, params)
        return {"ok": True}


def _auth_test(workspace: Workspace) -> dict[str, Any]:
    """auth.test with another workspace's bot token."""
    answer: dict[str, Any] = {
        "ok": True,
        "url": f"https://{workspace.team_id.lower()}.slack.com/",
        "team": workspace.team_name,
        "user": "maxcare",
        "team_id": workspace.team_id,
        "user_id": workspace.bot_user_id,
        "bot_id": workspace.bot_id,
        "is_enterprise_install": workspace.is_enterprise_install,
    }
    if workspace.enterprise_id:
        answer["enterprise_id"] = workspace.enterprise_id
    return answer
