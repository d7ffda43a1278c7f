"""The app's exceptions as one tree: bot.maxcare raises the MaxCare ones, the rest say where.

    MaxCareError               base of everything bot.maxcare raises
    ├── MaxCareAPIError        MaxCare answered with an error status
    │   │                      (.status, .code, .message, .trace_id)
    │   ├── BadRequest         400
    │   ├── Unauthorized       401
    │   ├── Forbidden          403
    │   ├── NotFound           404
    │   ├── RateLimited        429 (.retry_after from Retry-After or X-RateLimit-Reset)
    │   └── ServerError        5xx and any other unexpected status
    ├── MaxCareUnavailable     never sent (connection refused, DNS): safe to retry
    │   └── BudgetUnreadable   never sent: the budget shared with other instances did not answer
    ├── MaxCareAmbiguous       sent, no usable answer (timeout, reset, unparseable body)
    └── NotConnected           not sent: the workspace has no MaxCare organization yet

    UserFacingError            a problem to show the person as it is (bot.tasks.service)
    ConfigError                configuration missing or malformed, one line (bot.settings)
    LinksFileError             a links CSV that cannot be imported, every bad line (bot.links)
    Undeliverable              every way of posting a card refused it for good (bot.tasks)
    NotReady                   at start-up, Slack, MaxCare or the database is unreachable or
                               refuses the app (.service, .reason, .permanent)

The outbox worker keeps its own control flow inside bot.tasks.retry (Transient, and GaveUp, a
MaxCareError for a deadline that passed, `.ambiguous` when a POST may have been applied).

`err.may_have_been_applied` is True for ServerError and MaxCareAmbiguous: after a failed POST the
caller must look for the task before creating it again (MaxCare has no idempotency key).
`err.user_message()` is short text for people; `str(err)` never holds the API key or a body.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadRequest", "BudgetUnreadable", "ConfigError", "Forbidden", "LinksFileError",
    "MaxCareAPIError", "MaxCareAmbiguous", "MaxCareError", "MaxCareUnavailable", "NotConnected",
    "NotFound", "NotReady", "RateLimited", "ServerError", "Unauthorized", "Undeliverable",
    "UserFacingError",
]  # fmt: skip

# --- MaxCare
_MAX_MESSAGE = 300


def _clean(text: str | None) -> str | None:
    """One line, bounded: server messages end up in Slack and logs."""
    if text is None:
        return None
    text = " ".join(str(text).split())
    return text[: _MAX_MESSAGE - 1] + "…" if len(text) > _MAX_MESSAGE else text or None


class MaxCareError(Exception):
    """Base of everything bot.maxcare raises."""

    may_have_been_applied = False
    trace_id: str | None = None

    def __init__(self, detail: str, *, method: str | None = None, path: str | None = None):
        self.detail = _clean(detail) or type(self).__name__
        self.method = method
        self.path = path
        where = f"MaxCare {method} {path}: " if method and path else "MaxCare: "
        super().__init__(where + self.detail)

    def user_message(self, action: str = "the request") -> str:
        """Short text for people."""
        return f"MaxCare failed on {action}: {self.detail}"

    def _with_trace(self, text: str) -> str:
        return f"{text} (trace {self.trace_id})" if self.trace_id else text


class MaxCareAPIError(MaxCareError):
    """MaxCare answered with an error status."""

    def __init__(
        self,
        status: int,
        code: str | None = None,
        message: str | None = None,
        trace_id: str | None = None,
        *,
        method: str | None = None,
        path: str | None = None,
    ):
        self.status = status
        self.code = _clean(code)
        self.message = _clean(message)
        self.trace_id = _clean(trace_id)
        detail = f"{status} {self.code or 'error'}: {self.message or 'no message'}"
        if self.trace_id:
            detail += f" [trace_id={self.trace_id}]"
        super().__init__(detail, method=method, path=path)

    def user_message(self, action: str = "the request") -> str:
        text = f"MaxCare answered {action} with an error (HTTP {self.status})"
        return self._with_trace(f"{text}: {self.message}" if self.message else text)


class BadRequest(MaxCareAPIError):
    def user_message(self, action: str = "the request") -> str:
        return self._with_trace(f"MaxCare refused {action}: {self.message or 'invalid request'}")


class Unauthorized(MaxCareAPIError):
    def user_message(self, action: str = "the request") -> str:
        said = f" ({self.message})" if self.message else ""
        return self._with_trace(
            f"MaxCare did not accept this app's API key{said}; "
            "ask an admin to check the configuration"
        )


class Forbidden(MaxCareAPIError):
    def user_message(self, action: str = "the request") -> str:
        reason = self.message or "permission denied"
        return self._with_trace(f"MaxCare did not allow {action}: {reason}")


class NotFound(MaxCareAPIError):
    def user_message(self, action: str = "the request") -> str:
        return self._with_trace(
            f"MaxCare could not find what {action} refers to: {self.message or 'not found'}"
        )


class RateLimited(MaxCareAPIError):
    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)

    def user_message(self, action: str = "the request") -> str:
        wait = self.retry_after
        later = f"in {max(1, round(wait))} s" if wait is not None else "soon"
        return self._with_trace(f"MaxCare is busy (rate limit); {action} can be retried {later}")


class ServerError(MaxCareAPIError):
    may_have_been_applied = True

    def user_message(self, action: str = "the request") -> str:
        return self._with_trace(
            f"MaxCare had a problem with {action} (HTTP {self.status}); it may or may not "
            "have gone through"
        )


class MaxCareUnavailable(MaxCareError):
    """The request was never sent (connection refused, DNS): safe to retry."""

    def user_message(self, action: str = "the request") -> str:
        return f"MaxCare could not be reached; {action} was not sent"


class BudgetUnreadable(MaxCareUnavailable):
    """Not sent: the budget this instance shares with the others (in the database) did not
    answer, and a request the fleet cannot count could provoke MaxCare's rate limit."""

    def user_message(self, action: str = "the request") -> str:
        return f"the app's database did not answer, so {action} was not sent to MaxCare"


class NotConnected(MaxCareError):
    """Not sent: the workspace being served is not connected to a MaxCare organization."""

    def user_message(self, action: str = "the request") -> str:
        return (
            f"this workspace is not connected to MaxCare yet, so {action} was not sent; "
            "a workspace admin can connect it with `/task connect org_…`"
        )


class MaxCareAmbiguous(MaxCareError):
    """Sent, but no usable answer (timeout, reset mid-request, unparseable body)."""

    may_have_been_applied = True

    def user_message(self, action: str = "the request") -> str:
        return f"MaxCare did not answer clearly; {action} may or may not have gone through"


# The client's status → class map; any other error status is a ServerError.
API_ERRORS: dict[int, type[MaxCareAPIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}


# --- The app's own
class UserFacingError(Exception):
    """A problem to show the person as it is (no internals in the message)."""


class ConfigError(Exception):
    """Configuration is missing or malformed; the message is one line naming the variable."""


class LinksFileError(Exception):
    """The file cannot be imported; `problems` lists every bad line."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class Undeliverable(Exception):
    """Every way of posting a card refused it for good (the message names the refusals)."""


class NotReady(Exception):
    """A service the app needs at start-up is unreachable or refuses it.

    `permanent` means waiting cannot help (credentials refused, a malformed location): the
    process stops. `str()` is one log-safe line: which service, and why.
    """

    def __init__(self, service: str, reason: str, *, permanent: bool) -> None:
        self.service = service
        self.reason = reason
        self.permanent = permanent
        super().__init__(f"{service} {reason}")
