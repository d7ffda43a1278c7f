"""The task listeners called alone: fake ack and respond, a real TaskService over the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.db.store import SQLiteStore
from bot.runtime import answer
from bot.runtime.subcommands import Subcommands
from bot.tasks.listeners import TaskListeners, register
from bot.tasks.service import TaskService, UserFacingError
from tests.support import payloads
from tests.support.fakes import FakeSlack
from tests.support.harness import ADMIN, NURSE
from tests.support.recorder import Recorder


@pytest.fixture
async def service(slack: FakeSlack) -> AsyncIterator[TaskService]:
    """A TaskService over an in-memory database and the fake Slack; the nurse is linked."""
    store = SQLiteStore(":memory:")
    store.set_link(NURSE, "prv_" + "1" * 32, actor="test", provider_name="Nina Nurse, RN")
    yield TaskService(
        store=store,
        slack=AsyncWebClient(token=slack.token, base_url=slack.api_url),
        enqueue=lambda view_id: None,
        admin_ids={ADMIN},
        bot_user_id="UBOT",
        response_url_ok=lambda url: True,
    )
    store.close()


def command(text: str, user_id: str = NURSE) -> dict[str, Any]:
    """A slash command payload as Bolt hands it to the listener."""
    return {"command": "/task", "text": text, "user_id": user_id, "channel_id": "C0GENERAL",
            "trigger_id": payloads.new_trigger_id(), "response_url": "https://hooks.slack.com/x"}


async def test_help_is_the_ack_itself(service: TaskService) -> None:
    listeners = TaskListeners(service, Subcommands())
    ack, respond = Recorder(), Recorder()
    help_command = command("help")

    await listeners.slash_command(ack=ack, command=help_command, respond=respond)
    await answer.settle(1.0)

    usage = service.slash_command(help_command).text
    assert usage and ack.only == {"response_type": "ephemeral", "text": usage}
    assert respond.calls == []


async def test_the_form_opens_after_an_empty_ack(service: TaskService, slack: FakeSlack) -> None:
    listeners = TaskListeners(service, Subcommands())
    ack, respond = Recorder(), Recorder()
    sent = command("")

    await listeners.slash_command(ack=ack, command=sent, respond=respond)
    await answer.settle(1.0)

    assert ack.only == {}
    (opened,) = slack.calls("views.open")
    assert opened.params["trigger_id"] == sent["trigger_id"]
    assert opened.params["view"]["callback_id"] == ids.CREATE_TASK_VIEW


async def test_a_routed_word_goes_to_its_handler(service: TaskService) -> None:
    handled: list[tuple[Any, ...]] = []

    async def ping(ack: Any, command: dict[str, Any], respond: Any, rest: str) -> None:
        handled.append((command["user_id"], rest))
        await ack(text="pong")

    subcommands = Subcommands()
    subcommands.add("ping", ping)
    ack = Recorder()

    await TaskListeners(service, subcommands).slash_command(
        ack=ack, command=command("PING  to  you "), respond=Recorder()
    )
    await answer.settle(1.0)

    assert handled == [(NURSE, "to  you")]
    assert ack.only == {"text": "pong"}


class Refusing:
    """A task service that fails at everything (to see what the listeners then say)."""

    async def submit(self, body: dict[str, Any]) -> Any:
        raise RuntimeError("the database is gone")

    async def reopen_draft(self, user_id: str, view_id: Any, trigger_id: Any) -> str | None:
        raise UserFacingError("Slack refused the form.")


async def test_a_failed_submission_keeps_the_modal_open() -> None:
    ack = Recorder()
    await TaskListeners(cast(TaskService, Refusing()), Subcommands()).submit(ack=ack, body={})
    assert ack.only["response_action"] == "errors"
    assert list(ack.only["errors"]) == [ids.NOTES_BLOCK]


async def test_reopen_trouble_is_said_privately_and_the_notice_stays() -> None:
    ack, respond = Recorder(), Recorder()
    body = {"user": {"id": NURSE}, "actions": [{"value": "V123"}], "trigger_id": "1.2.3"}

    await TaskListeners(cast(TaskService, Refusing()), Subcommands()).reopen_draft(
        ack=ack, body=body, respond=respond
    )
    await answer.settle(1.0)

    assert ack.only == {}
    assert respond.only == {
        "response_type": "ephemeral", "text": "Slack refused the form.", "replace_original": False
    }


def test_register_puts_the_form_submission_first(service: TaskService) -> None:
    app = AsyncApp(client=AsyncWebClient(token="xoxb-test"), signing_secret="secret")
    listeners = register(app, service, Subcommands())
    registered = [listener.ack_function for listener in app._async_listeners]
    assert registered[0] == listeners.submit
    assert len(registered) == 6
