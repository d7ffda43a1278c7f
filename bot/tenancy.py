"""Which workspace is being served right now, in many-workspace mode.

Set where work enters (a Slack request, once Bolt has found its installation; an outbox row, a
followed or watched task, from the workspace stored with it) and read by the Slack and MaxCare
clients for the bot token and the organization of each call. A context variable: asyncio tasks
started while serving a workspace keep serving it. Unset means none, and the clients refuse
rather than guess. In single-workspace mode it is never set and nothing reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = [
    "SINGLE", "NotServing", "Workspace", "current", "enter", "isolated", "key_or_single",
    "served_key", "serving", "WorkspaceOf",
]  # fmt: skip

# The workspace key of single-workspace mode's rows (and of rows from before many workspaces).
SINGLE = ""


class NotServing(RuntimeError):
    """Workspace data asked for while serving no workspace, in many-workspace mode: a bug, and
    refused rather than answered from some workspace's rows."""


@dataclass(frozen=True)
class Workspace:
    """One installation: its key, whom it is for, its bot token and its MaxCare organization."""

    key: str  # the installation's: the enterprise ID when org-wide, else the team ID
    team_id: str | None
    enterprise_id: str | None
    bot_token: str = field(repr=False)
    bot_user_id: str | None = None
    organization_id: str | None = None  # None until an admin connects it


# Background work's way from a stored row's workspace key to the workspace (None: uninstalled).
WorkspaceOf = Callable[[str], Awaitable[Workspace | None]]

_CURRENT: ContextVar[Workspace | None] = ContextVar("workspace", default=None)


def current() -> Workspace | None:
    """The workspace being served, if any."""
    return _CURRENT.get()


def key_or_single() -> str:
    """The served workspace's key; single-workspace mode's (SINGLE) when none is served."""
    workspace = _CURRENT.get()
    return workspace.key if workspace is not None else SINGLE


def served_key() -> str:
    """The served workspace's key (many-workspace mode's stores scope every query by it)."""
    workspace = _CURRENT.get()
    if workspace is None:
        raise NotServing("workspace data asked for while serving no workspace")
    return workspace.key


@contextmanager
def serving(workspace: Workspace) -> Iterator[Workspace]:
    """Serve `workspace` inside the block (and in tasks started inside it)."""
    token = _CURRENT.set(workspace)
    try:
        yield workspace
    finally:
        _CURRENT.reset(token)


def enter(workspace: Workspace | None) -> None:
    """Serve `workspace` from now until the end of the enclosing `isolated()` block.

    For Bolt middleware: Bolt runs the listeners after the middleware chain has returned, so a
    `with serving(...)` around its `next()` would end before they start.
    """
    _CURRENT.set(workspace)


@contextmanager
def isolated() -> Iterator[None]:
    """Whatever is entered inside the block (one Slack request) ends with it."""
    token = _CURRENT.set(None)
    try:
        yield
    finally:
        _CURRENT.reset(token)
