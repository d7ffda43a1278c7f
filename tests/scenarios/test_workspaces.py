"""Many-workspace mode end to end: the OAuth install driven as a browser drives it (state
cookie included), two clinics connected to their own MaxCare organizations, each task sent
with its clinic's organization and each Slack call with its clinic's token."""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import httpx
import pytest

from bot.app import Tuning
from bot.settings import load_settings
from bot.workspaces.tokens import new_key
from tests.support import payloads
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import FAST, Harness, env_for, serve_harness
from tests.support.submissions import CHANNEL, new_view_id, submission

NORTH, SOUTH = "T0NORTH", "T0SOUTH"


@dataclass
class Clinic:
    team_id: str
    admin: str
    nurse: str
    doctor: str
    org: str


# Many-workspace mode works on both databases.
pytestmark = pytest.mark.both_databases


@pytest.fixture
async def many(
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None,
) -> AsyncIterator[Harness]:
    """The app in many-workspace mode, installed nowhere yet (on the test's database)."""
    async with many_mode(slack, maxcare, tmp_path, monkeypatch, database_url) as harness:
        yield harness


@contextlib.asynccontextmanager
async def many_mode(
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None,
    *,
    tuning: Tuning = FAST,
    **settings: str,
) -> AsyncIterator[Harness]:
    """The app in many-workspace mode with these settings (environment variables) too."""
    monkeypatch.chdir(tmp_path)
    env = env_for(slack, maxcare, tmp_path / "bot.db")
    del env["SLACK_BOT_TOKEN"], env["MAXCARE_ORGANIZATION_ID"], env["BOT_ADMINS"]
    env.update(
        SLACK_CLIENT_ID=slack.client_id,
        SLACK_CLIENT_SECRET=slack.client_secret,
        TOKEN_ENCRYPTION_KEY=new_key(),
    )
    for key in ("SLACK_BOT_TOKEN", "MAXCARE_ORGANIZATION_ID", "BOT_ADMINS", "DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if database_url is not None:
        monkeypatch.setenv("DATABASE_URL", database_url)
    for key, value in settings.items():
        monkeypatch.setenv(key, value)
    async with serve_harness(load_settings(), slack, maxcare, tuning=tuning) as harness:
        yield harness


async def install(h: Harness, team_id: str, installer: str) -> httpx.Response:
    """What the installer's browser does: open the install page, follow "Add to Slack" to
    Slack's authorize page (the fake approves), come back to the redirect with the cookie."""
    async with httpx.AsyncClient(base_url=str(h.http.base_url), timeout=10) as browser:
        page = await browser.get("/slack/install")
        assert page.status_code == 200, page.text
        found = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
        assert found, page.text
        code, state = h.slack.approve(unescape(found.group(1)), team_id, installer)
        # The state cookie is Secure (the app is behind HTTPS in production): sent by hand
        # over the test's plain HTTP, as a browser sends it over HTTPS.
        cookie = page.headers["set-cookie"].split(";")[0]
        assert "Secure" in page.headers["set-cookie"] and state in cookie
        return await browser.get(
            "/slack/oauth_redirect", params={"code": code, "state": state},
            headers={"Cookie": cookie},
        )  # fmt: skip


def clinic(h: Harness, team_id: str, name: str, org: str) -> Clinic:
    h.slack.add_workspace(team_id, name)
    short = team_id.removeprefix("T0")
    people = Clinic(team_id, f"UADM{short}", f"UNUR{short}", f"UDOC{short}", org)
    h.slack.add_user(people.admin, name=f"admin-{short}", team_id=team_id, is_admin=True)
    h.slack.add_user(people.nurse, name=f"nurse-{short}", team_id=team_id)
    h.slack.add_user(people.doctor, name=f"doctor-{short}", team_id=team_id)
    return people


async def command(h: Harness, who: Clinic, text: str, user: str | None = None) -> str:
    """A /task command answered through response_url or at ack: the text the person sees."""
    hook = f"cmd-{new_view_id()}"
    signed = payloads.slash_command(
        text,
        user_id=user or who.admin,
        team_id=who.team_id,
        response_url=h.slack.response_url(hook),
    )
    resp = await h.post(signed)
    assert resp.status_code == 200, resp.text
    if resp.content:
        return str(resp.json()["text"])
    (answer,) = await h.slack.async_wait_for(f"response_url:{hook}")
    return str(answer.params["text"])


async def link(h: Harness, who: Clinic, person: str, provider_id: str) -> str:
    """`/task link @person prv_…` by the clinic's admin: what its response_url is told."""
    hook = f"link-{new_view_id()}"
    signed = payloads.slash_command(
        f"link <@{person}> {provider_id}",
        user_id=who.admin,
        team_id=who.team_id,
        response_url=h.slack.response_url(hook),
    )
    resp = await h.post(signed)
    assert resp.status_code == 200, resp.text
    (answer,) = await h.slack.async_wait_for(f"response_url:{hook}")
    return str(answer.params["text"])


async def test_two_clinics_install_connect_and_create_tasks_apart(many: Harness) -> None:
    h = many
    north = clinic(h, NORTH, "North Clinic", h.maxcare.organization_id)
    south = clinic(h, SOUTH, "South Clinic", h.maxcare.add_organization())

    done = await install(h, NORTH, north.admin)
    assert done.status_code == 200 and "installed" in done.text
    assert (await install(h, SOUTH, south.admin)).status_code == 200
    rows = {r["team_id"]: r for r in h.bot.store.list_installations()}
    assert set(rows) == {NORTH, SOUTH} and rows[NORTH]["organization_id"] is None
    north_token = h.slack.workspace(NORTH).token
    assert north_token and north_token not in str(rows[NORTH])  # stored encrypted

    # Not connected yet: /task says so, and MaxCare is not asked.
    sent = len(h.maxcare.requests())
    assert "not connected to MaxCare yet" in await command(h, north, "", user=north.nurse)
    assert "Only a workspace admin" in await command(h, north, f"connect {north.org}", north.nurse)
    assert len(h.maxcare.requests()) == sent

    for who in (north, south):
        answer = await command(h, who, f"connect {who.org}")
        assert "is connected to MaxCare organization" in answer, answer
    wrong = await command(h, south, "connect org_" + "0" * 32)
    assert "Not connected" in wrong  # MaxCare refused the organization: nothing saved
    assert {r["team_id"]: r["organization_id"] for r in h.bot.store.list_installations()} == {
        NORTH: north.org, SOUTH: south.org,
    }  # fmt: skip

    # Each clinic's providers and notes live in its own organization.
    made = {}
    for who in (north, south):
        org = None if who is north else who.org
        nurse = h.maxcare.add_provider(first_name="Nina", organization_id=org)
        doctor = h.maxcare.add_provider(first_name="Doc", organization_id=org)
        for person, provider in ((who.nurse, nurse), (who.doctor, doctor)):
            assert "Linked" in await link(h, who, person, provider["id"])
        note = h.maxcare.add_note(organization_id=org)["id"]
        view_id = new_view_id()
        signed = submission(
            view_id=view_id, note=note, notes=f"Task for {who.team_id}",
            assignees=[who.doctor], user_id=who.nurse, team_id=who.team_id,
        )  # fmt: skip
        assert (await h.post(signed)).status_code == 200
        made[who.team_id] = view_id
    await h.settle()

    for who in (north, south):
        sub = h.bot.store.get_submission(made[who.team_id])
        assert sub is not None and sub.task_id, sub
        assert h.maxcare.organization_of(sub.task_id) == who.org
        token = h.slack.workspace(who.team_id).token
        sent = [c for c in h.slack.calls("chat.postMessage") if sub.task_id in str(c.params)]
        assert [c.params["channel"] for c in sent] == [CHANNEL, f"D{who.doctor}"], sent
        assert {c.token for c in sent} == {token}  # the card and the doctor's DM, as its bot
    posts = h.maxcare.requests("POST", "/tasks")
    assert sorted(r.headers["x-organization-id"] for r in posts) == sorted([north.org, south.org])
