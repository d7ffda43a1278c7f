"""The store's contract: the rows both backends exchange and the methods every store has.

The interface is synchronous. SQLite answers in microseconds and a submission's outbox row is
written before its ack, on the event loop, with no turn of the loop in between; the hot path
reads links from memory. An async interface would turn every caller (listeners, services, the
outbox, the follower, the CLI) into coroutines and add a turn of the loop to each call, for no
gain on SQLite. The cost falls on PostgreSQL: each call that reaches the server blocks the event
loop for one network round trip (a fraction of a millisecond on the same host or network, more
across regions), and a server that does not answer blocks it up to the pool's timeout. The
PostgreSQL store keeps that to one round trip per call where it can and answers links from memory.

Longer than 400 lines on purpose: the Store protocol is the one contract both databases keep,
every method with its promise, read in one place.
"""

from __future__ import annotations

import json
import operator
import os
import secrets
import socket
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from bot.maxcare.shares import SharedBudget


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


def default_owner() -> str:
    """A process's name in claims: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Link:
    """One Slack user mapped to one MaxCare provider."""

    slack_user_id: str
    provider_id: str
    provider_name: str | None = None
    team_id: str | None = None
    linked_by: str | None = None
    linked_at: str | None = None
    stale_reason: str | None = None  # STALE_SLACK or STALE_PROVIDER; set by `check` and events
    stale_since: str | None = None


# Why a link can no longer be used (links.stale_reason).
STALE_SLACK = "slack_deleted"
STALE_PROVIDER = "provider_not_found"


@dataclass(frozen=True)
class LinkEvent:
    """One change to the links table."""

    slack_user_id: str
    actor: str
    at: str
    old_provider_id: str | None
    new_provider_id: str | None


@dataclass
class Submission:
    """A submitted form waiting to become (or having become) a MaxCare task."""

    view_id: str
    team_id: str
    user_id: str
    source: str  # command | message | global | workflow (view_id: the step's execution ID)
    note_id: str
    notes: str
    assignee_user_ids: list[str]
    provider_id: str
    assignee_ids: list[str]
    channel_id: str | None = None
    thread_ts: str | None = None
    response_url: str | None = None
    message_key: str | None = None
    state: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    trace_id: str | None = None
    task_id: str | None = None
    created_at: str = ""
    updated_at: str = ""
    confirmed_at: str | None = None
    claimed_by: str | None = None  # the process working it (see Store.claim_submission)
    lease_until: str | None = None  # its claim holds until then; also "not before" when parked
    ambiguous: int = 0  # 1: a POST may have created the task; look it up before any other POST
    acked_at: str | None = None  # the latest ack: the retry window counts from here
    completed_at: str | None = None  # workflow steps: when Slack heard the step's outcome
    workspace: str = ""  # the installation it came from (bot.tenancy); set by the store
    extra: dict[str, Any] = field(default_factory=dict)


# Submissions some process still has work to do for (`unknown`: a POST may have been applied
# and MaxCare could not be asked since; reconciliation goes on in the background; `refused`: a
# workflow step that will not make a task, whose refusal Slack has not heard yet).
OPEN_STATES = ("pending", "creating", "created", "unknown", "refused")
WORKFLOW = "workflow"  # Submission.source of a Workflow Builder step
ENDED = "uninstalled"  # the state of a submission whose workspace uninstalled the app

# end_workspace_work: one statement for each table, the same on both databases.
END_SUBMISSIONS = (
    "UPDATE submissions SET notes = '', claimed_by = NULL, lease_until = NULL, "
    "state = CASE WHEN state IN ({open}) THEN '" + ENDED + "' "
    "WHEN state = 'failed' THEN 'expired' ELSE state END, updated_at = {mark} "
    "WHERE workspace = {mark} AND (notes <> '' OR (state IN ({open}) AND confirmed_at IS NULL))"
)
END_TASKS = (
    "UPDATE tasks SET follow_until = NULL, next_check_at = NULL, watch_next_at = NULL, "
    "claimed_by = NULL, lease_until = NULL, watch_claimed_by = NULL, watch_lease_until = NULL "
    "WHERE workspace = {mark} AND (follow_until IS NOT NULL OR watch_next_at IS NOT NULL)"
)

# get_links remembers at most this many people (workspaces are smaller; junk IDs are not kept).
LINK_CACHE_MAX = 50_000

SUBMISSION_COLUMNS = tuple(f for f in Submission.__dataclass_fields__ if f != "extra")
SUBMISSION_FIELDS = frozenset(SUBMISSION_COLUMNS)
LINK_COLUMNS = tuple(Link.__dataclass_fields__)
JSON_COLUMNS = ("assignee_user_ids", "assignee_ids")  # lists, stored as JSON text

_submission_columns = operator.attrgetter(*SUBMISSION_COLUMNS)
_JSON_INDEXES = [SUBMISSION_COLUMNS.index(c) for c in JSON_COLUMNS]


def submission_values(sub: Submission) -> list[Any]:
    """The submission's columns in SUBMISSION_COLUMNS order, lists as JSON."""
    values = list(_submission_columns(sub))
    for i in _JSON_INDEXES:
        values[i] = json.dumps(values[i])
    return values


