"""MaxCare v4 data models, ID helpers and the error tree (re-exported by `bot.maxcare`)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel

# --- IDs: '<prefix>_' + 32 lowercase hex (the UUID without hyphens). fullmatch() validates,
# search()/findall() find IDs inside free text (word boundaries keep them from matching mid-token).
NOTE_ID_RE = re.compile(r"\bnte_[0-9a-f]{32}\b")
PROVIDER_ID_RE = re.compile(r"\bprv_[0-9a-f]{32}\b")
TASK_ID_RE = re.compile(r"\btsk_[0-9a-f]{32}\b")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def normalize_id(value: str, prefix: str) -> str | None:
    """Prefixed lowercase ID from a prefixed ID or a dashed UUID (any case), else None."""
    if not isinstance(value, str):
        return None
    prefix = prefix.lower().rstrip("_") + "_"
    text = value.strip().lower()
    if re.fullmatch(re.escape(prefix) + r"[0-9a-f]{32}", text):
        return text
    if _UUID_RE.fullmatch(text):
        return prefix + text.replace("-", "")
    return None


# --- Timestamps
def parse_timestamp(value: Any) -> datetime | None:
    """Lenient timestamp: Postgres text, ISO 8601 ('Z'), epoch seconds; anything else -> None."""
    if isinstance(value, datetime):
        result = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    elif isinstance(value, str):
        try:
            result = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    # Naive values carry no zone; MaxCare stores UTC, so read them as UTC.
    return result if result.tzinfo else result.replace(tzinfo=UTC)


def _none_to_list(value: Any) -> Any:
    return [] if value is None else value


Timestamp = Annotated[datetime | None, BeforeValidator(parse_timestamp)]
StrList = Annotated[list[str], BeforeValidator(_none_to_list)]


class _Model(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",
        coerce_numbers_to_str=True,
    )


class ProviderSummary(_Model):
    """A provider as embedded in tasks (`assignedProviders`)."""

    id: str
    first_name: str | None = None
    last_name: str | None = None
    display_first_name: str | None = None
    display_last_name: str | None = None
    username: str | None = None
    roles: StrList = Field(default_factory=list)
    individual_npi: str | None = None
    can_finalize: bool | None = None
    can_cosign: bool | None = None

    @property
    def display_name(self) -> str:
        """'Dr. James Wilson, MD'; falls back to first + last name, username, then the ID."""
        for parts in (
            (self.display_first_name, self.display_last_name),
            (self.first_name, self.last_name),
            (self.username,),
        ):
            name = " ".join(p.strip() for p in parts if p and p.strip())
            if name:
                return name
        return self.id


class Provider(ProviderSummary):
    """A provider from the /providers endpoints (ProviderV3)."""

    hidden: bool | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class Task(_Model):
    """A MaxCare task. `status`/`sync_status` are plain strings: the enums are not documented."""

    id: str
    status: str | None = None
    sync_status: str | None = None
    notes: str | None = Field(default=None, repr=False)  # patient data: keep out of reprs/logs
    note_id: str | None = None
    ehr_type: str | None = None
    assigned_providers: Annotated[list[ProviderSummary], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )
    created_at: Timestamp = None
    updated_at: Timestamp = None


class Pagination(_Model):
    page: int = 1
    page_size: int = 100
    total_count: int = 0
    total_pages: int = 0


class TaskPage(_Model):
    tasks: Annotated[list[Task], BeforeValidator(_none_to_list)] = Field(default_factory=list)
    pagination: Pagination = Field(default_factory=Pagination)


class ProviderPage(_Model):
    providers: Annotated[list[Provider], BeforeValidator(_none_to_list)] = Field(
        default_factory=list
    )
    pagination: Pagination = Field(default_factory=Pagination)


# --- Errors (tree drawn in bot.maxcare's docstring)
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


class MaxCareAmbiguous(MaxCareError):
    """Sent, but no usable answer (timeout, reset mid-request, unparseable body)."""

    may_have_been_applied = True

    def user_message(self, action: str = "the request") -> str:
        return f"MaxCare did not answer clearly; {action} may or may not have gone through"


API_ERRORS: dict[int, type[MaxCareAPIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
}
