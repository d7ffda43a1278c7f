"""Signed Slack request bodies for `/slack/events`, shaped like the ones Slack sends."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "test-signing-secret"
TEAM_ID = "T0TEAM"
TEAM_DOMAIN = "test-clinic"
API_APP_ID = "A0APP"
VERIFICATION_TOKEN = "legacy-verification-token"
DEFAULT_RESPONSE_URL = "http://127.0.0.1:1/response/x"

Signed = tuple[str, dict[str, str]]


def sign(
    body: str, *, secret: str = SIGNING_SECRET, timestamp: int | None = None
) -> dict[str, str]:
    """Headers Slack would send with `body`: v0 signature, timestamp and content type."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    # Events and url_verification are JSON; commands and interactivity are form-encoded.
    is_json = body.lstrip().startswith("{")
    return {
        "Content-Type": "application/json" if is_json else "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": f"v0={digest}",
    }


# These builders stand in for Slack: what they say Slack issued (a trigger_id, a view on screen)
# is told to the fakes listening here, so the fake Web API accepts exactly what Slack would.
# A listener is called as listener("trigger", trigger_id, view_id) or listener("view", view, None).
Listener = Callable[[str, Any, Any], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> None:
    """Hear of every trigger issued and view shown from now on (FakeSlack.start calls this)."""
    _listeners.append(listener)


def unlisten(listener: Listener) -> None:
    """Stop hearing of them."""
    if listener in _listeners:
        _listeners.remove(listener)


def _tell(kind: str, subject: Any, detail: Any = None) -> None:
    for listener in list(_listeners):
        listener(kind, subject, detail)


def new_trigger_id(view_id: str | None = None) -> str:
    """A fresh trigger_id in Slack's `<digits>.<digits>.<hex>` shape, issued now.

    `view_id`: the view the interaction happened in (views.push may push onto it).
    """
    trigger = f"{secrets.randbelow(10**13)}.{secrets.randbelow(10**13)}.{secrets.token_hex(16)}"
    _tell("trigger", trigger, view_id)
    return trigger


def _new_view_id() -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return "V" + "".join(secrets.choice(alphabet) for _ in range(10))


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _team(team_id: str) -> dict[str, Any]:
    return {"id": team_id, "domain": TEAM_DOMAIN}


def _user(user_id: str, team_id: str) -> dict[str, Any]:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _payload_body(payload: dict[str, Any]) -> Signed:
    """Interactivity bodies are a form with one `payload` field holding JSON."""
    body = urlencode({"payload": json.dumps(payload)})
    return body, sign(body)


def _base(kind: str, user_id: str, team_id: str) -> dict[str, Any]:
    """Fields every interactivity payload carries."""
    return {
        "type": kind,
        "token": VERIFICATION_TOKEN,
        "api_app_id": API_APP_ID,
        "team": _team(team_id),
        "user": _user(user_id, team_id),
        "enterprise": None,
        "is_enterprise_install": False,
    }


def slash_command(
    text: str = "",
    *,
    user_id: str = "UNURSE",
    user_name: str = "nurse",
    channel_id: str = "C0GENERAL",
    channel_name: str = "general",
    command: str = "/task",
    team_id: str = TEAM_ID,
    response_url: str = DEFAULT_RESPONSE_URL,
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> Signed:
    """A slash command invocation (form-encoded, fields in Slack's order; on Enterprise Grid
    with the organization's ID too, and for an org-wide install is_enterprise_install)."""
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": API_APP_ID,
        "is_enterprise_install": "true" if is_enterprise_install else "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    if enterprise_id:
        fields["enterprise_id"] = enterprise_id
    body = urlencode(fields)
    return body, sign(body)


def message_action(
    message: dict[str, Any],
    *,
    user_id: str = "UNURSE",
    channel_id: str = "C0GENERAL",
    channel_name: str = "general",
    callback_id: str = "create_task_from_message",
    response_url: str = DEFAULT_RESPONSE_URL,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
) -> Signed:
    """A message shortcut on `message` (a `ts` is added if missing; `thread_ts` is kept)."""
    message = {"type": "message", "user": "UAUTHOR", "team": team_id, **message}
    message.setdefault("ts", _action_ts())
    payload = {
        **_base("message_action", user_id, team_id),
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "action_ts": _action_ts(),
        "message_ts": message["ts"],
        "message": message,
        "channel": {"id": channel_id, "name": channel_name},
        "response_url": response_url,
    }
    return _payload_body(payload)


def global_shortcut(
    *,
    callback_id: str = "create_task",
    user_id: str = "UNURSE",
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
) -> Signed:
    """A global shortcut from the lightning menu (no channel, no response_url)."""
    payload = {
        **_base("shortcut", user_id, team_id),
        "callback_id": callback_id,
        "trigger_id": trigger_id or new_trigger_id(),
        "action_ts": _action_ts(),
    }
    return _payload_body(payload)


def plain_text_value(block_id: str, action_id: str, value: str | None) -> dict[str, Any]:
    """State values of a plain_text_input (`None` when left empty, as Slack sends)."""
    return {block_id: {action_id: {"type": "plain_text_input", "value": value}}}


def users_value(block_id: str, action_id: str, users: list[str]) -> dict[str, Any]:
    """State values of a multi_users_select."""
    return {block_id: {action_id: {"type": "multi_users_select", "selected_users": list(users)}}}


def conversation_value(block_id: str, action_id: str, channel: str | None) -> dict[str, Any]:
    """State values of a conversations_select."""
    return {
        block_id: {
            action_id: {"type": "conversations_select", "selected_conversation": channel}
        }
    }


def state_values(*fragments: dict[str, Any]) -> dict[str, Any]:
    """Merge value fragments into one `state.values` (several actions may share a block)."""
    merged: dict[str, Any] = {}
    for fragment in fragments:
        for block_id, actions in fragment.items():
            merged.setdefault(block_id, {}).update(actions)
    return merged


def _submitted_view(
    view: dict[str, Any],
    values: dict[str, Any],
    *,
    team_id: str,
    view_id: str | None,
    private_metadata: str | None,
    callback_id: str | None,
) -> dict[str, Any]:
    """The view as Slack echoes it back: what the app sent plus id, hash and state."""
    out = {"type": "modal", **view}
    out["id"] = view_id or view.get("id") or _new_view_id()
    out["team_id"] = team_id
    out["callback_id"] = callback_id or view.get("callback_id") or "create_task"
    out["private_metadata"] = (
        private_metadata if private_metadata is not None else view.get("private_metadata", "")
    )
    out["state"] = {"values": values}
    out.setdefault("hash", f"{int(time.time())}.{secrets.token_hex(4)}")
    out.setdefault("app_id", API_APP_ID)
    out.setdefault("bot_id", "BBOT")
    out.setdefault("root_view_id", out["id"])
    out.setdefault("previous_view_id", None)
    out.setdefault("external_id", "")
    return out


def view_submission(
    view: dict[str, Any],
    values: dict[str, Any],
    *,
    user_id: str = "UNURSE",
    team_id: str = TEAM_ID,
    view_id: str | None = None,
    private_metadata: str | None = None,
    callback_id: str | None = None,
    response_urls: list[dict[str, Any]] | None = None,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> Signed:
    """Submitting `view` with `values`; callback_id defaults to the view's, else create_task."""
    shown = _submitted_view(
        view, values, team_id=team_id, view_id=view_id,
        private_metadata=private_metadata, callback_id=callback_id,
    )
    _tell("view", shown)  # a person can only submit a view Slack has on their screen
    payload = {
        **_base("view_submission", user_id, team_id),
        "trigger_id": new_trigger_id(shown["id"]),
        "view": shown,
        "response_urls": list(response_urls or []),
    }
    if enterprise_id:
        payload["enterprise"] = {"id": enterprise_id, "name": enterprise_id}
        payload["is_enterprise_install"] = is_enterprise_install
    return _payload_body(payload)


def response_url_entry(
    channel_id: str,
    response_url: str,
    *,
    block_id: str = "destination",
    action_id: str = "destination",
) -> dict[str, Any]:
    """One `response_urls` item, sent for a conversations_select with response_url_enabled."""
    return {
        "block_id": block_id,
        "action_id": action_id,
        "channel_id": channel_id,
        "response_url": response_url,
    }


def block_actions(
    actions: list[dict[str, Any]],
    *,
    user_id: str = "UNURSE",
    team_id: str = TEAM_ID,
    container: dict[str, Any] | None = None,
    view: dict[str, Any] | None = None,
    channel_id: str | None = None,
    message: dict[str, Any] | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
) -> Signed:
    """Clicks/selections in a message or a view; each action gets an `action_ts`."""
    payload: dict[str, Any] = {
        **_base("block_actions", user_id, team_id),
        "actions": [{"action_ts": _action_ts(), **a} for a in actions],
    }
    if container is None:
        if view is not None:
            container = {"type": "view", "view_id": view.get("id") or _new_view_id()}
        elif message is not None:
            container = {
                "type": "message",
                "message_ts": message.get("ts"),
                "channel_id": channel_id,
                "is_ephemeral": False,
            }
        else:
            container = {}
    payload["container"] = container
    shown_id = None
    if view is not None:
        payload["view"] = {"state": {"values": {}}, "team_id": team_id, **view}
        payload["view"].setdefault("id", container.get("view_id") or _new_view_id())
        shown_id = payload["view"]["id"]
        _tell("view", payload["view"])
    payload["trigger_id"] = trigger_id or new_trigger_id(shown_id)
    if channel_id is not None:
        payload["channel"] = {"id": channel_id, "name": channel_id.lower()}
    if message is not None:
        payload["message"] = message
    if response_url is not None:
        payload["response_url"] = response_url
    return _payload_body(payload)


def block_suggestion(
    action_id: str,
    block_id: str,
    value: str,
    *,
    user_id: str = "UNURSE",
    team_id: str = TEAM_ID,
    view: dict[str, Any] | None = None,
) -> Signed:
    """An external_select asking for options while the person types `value`."""
    view = {"id": _new_view_id(), "type": "modal", "team_id": team_id,
            "state": {"values": {}}, **(view or {})}
    _tell("view", view)
    payload = {
        **_base("block_suggestion", user_id, team_id),
        "container": {"type": "view", "view_id": view["id"]},
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "view": view,
    }
    return _payload_body(payload)


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
    event_id: str | None = None,
) -> Signed:
    """An Events API delivery (JSON body) wrapping `event`."""
    now = int(time.time())
    envelope = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": {"event_ts": f"{now}.000100", **event},
        "type": "event_callback",
        "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
        "event_time": now,
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + secrets.token_hex(12),
    }
    body = json.dumps(envelope)
    return body, sign(body)


def function_executed(
    inputs: dict[str, Any],
    *,
    execution_id: str | None = None,
    callback_id: str = "create_maxcare_task",
    team_id: str = TEAM_ID,
    api_app_id: str = API_APP_ID,
) -> Signed:
    """A workflow running the app's custom step: the function_executed event Slack sends."""
    now = int(time.time())
    event = {
        "type": "function_executed",
        "function": {
            "id": "Fn" + secrets.token_hex(5).upper(),
            "callback_id": callback_id,
            "title": "Create MaxCare task",
            "description": "Create a task on a patient note in MaxCare, as a linked person",
            "type": "app",
            "input_parameters": [
                {"type": kind, "name": name, "title": name, "is_required": name != "channel"}
                for name, kind in (
                    ("note_id", "string"), ("assignees", "array"), ("notes", "string"),
                    ("creator", "slack#/types/user_id"), ("channel", "slack#/types/channel_id"),
                )
            ],
            "output_parameters": [
                {"type": "string", "name": name, "title": name, "is_required": True}
                for name in ("task_id", "status", "sync_status")
            ],
            "app_id": api_app_id,
            "date_created": now - 86400,
            "date_updated": now - 3600,
            "date_deleted": 0,
        },
        "inputs": inputs,
        "function_execution_id": execution_id or new_execution_id(),
        "workflow_execution_id": "Wx" + secrets.token_hex(5).upper(),
        "event_ts": f"{now}.000200",
        # A just-in-time token for this run: the app must never log or store it.
        "bot_access_token": "xwfp-" + secrets.token_hex(20),
    }
    return event_callback(event, team_id=team_id, api_app_id=api_app_id)


def new_execution_id() -> str:
    """A fresh function execution ID in Slack's `Fx…` shape."""
    return "Fx" + secrets.token_hex(5).upper()


def retried(signed: Signed, attempt: int = 1, reason: str = "http_timeout") -> Signed:
    """The same body delivered again by Slack: signed anew, with its retry headers."""
    body, _ = signed
    headers = {**sign(body), "X-Slack-Retry-Num": str(attempt), "X-Slack-Retry-Reason": reason}
    return body, headers


def url_verification(challenge: str) -> Signed:
    """The handshake Slack sends when the Request URL is saved."""
    body = json.dumps(
        {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
    )
    return body, sign(body)
