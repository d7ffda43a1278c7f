"""The database schema, as migrations applied in order (PRAGMA user_version counts them)."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils


# Each entry upgrades the schema by one version; never edit a released entry, append a new one.
def _v1(db: sqlite_utils.Database) -> None:
    """The first schema."""
    (
        db.table("links").create(
            {
                "slack_user_id": str,
                "provider_id": str,
                "provider_name": str,
                "team_id": str,
                "linked_by": str,
                "linked_at": str,
            },
            pk="slack_user_id",
        ),
        db.table("link_events").create(
            {
                "id": int,
                "slack_user_id": str,
                "actor": str,
                "at": str,
                "old_provider_id": str,
                "new_provider_id": str,
            },
            pk="id",
        ),
        db.table("submissions").create(
            {
                "view_id": str,
                "team_id": str,
                "user_id": str,
                "source": str,
                "note_id": str,
                "notes": str,
                "assignee_user_ids": str,
                "provider_id": str,
                "assignee_ids": str,
                "channel_id": str,
                "thread_ts": str,
                "response_url": str,
                "message_key": str,
                "state": str,
                "attempts": int,
                "last_error": str,
                "trace_id": str,
                "task_id": str,
                "created_at": str,
                "updated_at": str,
                "confirmed_at": str,
            },
            pk="view_id",
        ),
        db.table("submissions").create_index(["state"]),
        db.table("submissions").create_index(["message_key"]),
        db.table("tasks").create(
            {
                "task_id": str,
                "view_id": str,
                "note_id": str,
                "status": str,
                "sync_status": str,
                "channel_id": str,
                "message_ts": str,
                "created_by": str,
                "created_at": str,
                "updated_at": str,
            },
            pk="task_id",
        ),
    )


def _v2(db: sqlite_utils.Database) -> None:
    """Admin features: stale links, and the audit looked up by person."""
    db.table("links").add_column("stale_reason", str)
    db.table("links").add_column("stale_since", str)
    db.table("link_events").create_index(["slack_user_id"])


def _v3(db: sqlite_utils.Database) -> None:
    """Live task status: when each task was last checked, and its EHR-sync follow-up."""
    tasks = db.table("tasks")
    tasks.add_column("maxcare_updated_at", str)  # the task's updatedAt in MaxCare
    tasks.add_column("checked_at", str)  # when the app last fetched it
    tasks.add_column("follow_until", str)  # following its EHR sync until then; null: not following
    tasks.add_column("next_check_at", str)
    tasks.add_column("follow_checks", int)  # null: never followed; else checks made
    tasks.create_index(["follow_until", "next_check_at"])
    tasks.create_index(["created_by", "created_at"])


def _v4(db: sqlite_utils.Database) -> None:
    """Cheaper submissions: only message-shortcut rows carry a message key, so only
    they are indexed by it; every other insert before an ack skips that index."""
    db.execute("DROP INDEX IF EXISTS idx_submissions_message_key")
    db.execute(
        "CREATE INDEX idx_submissions_message_key ON submissions (message_key) "
        "WHERE message_key IS NOT NULL"
    )


def _v5(db: sqlite_utils.Database) -> None:
    """Claims: which process works a submission or a task check, and until when (a lease), so
    several processes on one database never work the same row; and whether a submission's
    POST may have reached MaxCare without an answer (its outcome is then unknown until a lookup
    answers), and when its retry window started (its latest ack)."""
    subs = db.table("submissions")
    subs.add_column("claimed_by", str)
    subs.add_column("lease_until", str)
    subs.add_column("ambiguous", int, not_null_default=0)
    subs.add_column("acked_at", str)
    tasks = db.table("tasks")
    tasks.add_column("claimed_by", str)
    tasks.add_column("lease_until", str)


def _v6(db: sqlite_utils.Database) -> None:
    """Workflow steps, assignees told and the task watch: when a Workflow Builder step's
    completion reached Slack; each created task's watch (when next checked, the status its
    creator last heard of, and which process checks it until when); and each person's choice to
    hear of the tasks assigned to them (1 unless they turned it off)."""
    db.table("submissions").add_column("completed_at", str)
    tasks = db.table("tasks")
    tasks.add_column("watch_next_at", str)  # null: not watched
    tasks.add_column("watch_status", str)
    tasks.add_column("watch_claimed_by", str)
    tasks.add_column("watch_lease_until", str)
    tasks.create_index(["watch_next_at"])
    db.table("preferences").create(
        {"slack_user_id": str, "notify_assigned": int, "updated_at": str},
        pk="slack_user_id",
        not_null={"notify_assigned"},
        defaults={"notify_assigned": 1},
    )


def _v7(db: sqlite_utils.Database) -> None:
    """Jobs done once across every process on the database, such as clearing old drafts: when
    each last ran and which process ran it (see Store.claim_job)."""
    db.table("jobs").create({"name": str, "last_run_at": str, "ran_by": str}, pk="name")


def _v8(db: sqlite_utils.Database) -> None:
    """Many workspaces: each Slack installation (keyed by its team, or its enterprise when
    org-wide), its tokens encrypted, the MaxCare organization it is connected to, and whether it
    is still installed; and the OAuth states of installs in progress."""
    db.table("installations").create(
        {
            "key": str,
            "team_id": str,
            "enterprise_id": str,
            "is_enterprise_install": int,
            "team_name": str,
            "enterprise_name": str,
            "app_id": str,
            "bot_user_id": str,
            "bot_id": str,
            "bot_token_enc": str,
            "bot_refresh_token_enc": str,
            "bot_token_expires_at": str,
            "bot_scopes": str,
            "installer_user_id": str,
            "installed_at": str,
            "updated_at": str,
            "organization_id": str,
            "state": str,
            "uninstalled_at": str,
        },
        pk="key",
        not_null={"is_enterprise_install", "state"},
        defaults={"is_enterprise_install": 0, "state": "active"},
    )
    db.table("oauth_states").create({"state": str, "expires_at": str}, pk="state")
    db.table("oauth_states").create_index(["expires_at"])


def _v9(db: sqlite_utils.Database) -> None:
    """Each workspace's own rows: links, their audit, submissions, tasks and preferences carry
    the key of the installation they belong to (SINGLE, '', for one workspace), and a person is
    linked, and chooses, once per workspace. Rows from before are single-workspace mode's."""
    for table in ("links", "link_events", "submissions", "tasks", "preferences"):
        db.table(table).add_column("workspace", str, not_null_default="")
    db.table("links").transform(pk=("workspace", "slack_user_id"))
    db.table("preferences").transform(pk=("workspace", "slack_user_id"))
    db.table("tasks").create_index(["workspace", "created_by", "created_at"])


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    _v1, _v2, _v3, _v4, _v5, _v6, _v7, _v8, _v9,
]  # fmt: skip
