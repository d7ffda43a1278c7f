"""The use cases behind the listeners: open the form, accept a submission, reopen a draft."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids, tenancy
from bot.db.store import OPEN_STATES, WORKFLOW, Store, Submission
from bot.db.writer import SubmissionWriter
from bot.errors import UserFacingError
from bot.links.views import stale_phrase
from bot.slack.payload import channel_id_or_none, dig, dig_dict, dig_list, dig_str, str_or_none
from bot.tasks import views
from bot.tasks.form import Destination, FormInput
from bot.tasks.prefill import Prefill, parse_command_text, prefill_from_message

log = logging.getLogger("bot.service")

SLACKBOT = "USLACKBOT"


def own_bot(single: str | None) -> str | None:
    """This app's bot user: the one workspace's, or the served workspace's (many workspaces)."""
    served = tenancy.current()
    return single or (served.bot_user_id if served is not None else None)


class Enqueue(Protocol):
    """Hands a stored submission to the worker."""

    def __call__(self, view_id: str) -> None: ...


@dataclass
class Reply:
    """What a listener answers: an ephemeral text or a modal to open."""

    text: str | None = None
    view: dict[str, Any] | None = None


@dataclass
class SubmitResult:
    """The ack for a view submission, and the submission to hand to the worker after it."""

    ack: dict[str, Any]
    enqueue: str | None = None


