"""The fake Slack's workflow steps and the function_executed payload, as Slack and Bolt see them."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from slack_bolt.request.internals import (
    extract_function_bot_access_token,
    extract_function_execution_id,
    extract_function_inputs,
)
from slack_bolt.request.payload_utils import is_function
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier

from tests.support import payloads
from tests.support.fakes import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.token, base_url=slack.api_url)


def test_a_step_completes_once(slack: FakeSlack, web: WebClient) -> None:
    web.functions_completeSuccess(function_execution_id="Fx1", outputs={"task_id": "tsk_1"})
    with pytest.raises(SlackApiError) as again:
        web.functions_completeError(function_execution_id="Fx1", error="late")
    assert again.value.response["error"] == "execution_not_in_running_state"
    (done, refused) = slack.completions("Fx1")
    assert done.params["outputs"] == {"task_id": "tsk_1"}  # read back as an object
    assert refused.method == "functions.completeError"
    assert slack.completions("Fx2") == []


def test_outputs_must_be_strings_and_errors_must_say_something(web: WebClient) -> None:
    with pytest.raises(SlackApiError) as bad:
        web.functions_completeSuccess(function_execution_id="Fx3", outputs={"status": None})
    assert bad.value.response["error"] == "parameter_validation_failed"
    with pytest.raises(SlackApiError) as empty:
        web.functions_completeError(function_execution_id="Fx4", error=" ")
    assert empty.value.response["error"] == "invalid_arguments"
    web.functions_completeSuccess(function_execution_id="Fx3", outputs={"status": "ok"})


def test_the_run_event_is_what_bolt_reads() -> None:
    body, headers = payloads.function_executed({"notes": "x"}, execution_id="FxPAYLOAD1")
    assert SignatureVerifier(payloads.SIGNING_SECRET).is_valid_request(body, headers)
    parsed = json.loads(body)
    assert is_function(parsed)
    assert parsed["event"]["function"]["callback_id"] == "create_maxcare_task"
    assert extract_function_execution_id(parsed) == "FxPAYLOAD1"
    assert extract_function_inputs(parsed) == {"notes": "x"}
    assert str(extract_function_bot_access_token(parsed)).startswith("xwfp-")


def test_a_retry_is_the_same_body_signed_again() -> None:
    first = payloads.function_executed({}, execution_id="FxRETRY001")
    body, headers = payloads.retried(first, 2)
    assert body == first[0]
    assert headers["X-Slack-Retry-Num"] == "2" and headers["X-Slack-Retry-Reason"]
    assert SignatureVerifier(payloads.SIGNING_SECRET).is_valid_request(body, headers)