def submission_from_row(row: dict[str, Any]) -> Submission:
    """A Submission from a row keyed by column name (columns it does not know are ignored)."""
    data = {k: v for k, v in row.items() if k in SUBMISSION_FIELDS}
    data["assignee_user_ids"] = json.loads(row["assignee_user_ids"] or "[]")
    data["assignee_ids"] = json.loads(row["assignee_ids"] or "[]")
    data["attempts"] = row["attempts"] or 0
    return Submission(**data)


def submission_changes(changes: dict[str, Any], now: str) -> dict[str, Any]:
    """update_submission's columns checked, lists as JSON, and updated_at set to now."""
    changes["updated_at"] = now
    for key in JSON_COLUMNS:
        if key in changes:
            changes[key] = json.dumps(changes[key])
    unknown = changes.keys() - SUBMISSION_FIELDS
    if unknown:
        raise ValueError(f"not submission columns: {sorted(unknown)}")
    return changes


# Slack installations (many-workspace mode): one row per workspace, or per Enterprise Grid
# organization for an org-wide install. Tokens arrive here encrypted (bot.workspaces.tokens);
# the store never sees them in clear. Times are ISO-8601 text, like every other table's.
INSTALLATION_COLUMNS = (
    "key", "team_id", "enterprise_id", "is_enterprise_install", "team_name", "enterprise_name",
    "app_id", "bot_user_id", "bot_id", "bot_token_enc", "bot_refresh_token_enc",
    "bot_token_expires_at", "bot_scopes", "installer_user_id", "installed_at", "updated_at",
    "organization_id", "state", "uninstalled_at",
)  # fmt: skip
INSTALLED, UNINSTALLED = "active", "uninstalled"  # installations.state
# What a new installation of a key replaces; its MaxCare organization, state and first
# installation time are the store's to keep (see Store.save_installation).
INSTALLATION_SAVED = tuple(
    c for c in INSTALLATION_COLUMNS
    if c not in ("key", "installed_at", "organization_id", "state", "uninstalled_at")
)  # fmt: skip


def installation_key(
    enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None
) -> str:
    """An installation's key: the enterprise ID for org-wide installs, else the team ID."""
    key = enterprise_id if is_enterprise_install else team_id
    if not key:
        raise ValueError("an installation needs a team ID (or an enterprise ID when org-wide)")
    return key


def installation_row(row: dict[str, Any], now: str) -> list[Any]:
    """save_installation's row checked and completed, in INSTALLATION_COLUMNS order."""
    unknown = row.keys() - set(INSTALLATION_COLUMNS)
    if unknown:
        raise ValueError(f"not installation columns: {sorted(unknown)}")
    data = {c: row.get(c) for c in INSTALLATION_COLUMNS}
    data["is_enterprise_install"] = int(bool(row.get("is_enterprise_install")))
    data["key"] = installation_key(
        data["enterprise_id"], data["team_id"], bool(data["is_enterprise_install"])
    )
    data["installed_at"] = data["installed_at"] or now
    data["updated_at"] = now
    data["state"] = INSTALLED
    data["uninstalled_at"] = None
    return [data[c] for c in INSTALLATION_COLUMNS]


def installation_from_row(row: dict[str, Any]) -> dict[str, Any]:
    """A stored installation as the store hands it back (is_enterprise_install a bool)."""
    found = {c: row.get(c) for c in INSTALLATION_COLUMNS}
    found["is_enterprise_install"] = bool(found["is_enterprise_install"])
    return found


