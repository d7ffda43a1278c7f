"""Telling people how it went: the confirmation card, modal updates and failure notices."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.db.store import Store, Submission
from bot.errors import CardNotPosted as CardNotPosted  # explicit re-export
from bot.maxcare import Task
from bot.tasks import views
from bot.tasks.form import Destination
from bot.tasks.prefill import Prefill

log = logging.getLogger("bot.confirm")

# Errors meaning "the bot may not post here"; anything else is retried by the worker.
NO_ACCESS = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


class Confirmer:
    """Posts cards and notices through Slack, falling back to response_url, then to a DM."""

    def __init__(self, *, slack: AsyncWebClient, store: Store) -> None:
        self.slack = slack
        self.store = store

    async def post_card(self, sub: Submission, task: Task) -> tuple[str, str | None]:
        """Post the confirmation card; returns (channel, ts) of where it went."""
        card = views.task_card(self._card_data(sub, task))
        if sub.channel_id:
            try:
                resp = await self.slack.chat_postMessage(
                    channel=sub.channel_id, thread_ts=sub.thread_ts, **card
                )
                return str(resp["channel"]), str(resp["ts"])
            except SlackApiError as exc:
                if exc.response.get("error") not in NO_ACCESS:
                    raise
                log.info("card for %s: no access to %s", sub.view_id, sub.channel_id)
        if sub.response_url and await self._via_response_url(sub, card):
            return sub.channel_id or "response_url", None
        hint = None
        if sub.channel_id:
            hint = (
                f"I could not post in <#{sub.channel_id}>. "
                "To get cards there, type `/invite @MaxCare Tasks` in that conversation."
            )
        card = views.task_card(self._card_data(sub, task, invite_hint=hint))
        return await self._dm(sub.user_id, card)

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

    def _card_data(
        self, sub: Submission, task: Task, invite_hint: str | None = None
    ) -> views.CardData:
        slack_by_provider = dict(zip(sub.assignee_ids, sub.assignee_user_ids, strict=False))
        links = self.store.get_links(sub.assignee_user_ids)
        people: list[tuple[str, str | None]] = []
        seen = set()
        for provider in task.assigned_providers:
            uid = slack_by_provider.get(provider.id)
            people.append((provider.display_name, uid))
            seen.add(provider.id)
        for pid, uid in slack_by_provider.items():
            if pid not in seen:
                link = links.get(uid)
                people.append(((link.provider_name if link else None) or pid, uid))
        return views.CardData(
            task_id=task.id,
            note_id=task.note_id or sub.note_id,
            notes=task.notes if task.notes is not None else sub.notes,
            status=task.status,
            sync_status=task.sync_status,
            creator_user_id=sub.user_id,
            assignees=people,
            invite_hint=invite_hint,
            updated_at=task.updated_at,
        )

    async def show_created(self, sub: Submission, task: Task) -> None:
        """Turn the still-open 'Creating…' modal into 'created'; a closed modal is fine."""
        await self._update_view(sub.view_id, views.created_modal(task.id, task.status))

    async def show_waiting(self, sub: Submission, text: str) -> None:
        """Tell the person in the open modal that their task is queued."""
        await self._update_view(sub.view_id, views.info_modal(text))

    async def notify_failure(self, sub: Submission, reason: str) -> None:
        """Give the draft back: in the modal if still open, else a message with Reopen."""
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
        message = views.failure_message(sub.view_id, reason)
        if sub.channel_id:
            try:
                await self.slack.chat_postEphemeral(
                    channel=sub.channel_id, user=sub.user_id, **message
                )
                return
            except SlackApiError as exc:
                log.info("ephemeral failure notice not posted: %s", exc.response.get("error"))
        await self._dm(sub.user_id, message)

    async def _update_view(self, view_id: str, view: dict[str, Any]) -> bool:
        try:
            await self.slack.views_update(view_id=view_id, view=view)
            return True
        except SlackApiError as exc:
            # not_found: the person closed the modal, which is their right; say it elsewhere.
            log.debug("views.update %s: %s", view_id, exc.response.get("error"))
            return False
