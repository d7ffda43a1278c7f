"""Only the installed workspace is served; on Enterprise Grid, the installed organization."""

from __future__ import annotations

from urllib.parse import parse_qsl

from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

from bot.runtime.team import OnlyInstalledTeam
from tests.support import payloads


async def _answer(middleware: OnlyInstalledTeam, team_id: str, enterprise_id: str | None) -> int:
    body, headers = payloads.slash_command(team_id=team_id, enterprise_id=enterprise_id)
    assert dict(parse_qsl(body))["team_id"] == team_id
    req = AsyncBoltRequest(body=body, headers=headers)

    async def next_() -> BoltResponse:
        return BoltResponse(status=200, body="served")

    resp = await middleware.async_process(req=req, resp=BoltResponse(status=200), next=next_)
    assert resp is not None
    return resp.status


async def test_the_installed_workspace_is_served_and_others_refused() -> None:
    only = OnlyInstalledTeam("T0TEAM", None)
    assert await _answer(only, "T0TEAM", None) == 200
    assert await _answer(only, "T0OTHER", None) == 403


async def test_on_enterprise_grid_every_workspace_of_the_installed_organization_is_served() -> None:
    only = OnlyInstalledTeam("T0TEAM", "E0CLINICS")
    assert await _answer(only, "T0SISTER", "E0CLINICS") == 200  # another workspace, same org
    assert await _answer(only, "T0SISTER", "E0STRANGER") == 403
    assert await _answer(only, "T0SISTER", None) == 403


async def test_an_enterprise_id_alone_does_not_open_a_single_workspace_install() -> None:
    only = OnlyInstalledTeam("T0TEAM", None)
    assert await _answer(only, "T0SISTER", "E0CLINICS") == 403
