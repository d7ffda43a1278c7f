"""FakeSlack's other workspaces, driven by slack_sdk's own OAuth helpers: the authorize URL,
`oauth.v2.access`, token rotation, and answers scoped to each token's workspace."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth import AuthorizeUrlGenerator

from tests.support.fakes import FakeSlack
from tests.support.harness import ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def slack(clock: ManualClock) -> Iterator[FakeSlack]:
    with FakeSlack(clock=clock) as fake:
        fake.add_workspace("T0NORTH", "North Clinic")
        fake.add_user("UNORTHADMIN", name="nadmin", team_id="T0NORTH", is_admin=True)
        yield fake


def install(slack: FakeSlack, team_id: str = "T0NORTH") -> dict[str, object]:
    url = AuthorizeUrlGenerator(client_id=slack.client_id, scopes=["commands", "chat:write"])
    code, state = slack.approve(url.generate(state="s-1"), team_id, "UNORTHADMIN")
    assert state == "s-1"
    web = WebClient(base_url=slack.api_url)
    answer = web.oauth_v2_access(
        client_id=slack.client_id, client_secret=slack.client_secret, code=code
    )
    return dict(answer.data)  # type: ignore[arg-type]


def test_an_install_gives_a_bot_token_answered_as_its_workspace(slack: FakeSlack) -> None:
    answer = install(slack)
    assert answer["team"] == {"id": "T0NORTH", "name": "North Clinic"}
    assert answer["authed_user"] == {"id": "UNORTHADMIN"}
    assert answer["scope"] == "commands,chat:write" and "refresh_token" not in answer
    token = str(answer["access_token"])
    auth = WebClient(token=token, base_url=slack.api_url).auth_test()
    assert (auth["team_id"], auth["bot_id"]) == ("T0NORTH", "BBOT0NORTH")
    assert slack.calls("auth.test")[-1].token == token
    # The first workspace's token still answers as the first workspace.
    first = WebClient(token=slack.token, base_url=slack.api_url).auth_test()
    assert first["team_id"] == slack.team_id


def test_a_code_is_good_once_and_only_with_the_apps_secret(slack: FakeSlack) -> None:
    url = AuthorizeUrlGenerator(client_id=slack.client_id, scopes=["commands"]).generate("s")
    code, _ = slack.approve(url, "T0NORTH", "UNORTHADMIN")
    web = WebClient(base_url=slack.api_url)
    with pytest.raises(SlackApiError, match="bad_client_secret"):
        web.oauth_v2_access(client_id=slack.client_id, client_secret="wrong", code=code)
    web.oauth_v2_access(client_id=slack.client_id, client_secret=slack.client_secret, code=code)
    with pytest.raises(SlackApiError, match="invalid_code"):
        web.oauth_v2_access(client_id=slack.client_id, client_secret=slack.client_secret, code=code)
    with pytest.raises(AssertionError, match="client_id"):
        slack.approve(url.replace(slack.client_id, "999.999"), "T0NORTH", "UNORTHADMIN")


def test_rotated_tokens_expire_and_are_refreshed_once(slack: FakeSlack, clock: ManualClock) -> None:
    slack.token_rotation = True
    answer = install(slack)
    token, refresh = str(answer["access_token"]), str(answer["refresh_token"])
    assert token.startswith("xoxe.xoxb-") and answer["expires_in"] == 43_200
    slack.expire_tokens("T0NORTH")
    with pytest.raises(SlackApiError, match="token_expired"):
        WebClient(token=token, base_url=slack.api_url).auth_test()
    web = WebClient(base_url=slack.api_url)
    renewed = web.oauth_v2_access(
        client_id=slack.client_id, client_secret=slack.client_secret,
        grant_type="refresh_token", refresh_token=refresh,
    )  # fmt: skip
    assert WebClient(token=renewed["access_token"], base_url=slack.api_url).auth_test()["ok"]
    with pytest.raises(SlackApiError, match="invalid_refresh_token"):
        web.oauth_v2_access(
            client_id=slack.client_id, client_secret=slack.client_secret,
            grant_type="refresh_token", refresh_token=refresh,
        )  # fmt: skip


def test_each_token_sees_its_own_workspaces_people_only(slack: FakeSlack) -> None:
    slack.add_user("UHOME", name="home")  # the first workspace's
    north = WebClient(token=str(install(slack)["access_token"]), base_url=slack.api_url)
    home = WebClient(token=slack.token, base_url=slack.api_url)
    assert north.users_info(user="UNORTHADMIN")["user"]["id"] == "UNORTHADMIN"
    with pytest.raises(SlackApiError, match="user_not_found"):
        north.users_info(user="UHOME")
    with pytest.raises(SlackApiError, match="user_not_found"):
        home.users_info(user="UNORTHADMIN")
    assert [m["id"] for m in north.users_list()["members"]] == ["UNORTHADMIN"]


def test_a_revoked_workspace_token_is_refused(slack: FakeSlack) -> None:
    token = str(install(slack)["access_token"])
    slack.revoke("T0NORTH")
    with pytest.raises(SlackApiError, match="invalid_auth"):
        WebClient(token=token, base_url=slack.api_url).auth_test()
