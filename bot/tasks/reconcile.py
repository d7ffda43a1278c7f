"""Finding the task an earlier, unanswered POST may have created, so it is never POSTed twice.

MaxCare documents no idempotency key. After an ambiguous failure the outbox asks for the
note's tasks and adopts the one that matches the submission: the same notes (as MaxCare may
have normalised them), the same set of assignees, created after the submission, and not
already recorded as another submission's task.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.db.store import Store, Submission
from bot.maxcare import MaxCareClient, Task

# Allow for clocks that disagree a little when matching a found task to a submission.
CLOCK_SKEW = timedelta(minutes=5)


def same_notes(theirs: str | None, ours: str) -> bool:
    """Equal once line endings and surrounding whitespace are normalised (as a service may)."""

    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").split("\n")).strip()

    return theirs is not None and norm(theirs) == norm(ours)


def matches(task: Task, sub: Submission, since: datetime) -> bool:
    """True when `task` is what `sub`'s POST would have created."""
    return (
        same_notes(task.notes, sub.notes)
        and {p.id for p in task.assigned_providers} == set(sub.assignee_ids)
        and (task.created_at is None or task.created_at >= since)
    )


async def find_created(maxcare: MaxCareClient, store: Store, sub: Submission) -> Task | None:
    """The task this submission made, if an earlier attempt reached MaxCare (MaxCare errors
    propagate: a lookup that did not answer settles nothing)."""
    tasks = await maxcare.all_tasks(note_id=sub.note_id)
    since = datetime.fromisoformat(sub.created_at) - CLOCK_SKEW
    for task in tasks:
        if matches(task, sub, since) and store.get_task(task.id) is None:
            return task
    return None
