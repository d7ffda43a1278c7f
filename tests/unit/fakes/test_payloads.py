"""The payload builders sign and shape requests as Slack does, as Bolt and the fakes read them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt.request import payload_utils
from slack_bolt.request.internals import extract_team_id, extract_user_id, parse_body
from slack_sdk.signature import SignatureVerifier

from tests.support import payloads
from tests.support.ids import NOTE

VIEW = {"type": "modal", "callback_id": "create_task", "private_metadata": '{"c":"C1"}'}
# Built when a test runs, not when it is collected: Slack's signatures expire after five minutes,
# and a long run on a loaded machine may reach these tests later than that.
BUILDERS: dict[str, Callable[[], tuple[str, dict[str, str]]]] = {
    "command": lambda: payloads.slash_command("nte_1 @Dr.Wilson review"),
    "message_action": lambda: payloads.message_action(
        {"text": "plan missing", "thread_ts": "1.2"}
    ),
    "shortcut": payloads.global_shortcut,
    "view_submission": lambda: payloads.view_submission(
        VIEW,
        payloads.state_values(
            payloads.plain_text_value("note", "note", NOTE),
            payloads.users_value("assignees", "assignees", ["UDOC"]),
            payloads.conversation_value("destination", "destination", "C1"),
        ),
        response_urls=[payloads.response_url_entry("C1", "http://127.0.0.1:1/response/d")],
    ),
    "block_actions": lambda: payloads.block_actions(
        [{"type": "button", "action_id": "reopen_draft", "block_id": "b", "value": "1"}],
        channel_id="C1",
        message={"ts": "1.2", "text": "card"},
    ),
    "block_suggestion": lambda: payloads.block_suggestion("note", "note", "nte_3cc"),
    "event": lambda: payloads.event_callback(
        {"type": "app_home_opened", "user": "UNURSE", "tab": "home"}
    ),
    "url_verification": lambda: payloads.url_verification("challenge-me"),
}


def signed(kind: str) -> tuple[str, dict[str, str]]:
    """A body of this kind, signed now."""
    return BUILDERS[kind]()


@pytest.mark.parametrize("kind", list(BUILDERS))
def test_payloads_are_signed_like_slack(kind: str) -> None:
    body, headers = signed(kind)
    verifier = SignatureVerifier(payloads.SIGNING_SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    parsed = parse_body(body, headers["Content-Type"])
    if kind != "url_verification":
        assert extract_team_id(parsed) == payloads.TEAM_ID
    if kind not in ("event", "url_verification"):
        assert extract_user_id(parsed) == "UNURSE"
        assert parsed.get("trigger_id") or parsed.get("type") == "block_suggestion"


def test_payload_kinds_as_bolt_sees_them() -> None:
    def parsed(kind: str) -> dict[str, Any]:
        body, headers = signed(kind)
        return parse_body(body, headers["Content-Type"])

    assert payload_utils.is_slash_command(parsed("command"))
    assert payload_utils.is_message_shortcut(parsed("message_action"))
    assert payload_utils.is_global_shortcut(parsed("shortcut"))
    assert payload_utils.is_view_submission(parsed("view_submission"))
    assert payload_utils.is_block_actions(parsed("block_actions"))
    assert payload_utils.is_block_suggestion(parsed("block_suggestion"))
    assert payload_utils.is_event(parsed("event"))
    view = parsed("view_submission")["view"]
    assert view["state"]["values"]["assignees"]["assignees"]["selected_users"] == ["UDOC"]
    assert view["private_metadata"] == '{"c":"C1"}'
    assert parse_qs(signed("command")[0])["text"] == ["nte_1 @Dr.Wilson review"]


def test_sign_with_fixed_timestamp() -> None:
    headers = payloads.sign("a=1", timestamp=1_700_000_000)
    assert headers["X-Slack-Request-Timestamp"] == "1700000000"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    # Too old for the verifier's five-minute window, as a replayed request would be.
    assert not SignatureVerifier(payloads.SIGNING_SECRET).is_valid_request("a=1", headers)


def test_payloads_tell_listening_fakes_what_slack_issued() -> None:
    heard: list[tuple[str, Any, Any]] = []

    def listener(kind: str, subject: Any, detail: Any) -> None:
        heard.append((kind, subject, detail))

    payloads.listen(listener)
    try:
        body, _ = payloads.view_submission({"id": "V0HEARD", "type": "modal"}, {})
    finally:
        payloads.unlisten(listener)
    payloads.new_trigger_id()
    trigger = json.loads(parse_qs(body)["payload"][0])["trigger_id"]
    assert [(k, d) for k, _, d in heard] == [("view", None), ("trigger", "V0HEARD")]
    assert heard[0][1]["id"] == "V0HEARD" and heard[1][1] == trigger
