"""The step's use case: read a run's inputs, apply the form's rules, store it in the outbox;
and tell Slack the step's outcome once the worker knows it."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from pydantic import BaseModel, field_validator
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids
from bot.db.store import OPEN_STATES, WORKFLOW, Link, Store, Submission
from bot.db.writer import SubmissionWriter
from bot.links.views import stale_phrase
from bot.maxcare import Task, normalize_note_id
from bot.slack.failures import Failure, classify, describe
from bot.slack.payload import channel_id_or_none, dig_dict, dig_str, is_user_id
from bot.slack.text import NOTES_MAX
from bot.tasks.form import ASSIGNEES_MAX
from bot.tasks.service import SLACKBOT, Enqueue, own_bot
from bot.workflow import views

log = logging.getLogger("bot.workflow")

EXECUTION_ID_RE = re.compile(r"Fx[A-Za-z0-9]{4,60}")  # a function execution: the row's key
UserNames = Callable[[list[str]], Awaitable[list[str]]]


class StepInputs(BaseModel):
    """A run's inputs, read leniently: anything malformed reads as empty."""

    note_id: str = ""
    assignees: list[str] = []
    notes: str = ""
    creator: str = ""
    channel: str | None = None

    @field_validator("note_id", "notes", "creator", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str:
        return v if isinstance(v, str) else ""

    @field_validator("assignees", mode="before")
    @classmethod
    def _people(cls, v: Any) -> list[str]:
        values = [v] if isinstance(v, str) else v if isinstance(v, list) else []
        return [u.strip() for u in values if isinstance(u, str) and u.strip()]

    @field_validator("channel", mode="before")
    @classmethod
    def _channel(cls, v: Any) -> str | None:
        return channel_id_or_none(v)  # malformed or absent: the card goes to the creator

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> StepInputs:
        """The inputs of a function_executed event."""
        inputs = dig_dict(event, "inputs")
        return cls.model_validate({k: inputs[k] for k in ids.STEP_INPUTS if k in inputs})


class WorkflowService:
    """Accepts step runs into the outbox; tells Slack how each ended (the outbox's Steps)."""

    def __init__(
        self,
        *,
        store: Store,
        slack: AsyncWebClient,
        enqueue: Enqueue,
        bot_user_id: str | None,
        user_names: UserNames,
        busy: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store = store
        self.slack = slack
        self.enqueue = enqueue
        self.bot_user_id = bot_user_id
        self.user_names = user_names  # Slack's names for the people a refusal names
        self.writer = SubmissionWriter(store, busy=busy)

    async def accept(self, body: dict[str, Any]) -> str | None:
        """Store a run (to make its task, or to tell why not); returns its key for the worker.

        Keyed by the function execution ID: Slack delivering the event again (a retry, a
        second process) finds the row instead of making a second task.
        """
        event = dig_dict(body, "event")
        execution_id = dig_str(event, "function_execution_id")
        if not EXECUTION_ID_RE.fullmatch(execution_id):
            log.warning("workflow step run without a usable execution ID; ignored")
            return None
        stored = self.store.get_submission(execution_id)
        if stored is None:
            sub = await self._submission(execution_id, dig_str(body, "team_id"), event)
            stored, inserted = await self.writer.add(sub)
            if inserted:
                log.info("workflow step %s accepted (%s)", execution_id, stored.state)
        else:
            log.info("workflow step %s delivered again; already %s", execution_id, stored.state)
        if stored.source != WORKFLOW or stored.state not in OPEN_STATES:
            return None
        return execution_id

    async def _submission(self, execution_id: str, team_id: str, event: Any) -> Submission:
        inputs = StepInputs.from_event(event)
        assignees = list(dict.fromkeys(inputs.assignees))
        people = [inputs.creator, *assignees] if is_user_id(inputs.creator) else assignees
        links = self.store.get_links(people)
        problems, note_id = await self.problems(inputs, assignees, links)
        creator = links.get(inputs.creator)
        usable = not problems and creator is not None and note_id is not None
        return Submission(
            view_id=execution_id,
            team_id=team_id,
            user_id=inputs.creator,
            source=WORKFLOW,
            note_id=note_id or "",
            notes=inputs.notes if usable else "",
            assignee_user_ids=assignees,
            provider_id=creator.provider_id if creator else "",
            assignee_ids=[links[a].provider_id for a in assignees if a in links],
            channel_id=inputs.channel,
            state="pending" if usable else "refused",
            last_error=None if usable else " ".join(problems),
        )

    async def problems(
        self, inputs: StepInputs, assignees: list[str], links: dict[str, Link]
    ) -> tuple[list[str], str | None]:
        """The form's rules, worded for a workflow's author; and the normalised note ID."""
        creator = inputs.creator
        named = self._to_name(creator, assignees, links)
        # Slack's names for the people a problem names, asked once for all of them.
        names = dict(zip(named, await self.user_names(named), strict=True)) if named else {}
        problems = []
        if not is_user_id(creator):
            problems.append(views.no_creator())
        elif creator in self._bots:
            problems.append(views.creator_is_bot())
        elif creator not in links:
            problems.append(views.creator_not_linked(names[creator]))
        elif links[creator].stale_reason:
            why = stale_phrase(links[creator].stale_reason)
            problems.append(views.creator_stale(names[creator], why))
        note_id = normalize_note_id(inputs.note_id)
        if not inputs.note_id.strip():
            problems.append(views.note_missing())
        elif note_id is None:
            problems.append(views.note_malformed(inputs.note_id))
        if not inputs.notes.strip():
            problems.append(views.notes_missing())
        elif len(inputs.notes) > NOTES_MAX:
            problems.append(views.notes_too_long(len(inputs.notes), NOTES_MAX))
        problems += self._assignee_problems(assignees, links, names)
        return problems, note_id

    @property
    def _bots(self) -> set[str | None]:
        return {own_bot(self.bot_user_id), SLACKBOT}

    def _assignees_checked(self, assignees: list[str]) -> str | None:
        """Why the assignees are wrong before their links are even looked at, if they are."""
        if not assignees:
            return views.no_assignees()
        if len(assignees) > ASSIGNEES_MAX:
            return views.too_many_assignees(len(assignees), ASSIGNEES_MAX)
        if bad := [u for u in assignees if not is_user_id(u)]:
            return views.not_people(bad)
        if any(u in self._bots for u in assignees):
            return views.bots_assigned()
        return None

    def _to_name(self, creator: str, assignees: list[str], links: dict[str, Link]) -> list[str]:
        """The people whose links stop the task (unlinked, or the link no longer works)."""
        people = [creator] if is_user_id(creator) and creator not in self._bots else []
        if self._assignees_checked(assignees) is None:
            people += assignees
        unusable = [u for u in people if u not in links or links[u].stale_reason]
        return list(dict.fromkeys(unusable))

    def _assignee_problems(
        self, assignees: list[str], links: dict[str, Link], names: dict[str, str]
    ) -> list[str]:
        early = self._assignees_checked(assignees)
        if early is not None:
            return [early]
        missing = [names[u] for u in assignees if u not in links]
        stale = [
            f"{names[u]} {stale_phrase(links[u].stale_reason)}"
            for u in assignees
            if u in links and links[u].stale_reason
        ]
        found = [views.assignees_not_linked(missing)] if missing else []
        return found + ([views.assignees_stale(stale)] if stale else [])

    # -- the outbox's Steps: Slack hears each run's outcome ----------------------------------

    async def complete(self, sub: Submission, task: Task) -> None:
        """The step succeeded: its outputs go to the workflow's next steps."""
        outputs = {
            ids.STEP_TASK_ID: task.id,
            ids.STEP_STATUS: task.status or "unknown",
            ids.STEP_SYNC_STATUS: task.sync_status or "unknown",
        }
        await self._tell(
            "completeSuccess",
            sub,
            lambda: self.slack.functions_completeSuccess(
                function_execution_id=sub.view_id, outputs=outputs
            ),
        )

    async def fail(self, sub: Submission, reason: str) -> None:
        """The step made no task: its workflow stops with this reason."""
        error = views.refused([reason])
        await self._tell(
            "completeError",
            sub,
            lambda: self.slack.functions_completeError(
                function_execution_id=sub.view_id, error=error
            ),
        )

    async def _tell(
        self, method: str, sub: Submission, call: Callable[[], Awaitable[Any]]
    ) -> None:
        """Transient failures are raised (tried again); Slack's refusals end the telling."""
        try:
            await call()
        except Exception as exc:
            if classify(exc) is Failure.TRANSIENT:
                raise
            # execution_not_in_running_state: told already (or the run timed out); either way
            # asking again gets the same answer.
            log.warning("workflow step %s: %s refused: %s", sub.view_id, method, describe(exc))
            return
        log.info("workflow step %s: %s", sub.view_id, method)
