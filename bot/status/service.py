"""Live task status: Refresh on cards, `/task status` and `/task mine`, from MaxCare's answer."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.db.store import Store
from bot.maxcare import MaxCareClient, MaxCareError, NotFound, Task
from bot.status import views
from bot.status.cards import TaskCards
from bot.tasks import views as task_views

log = logging.getLogger("bot.status")

Respond = Callable[..., Awaitable[Any]]


def following_note(row: dict[str, Any] | None, task: Task) -> str | None:
    """The card's promise to update itself, while the app follows its sync."""
    if row and row.get("follow_until") and task.sync_status != "synced":
        return views.FOLLOWING_NOTE
    return None


class StatusService:
    """Refresh on cards, `/task status` and `/task mine`; every MaxCare call comes after the ack."""

    def __init__(
        self, *, store: Store, maxcare: MaxCareClient, slack: AsyncWebClient, cards: TaskCards
    ) -> None:
        self.store = store
        self.maxcare = maxcare
        self.slack = slack
        self.cards = cards

    async def live_card(
        self, task_id: str, shown_at: tuple[str | None, str | None] = (None, None)
    ) -> tuple[dict[str, Any] | None, str | None]:
        """(card, None) with MaxCare's current answer, or (None, why not) for the person.

        `shown_at` is the (channel, ts) of the card the answer is for, if any."""
        try:
            task = await self.maxcare.get_task(task_id)
        except NotFound:
            return None, (
                f"MaxCare has no task `{task_id}` (it was deleted, or it belongs to another "
                "clinic)."
            )
        except MaxCareError as exc:
            log.warning("task %s: %s", task_id, type(exc).__name__)
            return None, f"Could not get task `{task_id}`: {exc.user_message('the request')}."
        now = self.store.clock()
        row = await self._observe(task, now, shown_at)
        return self.cards.render(task, checked_at=now, note=following_note(row, task)), None

    async def _observe(
        self, task: Task, now: datetime, shown_at: tuple[str | None, str | None] = (None, None)
    ) -> dict[str, Any] | None:
        """Record what MaxCare said; news about a task the app posted also updates its card."""
        before = self.store.get_task(task.id)
        row = self.cards.observe(task, now)
        if before is None or row is None or not before.get("message_ts"):
            return row
        channel, ts = str(before.get("channel_id")), str(before.get("message_ts"))
        news = (task.status, task.sync_status) != (before.get("status"), before.get("sync_status"))
        if news and (channel, ts) != shown_at:
            card = self.cards.render(task, checked_at=now, note=following_note(row, task))
            try:
                await self.slack.chat_update(channel=channel, ts=ts, **card)
            except SlackClientError as exc:
                log.info("card of %s not updated: %s", task.id, type(exc).__name__)
        return row

    async def status(self, task_id: str) -> dict[str, Any]:
        """`/task status`: the live card, or a message saying why not."""
        card, problem = await self.live_card(task_id)
        return card if card is not None else {"text": f":warning: {problem}"}

    async def refresh(
        self,
        *,
        task_id: str,
        channel_id: str | None,
        message_ts: str | None,
        ephemeral: bool,
        respond: Respond | None,
    ) -> None:
        """Refresh a card in place; a failure leaves the card as it was and says why privately."""
        shown_at = (None, None) if ephemeral else (channel_id, message_ts)
        card, problem = await self.live_card(task_id, shown_at)
        if card is None:
            note = f":warning: {problem} The card shows the last known status."
            await _say(respond, response_type="ephemeral", replace_original=False, text=note)
            return
        if not ephemeral and channel_id and message_ts:
            try:
                await self.slack.chat_update(channel=channel_id, ts=message_ts, **card)
                return
            except SlackApiError as exc:
                # e.g. a card posted through response_url: the bot cannot edit it, Slack can.
                log.info("chat.update of %s: %s", task_id, exc.response.get("error"))
        if not await _say(respond, replace_original=True, **card):
            log.warning("refresh of %s: the card could not be updated", task_id)

    async def mine(
        self, user_id: str, *, offset: int = 0, refreshed: str | None = None
    ) -> dict[str, Any]:
        """`/task mine`: one page of the open tasks assigned to the person."""
        link = self.store.get_link(user_id)
        if link is None:  # unlinked since the list was shown: asks MaxCare for nobody
            return {"text": task_views.not_linked_to_read_text([])}
        try:
            tasks = await self.maxcare.all_tasks(
                provider_id=link.provider_id, status=list(views.OPEN_STATUSES)
            )
        except MaxCareError as exc:
            log.warning("task list for %s: %s", user_id, type(exc).__name__)
            return {"text": f":warning: Could not list your tasks: {exc.user_message('the list')}."}
        # Not recorded: news found here would otherwise be kept from the tasks' own cards.
        tasks = views.newest_first(tasks)
        headline = await self._headline(refreshed, tasks) if refreshed else None
        return views.mine_page(tasks, offset=offset, headline=headline)

    async def _headline(self, task_id: str, listed: list[Task]) -> str:
        if any(t.id == task_id for t in listed):
            return f"Refreshed `{task_id}`."
        try:  # no longer listed: say what became of it
            task = await self.maxcare.get_task(task_id)
        except NotFound:
            return f"`{task_id}` is no longer in MaxCare."
        except MaxCareError as exc:
            return f":warning: Could not get `{task_id}`: {exc.user_message('the request')}."
        await self._observe(task, self.store.clock())
        return f"`{task_id}` is now *{views.status_text(task.status)}*, so it left this list."


async def _say(respond: Respond | None, **message: Any) -> bool:
    """Answer through response_url; False when there is none or it failed."""
    if respond is None:
        return False
    try:
        await respond(**message)
        return True
    except Exception as exc:  # network trouble or no response_url: the caller has a fallback
        log.info("response_url answer failed: %s", type(exc).__name__)
        return False
