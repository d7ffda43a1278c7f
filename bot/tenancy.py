"""Which workspace is being served right now, in many-workspace mode.

Set where work enters (a Slack request, once Bolt has found its installation; an outbox row, a
followed or watched task, from the workspace stored with it) and read by the Slack and MaxCare
clients for the bot token and the organization of each call. A context variable: asyncio tasks
started while serving a workspace keep serving it. Unset means none, and the clients refuse
rather than guess. In single-workspace mode it is never set and nothing reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = ["Workspace", "current", "key_of", "serving"]


@dataclass(frozen=True)
class Workspace:
    """One installation: its key, whom it is for, its bot token and its MaxCare organization."""

    key: str  # the enterprise ID for an org-wide install, else the team ID
    team_id: str | None
    enterprise_id: str | None
    bot_token: str = field(repr=False)
    bot_user_id: str | None = None
    organization_id: str | None = None  # None until an admin connects it


_CURRENT: ContextVar[Workspace | None] = ContextVar("workspace", default=None)


def key_of(team_id: str | None, enterprise_id: str | None, is_enterprise_install: bool) -> str:
    """The key an installation is stored under: one per workspace, or one per organization."""
    key = enterprise_id if is_enterprise_install else team_id
    if not key:
        raise ValueError("an installation needs a team ID (or, org-wide, an enterprise ID)")
    return key


def current() -> Workspace | None:
    """The workspace being served, if any."""
    return _CURRENT.get()


@contextmanager
def serving(workspace: Workspace) -> Iterator[Workspace]:
    """Serve `workspace` inside the block (and in tasks started inside it)."""
    token = _CURRENT.set(workspace)
    try:
        yield workspace
    finally:
        _CURRENT.reset(token)
