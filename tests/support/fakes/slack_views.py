"""FakeSlack's triggers and views: issued by the payload builders, exchanged once, opened,
pushed, updated, and closed by the app's acks, as Slack does."""

from __future__ import annotations

import copy
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from tests.support import payloads
from tests.support.fakes import slack_rules


@dataclass
class Trigger:
    """A trigger_id Slack issued with an interaction; exchanged at most once."""

    issued: float  # on the fake's clock
    view_id: str | None  # the view the interaction happened in
    used: bool = False


def invalid(error: str, problems: list[str]) -> dict[str, Any]:
    """A refusal with Slack's explanation of what was wrong."""
    return {"ok": False, "error": error, "response_metadata": {"messages": problems}}


def random_id(prefix: str, length: int = 10) -> str:
    """An ID as Slack makes them: a prefix and upper-case letters and digits."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


class SlackViews:
    """The triggers and views part of FakeSlack (a mixin: FakeSlack holds the state)."""

    clock: Callable[[], float]
    accept_any_trigger: bool
    team_id: str
    bot_id: str
    _lock: threading.Lock
    _views: dict[str, dict[str, Any]]  # open views (modals and Home tabs)
    _home: dict[str, str]  # user ID -> their Home tab's view ID
    _triggers: dict[str, Trigger]

    def _hear(self, kind: str, subject: Any, detail: Any) -> None:
        """A payload builder issued a trigger or showed a view (see payloads.listen)."""
        with self._lock:
            if kind == "trigger":
                self._triggers[subject] = Trigger(self.clock(), detail)
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

    def _answer_view(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        given = params.get("view")
        if method == "views.publish" and isinstance(given, dict):
            given = {"type": "home", **given}
        problems = slack_rules.view_problems(given)
        if problems or not isinstance(given, dict):
            return invalid("invalid_arguments", problems)
        view = copy.deepcopy(given)
        under: dict[str, Any] | None = None  # the view a push goes onto
        with self._lock:
            if method in ("views.open", "views.push"):
                trigger = self._exchange_trigger(params, push=method == "views.push")
                if isinstance(trigger, dict):
                    return trigger
                view_id = random_id("V")
                under = self._views.get(trigger.view_id or "") if method == "views.push" else None
            elif method == "views.update":
                found = self._updated_view(params)
                if isinstance(found, dict):
                    return found
                view_id = found
            else:
                user = str(params.get("user_id") or "")
                if not user:
                    return invalid("invalid_arguments", ["missing required field: user_id"])
                if view.get("type") != "home":
                    return invalid("invalid_arguments", ["views.publish takes a home view"])
                view_id = self._home.setdefault(user, random_id("V"))
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

    def _exchange_trigger(self, params: dict[str, Any], *, push: bool) -> Trigger | dict[str, Any]:
        """Spend the call's trigger_id, or the refusal Slack would answer (lock held)."""
        trigger_id = params.get("trigger_id") or params.get("interactivity_pointer")
        if not isinstance(trigger_id, str) or not trigger_id:
            return invalid("invalid_arguments", ["missing required field: trigger_id"])
        if not slack_rules.TRIGGER_RE.fullmatch(trigger_id):
            return {"ok": False, "error": "invalid_trigger_id"}
        trigger = self._triggers.get(trigger_id)
        if trigger is None:
            if not self.accept_any_trigger:
                return {"ok": False, "error": "invalid_trigger_id"}
            trigger = self._triggers[trigger_id] = Trigger(self.clock(), None)
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
            return invalid("invalid_arguments", ["view_id or external_id is required"])
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
