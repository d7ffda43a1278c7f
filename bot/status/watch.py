"""Watching the open tasks the app created: a changed status updates the card, tells the creator.

MaxCare has no webhooks, so every `every` seconds (TASK_WATCH_SECONDS) the app asks it about each
task it created within `max_age` (14 days) that is not completed or cancelled. Tasks sharing an
assignee are asked about together (`GET /v4/tasks?providerId=…&status=…`, every page) whenever one
listing costs fewer requests than asking task by task; a task missing from the open listing is
then asked about alone. Task creation always comes first: the watch may use a tenth of MaxCare's
budget at most (the client counts and enforces its share), skips a round while the outbox has
submissions in hand or the budget is spent, and gives way to acks. Checks are claimed in the
database (`watch_claimed_by`, `watch_lease_until`), so several processes never check one task at
once; the schedule lives there too and survives restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from bot import tenancy
from bot.db.store import Store, default_owner
from bot.maxcare import MaxCareClient, MaxCareError, NotFound, Task, purpose
from bot.runtime.pressure import RequestPressure
from bot.slack.failures import Failure, classify, describe
from bot.status.cards import TaskCards
from bot.status.service import following_note
from bot.status.views import OPEN_STATUSES, status_news

log = logging.getLogger("bot.watch")

WATCH = "watch"  # the share of MaxCare's budget the watch's requests count towards
SHARE = 0.1
MAX_AGE = timedelta(days=14)
CLOSED = frozenset({"completed", "cancelled"})  # nothing more to tell about these
LEASE_SECONDS = 120.0
BATCH = 200  # tasks claimed per round
IDLE_SECONDS = 3600.0
PAUSE_SECONDS = 2.0  # the outbox has submissions in hand: look again this soon
MAX_WAIT = 10.0  # a round gives way to acks this long at most (delayed, not starved)
RELEASED = {"watch_claimed_by": None, "watch_lease_until": None}


class _Pause(Exception):
    """Stop the round: task creation needs MaxCare now (or the watch's share is spent)."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paused {seconds:.1f} s")
        self.seconds = seconds


class TaskWatch:
    """One asyncio task that checks watched tasks when due, batched by assignee."""

    def __init__(
        self,
        *,
        store: Store,
        maxcare: MaxCareClient,
        slack: AsyncWebClient,
        cards: TaskCards,
        every: float = 600.0,
        max_age: timedelta = MAX_AGE,
        share: float = SHARE,
        creating: Callable[[], bool] = lambda: False,
        pressure: RequestPressure | None = None,
        owner: str | None = None,
        batch: int = BATCH,
        max_wait: float = MAX_WAIT,
        workspace_of: tenancy.WorkspaceOf | None = None,
    ) -> None:
        self.store = store
        self.maxcare = maxcare
        self.slack = slack
        self.cards = cards
        self.every = every
        self.max_age = max_age
        self.cap = maxcare.limit_share(WATCH, share)  # requests a window may hold for the watch
        self.creating = creating  # the outbox has submissions in hand
        self.pressure = pressure or RequestPressure()
        self.owner = owner or default_owner()
        self.batch = batch
        self.max_wait = max_wait
        self.workspace_of = workspace_of  # many workspaces: each task checked as its own
        self._pages: dict[str, int] = {}  # provider → pages its open tasks filled last time
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        """Resume watching (the schedule is in the database)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="task-watch")

    async def stop(self) -> None:
        """Stop checking; claims still held are released for another process."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.store.release_watches(self.owner)

    def watch(self, task: Task) -> None:
        """Outbox hook: a new task's card is posted; check it every `every` seconds."""
        if task.status in CLOSED:
            return
        self.store.watch_task(task.id, next_at=self._next(self.store.clock()), status=task.status)
        self._wake.set()

    def _next(self, now: datetime) -> datetime:
        # ±10 % jitter, so the tasks of one busy hour do not all come due in the same round.
        return now + timedelta(seconds=self.every * random.uniform(0.9, 1.1))

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                wait = await self.round()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.error("task watch round failed (%s); trying again later", describe(exc))
                wait = min(self.every, IDLE_SECONDS)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def round(self) -> float:
        """Check every due task (within the share); returns how long to sleep after."""
        now = self.store.clock()
        ended = self.store.end_watches(now - self.max_age)
        if ended:
            log.info("stopped watching %d task(s) older than %s", ended, self.max_age)
        try:
            self._may_ask()
        except _Pause as pause:
            return pause.seconds
        rows = self.store.claim_due_watches(
            self.owner, LEASE_SECONDS, created_since=now - self.max_age, limit=self.batch
        )
        pending = {str(row["task_id"]): row for row in rows}
        try:
            with purpose(WATCH):
                await self._check_by_workspace(pending, self.pressure.deadline(self.max_wait))
        except _Pause as pause:
            log.info("task watch paused %.1f s (task creation, or its share spent)", pause.seconds)
            return pause.seconds
        finally:
            for task_id in pending:  # not checked this round: due again at the next
                self.store.update_task(task_id, **RELEASED)
        return 0.0 if len(rows) == self.batch else self._until_next()

    def _until_next(self) -> float:
        upcoming = self.store.next_watch_at()
        if upcoming is None:
            return IDLE_SECONDS
        seconds = (datetime.fromisoformat(upcoming) - self.store.clock()).total_seconds()
        return min(max(seconds, 0.01), IDLE_SECONDS)

    def _may_ask(self) -> None:
        """Raise _Pause unless the watch may send MaxCare a request now."""
        if self.creating():
            raise _Pause(min(PAUSE_SECONDS, self.every))
        wait = self.maxcare.share_wait_seconds(WATCH)  # the budget's wait, or the share's
        if wait > 0:
            raise _Pause(wait)

    async def _ask(self, not_after: float) -> None:
        await self.pressure.give_way(not_after)  # acks first
        self._may_ask()

    # -- asking MaxCare ---------------------------------------------------------------------

    async def _check_by_workspace(
        self, pending: dict[str, dict[str, Any]], not_after: float
    ) -> None:
        """Check the pending tasks, each workspace's as that workspace (with its token and
        organization); an uninstalled workspace's tasks are no longer watched."""
        if self.workspace_of is None:
            await self._check(pending, not_after)
            return
        groups: dict[str, dict[str, dict[str, Any]]] = {}
        for task_id, row in pending.items():
            groups.setdefault(str(row.get("workspace") or ""), {})[task_id] = row
        for key, group in groups.items():
            task_ids = list(group)
            try:
                workspace = await self.workspace_of(key)
                if workspace is None:
                    for task_id in task_ids:
                        self.store.update_task(task_id, watch_next_at=None, **RELEASED)
                    group.clear()
                    continue
                with tenancy.serving(workspace):
                    await self._check(group, not_after)  # removes each task it checked
            finally:
                for task_id in task_ids:
                    if task_id not in group:
                        del pending[task_id]

    async def _check(self, pending: dict[str, dict[str, Any]], not_after: float) -> None:
        """Ask MaxCare about every pending task (removing each one checked)."""
        alone: list[str] = []
        for provider_id, task_ids in self._plan(pending):
            listed = await self._open_tasks(provider_id, not_after)
            for task_id in task_ids:
                task = listed.get(task_id) if listed is not None else None
                if task is not None:
                    await self._seen(pending.pop(task_id), task)
                elif listed is None:
                    self._later(pending.pop(task_id))  # the listing failed: next time
                else:
                    alone.append(task_id)  # no longer open (or gone): asked about alone
        alone += [task_id for task_id in pending if task_id not in alone]
        for task_id in alone:
            await self._ask(not_after)
            await self._check_one(pending.pop(task_id))

    def _plan(self, pending: dict[str, dict[str, Any]]) -> list[tuple[str, list[str]]]:
        """Providers worth listing, each with the tasks the listing answers for.

        A listing costs the pages the provider's open tasks filled last time (one at first);
        it is used while it covers more due tasks than that.
        """
        assigned = {task_id: self._assignees(row) for task_id, row in pending.items()}
        left = set(pending)
        plan: list[tuple[str, list[str]]] = []
        while left:
            counts = Counter(p for task_id in left for p in assigned[task_id])
            if not counts:
                break
            provider_id, covered = counts.most_common(1)[0]
            if covered <= self._pages.get(provider_id, 1):
                break
            group = [t for t in pending if t in left and provider_id in assigned[t]]
            plan.append((provider_id, group))
            left.difference_update(group)
        return plan

    def _assignees(self, row: dict[str, Any]) -> list[str]:
        sub = self.store.get_submission(str(row.get("view_id") or ""))
        return list(dict.fromkeys(sub.assignee_ids)) if sub is not None else []

    async def _open_tasks(self, provider_id: str, not_after: float) -> dict[str, Task] | None:
        """Every open task assigned to the provider, by ID; None when MaxCare failed."""
        found: dict[str, Task] = {}
        page = pages = 1
        while page <= pages:
            await self._ask(not_after)
            try:
                result = await self.maxcare.list_tasks(
                    provider_id=provider_id, status=OPEN_STATUSES, page=page
                )
            except MaxCareError as exc:
                log.warning("open tasks of %s not listed: %s", provider_id, type(exc).__name__)
                return None
            found.update((task.id, task) for task in result.tasks)
            pages = result.pagination.total_pages if result.tasks else page
            page += 1
        self._pages[provider_id] = max(1, pages)
        return found

    async def _check_one(self, row: dict[str, Any]) -> None:
        task_id = str(row["task_id"])
        try:
            task = await self.maxcare.get_task(task_id)
        except NotFound:
            log.warning("watched task %s is gone from MaxCare; not watching it", task_id)
            self.store.update_task(task_id, watch_next_at=None, **RELEASED)
            return
        except MaxCareError as exc:
            log.warning("watch check of %s failed: %s", task_id, type(exc).__name__)
            self._later(row)
            return
        await self._seen(row, task)

    def _later(self, row: dict[str, Any]) -> None:
        next_at = self._next(self.store.clock()).isoformat()
        self.store.update_task(str(row["task_id"]), watch_next_at=next_at, **RELEASED)

    # -- what changed -----------------------------------------------------------------------

    async def _seen(self, row: dict[str, Any], task: Task) -> None:
        """Record MaxCare's answer; a new status updates the card and tells the creator."""
        now = self.store.clock()
        shown = (row.get("status"), row.get("sync_status"))
        observed = self.cards.observe(task, now) or row
        news = task.status != row.get("watch_status")  # the creator has not heard of it
        if news or (task.status, task.sync_status) != shown:
            await self._update_card(row, observed, task, now)
        told = await self._tell_creator(row, task) if news else True
        changes: dict[str, Any] = dict(RELEASED)
        if told:
            changes["watch_status"] = task.status
        done = told and task.status in CLOSED
        changes["watch_next_at"] = None if done else self._next(now).isoformat()
        self.store.update_task(task.id, **changes)
        if done:
            log.info("task %s is %s; watch ended", task.id, task.status)

    async def _update_card(
        self, row: dict[str, Any], observed: dict[str, Any], task: Task, now: datetime
    ) -> None:
        channel, ts = row.get("channel_id"), row.get("message_ts")
        if not channel or not ts:
            return  # posted through response_url: the app cannot edit it
        card = self.cards.render(task, checked_at=now, note=following_note(observed, task))
        try:
            await self.slack.chat_update(channel=channel, ts=ts, **card)
        except Exception as exc:
            log.info("card of %s not updated: %s", task.id, describe(exc))

    async def _tell_creator(self, row: dict[str, Any], task: Task) -> bool:
        """In the card's thread, else by DM; False when Slack failed for now (told next time)."""
        creator = str(row.get("created_by") or "")
        if not creator:
            return True
        news = status_news(
            creator_user_id=creator,
            task_id=task.id,
            note_id=task.note_id or str(row.get("note_id") or "—"),
            status=task.status,
            assignees=[p.display_name for p in task.assigned_providers],
        )
        channel, ts = row.get("channel_id"), row.get("message_ts")
        if channel and ts:
            try:
                await self.slack.chat_postMessage(channel=channel, thread_ts=ts, **news)
                return True
            except Exception as exc:
                if classify(exc) is Failure.TRANSIENT:
                    log.info("creator of %s not told yet: %s", task.id, describe(exc))
                    return False
                log.info("no reply in the thread of %s (%s); a DM instead", task.id, describe(exc))
        try:
            opened = await self.slack.conversations_open(users=creator)
            await self.slack.chat_postMessage(channel=opened["channel"]["id"], **news)
            return True
        except Exception as exc:
            failure = classify(exc)
            log.info("creator of %s not told: %s", task.id, describe(exc))
            return failure is not Failure.TRANSIENT
