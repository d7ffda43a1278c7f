"""Sorting Slack failures: retry, try the next way, or give up."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.slack.failures import Failure, classify, describe, error_code


def api_error(error: str | None, status: int = 200) -> SlackApiError:
    data = {"ok": False, "error": error} if error else {}
    response = AsyncSlackResponse(
        client=None, http_verb="POST", api_url="http://x/", req_args={}, data=data,  # type: ignore[arg-type]
        headers={}, status_code=status,
    )
    return SlackApiError("refused", response)


@pytest.mark.parametrize("error", ["ratelimited", "internal_error", "fatal_error"])
def test_slacks_own_not_now_errors_are_transient(error: str) -> None:
    assert classify(api_error(error)) is Failure.TRANSIENT


@pytest.mark.parametrize(
    "exc", [TimeoutError(), aiohttp.ClientConnectionError(),
            ConnectionResetError(), SlackRequestError("no session")],
)
def test_network_failures_are_transient(exc: BaseException) -> None:
    assert classify(exc) is Failure.TRANSIENT


def test_a_5xx_answer_is_transient_whatever_it_says() -> None:
    assert classify(api_error("something_odd", status=503)) is Failure.TRANSIENT


@pytest.mark.parametrize(
    "error",
    ["not_in_channel", "channel_not_found", "is_archived", "restricted_action_read_only_channel",
     "restricted_action_thread_only_channel", "restricted_action_non_threadable_channel",
     "no_permission", "ekm_access_denied"],
)
def test_channel_refusals_move_on_to_the_next_way(error: str) -> None:
    assert classify(api_error(error)) is Failure.NO_ACCESS


@pytest.mark.parametrize("error", ["invalid_blocks", "msg_too_long", "invalid_auth"])
def test_refused_requests_are_permanent(error: str) -> None:
    assert classify(api_error(error)) is Failure.PERMANENT


def test_a_bug_is_not_retried() -> None:
    assert classify(KeyError("x")) is Failure.PERMANENT


def test_describe_names_the_code_or_the_type_only() -> None:
    assert describe(api_error("msg_too_long")) == "msg_too_long"
    assert describe(TimeoutError("patient text")) == "TimeoutError"
    assert error_code(TimeoutError()) is None
