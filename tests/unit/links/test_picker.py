"""The provider picker answers within Slack's 3 s whatever Slack and MaxCare do."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from bot.links import service as links_service
from bot.links.service import AdminService


class SlowAdmins:
    """An admin check that takes `seconds` (Slack's users.info being slow)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.admin_ids: frozenset[str] = frozenset()

    async def is_admin(self, user_id: str) -> bool:
        await asyncio.sleep(self.seconds)
        return True


class SlowMaxCare:
    """A provider search that never answers in time."""

    async def list_providers(self, **_: Any) -> Any:
        await asyncio.sleep(3600)


def service(admins: SlowAdmins) -> AdminService:
    return AdminService(
        store=None, slack=None, maxcare=SlowMaxCare(), admins=admins,  # type: ignore[arg-type]
        search_timeout=3600,
    )


async def test_a_slow_admin_check_and_a_slow_search_share_one_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(links_service, "PICKER_BUDGET_SECONDS", 0.2)
    options = await asyncio.wait_for(service(SlowAdmins(0.15)).picker_options("UADMIN", "wil"), 30)
    assert len(options) == 1 and "slow" in options[0]["text"]["text"]


async def test_a_non_admin_is_told_at_once() -> None:
    class NotAdmin(SlowAdmins):
        async def is_admin(self, user_id: str) -> bool:
            return False

    options = await service(NotAdmin(0)).picker_options("UNURSE", "wil")
    assert "Only admins" in options[0]["text"]["text"]
