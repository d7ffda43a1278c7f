"""The worker that turns stored submissions into MaxCare tasks, exactly once each."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from slack_sdk.errors import SlackClientError
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    RetryError,
    retry_if_exception_type,
    stop_after_delay,
    wait_random_exponential,
)

from bot.db.store import STALE_PROVIDER, Store, Submission
from bot.maxcare import (
    MaxCareAPIError,
    MaxCareClient,
    MaxCareError,
    NotFound,
    RateLimited,
    Task,
)
from bot.runtime.pressure import Foreground
from bot.tasks.notifier import Confirmer

log = logging.getLogger("bot.outbox")
T = TypeVar("T")

# Allow for clocks that disagree a little when matching a found task to a submission.
CLOCK_SKEW = timedelta(minutes=5)
# Failed drafts are kept this long for their author to reopen, then their text is cleared.
DRAFT_DAYS = 7
# A wait longer than this for MaxCare's budget is worth telling the person about.
SLOW_SECONDS = 2.0


class Transient(Exception):
    """Worth another try later (MaxCare or Slack unavailable, ambiguous answer)."""

    def __init__(self, cause: Exception, *, ambiguous: bool = False) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.ambiguous = ambiguous


_backoff = wait_random_exponential(multiplier=1, max=60)


def _wait(state: RetryCallState) -> float:
    """Jittered exponential backoff, but never sooner than MaxCare's Retry-After."""
    delay = _backoff(state)
    exc = state.outcome.exception() if state.outcome else None
    cause = exc.cause if isinstance(exc, Transient) else None
    if isinstance(cause, RateLimited) and cause.retry_after:
        delay = max(delay, cause.retry_after)
    return delay


WAITING_TEXT = (
    ":hourglass_flowing_sand: Queued: MaxCare is slow to answer right now. Your task will be "
    "created as soon as it does and the confirmation posted in the conversation. "
    "You can close this window."
)


