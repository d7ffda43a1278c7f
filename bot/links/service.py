"""Admin use cases: who is an admin, link and unlink people, list links, search providers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import ids, tenancy
from bot.db.store import STALE_SLACK, Store
from bot.links import views
from bot.maxcare import BadRequest, MaxCareClient, MaxCareError, NotFound
from bot.maxcare.ids import normalize_provider_id
from bot.slack.payload import MENTION_RE, dig, is_user_id
from bot.slack.text import escape
from bot.tasks.views import admins_phrase

log = logging.getLogger("bot.admin")

SLACKBOT = "USLACKBOT"


class AdminCheck:
    """BOT_ADMINS plus the workspace's admins and owners (users.info), cached for a while."""

    def __init__(
        self,
        slack: AsyncWebClient,
        admin_ids: Collection[str],
        *,
        ttl: float = 300.0,
        timeout: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slack = slack
        self.admin_ids = frozenset(admin_ids)
        self.ttl = ttl
        self.timeout = timeout
        self.clock = clock
        # By workspace and person: an admin of one workspace is no admin of another.
        self._cache: dict[tuple[str, str], tuple[float, bool]] = {}

    async def is_admin(self, user_id: str) -> bool:
        """True for BOT_ADMINS and workspace admins/owners; False when Slack cannot say."""
        if user_id in self.admin_ids:
            return True
        now = self.clock()
        key = (tenancy.key_or_single(), user_id)
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            resp = await asyncio.wait_for(self.slack.users_info(user=user_id), self.timeout)
        except (SlackClientError, TimeoutError) as exc:
            log.warning("admin check for %s failed: %s", user_id, type(exc).__name__)
            return False  # not cached: ask again next time
        user = resp.get("user") or {}
        answer = not user.get("deleted") and any(
            user.get(k) for k in ("is_admin", "is_owner", "is_primary_owner")
        )
        self._cache[key] = (now + self.ttl, bool(answer))
        return bool(answer)


# Slack waits 3 s for an options answer; keep room for the answer's own trip.
PICKER_BUDGET_SECONDS = 2.5


@dataclass
class LinkOutcome:
    """What a link attempt says, and whether it linked."""

    ok: bool
    text: str


def parse_user(token: str) -> str | None:
    """A Slack user ID from a mention `<@U…|name>` or a bare `U…`."""
    token = token.strip()
    match = MENTION_RE.fullmatch(token)
    if match:
        return match.group(1)
    return token if is_user_id(token) else None


def is_picked_provider(picked: Any) -> bool:
    """True when the picker holds a provider (not nothing, not the hint)."""
    value = dig(picked, "value")
    return isinstance(value, str) and value != ids.NO_PROVIDER_VALUE


class AdminService:
    """Links and unlinks people (checked with Slack and MaxCare), lists links, finds providers."""

    def __init__(
        self,
        *,
        store: Store,
        slack: AsyncWebClient,
        maxcare: MaxCareClient,
        admins: AdminCheck,
        search_ttl: float = 60.0,
        search_timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.slack = slack
        self.maxcare = maxcare
        self.admins = admins
        self.search_ttl = search_ttl
        self.search_timeout = search_timeout
        self.clock = clock
        self._search_cache: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}

    @property
    def refusal(self) -> str:
        """The answer to a non-admin asking for an admin action."""
        return views.refusal_text(sorted(self.admins.admin_ids))

    # -- linking ----------------------------------------------------------------------

    async def link(
        self, actor: str, user_id: str, provider_raw: str, team_id: str | None
    ) -> LinkOutcome:
        """Check the person with Slack and the provider with MaxCare, then link and audit."""
        provider_id = normalize_provider_id(provider_raw)
        if provider_id is None:
            return LinkOutcome(False, bad_provider_text(provider_raw))
        problem = await self._person_problem(user_id)
        if problem:
            return LinkOutcome(False, problem)
        try:
            provider = await self.maxcare.get_provider(provider_id)
        except NotFound:
            return LinkOutcome(
                False,
                f"MaxCare knows no provider `{provider_id}` in this organization. "
                "Nothing was changed.",
            )
        except BadRequest:
            return LinkOutcome(False, bad_provider_text(provider_raw))
        except MaxCareError as exc:
            log.warning("provider check failed: %s", type(exc).__name__)
            return LinkOutcome(
                False, f"{exc.user_message('the provider check')}. Nothing was changed; try again."
            )
        name = provider.display_name
        old = self.store.set_link(
            user_id, provider_id, actor=actor, provider_name=name, team_id=team_id
        )
        self.store.clear_stale(user_id)  # both sides were just confirmed
        log.info("%s linked %s to %s", actor, user_id, provider_id)
        text = f"<@{user_id}> → {escape(name)} (`{provider_id}`)"
        if old is None:
            return LinkOutcome(True, f"Linked {text}.")
        if old.provider_id == provider_id:
            return LinkOutcome(True, f"Already linked: {text}. The provider's name is refreshed.")
        return LinkOutcome(True, f"Re-linked {text}; it was `{old.provider_id}`.")

    async def _person_problem(self, user_id: str) -> str | None:
        """Why this Slack user cannot be linked (unknown, deactivated, a bot), or None."""
        if user_id == SLACKBOT:
            return "Slackbot is a bot; only people can be linked. Nothing was changed."
        try:
            resp = await self.slack.users_info(user=user_id)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in ("user_not_found", "users_not_found"):
                return f"Slack knows no user `{user_id}` in this workspace. Nothing was changed."
            return f"Slack could not look up <@{user_id}> ({error}). Nothing was changed."
        except SlackClientError:
            return f"Slack could not look up <@{user_id}>. Nothing was changed; try again."
        user = resp.get("user") or {}
        if user.get("deleted"):
            return (
                f"<@{user_id}> is deactivated in Slack; only active people can be linked. "
                "Nothing was changed."
            )
        if user.get("is_bot") or user.get("is_app_user"):
            return f"<@{user_id}> is a bot; only people can be linked. Nothing was changed."
        return None

    def unlink(self, actor: str, user_id: str) -> str:
        """Remove one link and audit it."""
        old = self.store.remove_link(user_id, actor=actor)
        if old is None:
            return f"<@{user_id}> was not linked; nothing changed."
        log.info("%s unlinked %s", actor, user_id)
        name = f"{escape(old.provider_name)} " if old.provider_name else ""
        return f"Unlinked <@{user_id}> (was {name}`{old.provider_id}`)."

    def whoami(self, user_id: str) -> str:
        """Who this person is to MaxCare."""
        link = self.store.get_link(user_id)
        if link is None:
            return (
                "You are not linked to a MaxCare provider, so tasks cannot be created as you "
                f"or assigned to you. Ask {admins_phrase(sorted(self.admins.admin_ids))} "
                "to link you."
            )
        name = escape(link.provider_name) if link.provider_name else "a provider"
        text = f"You are linked to {name} (`{link.provider_id}`)"
        if link.linked_by:
            by = f"<@{link.linked_by}>" if is_user_id(link.linked_by) else link.linked_by
            text += f", by {by} on {(link.linked_at or '')[:10]}"
        text += "."
        if link.stale_reason:
            why = views.stale_label(link.stale_reason)
            text += f"\n:warning: Tasks cannot be assigned to you now ({why}); ask an admin."
        return text

    def links_page(self, page: int) -> dict[str, Any]:
        """One page of the table (clamped to the pages that exist)."""
        links = self.store.list_links()
        page = min(max(1, page), views.page_count(len(links)))
        size = views.LINKS_PER_PAGE
        return views.links_page(links[(page - 1) * size : page * size], page, len(links))

    # -- the link modal ---------------------------------------------------------------

    async def open_link_modal(self, trigger_id: Any) -> str | None:
        """Open the link form; returns a message when Slack refuses."""
        if not isinstance(trigger_id, str) or not trigger_id:
            return "Slack sent no trigger to open the form with; please try again."
        try:
            await self.slack.views_open(trigger_id=trigger_id, view=views.link_modal())
        except SlackApiError as exc:
            log.warning("views.open (link) failed: %s", exc.response.get("error"))
            return f"Slack could not open the form ({exc.response.get('error')}). Try again."
        return None

    async def finish_link_modal(
        self, actor: str, view_id: str, user_id: str, picked: dict[str, Any], team_id: str | None
    ) -> None:
        """After the ack: check and link, then show the outcome in the same modal."""
        if not await self.admins.is_admin(actor):
            view = views.link_result_modal(self.refusal)
        else:
            outcome = await self.link(actor, user_id, str(picked.get("value") or ""), team_id)
            if outcome.ok:
                view = views.link_result_modal(f":white_check_mark: {outcome.text}")
            else:
                view = views.link_modal(user_id=user_id, provider=picked, error=outcome.text)
        try:
            await self.slack.views_update(view_id=view_id, view=view)
        except SlackClientError as exc:
            log.warning("views.update (link) failed: %s", type(exc).__name__)

    # -- provider picker --------------------------------------------------------------

    async def picker_options(self, user_id: str, query: str) -> list[dict[str, Any]]:
        """The picker's options for this person, within Slack's 3 s whatever Slack (the admin
        check) and MaxCare (the search) do: one budget for both, not one each."""
        try:
            async with asyncio.timeout(PICKER_BUDGET_SECONDS):
                if not await self.admins.is_admin(user_id):
                    return [views.hint_option("Only admins can link people")]
                return await self.provider_options(query)
        except TimeoutError:
            return [views.hint_option("Slack or MaxCare is slow to answer; type a little more")]

    async def provider_options(self, query: str) -> list[dict[str, Any]]:
        """Options for the provider picker: cached briefly, never slower than search_timeout."""
        search = " ".join(query.split()).lower()[:100]
        key = (tenancy.key_or_single(), search)  # each clinic's providers are its own
        now = self.clock()
        hit = self._search_cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        try:
            found = await asyncio.wait_for(
                self.maxcare.list_providers(search=search or None), self.search_timeout
            )
        except TimeoutError:
            return [views.hint_option("MaxCare is slow to answer; type a little more")]
        except MaxCareError as exc:
            log.warning("provider search failed: %s", type(exc).__name__)
            return [views.hint_option("MaxCare could not search just now; try again")]
        options = [
            views.option(p.id, f"{p.display_name} · {p.username or p.id}")
            for p in found.providers[:100]
        ]
        if not options:
            options = [views.hint_option(f"No provider matches “{search}”; try the last name")]
        if len(self._search_cache) >= 500:
            self._search_cache.clear()
        self._search_cache[key] = (now + self.search_ttl, options)
        return options

    # -- Slack telling us about people ------------------------------------------------

    def user_changed(self, user: dict[str, Any]) -> None:
        """A `user_change` event: flag the link of someone deactivated, unflag on return."""
        user_id = user.get("id")
        if not isinstance(user_id, str) or self.store.get_link(user_id) is None:
            return
        if user.get("deleted"):
            if self.store.mark_stale(user_id, STALE_SLACK):
                log.info("link of %s flagged: left Slack", user_id)
        elif self.store.clear_stale(user_id, STALE_SLACK):
            log.info("link of %s unflagged: back in Slack", user_id)


def bad_provider_text(raw: str) -> str:
    """The refusal for something that is not a provider ID."""
    shown = escape(raw.strip()[:60]) or "(nothing)"
    return (
        f"`{shown}` is not a MaxCare provider ID: it looks like `prv_` followed by 32 "
        "characters 0-9 and a-f (or the provider's UUID). Nothing was changed."
    )
