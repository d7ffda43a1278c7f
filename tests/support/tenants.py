"""Workspaces to serve in tests of many-workspace mode (bot.tenancy)."""

from __future__ import annotations

from bot.tenancy import Workspace


def workspace(
    key: str,
    *,
    organization_id: str | None = None,
    token: str = "xoxb-test",
    enterprise: bool = False,
) -> Workspace:
    """A served workspace keyed `key`: a team, or an enterprise's org-wide install."""
    if enterprise:
        return Workspace(key, None, key, token, organization_id=organization_id)
    return Workspace(key, key, None, token, organization_id=organization_id)
