"""Telling people how it went: the confirmation card, modal updates and failure notices."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.db.store import WORKFLOW, Store, Submission
from bot.errors import Undeliverable
from bot.maxcare import Task
from bot.slack.failures import Failure, classify, describe
from bot.status.cards import TaskCards
from bot.tasks import views
from bot.tasks.form import Destination
from bot.tasks.prefill import Prefill

log = logging.getLogger("bot.confirm")

# An assignee's DM is tried this many times while Slack fails transiently, then given up.
ASSIGNEE_DM_ATTEMPTS = 3

class Notifier:
    """Posts cards and notices through Slack, falling back to response_url, then to a DM."""

    def __init__(
        self,
        *,
        slack: AsyncWebClient,
        store: Store,
        cards: TaskCards,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.slack = slack
        self.store = store
        self.cards = cards
        self.sleep = sleep  # between an assignee DM's attempts

    async def post_card(self, sub: Submission, task: Task) -> tuple[str, str | None]:
        """Post the confirmation card; returns (channel, ts) of where it went.

        The ways, in order: the conversation, its response_url, a DM to the author (with how
        to invite the bot), and last a plain-text DM naming the task. A way closed for good
        moves on to the next at once; a transient failure is raised, for the worker to try the
        same ways again; Undeliverable when every way refused.
        """
        card = self.cards.render(task, submission=sub)
        refused: list[str] = []
        if sub.channel_id:
            try:
                resp = await self.slack.chat_postMessage(
                    channel=sub.channel_id, thread_ts=sub.thread_ts, **card
                )
                return str(resp["channel"]), str(resp["ts"])
            except Exception as exc:
                if classify(exc) is Failure.TRANSIENT:
                    raise
                refused.append(describe(exc))
                log.info("card for %s refused in %s: %s", sub.view_id, sub.channel_id, refused[-1])
        if sub.response_url and await self._via_response_url(sub, card):
            return sub.channel_id or "response_url", None
        hint = None
        if sub.channel_id:
            hint = (
                f"I could not post in <#{sub.channel_id}>. "
                "To get cards there, type `/invite @MaxCare Tasks` in that conversation."
            )
        card = self.cards.render(task, submission=sub, invite_hint=hint)
        plain = {"text": undelivered_text(task.id, sub.note_id, sub.channel_id)}
        for message in (card, plain):
            try:
                return await self._dm(sub.user_id, message)
            except Exception as exc:
                if classify(exc) is Failure.TRANSIENT:
                    raise
                refused.append(describe(exc))
        raise Undeliverable(", ".join(refused))

    async def _via_response_url(self, sub: Submission, card: dict[str, Any]) -> bool:
        assert sub.response_url
        extra = {"thread_ts": sub.thread_ts} if sub.thread_ts else {}
        try:
            resp = await AsyncWebhookClient(sub.response_url).send_dict(
                {"response_type": "in_channel", "replace_original": False, **extra, **card}
            )
        except Exception as exc:  # network trouble of any kind: fall back to a DM
            log.warning("response_url post for %s failed: %s", sub.view_id, type(exc).__name__)
            return False
        if resp.status_code != 200:
            log.info("response_url for %s answered %s", sub.view_id, resp.status_code)
        return resp.status_code == 200

    async def _dm(self, user_id: str, message: dict[str, Any]) -> tuple[str, str | None]:
        opened = await self.slack.conversations_open(users=user_id)
        channel = str(opened["channel"]["id"])
        resp = await self.slack.chat_postMessage(channel=channel, **message)
        return channel, str(resp["ts"])

    async def tell_assignees(self, sub: Submission, task: Task) -> int:
        """DM the task to each assignee but its creator, unless they turned that off.

        The card stands whatever happens here: a DM Slack refuses is logged and dropped, one
        that fails transiently is tried ASSIGNEE_DM_ATTEMPTS times. Returns how many were told.
        """
        people = [u for u in dict.fromkeys(sub.assignee_user_ids) if u and u != sub.user_id]
        wanted = self.store.notify_assigned(people)
        dm = views.assigned_message(
            task_id=task.id,
            note_id=task.note_id or sub.note_id,
            notes=task.notes if task.notes is not None else sub.notes,
            creator_user_id=sub.user_id,
        )
        told = await asyncio.gather(
            *(self._dm_assignee(user_id, dm, task.id) for user_id in people if wanted[user_id])
        )
        return sum(told)

    async def _dm_assignee(self, user_id: str, dm: dict[str, Any], task_id: str) -> bool:
        for attempt in range(1, ASSIGNEE_DM_ATTEMPTS + 1):
            try:
                await self._dm(user_id, dm)
                return True
            except Exception as exc:
                if classify(exc) is not Failure.TRANSIENT or attempt == ASSIGNEE_DM_ATTEMPTS:
                    log.info("assignee %s not told of %s: %s", user_id, task_id, describe(exc))
                    return False
            await self.sleep(2.0**attempt)
        return False

    async def show_created(self, sub: Submission, task: Task) -> None:
        """Turn the still-open 'Creating…' modal into 'created'; a closed modal is fine."""
        if sub.source != WORKFLOW:  # a workflow step has no modal
            await self._update_view(sub.view_id, views.created_modal(task.id, task.status))

    async def show_waiting(self, sub: Submission, text: str) -> None:
        """Tell the person in the open modal that their task is queued."""
        if sub.source != WORKFLOW:
            await self._update_view(sub.view_id, views.info_modal(text))

    async def notify_failure(self, sub: Submission, reason: str) -> None:
        """Give the draft back: in the modal if still open, else a message with Reopen."""
        if sub.source == WORKFLOW:
            return  # the step's error reaches its workflow instead (the outbox tells Slack)
        prefill = Prefill(sub.note_id, sub.assignee_user_ids, sub.notes)
        dest = Destination.of(sub)
        form = views.task_modal(
            prefill,
            private_metadata=dest.dump(),
            destination=False,
            error=f"The task was not created. {reason}",
        )
        if await self._update_view(sub.view_id, form):
            return
        await self._tell(sub, views.failure_message(sub.view_id, reason))

    async def notify_unknown(self, sub: Submission, text: str) -> None:
        """Say the outcome is not known yet: in the modal if still open, else a message."""
        if sub.source == WORKFLOW:
            return  # the step stays running until the lookup settles it
        if await self._update_view(sub.view_id, views.info_modal(text)):
            return
        await self._tell(sub, {"text": text})

    async def _tell(self, sub: Submission, message: dict[str, Any]) -> bool:
        """An ephemeral message where the author worked, else a DM; False if neither went."""
        if sub.channel_id:
            try:
                await self.slack.chat_postEphemeral(
                    channel=sub.channel_id, user=sub.user_id, **message
                )
                return True
            except Exception as exc:
                log.info("ephemeral notice for %s not posted: %s", sub.view_id, describe(exc))
        try:
            await self._dm(sub.user_id, message)
            return True
        except Exception as exc:
            log.error("could not tell %s about %s: %s", sub.user_id, sub.view_id, describe(exc))
            return False

    async def _update_view(self, view_id: str, view: dict[str, Any]) -> bool:
        try:
            await self.slack.views_update(view_id=view_id, view=view)
            return True
        except Exception as exc:
            # not_found: the person closed the modal, which is their right; say it elsewhere.
            log.debug("views.update %s: %s", view_id, describe(exc))
            return False


def undelivered_text(task_id: str, note_id: str, channel_id: str | None) -> str:
    """The last resort: a plain DM saying the task exists though its card could not be shown."""
    where = f" in <#{channel_id}>" if channel_id else ""
    return (
        f"Your MaxCare task `{task_id}` (note `{note_id}`) was created, but its card could not "
        f"be posted{where}. Ask an admin to run `python -m bot check`."
    )
