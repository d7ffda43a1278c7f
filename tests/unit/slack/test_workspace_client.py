"""Many workspaces on one Slack client and one MaxCare client: each call carries the token and
the organization of the workspace being served (bot.tenancy), and none is made without one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot import tenancy
from bot.errors import NotConnected
from bot.maxcare import MaxCareClient, NotFound
from bot.slack.client import WorkspaceWebClient
from bot.tenancy import Workspace
from tests.support.fakes import FakeMaxCare, FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


def _installed(slack: FakeSlack, team_id: str, name: str, org: str | None = None) -> Workspace:
    """Install the app in a workspace of the fake, as Slack's OAuth flow would."""
    slack.add_workspace(team_id, name)
    url = f"https://slack.com/oauth/v2/authorize?client_id={slack.client_id}&scope=commands&state=s"
    code, _ = slack.approve(url, team_id, "UINSTALLER")
    answer = WebClient(base_url=slack.api_url).oauth_v2_access(
        client_id=slack.client_id, client_secret=slack.client_secret, code=code
    )
    return Workspace(team_id, team_id, None, str(answer["access_token"]), organization_id=org)


async def test_each_call_carries_the_served_workspaces_token(slack: FakeSlack) -> None:
    north = _installed(slack, "T0NORTH", "North Clinic")
    south = _installed(slack, "T0SOUTH", "South Clinic")
    client = WorkspaceWebClient(base_url=slack.api_url)

    async def whoami(workspace: Workspace) -> str:
        with tenancy.serving(workspace):
            await asyncio.sleep(0)  # the other workspace's call runs meanwhile
            return str((await client.auth_test())["team_id"])

    assert await asyncio.gather(whoami(north), whoami(south), whoami(north)) == [
        "T0NORTH", "T0SOUTH", "T0NORTH",
    ]  # fmt: skip
    assert [c.token for c in slack.calls("auth.test")] == [
        north.bot_token, south.bot_token, north.bot_token,
    ]  # fmt: skip


async def test_a_call_serving_no_workspace_is_never_sent(slack: FakeSlack) -> None:
    client = WorkspaceWebClient(base_url=slack.api_url)
    with pytest.raises(RuntimeError, match="serving no workspace"):
        await client.chat_postMessage(channel="C1", text="to whom?")
    assert slack.calls() == []


async def test_a_call_given_its_own_token_keeps_it(slack: FakeSlack) -> None:
    north = _installed(slack, "T0NORTH", "North Clinic")
    client = WorkspaceWebClient(base_url=slack.api_url)
    with tenancy.serving(Workspace("T0OTHER", "T0OTHER", None, "xoxb-other")):
        auth = await client.auth_test(token=north.bot_token)  # as Bolt's OAuth flow asks
    assert auth["team_id"] == "T0NORTH"


async def test_maxcare_requests_go_to_the_served_workspaces_organization() -> None:
    with FakeMaxCare() as maxcare:
        south_org = maxcare.add_organization()
        doctor = maxcare.add_provider(organization_id=south_org)
        task = maxcare.add_task(assignee_ids=[doctor["id"]], organization_id=south_org)
        north = Workspace(
            "T0NORTH", "T0NORTH", None, "xoxb-n", organization_id=maxcare.organization_id
        )
        south = Workspace("T0SOUTH", "T0SOUTH", None, "xoxb-s", organization_id=south_org)
        unconnected = Workspace("T0EAST", "T0EAST", None, "xoxb-e")

        def organization() -> str | None:
            workspace = tenancy.current()
            return workspace.organization_id if workspace else None

        async with MaxCareClient(
            base_url=maxcare.url, api_key=maxcare.api_key, organization_id="",
            organization=organization,
        ) as client:  # fmt: skip
            with tenancy.serving(south):
                assert (await client.get_task(task["id"])).id == task["id"]
            with tenancy.serving(north), pytest.raises(NotFound):
                await client.get_task(task["id"])  # another clinic's task
            sent = len(maxcare.requests())
            with tenancy.serving(unconnected), pytest.raises(NotConnected):
                await client.get_task(task["id"])
            with pytest.raises(NotConnected):
                await client.get_task(task["id"])  # serving none at all
            assert len(maxcare.requests()) == sent and client.budget_used() == 2
        orgs = [r.headers["x-organization-id"] for r in maxcare.requests()]
        assert orgs == [south_org, maxcare.organization_id]
