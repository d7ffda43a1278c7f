"""The admin listeners called alone: fake ack and respond, a real AdminService over the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.db.store import SQLiteStore
from bot.links.listeners import LINK_USAGE, LinkListeners, register
from bot.links.service import AdminCheck, AdminService
from bot.maxcare import MaxCareClient
from bot.runtime.subcommands import Subcommands
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import ADMIN, DOCTOR, NURSE
from tests.support.recorder import Recorder


@pytest.fixture
async def admin(slack: FakeSlack, maxcare: FakeMaxCare) -> AsyncIterator[AdminService]:
    """An AdminService over an in-memory database, the fake Slack and the fake MaxCare."""
    store = SQLiteStore(":memory:")
    client = MaxCareClient(
        base_url=maxcare.url, api_key=maxcare.api_key, organization_id=maxcare.organization_id
    )
    web = AsyncWebClient(token=slack.token, base_url=slack.api_url)
    yield AdminService(store=store, slack=web, maxcare=client, admins=AdminCheck(web, {ADMIN}))
    await client.aclose()
    store.close()


async def test_link_by_someone_not_an_admin_is_refused(
    admin: AdminService, maxcare: FakeMaxCare
) -> None:
    ack, respond = Recorder(), Recorder()

    await LinkListeners(admin).link(ack, {"user_id": NURSE}, respond, f"<@{DOCTOR}> prv_x")

    assert ack.only == {"response_type": "ephemeral", "text": admin.refusal}
    assert respond.calls == [] and maxcare.requests() == []
    assert admin.store.get_link(DOCTOR) is None


async def test_link_with_a_missing_provider_shows_the_usage(admin: AdminService) -> None:
    ack = Recorder()
    await LinkListeners(admin).link(ack, {"user_id": ADMIN}, Recorder(), f"<@{DOCTOR}>")
    assert ack.only == {"response_type": "ephemeral", "text": LINK_USAGE}


async def test_link_checks_with_maxcare_after_the_ack(
    admin: AdminService, maxcare: FakeMaxCare
) -> None:
    provider = maxcare.add_provider(first_name="James", last_name="Wilson")
    ack, respond = Recorder(), Recorder()

    await LinkListeners(admin).link(
        ack, {"user_id": ADMIN, "team_id": "T0TEAM"}, respond, f"<@{DOCTOR}> {provider['id']}"
    )

    assert "Checking" in ack.only["text"]
    assert respond.only["response_type"] == "ephemeral"
    link = admin.store.get_link(DOCTOR)
    assert link is not None and link.provider_id == provider["id"]


async def test_provider_options_are_for_admins_only(
    admin: AdminService, maxcare: FakeMaxCare
) -> None:
    ack = Recorder()
    body = {"user": {"id": NURSE}, "value": "wil"}
    await LinkListeners(admin).provider_options(ack=ack, body=body)
    (hint,) = ack.only["options"]
    assert "Only admins" in hint["text"]["text"]
    assert maxcare.requests() == []


def test_register_routes_the_admin_words(admin: AdminService) -> None:
    app = AsyncApp(client=AsyncWebClient(token="xoxb-test"), signing_secret="secret")
    subcommands = Subcommands()
    listeners = register(app, admin, subcommands)
    assert subcommands.words() == ["link", "links", "unlink", "whoami"]
    routed = subcommands.route("whoami")
    assert routed is not None and routed[0] == listeners.whoami
    with pytest.raises(ValueError, match="already routed"):
        subcommands.add("LINK", listeners.link)
