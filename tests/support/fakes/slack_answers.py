"""FakeSlack's answers to the chat, conversations, users and functions methods; its users."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable
from typing import Any

from tests.support.fakes import slack_rules
from tests.support.fakes.slack_views import invalid


class SlackAnswers:
    """The messages and people part of FakeSlack (a mixin: FakeSlack holds the state)."""

    team_id: str
    bot_user_id: str
    bot_id: str
    scopes: frozenset[str]
    _lock: threading.Lock
    _users: dict[str, dict[str, Any]]
    _channel_errors: dict[str, str]
    _completed: dict[str, str]  # function execution ID -> the method that ended it
    _next_ts: Callable[[], str]

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
                    return invalid("invalid_blocks", problems)
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

    def _answer_function_completion(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        """A workflow step's end: once per execution, as Slack allows; outputs must be strings."""
        execution_id = str(params.get("function_execution_id") or "")
        if not execution_id:
            return {"ok": False, "error": "invalid_arguments"}
        if method == "functions.completeSuccess":
            outputs = json_object(params.get("outputs"))
            if outputs is None or not all(isinstance(v, str) for v in outputs.values()):
                return {"ok": False, "error": "parameter_validation_failed"}
        elif not str(params.get("error") or "").strip():
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            if execution_id in self._completed:
                return {"ok": False, "error": "execution_not_in_running_state"}
            self._completed[execution_id] = method
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

    def _answer_people(self, method: str, params: dict[str, Any], team: str) -> dict[str, Any]:
        """users.info and users.list as one workspace's token sees them: its own people only."""
        if method == "users.list":
            return self._answer_users_list(params, team)
        with self._lock:
            user = self._users.get(str(params.get("user")))
        if user is None or user["team_id"] != team:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "user": self._as_seen(user)}

    def _answer_users_list(self, params: dict[str, Any], team: str) -> dict[str, Any]:
        limit = int(params.get("limit") or 1000)
        cursor = str(params.get("cursor") or "")
        start = int(cursor.removeprefix("next:")) if cursor.startswith("next:") else 0
        with self._lock:
            members = [self._as_seen(u) for u in self._users.values() if u["team_id"] == team]
        page = members[start : start + limit]
        next_cursor = f"next:{start + limit}" if start + limit < len(members) else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}


def json_object(value: Any) -> dict[str, Any] | None:
    """An object sent as JSON text (form-encoded parameters) or as an object; else None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None