class TaskService:
    """Opens forms, validates submissions, writes the outbox and hands rows to the worker."""

    def __init__(
        self,
        *,
        store: Store,
        slack: AsyncWebClient,
        enqueue: Enqueue,
        admin_ids: Collection[str],
        bot_user_id: str | None,
        response_url_ok: Callable[[str], bool],
        name_for: Callable[[str], str | None] = lambda _: None,
        busy: Callable[[], bool] = lambda: True,
    ) -> None:
        self.store = store
        self.writer = SubmissionWriter(store, busy=busy)
        self.slack = slack
        self.enqueue = enqueue
        self.admin_ids = sorted(admin_ids)
        self.bot_user_id = bot_user_id
        self.response_url_ok = response_url_ok
        self.name_for = name_for  # local lookups only: forms must open within 3 seconds

    # -- opening the form -------------------------------------------------------------

    def slash_command(self, command: dict[str, Any]) -> Reply:
        """`/task [help | text]`: help, a not-linked notice, or the prefilled form to open."""
        text = str(command.get("text") or "").strip()
        name = str(command.get("command") or ids.SLASH_COMMAND)
        if text.lower() in ("help", "-h", "--help", "?"):
            return Reply(text=views.help_text(name))
        if self.store.get_link(str(command.get("user_id"))) is None:
            return Reply(text=views.not_linked_text(self.admin_ids))
        dest = Destination(
            source="command",
            channel_id=channel_id_or_none(command.get("channel_id")),
            response_url=str_or_none(command.get("response_url")),
        )
        return Reply(view=views.task_modal(parse_command_text(text), private_metadata=dest.dump()))

    async def open_view(self, trigger_id: Any, view: dict[str, Any]) -> None:
        """Open a modal; Slack's refusals become a UserFacingError."""
        await self._open(trigger_id, view)

    async def message_shortcut(self, body: dict[str, Any]) -> None:
        """The form prefilled from a message; the card will go in its thread."""
        user_id = dig_str(body, "user", "id")
        if self.store.get_link(user_id) is None:
            await self._open(body.get("trigger_id"), views.info_modal(self._not_linked()))
            return
        message = dig_dict(body, "message")
        channel = channel_id_or_none(dig(body, "channel", "id"))
        own_ts = str_or_none(message.get("ts"))
        root_ts = str_or_none(message.get("thread_ts")) or own_ts
        dest = Destination(
            source="message",
            channel_id=channel,
            thread_ts=root_ts if root_ts and channel else None,
            message_ts=own_ts if own_ts and channel else None,
            response_url=str_or_none(body.get("response_url")),
        )
        prefill = prefill_from_message(str(message.get("text") or ""), self.name_for)
        notice = None
        existing = self.store.task_for_message(dest.message_key) if dest.message_key else None
        if existing:
            notice = (
                f"A task was already created from this message: `{existing}`. "
                "Submit again only if you want another one."
            )
        view = views.task_modal(prefill, private_metadata=dest.dump(), notice=notice)
        await self._open(body.get("trigger_id"), view)

    async def global_shortcut(self, body: dict[str, Any]) -> None:
        """The form with a conversation picker for the confirmation."""
        if self.store.get_link(dig_str(body, "user", "id")) is None:
            await self._open(body.get("trigger_id"), views.info_modal(self._not_linked()))
            return
        dest = Destination(source="global")
        view = views.task_modal(Prefill(), private_metadata=dest.dump(), destination=True)
        await self._open(body.get("trigger_id"), view)

    def _not_linked(self) -> str:
        return views.not_linked_text(self.admin_ids)

    async def _open(self, trigger_id: Any, view: dict[str, Any]) -> None:
        if not isinstance(trigger_id, str) or not trigger_id:
            raise UserFacingError("Slack sent no trigger to open the form with; please try again.")
        try:
            await self.slack.views_open(trigger_id=trigger_id, view=view)
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("views.open failed: %s", error)
            if error in ("expired_trigger_id", "invalid_trigger_id", "exchanged_trigger_id"):
                raise UserFacingError(
                    "Slack took too long to open the form. Please try again."
                ) from None
            raise UserFacingError(f"Slack could not open the form ({error}).") from None

    # -- submitting -------------------------------------------------------------------

    async def submit(self, body: dict[str, Any]) -> SubmitResult:
        """Validate a view submission, store it in the outbox; returns the ack payload."""
        user_id = dig_str(body, "user", "id")
        view = dig_dict(body, "view")
        view_id = str(view.get("id") or "")
        form = FormInput.from_view(view)
        dest = Destination.load(view.get("private_metadata"), self.response_url_ok)
        errors, note_id = form.local_errors()
        assignees = list(dict.fromkeys(form.assignees))
        links = self.store.get_links([user_id, *assignees])
        if user_id not in links:
            errors[ids.NOTE_BLOCK] = (
                "You are not linked to a MaxCare provider, so the task cannot be created as you. "
                f"Ask {self._admin_names()} to link you."
            )
        if ids.ASSIGNEES_BLOCK not in errors and assignees:
            problem = await self._assignee_problem(assignees, links)
            if problem:
                errors[ids.ASSIGNEES_BLOCK] = problem
        if errors or not view_id or note_id is None:
            if not view_id:
                errors.setdefault(ids.NOTES_BLOCK, "Slack sent an incomplete form; try again.")
            return SubmitResult({"response_action": "errors", "errors": errors})

        if dest.source == "global":
            dest = self._global_destination(dest, body, form)
        sub = Submission(
            view_id=view_id,
            team_id=dig_str(body, "team", "id") or dig_str(body, "user", "team_id"),
            user_id=user_id,
            source=dest.source,
            note_id=note_id,
            notes=form.notes,
            assignee_user_ids=assignees,
            provider_id=links[user_id].provider_id,
            assignee_ids=[links[a].provider_id for a in assignees],
            channel_id=dest.channel_id,
            thread_ts=dest.thread_ts,
            response_url=dest.response_url,
            message_key=dest.message_key,
        )
        if dest.draft_of:
            self._carry_ambiguity(sub, dest.draft_of)
        stored, inserted = await self.writer.add(sub)
        if not inserted and stored.state in ("failed", "reopened"):
            # The same modal submitted again after a refusal: the draft was fixed, try anew.
            self.store.update_submission(view_id, **_resubmission(sub))
            inserted = True
        if not inserted:
            log.info("submission %s repeated; already %s", view_id, stored.state)
            if stored.task_id:
                view = views.created_modal(stored.task_id, None)
                return SubmitResult({"response_action": "update", "view": view})
            if stored.state in OPEN_STATES:
                inserted = True  # hand it over again: a worker that lost it may be gone
        else:
            # DEBUG: this runs before every ack; the worker logs each submission's outcome.
            log.debug("submission %s accepted from %s", view_id, user_id)
        view = views.creating_modal(note_id)
        return SubmitResult(
            {"response_action": "update", "view": view}, view_id if inserted else None
        )

    def _carry_ambiguity(self, sub: Submission, draft_of: str) -> None:
        """A reopened draft whose first POST may have been applied is looked up before any
        POST, and matched against tasks created since that first submission."""
        first = self.store.get_submission(draft_of)
        if first is None or first.user_id != sub.user_id or not first.ambiguous:
            return
        sub.ambiguous = 1
        sub.created_at = first.created_at
        sub.acked_at = self.store.clock().isoformat()

    def _global_destination(
        self, dest: Destination, body: dict[str, Any], form: FormInput
    ) -> Destination:
        response_url = None
        for item in dig_list(body, "response_urls"):
            url = dig(item, "response_url")
            if isinstance(url, str) and self.response_url_ok(url):
                response_url = url
                break
        # A reopened draft's form has no picker: keep the conversation chosen the first time.
        return Destination(
            source="global",
            channel_id=form.destination or dest.channel_id,
            response_url=response_url or (None if form.destination else dest.response_url),
        )

    async def _assignee_problem(self, assignees: list[str], links: dict[str, Any]) -> str | None:
        bots = [u for u in assignees if u in (own_bot(self.bot_user_id), SLACKBOT)]
        if bots:
            return "Bots cannot be assigned tasks; choose people."
        missing = [u for u in assignees if u not in links]
        stale = [u for u in assignees if u in links and links[u].stale_reason]
        if not missing and not stale:
            return None
        names = await self.user_names(missing + stale)
        problems = []
        if missing:
            problems.append(
                f"Not linked to MaxCare yet: {', '.join(names[: len(missing)])}. "
                f"Ask {self._admin_names()} to link them, or choose someone else."
            )
        if stale:
            why = [
                f"{name} {stale_phrase(links[uid].stale_reason)}"
                for name, uid in zip(names[len(missing) :], stale, strict=True)
            ]
            problems.append(f"Cannot be assigned: {'; '.join(why)}. Choose someone else.")
        return " ".join(problems)

    def _admin_names(self) -> str:
        return "an admin" if not self.admin_ids else "a MaxCare Tasks admin"

    async def user_names(self, user_ids: list[str], timeout: float = 1.5) -> list[str]:
        """Display names for an error message; falls back to the ID when Slack is slow."""

        async def one(uid: str) -> str:
            try:
                resp = await self.slack.users_info(user=uid)
            except SlackClientError:
                return uid
            user = resp.get("user") or {}
            profile = user.get("profile") or {}
            return str(
                profile.get("display_name") or user.get("real_name") or user.get("name") or uid
            )

        try:
            return list(
                await asyncio.wait_for(asyncio.gather(*(one(u) for u in user_ids)), timeout)
            )
        except TimeoutError:
            return list(user_ids)

    # -- drafts -----------------------------------------------------------------------

    async def reopen_draft(self, user_id: str, view_id: Any, trigger_id: Any) -> str | None:
        """Open a failed submission's draft again; returns a message when it cannot."""
        sub = self.store.get_submission(view_id) if isinstance(view_id, str) else None
        if sub is None or sub.user_id != user_id or sub.source == WORKFLOW:
            return "That draft is not yours or no longer exists."
        if sub.state != "failed":
            return "That draft was already reopened or discarded."
        dest = Destination.of(sub).model_copy(update={"draft_of": sub.view_id})
        prefill = Prefill(sub.note_id, sub.assignee_user_ids, sub.notes)
        view = views.task_modal(prefill, private_metadata=dest.dump(), error=sub.last_error)
        await self._open(trigger_id, view)
        self.store.update_submission(sub.view_id, state="reopened", notes="")
        return None

    def dismiss_draft(self, user_id: str, view_id: Any) -> str:
        """Forget a failed draft."""
        sub = self.store.get_submission(view_id) if isinstance(view_id, str) else None
        if sub is None or sub.user_id != user_id:
            return "That draft is not yours or no longer exists."
        self.store.update_submission(sub.view_id, state="dismissed", notes="")
        return "Draft discarded."


def _resubmission(sub: Submission) -> dict[str, Any]:
    return {
        "note_id": sub.note_id,
        "notes": sub.notes,
        "assignee_user_ids": sub.assignee_user_ids,
        "assignee_ids": sub.assignee_ids,
        "provider_id": sub.provider_id,
        "state": "pending",
        "last_error": None,
        "trace_id": None,
        "attempts": 0,
        # created_at stays: an earlier POST's task is looked for since then; the window is new.
        "acked_at": sub.created_at,
    }
