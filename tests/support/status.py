"""Creating a task through the app and clicking the buttons of live status."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import ids
from tests.support import payloads
from tests.support.fakes import Call
from tests.support.harness import DOCTOR, FAST, NURSE, Harness, MakeHarness
from tests.support.submissions import CHANNEL, new_view_id, submission

STRANGER = "UPAT"


# The sync follower sped up: the first check after 0.05 s, backing off to 0.1 s.
FAST_FOLLOW = replace(FAST, follow_first_delay=0.05, follow_max_delay=0.1)


def link_people(h: Harness) -> Harness:
    """Nurse and doctor linked; a stranger in the workspace."""
    h.link(NURSE, h.nurse_provider)
    h.link(DOCTOR, h.doctor_provider)
    h.slack.add_user(STRANGER, name="pstranger", real_name="Pat Stranger")
    return h


async def following_harness(make_harness: MakeHarness, **tuning_changes: Any) -> Harness:
    """The app with the sync follower sped up (and `tuning_changes`), people linked."""
    return link_people(await make_harness(tuning=replace(FAST_FOLLOW, **tuning_changes)))


@dataclass
class Created:
    """A task the app created, and where its card is."""

    task_id: str
    channel: str
    ts: str
    view_id: str


async def create_task(h: Harness, notes: str = "Review the plan") -> Created:
    """Submit the form as the nurse (assigning the doctor) and wait for the card."""
    view_id = new_view_id()
    note = h.maxcare.add_note()["id"]
    signed = submission(view_id=view_id, note=note, notes=notes, assignees=[DOCTOR])
    resp = await h.post(signed)
    assert resp.status_code == 200, resp.text
    await h.settle()
    sub = h.bot.store.get_submission(view_id)
    assert sub is not None and sub.task_id, sub
    row = h.bot.store.get_task(sub.task_id)
    assert row is not None and row["message_ts"], row
    assert row["channel_id"] == CHANNEL
    return Created(sub.task_id, row["channel_id"], row["message_ts"], view_id)


def button(action_id: str, value: str, block_id: str = "b") -> dict[str, Any]:
    """One clicked button, as block_actions carries it."""
    return {"type": "button", "action_id": action_id, "block_id": block_id, "value": value}


def click_card_refresh(
    h: Harness, card: Created, *, user_id: str = DOCTOR, response: str = "refresh"
) -> tuple[str, dict[str, str]]:
    """Someone clicks Refresh on the card in the channel (by default the linked doctor)."""
    message = {"type": "message", "ts": card.ts, "text": "card", "user": "UBOT"}
    return payloads.block_actions(
        [button(ids.REFRESH_TASK_ACTION, card.task_id, ids.CARD_ACTIONS_BLOCK)],
        user_id=user_id,
        channel_id=card.channel,
        message=message,
        response_url=h.slack.response_url(response),
    )


def click_ephemeral(
    h: Harness, action_id: str, value: str, *, user_id: str, response: str
) -> tuple[str, dict[str, str]]:
    """A click on an ephemeral message (Slack sends no `message` for those)."""
    container = {
        "type": "message",
        "message_ts": "1700000000.000900",
        "channel_id": CHANNEL,
        "is_ephemeral": True,
    }
    return payloads.block_actions(
        [button(action_id, value)],
        user_id=user_id,
        container=container,
        channel_id=CHANNEL,
        response_url=h.slack.response_url(response),
    )


def texts(message: dict[str, Any]) -> str:
    """Every text of a message or view (top-level text and all blocks) as one string."""
    return json.dumps({"text": message.get("text"), "blocks": message.get("blocks")},
                      ensure_ascii=False)


# Waits for an event give up after this long: generous, for a machine busy with other work.
WAIT_SECONDS = 10.0


class WallClock:
    """The database's wall clock (Tuning.now), standing still until the test moves it."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += timedelta(seconds=seconds)

    def move_to(self, when: datetime) -> None:
        """Move the clock forward to `when` (never back)."""
        self.now = max(self.now, when)


async def wait_until(predicate: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    """Poll a condition without blocking the event loop."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def wait_for_update(
    h: Harness, contains: str, timeout: float = WAIT_SECONDS
) -> Call:
    """The first chat.update whose message contains `contains`."""
    found: list[Call] = []

    def seen() -> bool:
        found[:] = [c for c in h.slack.calls("chat.update") if contains in texts(c.params)]
        return bool(found)

    await wait_until(seen, timeout)
    return found[0]
