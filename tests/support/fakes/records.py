"""What the fakes record: each call to the fake Slack, each request to the fake MaxCare."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Call:
    """One recorded request to the fake Slack."""

    method: str
    params: dict[str, Any]
    error: str | None = None  # the fake's refusal, if it refused (injected faults too)
    token: str | None = None  # the token it was made with


@dataclass
class Request:
    """One recorded request to the fake MaxCare."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