class Outbox:
    """Processes submissions as asyncio tasks; state lives in the database, not in memory."""

    def __init__(
        self,
        *,
        store: Store,
        maxcare: MaxCareClient,
        confirmer: Confirmer,
        retry_seconds: float = 600.0,
        concurrency: int = 16,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        foreground: Foreground | None = None,
    ) -> None:
        self.store = store
        self.maxcare = maxcare
        self.confirmer = confirmer
        self.retry_seconds = retry_seconds
        self.sleep = sleep
        self._slots = asyncio.Semaphore(concurrency)
        self.foreground = foreground or Foreground()
        self._running: dict[str, asyncio.Task[None]] = {}
        # View ID -> held back until (foreground clock), oldest first. An OrderedDict: work
        # starts from the front, and a plain dict slows down as its front is deleted.
        self._held: OrderedDict[str, float] = OrderedDict()
        self._releaser: asyncio.Task[None] | None = None
        self._accepting = True
        self.card_posted: Callable[[Task], None] = lambda task: None  # set by build_bot

    def enqueue(self, view_id: str) -> None:
        """Take on one submission unless it is already in hand; it starts when acks allow."""
        if not self._accepting or view_id in self._running or view_id in self._held:
            return
        # Called before the ack is sent. Held while Slack requests keep arriving; with nothing
        # to give way to it starts now, not one task (one turn of the loop) later.
        self._held[view_id] = self.foreground.deadline()
        self._start_ready()
        if self._held and self._releaser is None:
            self._releaser = asyncio.create_task(self._release_held(), name="outbox:release")

    def _start_ready(self) -> None:
        """Start held work, in order, while Slack requests are quiet or its wait is up."""
        quiet = self.foreground.quiet
        now = self.foreground.clock() + 0.001  # timers may fire a hair early
        # Only the front is looked at (deadlines are in order of arrival): this runs at every
        # enqueue, and copying the whole list cost 33 µs a submission with 1,500 held.
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
                await self.foreground.give_way(next(iter(self._held.values())))
                self._start_ready()
        finally:
            self._releaser = None

    def _start(self, view_id: str, not_after: float) -> None:
        task = asyncio.create_task(self._guarded(view_id, not_after), name=f"outbox:{view_id}")
        self._running[view_id] = task
        task.add_done_callback(lambda _: self._running.pop(view_id, None))

    def purge_drafts(self) -> int:
        """Forget failed drafts nobody reopened or discarded within DRAFT_DAYS."""
        cutoff = self.store.clock() - timedelta(days=DRAFT_DAYS)
        purged = self.store.purge_drafts(cutoff)
        if purged:
            log.info("cleared %d expired draft(s)", purged)
        return purged

    def resume(self) -> int:
        """Take up every unfinished submission (after a restart); returns how many."""
        self.purge_drafts()
        rows = self.store.open_submissions()
        for sub in rows:
            self.enqueue(sub.view_id)
        if rows:
            log.info("resuming %d unfinished submissions", len(rows))
        return len(rows)

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
        self._accepting = False
        if self._releaser is not None:
            self._releaser.cancel()
            await asyncio.gather(self._releaser, return_exceptions=True)
        for view_id, not_after in list(self._held.items()):  # no more acks to give way to
            del self._held[view_id]
            self._start(view_id, not_after)
        pending = list(self._running.values())
        if not pending:
            return
        _, still = await asyncio.wait(pending, timeout=grace)
        for task in still:
            task.cancel()
        await asyncio.gather(*still, return_exceptions=True)

    async def _guarded(self, view_id: str, not_after: float) -> None:
        # Acks first: Slack waits 3 s for them, a task can wait a moment.
        async with self._slots:
            try:
                await self.foreground.give_way(not_after)  # busy again while queued for a slot?
                await self.process(view_id, not_after)
            except asyncio.CancelledError:
                log.info("submission %s interrupted; it will resume at start-up", view_id)
                raise
            except Exception:
                log.exception("submission %s: unexpected error; left for resume", view_id)

    async def process(self, view_id: str, not_after: float = 0.0) -> None:
        """Create the task (once), then confirm it (once); gives way to acks until not_after."""
        sub = self.store.get_submission(view_id)
        if sub is None or sub.state not in ("pending", "creating", "created"):
            return
        if sub.state in ("pending", "creating"):
            task = await self._create(sub)
            if task is None:
                return
            with self.store.transaction():  # one commit, and never one without the other
                self.store.update_submission(view_id, state="created", task_id=task.id)
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
        if sub.confirmed_at is None:
            await self.foreground.give_way(not_after)
            await self._confirm(sub, task)

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

        try:
            return await self._retrying(get)
        except MaxCareError as exc:
            log.error("task %s of %s cannot be read: %s", task_id, sub.view_id, type(exc).__name__)
            return None

    async def _confirm(self, sub: Submission, task: Task) -> None:
        async def post() -> tuple[str, str | None]:
            try:
                return await self.confirmer.post_card(sub, task)
            except SlackClientError as exc:
                raise Transient(exc) from exc

        where = await self._retrying(post)
        if where is None:
            log.error("card for %s could not be posted; task %s exists", sub.view_id, task.id)
            return
        channel, ts = where
        now = self.store.clock().isoformat()
        with self.store.transaction():
            self.store.record_task(task_id=task.id, channel_id=channel, message_ts=ts)
            # The EHR holds the task text now; keep no copy of patient-related text.
            self.store.update_submission(sub.view_id, confirmed_at=now, notes="")
        log.info("submission %s confirmed as task %s", sub.view_id, task.id)
        self.card_posted(task)  # issue 6: follow the EHR sync from here
        await self.confirmer.show_created(sub, task)

    async def _create(self, sub: Submission) -> Task | None:
        """POST the task; after an ambiguous failure, look for it before trying again."""
        look_first = sub.state == "creating"  # a previous attempt may have reached MaxCare
        told_waiting = False

        async def tell_waiting() -> None:
            nonlocal told_waiting
            if not told_waiting:
                told_waiting = True
                await self.confirmer.show_waiting(sub, WAITING_TEXT)

        async def attempt() -> Task:
            nonlocal look_first
            if self.maxcare.budget_wait_seconds() > SLOW_SECONDS:
                await tell_waiting()  # the budget is spent: say so rather than stay silent
            try:
                if look_first:
                    found = await self._find(sub)
                    if found is not None:
                        log.info("submission %s: adopted existing task %s", sub.view_id, found.id)
                        return found
                attempts = (self.store.get_submission(sub.view_id) or sub).attempts + 1
                self.store.update_submission(sub.view_id, state="creating", attempts=attempts)
                return await self.maxcare.create_task(
                    note_id=sub.note_id,
                    provider_id=sub.provider_id,
                    notes=sub.notes,
                    assignee_ids=sub.assignee_ids,
                )
            except MaxCareError as exc:
                refusal = isinstance(exc, MaxCareAPIError) and not isinstance(exc, RateLimited)
                if refusal and not exc.may_have_been_applied:
                    raise  # retrying would get the same answer
                look_first = look_first or exc.may_have_been_applied
                log.warning("submission %s: %s, will retry", sub.view_id, type(exc).__name__)
                await tell_waiting()
                raise Transient(exc, ambiguous=exc.may_have_been_applied) from exc

        try:
            return await self._retrying(attempt, raise_refusals=True)
        except MaxCareError as exc:
            if isinstance(exc, NotFound):
                await self._flag_missing_providers(sub)
            await self._fail(sub, exc.user_message("the task"), getattr(exc, "trace_id", None))
            return None

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

    async def _retrying(
        self, fn: Callable[[], Awaitable[T]], *, raise_refusals: bool = False
    ) -> T | None:
        """Run fn, retrying Transient with jittered backoff for at most retry_seconds."""
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(Transient),
            wait=_wait,
            stop=stop_after_delay(self.retry_seconds),
            sleep=self.sleep,
            reraise=False,
        )
        try:
            return await retrying(fn)
        except RetryError as exc:
            cause = exc.last_attempt.exception()
            log.error("gave up after %.0f s: %s", self.retry_seconds, type(cause).__name__)
            if raise_refusals and isinstance(cause, Transient):
                raise GaveUp(cause.cause) from exc
            return None

    async def _find(self, sub: Submission) -> Task | None:
        """The task this submission made, if an earlier attempt reached MaxCare."""
        try:
            tasks = await self.maxcare.all_tasks(note_id=sub.note_id)
        except MaxCareError as exc:
            raise Transient(exc) from exc
        since = datetime.fromisoformat(sub.created_at) - CLOCK_SKEW
        wanted = sorted(sub.assignee_ids)
        for task in tasks:
            if (
                task.notes is not None
                and _comparable(task.notes) == _comparable(sub.notes)
                and sorted(p.id for p in task.assigned_providers) == wanted
                and (task.created_at is None or task.created_at >= since)
                and self.store.get_task(task.id) is None
            ):
                return task
        return None

    async def _fail(self, sub: Submission, reason: str, trace_id: str | None) -> None:
        self.store.update_submission(
            sub.view_id, state="failed", last_error=reason, trace_id=trace_id
        )
        log.warning("submission %s failed for good (trace %s)", sub.view_id, trace_id)
        try:
            await self.confirmer.notify_failure(sub, reason)
        except SlackClientError as exc:
            log.error("could not tell %s about failure: %s", sub.user_id, type(exc).__name__)


def _comparable(notes: str) -> str:
    """Notes as compared with what MaxCare stored, which may have tidied them: one Unicode
    form, `\n` line endings, no blanks at line ends or around the whole."""
    text = unicodedata.normalize("NFC", notes).replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


class GaveUp(MaxCareError):
    """MaxCare stayed unavailable for the whole retry window."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.trace_id = getattr(cause, "trace_id", None)

    def user_message(self, action: str = "the task") -> str:
        """What the author is told."""
        trace = f" (trace {self.trace_id})" if self.trace_id else ""
        return (
            "MaxCare did not accept the task in time; it is unavailable or very slow"
            f"{trace}. Try again later."
        )
