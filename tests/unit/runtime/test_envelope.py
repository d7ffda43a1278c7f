"""The shape check that runs before Bolt: everything Slack sends passes, broken shapes do not."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_bolt.request.async_request import AsyncBoltRequest

from bot import ids
from bot.runtime.envelope import well_formed
from tests.support import payloads
from tests.support.submissions import submission


def parsed(signed: tuple[str, dict[str, str]]) -> tuple[Any, bool]:
    """What Bolt parses from a signed request, and whether it read it as JSON."""
    body, headers = signed
    request = AsyncBoltRequest(body=body, headers=headers)  # type: ignore[arg-type]
    return request.body, body.startswith("{")


def interactive() -> dict[str, Any]:
    body, _ = submission(view_id="V0SHAPE", note="nte_" + "a" * 32, notes="x", assignees=["UDOC"])
    return dict(json.loads(dict(parse_qsl(body))["payload"]))


SLACK_SENDS = {
    "slash command": payloads.slash_command("nte_1 <@UDOC> check"),
    "message shortcut": payloads.message_action(
        {"type": "message", "text": "BP 180/110", "user": "UDOC", "ts": "1700000000.000100"}
    ),
    "global shortcut": payloads.global_shortcut(),
    "view submission": submission(
        view_id="V0SHAPE", note="nte_" + "a" * 32, notes="x", assignees=["UDOC"]
    ),
    "block action": payloads.block_actions([{"action_id": ids.REOPEN_DRAFT_ACTION, "value": "t"}]),
    "block suggestion": payloads.block_suggestion(ids.LINK_PROVIDER_ACTION, "b", "smi"),
    "event": payloads.event_callback({"type": "app_home_opened", "user": "UNURSE"}),
    "workflow step run": payloads.function_executed({"note_id": "x", "assignees": ["UDOC"]}),
    "url verification": payloads.url_verification("challenge-1"),
}


@pytest.mark.parametrize("name", SLACK_SENDS)
def test_what_slack_sends_is_well_formed(name: str) -> None:
    body, is_json = parsed(SLACK_SENDS[name])
    assert well_formed(body, is_json=is_json)


BROKEN_INTERACTIVE = {
    "not an object": [],
    "unknown type": {"type": "dialog_submission"},
    "type not a string": {"type": 3},
    "user is null": {"user": None},
    "user without an ID": {"user": {"name": "nurse"}},
    "user ID not a string": {"user": {"id": 7}},
    "team is null": {"team": None},
    "view is null": {"view": None},
    "view ID not a string": {"view": {"id": ["V1"]}},
    "state values not objects": {"view": {"state": {"values": {"b": "x"}}}},
    "element state not an object": {"view": {"state": {"values": {"b": {"a": 1}}}}},
    "state values null": {"view": {"state": {"values": None}}},
    "actions is null": {"actions": None},
    "action without an ID": {"actions": [{"value": "x"}]},
    "response_urls not a list": {"response_urls": {"response_url": "x"}},
    "response_urls holds a string": {"response_urls": ["x"]},
    "trigger_id not a string": {"trigger_id": 1},
    "message not an object": {"message": "hi"},
    "channel without an ID": {"channel": {}},
}


@pytest.mark.parametrize("name", BROKEN_INTERACTIVE)
def test_broken_interactive_payloads_are_refused(name: str) -> None:
    change = BROKEN_INTERACTIVE[name]
    payload = change if isinstance(change, list) else {**interactive(), **change}
    assert not well_formed(payload, is_json=False)


def test_nulls_slack_does_send_are_accepted() -> None:
    payload = {**interactive(), "enterprise": None, "channel": None, "message": None}
    payload["view"] = {**payload["view"], "state": None, "private_metadata": None}
    assert well_formed(payload, is_json=False)


@pytest.mark.parametrize(
    "envelope",
    [
        {"type": "event_callback"},  # no event
        {"type": "event_callback", "event": None},
        {"type": "event_callback", "event": "app_home_opened"},
        {"type": "event_callback", "event": {"type": "x", "user": 5}},
        {"type": "url_verification"},  # no challenge
        {"type": "url_verification", "challenge": 5},
        {"type": "event_callback", "event": {}, "authorizations": [1]},
        {"type": "event_callback", "event": {"type": "function_executed", "function": "x"}},
        {"type": "event_callback", "event": {"type": "function_executed", "function": None}},
        {"type": "event_callback", "event": {"function": {"callback_id": ["x"]}}},
        {"type": "event_callback", "event": {"function": {}, "inputs": "x"}},
        {"team_id": "T1"},  # no type
        "event_callback",
    ],
)
def test_broken_event_envelopes_are_refused(envelope: Any) -> None:
    assert not well_formed(envelope, is_json=True)


def test_a_slash_command_form_must_be_all_strings() -> None:
    body, _ = parsed(SLACK_SENDS["slash command"])
    assert well_formed(body, is_json=False)
    assert not well_formed({**body, "text": ["a", "b"]}, is_json=False)
