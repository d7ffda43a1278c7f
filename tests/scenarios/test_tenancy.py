"""Many clinics on one deployment, nothing crossing between them: links, `/task links`,
`/task status`, Home and errors each answer from the asking clinic only; an uninstall ends a
clinic's work; an Enterprise Grid org-wide install serves every workspace of its organization."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bot import tenancy
from bot.db.interface import UNINSTALLED
from bot.workspaces.installations import DatabaseInstallationStore
from bot.workspaces.tokens import TokenCipher
from tests.scenarios.test_workspaces import (
    NORTH,
    SOUTH,
    Clinic,
    clinic,
    command,
    install,
    link,
    many_mode,
)
from tests.scenarios.test_workspaces import many as many  # the fixture, for the tests here
from tests.support import payloads
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.fakes.records import Call
from tests.support.harness import FAST, Harness
from tests.support.status import wait_until
from tests.support.submissions import new_view_id, submission
from tests.support.tenants import workspace

pytestmark = pytest.mark.both_databases


@dataclass
class Running:
    """A clinic installed, connected, its nurse and doctor linked, and one task made."""

    who: Clinic
    task_id: str
    view_id: str


async def running(h: Harness, team_id: str, name: str, org: str | None) -> Running:
    """Install, connect, link and make one task in a clinic (org None: the fake's first)."""
    org = org or h.maxcare.organization_id
    who = clinic(h, team_id, name, org)
    assert (await install(h, team_id, who.admin)).status_code == 200
    assert "is connected" in await command(h, who, f"connect {org}")
    known = None if org == h.maxcare.organization_id else org
    for person in (who.nurse, who.doctor):
        provider = h.maxcare.add_provider(first_name=person, organization_id=known)
        assert "Linked" in await link(h, who, person, provider["id"])
    note = h.maxcare.add_note(organization_id=known)["id"]
    view_id = new_view_id()
    signed = submission(
        view_id=view_id, note=note, notes=f"Secret plan of {team_id}",
        assignees=[who.doctor], user_id=who.nurse, team_id=team_id,
    )  # fmt: skip
    assert (await h.post(signed)).status_code == 200
    await h.settle()
    sub = h.bot.store.get_submission(view_id)
    assert sub is not None and sub.task_id, sub
    return Running(who, sub.task_id, view_id)


async def answer_to(h: Harness, who: Clinic, text: str) -> str:
    """A /task command by the clinic's admin: the whole answer (text and blocks) as JSON."""
    hook = f"cmd-{new_view_id()}"
    signed = payloads.slash_command(
        text, user_id=who.admin, team_id=who.team_id, response_url=h.slack.response_url(hook)
    )
    resp = await h.post(signed)
    assert resp.status_code == 200, resp.text
    if resp.content:
        return json.dumps(resp.json())
    (answer,) = await h.slack.async_wait_for(f"response_url:{hook}")
    return json.dumps(answer.params)


async def home_of(h: Harness, team_id: str, user_id: str) -> str:
    """The Home tab published for a person of a workspace, as text."""
    before = len(h.slack.calls("views.publish"))
    event = {"type": "app_home_opened", "user": user_id, "channel": "D" + user_id, "tab": "home"}
    assert (await h.post(payloads.event_callback(event, team_id=team_id))).status_code == 200
    calls = await h.slack.async_wait_for("views.publish", before + 1)
    assert calls[-1].params["user_id"] == user_id
    assert calls[-1].token == h.slack.workspace(team_id).token
    return json.dumps(calls[-1].params["view"])


async def test_nothing_crosses_between_two_clinics(many: Harness) -> None:
    h = many
    north = await running(h, NORTH, "North Clinic", None)
    south = await running(h, SOUTH, "South Clinic", h.maxcare.add_organization())

    # /task links: the asking clinic's people only.
    north_links = await answer_to(h, north.who, "links")
    assert north.who.nurse in north_links and south.who.nurse not in north_links
    south_links = await answer_to(h, south.who, "links")
    assert south.who.doctor in south_links and north.who.doctor not in south_links

    # /task status of the other clinic's task: never its text, and never asked as its
    # organization.
    before = len(h.maxcare.requests())
    hook = f"status-{new_view_id()}"
    signed = payloads.slash_command(
        f"status {south.task_id}", user_id=north.who.nurse, team_id=NORTH,
        response_url=h.slack.response_url(hook),
    )  # fmt: skip
    assert (await h.post(signed)).status_code == 200
    (answer,) = await h.slack.async_wait_for(f"response_url:{hook}")
    shown = json.dumps(answer.params)
    assert "Secret plan of T0SOUTH" not in shown
    asked = h.maxcare.requests()[before:]
    assert all(r.headers["x-organization-id"] == north.who.org for r in asked)

    # Home: one's own clinic's tasks, published with one's own clinic's token.
    north_home = await home_of(h, NORTH, north.who.nurse)
    assert north.task_id in north_home and south.task_id not in north_home

    # Errors say nothing of the other clinic: its people are unknown here.
    provider = h.maxcare.add_provider(first_name="Stray")
    refused = await link(h, north.who, south.who.doctor, provider["id"])
    assert "Slack knows no user" in refused and "South" not in refused
    with tenancy.serving(workspace(NORTH)):
        assert h.bot.store.get_link(south.who.doctor) is None

    # Each Slack call carried its own clinic's token.
    for call in h.slack.calls("chat.postMessage"):
        if north.task_id in str(call.params):
            assert call.token == h.slack.workspace(NORTH).token
        if south.task_id in str(call.params):
            assert call.token == h.slack.workspace(SOUTH).token


async def test_an_uninstalled_clinic_stops_and_its_drafts_are_cleared(many: Harness) -> None:
    h = many
    north = await running(h, NORTH, "North Clinic", None)
    south = await running(h, SOUTH, "South Clinic", h.maxcare.add_organization())
    draft_id = new_view_id()  # a refused draft South's nurse has not reopened yet
    with tenancy.serving(workspace(SOUTH)):
        store = h.bot.store
        sub = store.get_submission(south.view_id)
        assert sub is not None
        sub.view_id, sub.notes, sub.task_id = draft_id, "Draft about a patient", None
        store.add_submission(sub)
        store.update_submission(draft_id, state="failed", confirmed_at=None)

    h.slack.revoke(SOUTH)
    event = {"type": "app_uninstalled"}
    assert (await h.post(payloads.event_callback(event, team_id=SOUTH))).status_code == 200
    await h.settle()

    row = h.bot.store.get_installation(SOUTH)
    assert row is not None and row["state"] == UNINSTALLED and row["bot_token_enc"] is None
    draft = h.bot.store.get_submission(draft_id)
    assert draft is not None and draft.notes == "" and draft.state == "expired"
    assert h.bot.store.count_links_by_workspace()[SOUTH] == 2  # the audit and links are kept

    before = len(h.maxcare.requests())
    answer = await command(h, south.who, "", user=south.who.nurse)
    assert "not installed in this workspace" in answer
    assert len(h.maxcare.requests()) == before
    # North goes on as before.
    assert north.who.nurse in await answer_to(h, north.who, "links")


async def test_an_org_wide_install_serves_every_workspace_of_its_organization(
    many: Harness,
) -> None:
    h = many
    grid = "E0GRID"
    h.slack.add_workspace(grid, "Grid Health", enterprise_id=grid, is_enterprise_install=True)
    admin, nurse, doctor = "W0ADMIN", "W0NURSE", "W0DOCTOR"
    h.slack.add_user(admin, name="grid-admin", team_id=grid, is_admin=True)
    h.slack.add_user(nurse, name="grid-nurse", team_id=grid)
    h.slack.add_user(doctor, name="grid-doctor", team_id=grid)
    assert (await install(h, grid, admin)).status_code == 200
    row = h.bot.store.get_installation(grid)
    assert row is not None and row["is_enterprise_install"]

    async def grid_command(team_id: str, user_id: str, text: str, later: bool = False) -> str:
        hook = f"grid-{new_view_id()}"
        signed = payloads.slash_command(
            text, user_id=user_id, team_id=team_id, enterprise_id=grid,
            is_enterprise_install=True, response_url=h.slack.response_url(hook),
        )  # fmt: skip
        resp = await h.post(signed)
        assert resp.status_code == 200, resp.text
        if resp.content and not later:
            return json.dumps(resp.json())
        (answer,) = await h.slack.async_wait_for(f"response_url:{hook}")
        return json.dumps(answer.params)

    org = h.maxcare.add_organization()
    assert "is connected" in await grid_command("T0GRIDA", admin, f"connect {org}")
    for person in (nurse, doctor):
        provider = h.maxcare.add_provider(first_name=person, organization_id=org)
        text = f"link <@{person}> {provider['id']}"
        answer = await grid_command("T0GRIDA", admin, text, later=True)
        assert "Linked" in answer, answer
    # From another workspace of the organization: the same links (keyed by the enterprise).
    links = await grid_command("T0GRIDB", admin, "links")
    assert f"<@{nurse}>" in links and f"<@{doctor}>" in links
    note = h.maxcare.add_note(organization_id=org)["id"]
    view_id = new_view_id()
    signed = submission(
        view_id=view_id, note=note, notes="Grid task", assignees=[doctor], user_id=nurse,
        team_id="T0GRIDB", enterprise_id=grid, is_enterprise_install=True,
    )  # fmt: skip
    assert (await h.post(signed)).status_code == 200
    await h.settle()
    sub = h.bot.store.get_submission(view_id)
    assert sub is not None and sub.task_id and sub.workspace == grid, sub
    assert h.maxcare.organization_of(sub.task_id) == org
    assert h.bot.store.count_links_by_workspace() == {grid: 2}


async def test_sync_checks_the_watch_and_names_serve_each_clinic_as_itself(
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None,
) -> None:
    quick = replace(FAST, follow_first_delay=0.05, follow_max_delay=0.1)
    async with many_mode(
        slack, maxcare, tmp_path, monkeypatch, database_url, tuning=quick,
        TASK_WATCH_SECONDS="0.05",
    ) as h:  # fmt: skip
        north = await running(h, NORTH, "North Clinic", None)
        south = await running(h, SOUTH, "South Clinic", h.maxcare.add_organization())
        for clinic_ in (north, south):
            h.maxcare.set_task(clinic_.task_id, status="in_progress", syncStatus="synced")

        def told(run: Running) -> list[Call]:
            return [
                c for c in h.slack.calls("chat.postMessage")
                if c.params.get("thread_ts") and run.task_id in json.dumps(c.params)
            ]  # fmt: skip

        await wait_until(lambda: bool(told(north)) and bool(told(south)))
        for run, team_id in ((north, NORTH), (south, SOUTH)):
            token = h.slack.workspace(team_id).token
            assert {c.token for c in told(run)} == {token}  # the creator told, as its bot
            updates = [
                c for c in h.slack.calls("chat.update") if run.task_id in json.dumps(c.params)
            ]
            assert updates and {c.token for c in updates} == {token}
            asked = [r for r in h.maxcare.requests("GET") if run.task_id in r.path]
            assert asked and {r.headers["x-organization-id"] for r in asked} == {run.who.org}

        # The people directory learns each workspace's names as that workspace.
        await h.bot.people.refresh_all()
        with tenancy.serving(workspace(NORTH)):
            assert h.bot.people.name(north.who.nurse) == "nurse-NORTH"
            assert h.bot.people.name(south.who.nurse) is None
        with tenancy.serving(workspace(SOUTH)):
            assert h.bot.people.name(south.who.nurse) == "nurse-SOUTH"


async def test_work_of_a_workspace_found_uninstalled_by_a_sweep_ends(many: Harness) -> None:
    h = many
    south = await running(h, SOUTH, "South Clinic", h.maxcare.add_organization())
    pending = new_view_id()  # left unfinished by an instance that stopped, say
    with tenancy.serving(workspace(SOUTH)):
        sub = h.bot.store.get_submission(south.view_id)
        assert sub is not None
        sub.view_id, sub.notes, sub.task_id = pending, "Waiting text", None
        h.bot.store.add_submission(sub)
        h.bot.store.update_submission(pending, state="pending", confirmed_at=None)
    # Uninstalled with its work not ended (as if the process stopped between the two).
    assert h.bot.store.mark_uninstalled(SOUTH)
    before = len(h.maxcare.requests())

    assert h.bot.outbox.sweep() == 1
    await h.settle()

    ended = h.bot.store.get_submission(pending)
    assert ended is not None and (ended.state, ended.notes) == ("uninstalled", "")
    assert len(h.maxcare.requests()) == before  # nothing sent as a gone workspace


async def test_rotated_tokens_are_refreshed_for_requests_and_background_work(
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str | None,
) -> None:
    slack.token_rotation = True  # tokens last 12 hours and come with refresh tokens
    async with many_mode(
        slack, maxcare, tmp_path, monkeypatch, database_url, TASK_WATCH_SECONDS="0.05"
    ) as h:
        north = await running(h, NORTH, "North Clinic", None)
        first = h.slack.workspace(NORTH).token
        assert first is not None and first.startswith("xoxe.xoxb-")

        # Twelve hours later: the token has expired, in Slack and in the stored installation.
        h.slack.expire_tokens(NORTH)
        installs = DatabaseInstallationStore(
            h.bot.store, TokenCipher.from_setting(h.bot.settings.token_encryption_key)
        )
        bot = installs.find_by_key(NORTH)
        assert bot is not None
        bot.bot_token_expires_at = int(time.time()) + 60
        await installs.async_save_bot(bot)

        # Background work (the watch telling the creator) refreshes it first.
        h.maxcare.set_task(north.task_id, status="in_progress")
        await wait_until(
            lambda: any(
                c.params.get("thread_ts") and north.task_id in json.dumps(c.params)
                for c in h.slack.calls("chat.postMessage")
            )
        )
        told = [c for c in h.slack.calls("chat.postMessage") if c.params.get("thread_ts")]
        assert told[-1].token != first and h.slack.workspace_of(told[-1].token) is not None
        refreshed = installs.find_by_key(NORTH)
        assert refreshed is not None and refreshed.bot_token == told[-1].token
        assert refreshed.bot_token not in str(h.bot.store.get_installation(NORTH))  # encrypted

        # A request goes on working with the new token.
        assert north.who.nurse in await answer_to(h, north.who, "links")
