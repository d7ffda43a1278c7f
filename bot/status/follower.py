"""Following a new task's EHR sync: re-check with backoff, update its card, survive restarts.

MaxCare has no webhooks, so while a task's `syncStatus` is not `synced` the app polls
`GET /v4/tasks/{id}`: first after `first_delay` seconds, then doubling up to `max_delay`, for at
most `follow_seconds`. The schedule lives in the `tasks` table (`follow_until`, `next_check_at`,
`follow_checks`), so a restart resumes it. A round is skipped while MaxCare's rate budget is
spent, so following never delays task creation, and checks wait (at most `max_wait` seconds
per round) while Slack requests keep arriving, so they never delay an ack either.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import tenancy
from bot.db.store import Store, default_owner
from bot.maxcare import MaxCareClient, MaxCareError, NotFound, Task
from bot.runtime.pressure import RequestPressure
from bot.status.cards import TaskCards
from bot.status.views import FOLLOWING_NOTE, stopped_note

log = logging.getLogger("bot.follower")

# Slack errors meaning the card is gone or out of reach: following it further is pointless.
CARD_GONE = {"message_not_found", "channel_not_found", "is_archived", "cant_update_message"}
IDLE_SECONDS = 3600.0  # nothing followed: sleep until woken by follow()
FOLLOW_MAX_WAIT = 10.0  # a round's checks wait for acks at most this long (delayed, not starved)
CHECK_LEASE_SECONDS = 120.0  # a claimed check not finished by then is free for another process
RELEASED = {"claimed_by": None, "lease_until": None}


class SyncFollower:
    """One asyncio task that re-checks followed tasks when they are due."""

    def __init__(
        self,
        *,
        store: Store,
        maxcare: MaxCareClient,
        slack: AsyncWebClient,
        cards: TaskCards,
        follow_seconds: float = 3600.0,
        first_delay: float = 10.0,
        max_delay: float = 300.0,
        batch: int = 20,
        max_wait: float = FOLLOW_MAX_WAIT,
        pressure: RequestPressure | None = None,
        owner: str | None = None,
        workspace_of: tenancy.WorkspaceOf | None = None,
    ) -> None:
        self.store = store
        self.maxcare = maxcare
        self.slack = slack
        self.cards = cards
        self.follow_seconds = follow_seconds
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.batch = batch
        self.max_wait = max_wait
        self.pressure = pressure or RequestPressure()
        self.owner = owner or default_owner()
        self.workspace_of = workspace_of  # many workspaces: each task checked as its own
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- control --------------------------------------------------------------------------

    def start(self) -> None:
        """Resume following (state is in the database) and adopt any card posted unfollowed."""
        since = (self.store.clock() - timedelta(seconds=self.follow_seconds)).isoformat()
        for task_id in self.store.unfollowed_unsynced(since):
            self.follow(task_id)  # the app stopped between posting a card and following it
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="sync-follower")

    async def stop(self) -> None:
        """Stop checking; an interrupted check is simply made again after the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.store.release_follows(self.owner)  # unchecked claims are free for another process

    def card_posted(self, task: Task) -> None:
        """Outbox hook: a task's card is in Slack; follow its sync unless already synced."""
        row = self.store.get_task(task.id)
        # A card sent through response_url cannot be edited later: Refresh is all it gets.
        if task.sync_status != "synced" and row is not None and row.get("message_ts"):
            self.follow(task.id)

    def follow(self, task_id: str) -> None:
        """Start (or restart) following one task's sync."""
        now = self.store.clock()
        self.store.update_task(
            task_id,
            follow_until=(now + timedelta(seconds=self.follow_seconds)).isoformat(),
            next_check_at=(now + timedelta(seconds=self._delay(0))).isoformat(),
            follow_checks=0,
        )
        self._wake.set()

    def _delay(self, checks: int) -> float:
        """Exponential backoff with ±20 % jitter, so many tasks do not poll in step."""
        base = min(self.first_delay * 2 ** min(checks, 30), self.max_delay)
        return base * random.uniform(0.8, 1.2)

    # -- the loop -------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = await self._round()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("sync follower round failed; trying again later")
                wait = self.max_delay
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def _round(self) -> float:
        """Check every due task; returns how long to sleep before the next round."""
        # Claimed, so that of several processes on one database only one checks each task.
        due = self.store.claim_due_follows(self.owner, CHECK_LEASE_SECONDS, limit=self.batch)
        not_after = self.pressure.deadline(self.max_wait)
        for row in due:
            await self.pressure.give_way(not_after)  # acks first
            budget_wait = self.maxcare.budget_wait_seconds()
            if budget_wait > 0:
                # Task creation needs the budget more: skip this round, try again later.
                log.info("sync checks paused %.1f s for MaxCare's rate budget", budget_wait)
                return max(budget_wait, 1.0)
            await self._check_as_its_workspace(row)
        if len(due) == self.batch:
            return 0.0
        upcoming = self.store.next_follow_at()
        if upcoming is None:
            return IDLE_SECONDS
        seconds = (datetime.fromisoformat(upcoming) - self.store.clock()).total_seconds()
        return min(max(seconds, 0.01), IDLE_SECONDS)

    async def _check_as_its_workspace(self, row: dict[str, Any]) -> None:
        if self.workspace_of is None:
            await self._check(row)
            return
        workspace = await self.workspace_of(str(row.get("workspace") or ""))
        if workspace is None:  # uninstalled: nothing more to tell anyone there
            self.store.update_task(
                str(row["task_id"]), follow_until=None, next_check_at=None, **RELEASED
            )
            return
        with tenancy.serving(workspace):
            await self._check(row)

    async def _check(self, row: dict[str, Any]) -> None:
        task_id = str(row["task_id"])
        now = self.store.clock()
        deadline = datetime.fromisoformat(str(row["follow_until"]))
        expired = now >= deadline
        checks = int(row.get("follow_checks") or 0) + 1
        stop = {"follow_until": None, "next_check_at": None, "follow_checks": checks, **RELEASED}
        try:
            task = await self.maxcare.get_task(task_id)
        except NotFound:
            log.warning("followed task %s is gone from MaxCare; not following it", task_id)
            self.store.update_task(task_id, **stop)
            return
        except MaxCareError as exc:
            log.warning("sync check of %s failed: %s", task_id, type(exc).__name__)
            if expired:
                self.store.update_task(task_id, **stop)
            else:
                self._schedule(task_id, now, deadline, checks)
            return
        synced = task.sync_status == "synced"
        changed = (task.status, task.sync_status) != (row.get("status"), row.get("sync_status"))
        self.cards.observe(task, now)
        if synced or expired:
            self.store.update_task(task_id, **stop)
            log.info("task %s: sync %s; following ended", task_id, task.sync_status)
        else:
            self._schedule(task_id, now, deadline, checks)
        if changed or synced or expired:
            if synced:
                note = None
            elif expired:
                note = stopped_note(self.follow_seconds)
            else:
                note = FOLLOWING_NOTE
            await self._update_card(row, task, now, note)

    def _schedule(self, task_id: str, now: datetime, deadline: datetime, checks: int) -> None:
        # The last check falls on the deadline, so the card never promises more than it does.
        due = min(now + timedelta(seconds=self._delay(checks)), deadline)
        self.store.update_task(
            task_id, next_check_at=due.isoformat(), follow_checks=checks, **RELEASED
        )

    async def _update_card(
        self, row: dict[str, Any], task: Task, now: datetime, note: str | None
    ) -> None:
        channel, ts = row.get("channel_id"), row.get("message_ts")
        if not channel or not ts:
            return  # posted through response_url: only Refresh can update it
        card = self.cards.render(task, checked_at=now, note=note)
        try:
            await self.slack.chat_update(channel=channel, ts=ts, **card)
        except SlackClientError as exc:
            error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
            log.warning("card of %s not updated: %s", task.id, error or type(exc).__name__)
            if error in CARD_GONE:
                self.store.update_task(task.id, follow_until=None, next_check_at=None)
