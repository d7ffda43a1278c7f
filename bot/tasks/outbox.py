"""The worker that turns stored submissions into MaxCare tasks, exactly once each.

A submission is worked by the process that holds its claim in the database (a lease renewed
while working), so several processes may share one database: each takes up only rows whose
lease ran out. Its retry window counts from its ack. A POST that may have been applied is
never followed by another until a lookup has answered (reconcile.py); when MaxCare stays down
past the window the author is told the outcome is unknown, and the lookup goes on in the
background, with backoff, until `reconcile_seconds` after the submission.

A workflow step's run is a submission too (keyed by its function execution ID): Slack hears how
it ended through the `Steps` hook, once, recorded in the row, before its card is posted.

Longer than 400 lines on purpose: one submission's whole life (hand-over, claim, create,
reconcile, tell a workflow, confirm, park) reads in order in one place; the retry deadlines and
the lookup are already apart (retry.py, reconcile.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot import tenancy
from bot.db.store import STALE_PROVIDER, WORKFLOW, Store, Submission, default_owner
from bot.fair import FairSlots
from bot.maxcare import MaxCareAPIError, MaxCareClient, MaxCareError, NotFound, RateLimited, Task
from bot.runtime.loops import forever
from bot.runtime.pressure import RequestPressure
from bot.slack.failures import describe
from bot.tasks import retry
from bot.tasks.notifier import Notifier, Undeliverable
from bot.tasks.reconcile import find_created
from bot.tasks.retry import GaveUp, Transient

log = logging.getLogger("bot.outbox")

# Failed drafts are kept this long for their author to reopen, then their text is cleared.
DRAFT_DAYS = 7
# Old drafts are cleared once an hour by whichever instance claims it first; each looks more
# often, so the hour's work is not lost when the instance that did the last one is gone.
PURGE_EVERY_SECONDS = 3600.0
PURGE_CHECK_SECONDS = 300.0
# A wait longer than this (for MaxCare's budget or a worker slot) is worth telling about.
SLOW_SECONDS = 2.0
# A claim lasts this long unless renewed; a dead process's rows are free again after it.
LEASE_SECONDS = 30.0
# After an unexpected error a row rests this long before any process takes it up again.
AFTER_BUG_SECONDS = 30.0

WAITING_TEXT = (
    ":hourglass_flowing_sand: Queued: MaxCare is slow to answer right now. Your task will be "
    "created as soon as it does and the confirmation posted in the conversation. "
    "You can close this window."
)
UNKNOWN_TEXT = (
    ":warning: MaxCare is unavailable, and the task may already exist: MaxCare received it "
    "but did not answer. Do not create it again. The confirmation will be posted here as soon "
    "as MaxCare answers, or you will get your draft back if the task does not exist."
)
NOT_THERE_TEXT = "MaxCare is back, and the task was not created. Here is your draft."
GIVEN_UP_TEXT = (
    "MaxCare could not be reached for a long time, so it is not known whether the task was "
    "created. Check the note in the EHR before creating it again."
)


class NotThere(Exception):
    """A lookup answered: the task an unknown outcome was about does not exist."""


class Steps(Protocol):
    """Tells Slack how a Workflow Builder step ended; raises when it is worth another try."""

    async def complete(self, sub: Submission, task: Task) -> None: ...

    async def fail(self, sub: Submission, reason: str) -> None: ...


class Outbox:
    """Processes submissions as asyncio tasks; state lives in the database, not in memory."""

    def __init__(
        self,
        *,
        store: Store,
        maxcare: MaxCareClient,
        notifier: Notifier,
        retry_seconds: float = 600.0,
        reconcile_seconds: float = 86400.0,
        concurrency: int = 16,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        pressure: RequestPressure | None = None,
        owner: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        card_posted: Callable[[Task], None] = lambda task: None,
        steps: Steps | None = None,
        workspace_of: tenancy.WorkspaceOf | None = None,
    ) -> None:
        self.store = store
        self.maxcare = maxcare
        self.notifier = notifier
        self.retry_seconds = retry_seconds
        self.reconcile_seconds = reconcile_seconds
        self.sleep = sleep
        self.owner = owner or default_owner()
        self.lease_seconds = lease_seconds
        self._slots = FairSlots(concurrency)  # shared fairly between workspaces
        self._served: dict[str, tenancy.Workspace] = {}  # view ID -> the workspace it came as
        self.pressure = pressure or RequestPressure()
        self._running: dict[str, asyncio.Task[None]] = {}
        # View ID -> held back until (pressure clock), oldest first. An OrderedDict: work
        # starts from the front, and a plain dict slows down as its front is deleted.
        self._held: OrderedDict[str, float] = OrderedDict()
        self._releaser: asyncio.Task[None] | None = None
        self._accepting = True
        self._telling: set[asyncio.Task[None]] = set()  # "Queued" notices in flight
        self._loops: list[asyncio.Task[None]] = []
        self.card_posted = card_posted  # the follower's hook: a new card's sync is followed
        self.steps = steps  # workflow steps' outcomes, told to Slack once
        # Many workspaces: a row taken up by a sweep is worked as the workspace it came from.
        self.workspace_of = workspace_of

    def enqueue(self, view_id: str) -> None:
        """Take on one submission unless it is already in hand; it starts when acks allow."""
        if not self._accepting or view_id in self._running or view_id in self._held:
            return
        served = tenancy.current()
        if served is not None:  # held work starts from another task: keep whom it is for
            self._served[view_id] = served
        # Called before the ack is sent. Held while Slack requests keep arriving; with nothing
        # to give way to it starts now, not one task (one turn of the loop) later.
        self._held[view_id] = self.pressure.deadline()
        self._start_ready()
        if self._held and self._releaser is None:
            self._releaser = asyncio.create_task(self._release_held(), name="outbox:release")

    def _start_ready(self) -> None:
        """Start held work, in order, while Slack requests are quiet or its wait is up."""
        quiet = self.pressure.quiet
        now = self.pressure.clock() + 0.001  # timers may fire a hair early
        # Only the front is looked at (deadlines are in order of arrival): this runs at every
        # enqueue, and copying the whole held list each time grows with the backlog.
        while self._held:
            view_id, not_after = next(iter(self._held.items()))
            if not (quiet or not_after <= now):
                break
            del self._held[view_id]
            self._start(view_id, not_after)

    async def _release_held(self) -> None:
        """Start held work once Slack requests quiet down, or once its wait is up (in order)."""
        try:
            while self._held:
                await self.pressure.give_way(next(iter(self._held.values())))
                self._start_ready()
        finally:
            self._releaser = None

    def _start(self, view_id: str, not_after: float) -> None:
        task = asyncio.create_task(self._guarded(view_id, not_after), name=f"outbox:{view_id}")
        self._running[view_id] = task
        task.add_done_callback(lambda _: self._done_with(view_id))

    def _done_with(self, view_id: str) -> None:
        self._running.pop(view_id, None)
        self._served.pop(view_id, None)

    def purge_drafts(self) -> int:
        """Forget failed drafts nobody reopened or discarded within DRAFT_DAYS (once an hour
        across every process on the database: the first to claim the hour does it)."""
        if not self.store.claim_job("purge_drafts", PURGE_EVERY_SECONDS, self.owner):
            return 0
        cutoff = self.store.clock() - timedelta(days=DRAFT_DAYS)
        purged = self.store.purge_drafts(cutoff)
        if purged:
            log.info("cleared %d expired draft(s)", purged)
        return purged

    def start(self) -> None:
        """Take up open rows no process holds, then keep sweeping and clearing old drafts."""
        self.purge_drafts()
        self.resume()
        sweep = self.lease_seconds / 3  # renewed twice before it could run out
        self._loops = [
            asyncio.create_task(
                forever("outbox sweep", self._sweep_step, every=sweep, run_first=False),
                name="outbox:sweep",
            ),
            asyncio.create_task(
                forever(
                    "housekeeping", self._purge_step, every=PURGE_CHECK_SECONDS, run_first=False
                ),
                name="housekeeping",
            ),
        ]

    async def _sweep_step(self) -> None:
        self.sweep()

    async def _purge_step(self) -> None:
        self.purge_drafts()

    def resume(self) -> int:
        """Take up every open submission no process holds (at start-up); returns how many."""
        count = self.sweep()
        if count:
            log.info("resuming %d unfinished submissions", count)
        return count

    def sweep(self) -> int:
        """Renew the claims on work in hand; claim and take up rows whose lease ran out."""
        self.store.renew_claims(self.owner, [*self._running, *self._held], self.lease_seconds)
        if not self._accepting:
            return 0
        view_ids = self.store.claim_due_submissions(self.owner, self.lease_seconds)
        for view_id in view_ids:
            self.enqueue(view_id)
        return len(view_ids)

    @property
    def busy(self) -> int:
        """Submissions in hand right now (held back for acks, or being worked on)."""
        return len(self._running) + len(self._held)

    async def idle(self) -> None:
        """Wait until no submission is in hand (tests and shutdown)."""
        while self._running or self._held:
            waits = [*self._running.values(), *([self._releaser] if self._releaser else [])]
            await asyncio.gather(*waits, return_exceptions=True)

    async def stop(self, grace: float = 20.0) -> None:
        """Take no new work; let work in hand finish within grace, else leave it resumable."""
        self._accepting = False  # the sweep goes on renewing claims on work in hand
        if self._releaser is not None:
            self._releaser.cancel()
            await asyncio.gather(self._releaser, return_exceptions=True)
        for view_id, not_after in list(self._held.items()):  # no more acks to give way to
            del self._held[view_id]
            self._start(view_id, not_after)
        pending = list(self._running.values())
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        for loop in self._loops:
            loop.cancel()
        await asyncio.gather(*self._loops, *self._telling, return_exceptions=True)

    def _still_mine(self, view_id: str) -> bool:
        """Renew this process's claim; False when another process has taken the row over."""
        if self.store.renew_claims(self.owner, [view_id], self.lease_seconds) == 1:
            return True
        log.warning("submission %s: claim lost to another worker; leaving it", view_id)
        return False

    async def _guarded(self, view_id: str, not_after: float) -> None:
        if self.workspace_of is None:
            await self._worked(view_id, not_after)
            return
        workspace = self._served.get(view_id)
        if workspace is None:  # taken up by a sweep: the workspace stored with it
            sub = self.store.get_submission(view_id)
            if sub is None:
                return
            workspace = await self.workspace_of(sub.workspace)
            if workspace is None:
                # Uninstalled (or removed) meanwhile: its work stops and its drafts are cleared,
                # as the uninstall itself does (this also covers an uninstall that stopped
                # between removing the tokens and ending the work).
                ended = self.store.end_workspace_work(sub.workspace)
                log.info("submission %s: its workspace is not installed; %d ended", view_id, ended)
                return
        with tenancy.serving(workspace):
            await self._worked(view_id, not_after)

    async def _worked(self, view_id: str, not_after: float) -> None:
        try:
            await self._take_slot(view_id)
        except asyncio.CancelledError:
            self.store.release_submission(view_id, self.owner)
            raise
        try:
            await self.pressure.give_way(not_after)  # acks first: Slack waits 3 s for them
            await self.process(view_id, not_after)
        except asyncio.CancelledError:
            # Free at once: another process (or this one after a restart) takes it up.
            self.store.release_submission(view_id, self.owner)
            log.info("submission %s interrupted; released for another worker", view_id)
            raise
        except Exception as exc:
            # Names only: an exception's text may carry what a person typed.
            log.error("submission %s: unexpected %s; retried shortly", view_id, describe(exc))
            later = self.store.clock() + timedelta(seconds=AFTER_BUG_SECONDS)
            self.store.release_submission(view_id, self.owner, not_before=later)
        finally:
            self._slots.release()

    async def _take_slot(self, view_id: str) -> None:
        """Wait for a worker slot; a wait that lasts is told to the person as "Queued"."""
        # Worked as its workspace (many workspaces; one key for one workspace): slots are
        # handed out fairly between the workspaces with work waiting.
        waiter = asyncio.ensure_future(self._slots.acquire(tenancy.key_or_single()))
        try:
            done, _ = await asyncio.wait({waiter}, timeout=SLOW_SECONDS)
            if not done:  # keeps its place in the queue while the person is told
                sub = self.store.get_submission(view_id)
                if sub is not None and sub.state == "pending":
                    self._background(self.notifier.show_waiting(sub, WAITING_TEXT))
            await waiter
        except asyncio.CancelledError:
            waiter.cancel()
            raise

    def _background(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    async def process(self, view_id: str, not_after: float = 0.0) -> None:
        """Claim the submission, create its task (once), then confirm it (once)."""
        sub = self.store.claim_submission(view_id, self.owner, self.lease_seconds)
        if sub is None:
            return  # finished, or another process holds it
        if sub.state == "refused":  # a workflow step that makes no task: Slack must hear why
            await self._tell_step(sub, None)
            return
        if sub.state in ("pending", "creating", "unknown"):
            task = await self._create(sub)
            if task is None or not self._still_mine(view_id):
                return  # a taker-over looks first, so it adopts the task made here
            with self.store.transaction():  # one commit, and never one without the other
                self.store.update_submission(view_id, state="created", task_id=task.id, ambiguous=0)
                self.store.record_task(
                    task_id=task.id,
                    view_id=view_id,
                    note_id=task.note_id or sub.note_id,
                    status=task.status,
                    sync_status=task.sync_status,
                    created_by=sub.user_id,
                )
            sub = self.store.get_submission(view_id) or sub
        else:
            fetched = await self._fetch(sub)
            if fetched is None:
                return
            task = fetched
        if sub.source == WORKFLOW and not await self._tell_step(sub, task):
            return  # parked: the workflow hears first, then the card is posted
        await self.pressure.give_way(not_after)
        if self._still_mine(view_id):
            await self._confirm(sub, task)

    # -- deadlines -------------------------------------------------------------------------

    def _window_end(self, sub: Submission) -> datetime:
        """The submission's own retry window: from its latest ack."""
        start = datetime.fromisoformat(sub.acked_at or sub.created_at)
        return start + timedelta(seconds=self.retry_seconds)

    def _final_end(self, sub: Submission) -> datetime:
        """After this, an unknown outcome or an undelivered card is given up."""
        return datetime.fromisoformat(sub.created_at) + timedelta(seconds=self.reconcile_seconds)

    def _park(self, sub: Submission) -> None:
        """Leave the row for a later sweep, sooner while it is young, at most hourly."""
        now = self.store.clock()
        age = (now - datetime.fromisoformat(sub.created_at)).total_seconds()
        rest = min(max(age / 4, self.retry_seconds / 10, 1.0), 3600.0)
        later = now + timedelta(seconds=rest)
        self.store.release_submission(sub.view_id, self.owner, not_before=later)

    async def _until(self, fn: Callable[[], Awaitable[Any]], deadline: datetime) -> Any:
        return await retry.until(fn, deadline=deadline, clock=self.store.clock, sleep=self.sleep)

    # -- creating --------------------------------------------------------------------------

    async def _create(self, sub: Submission) -> Task | None:
        """POST the task; after a possibly applied attempt, look for it before trying again."""
        look_first = bool(sub.ambiguous) or sub.state in ("creating", "unknown")
        unknown = sub.state == "unknown"  # told already: only a lookup may settle it now
        told_waiting = False

        async def tell_waiting() -> None:
            nonlocal told_waiting
            if not told_waiting and not unknown:
                told_waiting = True
                await self.notifier.show_waiting(sub, WAITING_TEXT)

        async def attempt() -> Task:
            nonlocal look_first
            if self.maxcare.budget_wait_seconds() > SLOW_SECONDS:
                await tell_waiting()  # the budget is spent: say so rather than stay silent
            try:
                if look_first:
                    found = await find_created(self.maxcare, self.store, sub)
                    if found is not None:
                        log.info("submission %s: adopted existing task %s", sub.view_id, found.id)
                        return found
                    look_first = False  # the lookup answered: no earlier POST was applied
                    self.store.update_submission(sub.view_id, ambiguous=0)
                    if unknown:
                        raise NotThere
                attempts = (self.store.get_submission(sub.view_id) or sub).attempts + 1
                self.store.update_submission(sub.view_id, state="creating", attempts=attempts)
                return await self.maxcare.create_task(
                    note_id=sub.note_id,
                    provider_id=sub.provider_id,
                    notes=sub.notes,
                    assignee_ids=list(dict.fromkeys(sub.assignee_ids)),
                )
            except MaxCareError as exc:
                refusal = isinstance(exc, MaxCareAPIError) and not isinstance(exc, RateLimited)
                if refusal and not exc.may_have_been_applied:
                    raise  # retrying would get the same answer
                if exc.may_have_been_applied and not look_first:
                    look_first = True
                    self.store.update_submission(sub.view_id, ambiguous=1)  # survives a crash
                log.warning("submission %s: %s, will retry", sub.view_id, type(exc).__name__)
                await tell_waiting()
                raise Transient(exc, ambiguous=look_first) from exc

        deadline = self.store.clock() if unknown else self._window_end(sub)
        try:
            return await self._until(attempt, deadline)
        except NotThere:
            await self._fail(sub, NOT_THERE_TEXT, None)
        except GaveUp as exc:
            if not exc.ambiguous:
                await self._fail(sub, exc.user_message("the task"), exc.trace_id)
            elif self.store.clock() >= self._final_end(sub):
                await self._fail(sub, GIVEN_UP_TEXT, exc.trace_id)
            else:
                await self._unknown(sub, told=unknown)
        except MaxCareError as exc:
            if isinstance(exc, NotFound):
                await self._flag_missing_providers(sub)
            await self._fail(sub, exc.user_message("the task"), getattr(exc, "trace_id", None))
        return None

    async def _unknown(self, sub: Submission, *, told: bool) -> None:
        """MaxCare stayed down after a POST that may have been applied: say so, keep looking."""
        self.store.update_submission(sub.view_id, state="unknown", ambiguous=1)
        if not told:
            log.warning("submission %s: outcome unknown; reconciling later", sub.view_id)
            await self.notifier.notify_unknown(sub, UNKNOWN_TEXT)
        self._park(sub)

    async def _flag_missing_providers(self, sub: Submission) -> None:
        """After a 404, mark the links whose provider MaxCare no longer knows (the form then
        names them), since MaxCare's message does not say which ID it could not find."""
        people = dict(zip(sub.assignee_ids, sub.assignee_user_ids, strict=False))
        people[sub.provider_id] = sub.user_id
        for provider_id, user_id in people.items():
            try:
                await self.maxcare.get_provider(provider_id)
            except NotFound:
                if self.store.mark_stale(user_id, STALE_PROVIDER):
                    log.warning("link of %s: provider %s not found", user_id, provider_id)
            except MaxCareError:
                return  # MaxCare unavailable: `python -m bot check` will find it later

    async def _fail(self, sub: Submission, reason: str, trace_id: str | None) -> None:
        if sub.source == WORKFLOW:  # no draft to give back: the workflow hears the reason
            self.store.update_submission(
                sub.view_id, state="refused", last_error=reason, trace_id=trace_id, notes=""
            )
            sub.state, sub.last_error, sub.notes = "refused", reason, ""
            log.warning("workflow step %s made no task (trace %s)", sub.view_id, trace_id)
            await self._tell_step(sub, None)
            return
        self.store.update_submission(
            sub.view_id, state="failed", last_error=reason, trace_id=trace_id
        )
        log.warning("submission %s failed for good (trace %s)", sub.view_id, trace_id)
        await self.notifier.notify_failure(sub, reason)

    # -- workflow steps ----------------------------------------------------------------------

    async def _tell_step(self, sub: Submission, task: Task | None) -> bool:
        """Tell Slack how a workflow step ended (its task, or why none), once and recorded;
        False when Slack could not be told within the window (the row is parked)."""
        steps = self.steps
        if sub.completed_at is None and steps is not None:

            async def tell() -> None:
                try:
                    if task is None:
                        await steps.fail(sub, sub.last_error or "MaxCare refused the task.")
                    else:
                        await steps.complete(sub, task)
                except Exception as exc:  # transient by the steps' sorting
                    raise Transient(exc) from exc

            deadline = self.store.clock() + timedelta(seconds=self.retry_seconds)
            try:
                await self._until(tell, deadline)
            except GaveUp:
                if self.store.clock() < self._final_end(sub):
                    log.warning("workflow step %s: Slack not told yet", sub.view_id)
                    self._park(sub)
                    return False
                log.error("workflow step %s: Slack never heard its outcome", sub.view_id)
        done: dict[str, Any] = {"completed_at": self.store.clock().isoformat()}
        if task is None:
            done.update(state="failed", claimed_by=None, lease_until=None)
        self.store.update_submission(sub.view_id, **done)
        sub.completed_at = done["completed_at"]
        return True

    # -- confirming ------------------------------------------------------------------------

    async def _fetch(self, sub: Submission) -> Task | None:
        """The created task as MaxCare has it now (to post its card after a restart)."""
        task_id = sub.task_id or ""

        async def get() -> Task:
            try:
                return await self.maxcare.get_task(task_id)
            except MaxCareAPIError as exc:
                if exc.may_have_been_applied or isinstance(exc, RateLimited):
                    raise Transient(exc) from exc
                raise
            except MaxCareError as exc:
                raise Transient(exc) from exc

        deadline = self.store.clock() + timedelta(seconds=self.retry_seconds)
        try:
            return await self._until(get, deadline)
        except GaveUp:
            self._park(sub)
        except MaxCareError as exc:
            log.error("task %s of %s cannot be read: %s", task_id, sub.view_id, type(exc).__name__)
            self._close(sub)
        return None

    async def _confirm(self, sub: Submission, task: Task) -> None:
        async def post() -> tuple[str, str | None]:
            try:
                return await self.notifier.post_card(sub, task)
            except Undeliverable:
                raise
            except Exception as exc:  # transient by the notifier's sorting: same ways again
                raise Transient(exc) from exc

        deadline = self.store.clock() + timedelta(seconds=self.retry_seconds)
        try:
            channel, ts = await self._until(post, deadline)
        except GaveUp:
            if self.store.clock() < self._final_end(sub):
                log.warning("card for %s not posted yet; task %s exists", sub.view_id, task.id)
                self._park(sub)
                return
            log.error("card for %s never posted; task %s exists", sub.view_id, task.id)
            self._close(sub)
            return
        except Undeliverable as exc:
            log.error("card for %s undeliverable (%s); task %s exists", sub.view_id, exc, task.id)
            self._close(sub)
            return
        with self.store.transaction():
            self.store.record_task(task_id=task.id, channel_id=channel, message_ts=ts)
            self._close(sub)
        log.info("submission %s confirmed as task %s", sub.view_id, task.id)
        self.card_posted(task)
        await self.notifier.show_created(sub, task)
        await self.notifier.tell_assignees(sub, task)

    def _close(self, sub: Submission) -> None:
        """The row is done; the EHR holds the task text now, so keep no copy of it."""
        now = self.store.clock().isoformat()
        self.store.update_submission(
            sub.view_id, confirmed_at=now, notes="", claimed_by=None, lease_until=None
        )