class Store(Protocol):
    """All database access; one instance per process, used from the event loop thread."""

    clock: Callable[[], datetime]

    def migrate(self) -> None:
        """Bring the schema up to the latest version (done when the store opens, too)."""

    def schema_version(self) -> int:
        """How many migrations this database has had."""

    def transaction(self) -> AbstractContextManager[None]:
        """One all-or-nothing transaction around the calls in the block (nested: joins it)."""

    def close(self) -> None:
        """Close the connection(s)."""

    def ping(self) -> bool:
        """True when the database answers."""

    # -- links
    def get_link(self, slack_user_id: str) -> Link | None:
        """The link of one Slack user, if any."""

    def get_links(self, slack_user_ids: Iterable[str]) -> dict[str, Link]:
        """Links of several users, keyed by Slack user ID (runs before every submission's ack)."""

    def list_links(self) -> list[Link]:
        """Every link, ordered by Slack user ID."""

    def count_links(self) -> int:
        """How many links there are."""

    def set_link(
        self,
        slack_user_id: str,
        provider_id: str,
        *,
        actor: str,
        provider_name: str | None = None,
        team_id: str | None = None,
    ) -> Link | None:
        """Link (or re-link) one person and audit it; returns the previous link."""

    def remove_link(self, slack_user_id: str, *, actor: str) -> Link | None:
        """Unlink one person and audit it; returns the removed link."""

    def import_links(self, rows: Sequence[tuple[str, str]], *, actor: str) -> int:
        """Link every (slack_user_id, provider_id) pair in one transaction: all or none."""

    def link_events(self, slack_user_id: str | None = None) -> list[LinkEvent]:
        """The audit trail, oldest first, for one user or everyone."""

    def mark_stale(self, slack_user_id: str, reason: str) -> bool:
        """Flag a link as unusable (STALE_SLACK / STALE_PROVIDER); True when it changed."""

    def clear_stale(self, slack_user_id: str, reason: str | None = None) -> bool:
        """Unflag a link (only when flagged for `reason`, if given); True when it changed."""

    def users_for_providers(self, provider_ids: Iterable[str]) -> dict[str, str]:
        """Slack user IDs linked to these providers, keyed by provider ID."""

    def count_stale_links(self) -> int | None:
        """Links marked stale; None while the database has no such column."""

    # -- submissions (the outbox)
    def add_submission(self, sub: Submission) -> tuple[Submission, bool]:
        """Store a submission unless its view already has one; returns (row, inserted)."""

    def add_submissions(self, subs: Sequence[Submission]) -> list[tuple[Submission, bool]]:
        """Store several submissions in one transaction (one commit): (row, inserted) each."""

    def get_submission(self, view_id: str) -> Submission | None:
        """One submission by its view ID."""

    def claim_submission(self, view_id: str, owner: str, lease_seconds: float) -> Submission | None:
        """Claim one open submission for `owner` (or renew its claim); None if another holds it."""

    def claim_due_submissions(
        self, owner: str, lease_seconds: float, limit: int = 100
    ) -> list[str]:
        """Claim open submissions nobody holds (or whose lease ran out), oldest first."""

    def renew_claims(self, owner: str, view_ids: Iterable[str], lease_seconds: float) -> int:
        """Extend `owner`'s claims on these submissions; returns how many it still holds."""

    def release_submission(
        self, view_id: str, owner: str, *, not_before: datetime | None = None
    ) -> None:
        """Give up `owner`'s claim; any process may take the row up from `not_before` on."""

    def open_submissions(self) -> list[Submission]:
        """Submissions not yet finished, oldest first."""

    def outbox_summary(self) -> dict[str, tuple[int, str | None]]:
        """Unfinished submissions by state: how many, and the oldest latest ack."""

    def update_submission(self, view_id: str, **changes: Any) -> None:
        """Change some columns of one submission (ValueError for unknown columns)."""

    def task_for_message(self, message_key: str) -> str | None:
        """The task already created from a message (channel:ts), if any."""

    def purge_drafts(self, older_than: datetime) -> int:
        """Clear the text of failed or discarded drafts older than a date; returns how many."""

    # -- work done once across every process on the database
    def claim_job(self, name: str, every_seconds: float, owner: str) -> bool:
        """True for the one caller that may run a job now: none ran it for `every_seconds`."""

    def shared_budget(self) -> SharedBudget | None:
        """MaxCare's budget as every instance on this database counts it (None: one process)."""

    # -- tasks
    def record_task(self, **row: Any) -> None:
        """Insert or update one created task."""

    def get_task(self, task_id: str) -> dict[str, Any] | None:
        """One recorded task."""

    def update_task(self, task_id: str, **changes: Any) -> None:
        """Change some columns of a recorded task (unknown IDs are ignored)."""

    def due_follows(self, now: str, limit: int = 20) -> list[dict[str, Any]]:
        """Followed tasks whose next check is due, most overdue first."""

    def claim_due_follows(
        self, owner: str, lease_seconds: float, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Claim followed tasks whose check is due and that no other process is checking."""

    def release_follows(self, owner: str) -> int:
        """Give up `owner`'s claims on follow checks; returns how many it held."""

    def next_follow_at(self) -> str | None:
        """When the earliest followed task is due, if any is followed."""

    def unfollowed_unsynced(self, since: str) -> list[str]:
        """Tasks with a card, created since `since`, not synced and never followed."""

    def recent_tasks(self, created_by: str, limit: int = 10) -> list[dict[str, Any]]:
        """Tasks one person created through the app, newest first."""

    # -- the task watch
    def watch_task(self, task_id: str, *, next_at: datetime, status: str | None) -> None:
        """Start watching a task: its first check, and the status its creator knows."""

    def claim_due_watches(
        self, owner: str, lease_seconds: float, *, created_since: datetime, limit: int = 200
    ) -> list[dict[str, Any]]:
        """Claim watched tasks whose check is due, created since then, that no other process
        is checking; the most overdue first."""

    def end_watches(self, created_before: datetime) -> int:
        """Stop watching tasks created before then (the watch's age limit); returns how many."""

    def release_watches(self, owner: str) -> int:
        """Give up `owner`'s claims on watch checks; returns how many it held."""

    def next_watch_at(self) -> str | None:
        """When the earliest watched task is due, if any is watched."""

    # -- preferences
    def notify_assigned(self, slack_user_ids: Iterable[str]) -> dict[str, bool]:
        """Whether each person wants a DM for tasks assigned to them (yes unless turned off)."""

    def set_notify_assigned(self, slack_user_id: str, on: bool) -> None:
        """Turn one person's DMs for tasks assigned to them on or off."""

    # -- installations (many-workspace mode) and OAuth states
    def save_installation(self, row: dict[str, Any]) -> dict[str, Any]:
        """Store an installation (INSTALLATION_COLUMNS; its key is computed): a new one, or a
        newer one of the same key (reinstall, new scopes, refreshed token), which keeps its
        MaxCare organization and, unless it had been uninstalled, its first installation time.
        The row comes back as stored."""

    def find_installation(
        self, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool
    ) -> dict[str, Any] | None:
        """The installation these IDs name (the enterprise's when org-wide), in any state."""

    def get_installation(self, key: str) -> dict[str, Any] | None:
        """One installation by its key (team ID, or enterprise ID for org-wide installs)."""

    def list_installations(self) -> list[dict[str, Any]]:
        """Every installation, in any state, by first installation time."""

    def set_installation_org(self, key: str, organization_id: str | None) -> bool:
        """Connect an installation to its MaxCare organization; False when there is none."""

    def mark_uninstalled(self, key: str) -> bool:
        """Remove an installation's tokens at once and mark it uninstalled (the row stays, for
        the audit and `workspaces list`); False when there is none or it already was."""

    def end_workspace_work(self, key: str) -> int:
        """An uninstalled workspace's work stops: its open submissions end (state ENDED, claims
        dropped), every draft's text is cleared, and its tasks are no longer followed or
        watched. Returns how many submissions changed."""

    def delete_installation(self, key: str) -> bool:
        """Forget an installation entirely; False when there was none."""

    def replace_installation_tokens(
        self, key: str, old: tuple[str | None, str | None], new: tuple[str | None, str | None]
    ) -> bool:
        """Swap the (bot, refresh) token texts only if they are still `old` (re-encryption must
        not undo a refresh that happened meanwhile); True when swapped."""

    def count_links_by_workspace(self) -> dict[str, int]:
        """How many links each workspace has, by installation key (every workspace's)."""

    def issue_oauth_state(self, state: str, expires_at: datetime) -> None:
        """Remember an OAuth state until it expires (expired ones are cleared as it goes)."""

    def consume_oauth_state(self, state: str, now: datetime) -> bool:
        """True once for a state issued and not expired: it is used up by the call."""
