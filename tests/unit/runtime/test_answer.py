"""answer_at_ack: Bolt answers when a listener acks, the listener carries on, failures are kept."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.web.async_client import AsyncWebClient

from bot.runtime import answer as prompt
from bot.runtime.answer import answer_at_ack
from tests.support import payloads
from tests.support.fakes import FakeSlack


class Ack:
    """Records what the listener acked with, like Bolt's AsyncAck."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def __call__(self, **kwargs: Any) -> None:
        self.calls.append(kwargs)


async def test_returns_at_the_ack_while_the_listener_carries_on() -> None:
    go_on = asyncio.Event()
    done: list[str] = []

    @answer_at_ack
    async def listener(ack: Any, body: dict[str, Any]) -> None:
        await ack(text=body["text"])
        await go_on.wait()  # e.g. views.open, after Slack has its answer
        done.append("after")

    ack = Ack()
    await asyncio.wait_for(listener(ack=ack, body={"text": "hi"}), 1.0)
    assert ack.calls == [{"text": "hi"}] and done == []

    go_on.set()
    await prompt.settle(1.0)
    assert done == ["after"]


async def test_a_failure_before_the_ack_reaches_bolt() -> None:
    @answer_at_ack
    async def listener(ack: Any) -> None:
        raise ValueError("bad payload")

    ack = Ack()
    with pytest.raises(ValueError, match="bad payload"):
        await listener(ack=ack)
    assert ack.calls == []


async def test_a_listener_ending_without_an_ack_returns(caplog: pytest.LogCaptureFixture) -> None:
    @answer_at_ack
    async def listener(ack: Any) -> None:
        return None

    await asyncio.wait_for(listener(ack=Ack()), 1.0)
    assert "unhandled" not in caplog.text


async def test_a_failure_after_the_ack_is_logged_by_type_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @answer_at_ack
    async def listener(ack: Any) -> None:
        await ack()
        await asyncio.sleep(0)
        raise RuntimeError("Mrs Smith, DOB 1950-01-01")  # what someone typed

    with caplog.at_level(logging.ERROR, logger="bot.listeners"):
        await listener(ack=Ack())
        await prompt.settle(1.0)
    assert "unhandled RuntimeError in a listener after its ack" in caplog.text
    assert "Smith" not in caplog.text


async def test_a_request_given_up_before_the_ack_leaves_a_later_failure_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    go_on = asyncio.Event()

    @answer_at_ack
    async def listener(ack: Any) -> None:
        await go_on.wait()
        raise RuntimeError("after the request was gone")

    waiting = asyncio.create_task(listener(ack=Ack()))
    await asyncio.sleep(0.01)
    waiting.cancel()  # e.g. the server shutting down while the listener is still at work
    with pytest.raises(asyncio.CancelledError):
        await waiting
    go_on.set()
    with caplog.at_level(logging.ERROR, logger="bot.listeners"):
        await prompt.settle(1.0)
    assert "unhandled RuntimeError in a listener after its ack" in caplog.text


async def test_the_request_wakes_one_loop_turn_after_the_ack() -> None:
    turns: list[str] = []

    @answer_at_ack
    async def listener(ack: Any) -> None:
        await ack()
        for _ in range(5):  # the listener keeps the loop busy after its ack
            turns.append("listener")
            await asyncio.sleep(0)

    async def request() -> None:
        await listener(ack=Ack())
        turns.append("answered")

    await request()
    await prompt.settle(1.0)
    # Acked in the listener's first turn; the request runs in the next one, not three later.
    assert turns.index("answered") == 1, turns


async def test_an_event_listener_without_ack_returns_at_once() -> None:
    go_on = asyncio.Event()
    seen: list[str] = []

    @answer_at_ack
    async def listener(event: dict[str, Any]) -> None:
        await go_on.wait()
        seen.append(event["user"])

    await asyncio.wait_for(listener(event={"user": "U1"}), 1.0)
    assert seen == []
    go_on.set()
    await prompt.settle(1.0)
    assert seen == ["U1"]


def test_bolt_injects_the_wrapped_listeners_arguments() -> None:
    from slack_bolt.util.utils import get_arg_names_of_callable

    @answer_at_ack
    async def listener(ack: Any, body: dict[str, Any], respond: Any) -> None:
        return None

    assert get_arg_names_of_callable(listener) == ["ack", "body", "respond"]


async def test_bolt_calls_a_decorated_method_by_its_parameter_names(slack: FakeSlack) -> None:
    class Listeners:
        def __init__(self) -> None:
            self.seen: list[str] = []

        @answer_at_ack
        async def on_command(self, ack: Any, command: dict[str, Any]) -> None:
            await ack(response_type="ephemeral", text="hi")
            self.seen.append(command["text"])

    listeners = Listeners()
    app = AsyncApp(
        client=AsyncWebClient(token=slack.token, base_url=slack.api_url),
        signing_secret=payloads.SIGNING_SECRET,
        process_before_response=True,
    )
    app.command("/task")(listeners.on_command)
    body, headers = payloads.slash_command("mine")

    response = await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
    await prompt.settle(1.0)

    assert response.status == 200 and json.loads(response.body)["text"] == "hi"
    assert listeners.seen == ["mine"]
