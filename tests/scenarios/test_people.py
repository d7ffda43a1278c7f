"""Mentions in a message prefill become people's names, from a local directory of names."""

from __future__ import annotations

import pytest
from slack_sdk.errors import SlackApiError

from bot import ids
from tests.support import payloads
from tests.support.harness import DOCTOR, NURSE, Harness


def _notes_of(view: dict) -> str:
    by_block = {b.get("block_id"): b for b in view["blocks"]}
    return str(by_block[ids.NOTES_BLOCK]["element"].get("initial_value", ""))


async def test_message_mentions_prefill_as_names(harness: Harness) -> None:
    harness.link(NURSE, harness.nurse_provider)
    assert harness.bot.people is not None
    await harness.bot.people.refresh()
    message = {"text": f"<@{DOCTOR}> please check the plan, cc <@UNKNOWN1>", "ts": "1700.1"}
    await harness.post(payloads.message_action(message))
    view = (await harness.slack.async_wait_for("views.open"))[0].params["view"]
    notes = _notes_of(view)
    assert notes.startswith("@drwilson please check the plan")
    assert "@UNKNOWN1" in notes  # nobody by that ID: the ID stays, readable and harmless


async def test_directory_survives_slack_failing(harness: Harness) -> None:
    people = harness.bot.people
    assert people is not None
    assert await people.refresh() >= 3  # nurse, doctor, admin
    harness.slack.add_user("UNEW", name="newcomer")
    harness.slack.fail("users.list", "internal_error")
    with pytest.raises(SlackApiError):  # raised, so that run() tries again sooner
        await people.refresh()
    assert people.name("UNEW") is None and people.name(DOCTOR) == "drwilson"
    await people.refresh()  # Slack answers again: the newcomer is learnt
    assert people.name("UNEW") == "newcomer"


async def test_users_list_is_read_page_by_page(harness: Harness) -> None:
    for n in range(450):
        harness.slack.add_user(f"UPAGE{n:04d}", name=f"person{n}")
    assert harness.bot.people is not None
    assert await harness.bot.people.refresh() >= 453
    assert harness.bot.people.name("UPAGE0449") == "person449"
    assert len(harness.slack.calls("users.list")) >= 3
