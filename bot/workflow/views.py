"""What a workflow author is told when the step makes no task: plain text, inputs named."""

from __future__ import annotations

from collections.abc import Sequence

from bot import ids
from bot.slack.text import shorten

REFUSED = "MaxCare task not created."
LINK_HINT = "Ask a MaxCare Tasks admin to link them (`/task link`)."
SHOWN_MAX = 60  # a malformed input is quoted this far


def names(people: Sequence[str]) -> str:
    """`A`, `A and B`, `A, B and C`."""
    if len(people) < 2:
        return "".join(people)
    return f"{', '.join(people[:-1])} and {people[-1]}"


def refused(problems: Sequence[str]) -> str:
    """The completeError message: every problem found, each a sentence."""
    return " ".join([REFUSED, *problems])


def no_creator() -> str:
    """The creator input is missing or not a person."""
    return (
        f"The `{ids.STEP_CREATOR}` input must be a person (the task is created in MaxCare as "
        "them)."
    )


def creator_is_bot() -> str:
    """The creator input names a bot."""
    return f"The `{ids.STEP_CREATOR}` input is a bot; tasks are created as a person."


def creator_not_linked(name: str) -> str:
    """The person the task would be created as has no MaxCare provider."""
    return (
        f"The creator, {name}, is not linked to a MaxCare provider, so the task cannot be "
        f"created as them. {LINK_HINT}"
    )


def creator_stale(name: str, why: str) -> str:
    """The creator's link no longer works."""
    return f"The creator, {name}, {why}; their link must be fixed first."


def note_missing() -> str:
    """The note ID input is empty."""
    return f"The `{ids.STEP_NOTE_ID}` input is empty: give the note's ID (nte_… or its UUID)."


def note_malformed(value: str) -> str:
    """The note ID input is not a note ID."""
    return (
        f'The `{ids.STEP_NOTE_ID}` input "{shorten(value.strip(), SHOWN_MAX)}" is not a MaxCare '
        "note ID: it looks like nte_ followed by 32 characters 0-9 and a-f, or a UUID."
    )


def notes_missing() -> str:
    """The task text input is empty."""
    return f"The `{ids.STEP_NOTES}` input is empty: say what needs doing."


def notes_too_long(size: int, limit: int) -> str:
    """The task text input is over the limit."""
    return f"The `{ids.STEP_NOTES}` input has {size:,} characters; keep it under {limit:,}."


def no_assignees() -> str:
    """Nobody is assigned."""
    return f"The `{ids.STEP_ASSIGNEES}` input names nobody; assign at least one person."


def too_many_assignees(count: int, limit: int) -> str:
    """More assignees than a task may have."""
    return f"The `{ids.STEP_ASSIGNEES}` input names {count} people; assign at most {limit}."


def not_people(values: Sequence[str]) -> str:
    """Assignee values that are not Slack user IDs."""
    shown = ", ".join(f'"{shorten(v, SHOWN_MAX)}"' for v in values[:5])
    return f"The `{ids.STEP_ASSIGNEES}` input holds values that are not people: {shown}."


def bots_assigned() -> str:
    """A bot among the assignees."""
    return "Bots cannot be assigned tasks; assign people."


def assignees_not_linked(people: Sequence[str]) -> str:
    """Assignees without a MaxCare provider."""
    return f"Not linked to MaxCare yet: {names(people)}. {LINK_HINT}"


def assignees_stale(people_why: Sequence[str]) -> str:
    """Assignees whose links no longer work."""
    return f"Cannot be assigned: {'; '.join(people_why)}."


def maxcare_refused(reason: str) -> str:
    """MaxCare itself refused the task (its message and trace ID are in `reason`)."""
    return f"{REFUSED} {reason}"
