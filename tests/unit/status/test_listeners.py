"""The status listeners called alone: fake ack and respond, a real StatusService over the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.db.store import SQLiteStore
from bot.maxcare import MaxCareClient
from bot.runtime import answer
from bot.status.listeners import StatusListeners
from bot.status.service import StatusService, TaskCards
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import ADMIN, DOCTOR
from tests.support.recorder import Recorder


@pytest.fixture
async def listeners(slack: FakeSlack, maxcare: FakeMaxCare) -> AsyncIterator[StatusListeners]:
    """The status listeners over an in-memory database, the fake Slack and the fake MaxCare."""
    store = SQLiteStore(":memory:")
    client = MaxCareClient(
        base_url=maxcare.url, api_key=maxcare.api_key, organization_id=maxcare.organization_id
    )
    status = StatusService(
        store=store,
        maxcare=client,
        slack=AsyncWebClient(token=slack.token, base_url=slack.api_url),
        cards=TaskCards(store=store),
    )
    yield StatusListeners(status, {ADMIN})
    await client.aclose()
    store.close()


def command(user_id: str = DOCTOR) -> dict[str, Any]:
    return {"command": "/task", "user_id": user_id}


async def test_status_of_a_task_is_answered_after_the_ack(
    listeners: StatusListeners, maxcare: FakeMaxCare
) -> None:
    doctor = maxcare.add_provider()
    listeners.status.store.set_link(DOCTOR, doctor["id"], actor=ADMIN)  # only linked people read
    task = maxcare.add_task(assignee_ids=[doctor["id"]], status="in_progress")
    ack, respond = Recorder(), Recorder()

    await listeners.status_command(ack, command(), respond, task["id"])

    assert ack.only == {}
    assert respond.only["response_type"] == "ephemeral"
    assert task["id"] in str(respond.only["blocks"])
    assert [r.path for r in maxcare.requests("GET")] == [f"/tasks/{task['id']}"]


async def test_a_malformed_task_id_is_refused_in_the_ack(
    listeners: StatusListeners, maxcare: FakeMaxCare
) -> None:
    ack, respond = Recorder(), Recorder()

    await listeners.status_command(ack, command(), respond, "tsk_123")

    assert ack.only["response_type"] == "ephemeral" and "tsk_123" in ack.only["text"]
    assert respond.calls == [] and maxcare.requests() == []


async def test_mine_when_unlinked_names_the_admins(
    listeners: StatusListeners, maxcare: FakeMaxCare
) -> None:
    ack, respond = Recorder(), Recorder()

    await listeners.mine_command(ack, command(), respond, "")

    assert ack.only["response_type"] == "ephemeral" and ADMIN in ack.only["text"]
    assert respond.calls == [] and maxcare.requests() == []


async def test_refresh_of_a_button_this_app_did_not_make_does_nothing(
    listeners: StatusListeners, maxcare: FakeMaxCare
) -> None:
    ack, respond = Recorder(), Recorder()
    body = {"user": {"id": DOCTOR},
            "actions": [{"action_id": ids.REFRESH_TASK_ACTION, "value": "<!channel>"}]}

    await listeners.refresh(ack=ack, body=body, respond=respond)
    await answer.settle(1.0)

    assert ack.only == {}
    assert respond.calls == [] and maxcare.requests() == []
