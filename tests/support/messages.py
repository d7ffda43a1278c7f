"""Telling the app's messages apart in the fake Slack's record: cards, assignee DMs, news."""

from __future__ import annotations

from tests.support.fakes import Call, FakeSlack

ASSIGNED = "assigned you a MaxCare task"  # in every assignee DM's text


def is_assignment(call: Call) -> bool:
    """True for the DM an assignee gets about a new task."""
    return ASSIGNED in str(call.params.get("text") or "")


def posts(slack: FakeSlack) -> list[Call]:
    """chat.postMessage calls other than assignee DMs (cards, notices, news), in order."""
    return [c for c in slack.calls("chat.postMessage") if not is_assignment(c)]


def assignment_dms(slack: FakeSlack) -> list[Call]:
    """The DMs assignees got about new tasks, in order."""
    return [c for c in slack.calls("chat.postMessage") if is_assignment(c)]
