"""The one task card assembly: a task as MaxCare sent it, plus what the app knows, as its card."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.db.store import Store, Submission
from bot.maxcare import Task
from bot.status.views import CardData, task_card


class TaskCards:
    """Builds every task card (the first one, Refresh, `/task status`, the follower's updates).

    Assignees are the providers MaxCare lists on the task, each by its display name, with the
    Slack mention of the person linked to it: the person the creator picked in the form (the
    submission pairs each picked person with their provider) first, else whoever the links
    table links to that provider. MaxCare requires at least one assignee, so a task listed
    with none means its answer left them out: the card then shows the submission's picks, by
    the provider name cached with their link (else the provider ID).
    """

    def __init__(self, *, store: Store) -> None:
        self.store = store

    def render(
        self,
        task: Task,
        *,
        checked_at: datetime | None = None,
        note: str | None = None,
        submission: Submission | None = None,
        invite_hint: str | None = None,
    ) -> dict[str, Any]:
        """The task's card (`text`, `blocks`); the submission is looked up unless given."""
        row = self.store.get_task(task.id) or {}
        sub = submission
        if sub is None and row.get("view_id"):
            sub = self.store.get_submission(str(row["view_id"]))
        notes = task.notes if task.notes is not None else (sub.notes if sub else "")
        data = CardData(
            task_id=task.id,
            note_id=task.note_id or row.get("note_id") or (sub.note_id if sub else "") or "—",
            notes=notes or "",
            status=task.status,
            sync_status=task.sync_status,
            creator_user_id=row.get("created_by") or (sub.user_id if sub else ""),
            assignees=self.assignees(task, sub),
            invite_hint=invite_hint,
            updated_at=task.updated_at,
            checked_at=checked_at,
            sync_note=note,
        )
        return task_card(data)

    def assignees(self, task: Task, sub: Submission | None) -> list[tuple[str, str | None]]:
        """(name, Slack user ID or None) for each assignee, by the rule in the class docstring."""
        picked: dict[str, str] = {}
        if sub is not None:
            pairs = zip(sub.assignee_ids, sub.assignee_user_ids, strict=False)
            picked = {pid: uid for pid, uid in pairs if uid}
        if not task.assigned_providers and sub is not None:
            links = self.store.get_links(picked.values())
            people: list[tuple[str, str | None]] = []
            for pid in dict.fromkeys(sub.assignee_ids):
                uid = picked.get(pid)
                link = links.get(uid) if uid else None
                people.append(((link.provider_name if link else None) or pid, uid))
            return people
        missing = [p.id for p in task.assigned_providers if p.id not in picked]
        slack_by_provider = {**self.store.users_for_providers(missing), **picked}
        return [(p.display_name, slack_by_provider.get(p.id)) for p in task.assigned_providers]

    def observe(self, task: Task, checked_at: datetime) -> dict[str, Any] | None:
        """Remember what MaxCare said about a task the app created; returns its row."""
        row = self.store.get_task(task.id)
        if row is None:
            return None
        changes: dict[str, Any] = {
            "status": task.status,
            "sync_status": task.sync_status,
            "maxcare_updated_at": task.updated_at.isoformat() if task.updated_at else None,
            "checked_at": checked_at.isoformat(),
        }
        if task.sync_status == "synced" and row.get("follow_until"):
            changes.update(follow_until=None, next_check_at=None)  # nothing left to follow
        self.store.update_task(task.id, **changes)
        return {**row, **changes}
