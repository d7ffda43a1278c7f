"""Which failures of a Slack call are worth trying again, and which will never succeed.

slack_sdk's async client raises `SlackApiError` when Slack answers `ok: false`, but a dropped
connection or a slow answer arrives as `TimeoutError`, `aiohttp.ClientError` or `OSError`, and
a 5xx page that is not JSON as a `SlackApiError` whose `response` is the raw HTTP response.
Every caller that delivers something a person waits for asks `classify` instead of catching
one exception type.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

# Slack's own words for "not now": answered, but worth another try later.
TRANSIENT_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
# "The bot may not post here": the next way of delivering (response_url, then a DM) may work.
NO_ACCESS_ERRORS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "restricted_action",
        "restricted_action_read_only_channel",
        "restricted_action_thread_only_channel",
        "restricted_action_non_threadable_channel",
        "no_permission",
        "ekm_access_denied",
        "cannot_reply_to_message",
        "thread_not_found",
        "message_not_found",
    }
)


class Failure(Enum):
    """What a failed Slack call means for whoever wanted it done."""

    TRANSIENT = "transient"  # try the same again later (within the work's window)
    NO_ACCESS = "no_access"  # this way is closed; try the next way of delivering at once
    PERMANENT = "permanent"  # the request itself is refused; retrying gives the same answer


def error_code(exc: BaseException) -> str | None:
    """Slack's `error` string, if Slack answered with one."""
    if not isinstance(exc, SlackApiError):
        return None
    response: Any = exc.response
    getter = getattr(response, "get", None)
    if getter is None:
        return None
    try:
        value = getter("error")
    except Exception:  # a response without a JSON body
        return None
    return value if isinstance(value, str) else None


def _status(exc: SlackApiError) -> int | None:
    response: Any = exc.response
    status = getattr(response, "status_code", None) or getattr(response, "status", None)
    return status if isinstance(status, int) else None


def classify(exc: BaseException) -> Failure:
    """Sort any exception raised by a Slack call."""
    if isinstance(exc, SlackApiError):
        code = error_code(exc)
        status = _status(exc)
        if code in TRANSIENT_ERRORS or (status is not None and (status >= 500 or status == 429)):
            return Failure.TRANSIENT
        if code is None and status is None:
            return Failure.TRANSIENT  # no answer worth the name: as if the call never arrived
        if code in NO_ACCESS_ERRORS:
            return Failure.NO_ACCESS
        return Failure.PERMANENT
    if isinstance(exc, TimeoutError | aiohttp.ClientError | OSError):
        return Failure.TRANSIENT
    if isinstance(exc, SlackClientError):
        return Failure.TRANSIENT  # the client could not make the request at all
    return Failure.PERMANENT


def describe(exc: BaseException) -> str:
    """A short, log-safe name for the failure: Slack's error code or the exception's type."""
    return error_code(exc) or type(exc).__name__
