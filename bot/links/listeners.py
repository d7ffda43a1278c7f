"""Admin listeners: `/task link|unlink|links|whoami`, the link modal, its provider picker."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot import ids
from bot.links import views
from bot.links.service import AdminService, bad_provider_text, is_picked_provider, parse_user
from bot.maxcare.ids import normalize_provider_id
from bot.runtime.answer import answer_at_ack
from bot.runtime.subcommands import Subcommands
from bot.slack.payload import dig_dict, dig_str

log = logging.getLogger("bot.listeners")

LINK_USAGE = "Usage: `/task link @someone prv_…` (or `/task link` alone for a form)."
UNLINK_USAGE = "Usage: `/task unlink @someone`."


class LinkListeners:
    """The admin sub-commands, the link modal and the link table; Bolt calls them by name."""

    def __init__(self, admin: AdminService) -> None:
        self.admin = admin

    # -- sub-commands of the slash command -------------------------------------------------

    async def link(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, rest: str
    ) -> None:
        """`/task link @someone prv_…`, or `/task link` alone for the modal."""
        admin = self.admin
        actor = dig_str(command, "user_id")
        if not await admin.admins.is_admin(actor):
            await ack(response_type="ephemeral", text=admin.refusal)
            return
        if not rest:
            await ack()
            problem = await admin.open_link_modal(command.get("trigger_id"))
            if problem:
                await respond(response_type="ephemeral", text=problem)
            return
        words = rest.split()
        user_id = parse_user(words[0]) if len(words) == 2 else None
        if user_id is None:
            await ack(response_type="ephemeral", text=LINK_USAGE)
            return
        provider_id = normalize_provider_id(words[1])
        if provider_id is None:
            await ack(response_type="ephemeral", text=bad_provider_text(words[1]))
            return
        # No MaxCare call before the ack: say what is happening, answer through response_url.
        await ack(response_type="ephemeral", text=f"Checking `{provider_id}` with MaxCare…")
        team_id = dig_str(command, "team_id") or None
        outcome = await admin.link(actor, user_id, provider_id, team_id)
        await respond(response_type="ephemeral", text=outcome.text)

    async def unlink(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, rest: str
    ) -> None:
        """`/task unlink @someone`."""
        admin = self.admin
        actor = dig_str(command, "user_id")
        if not await admin.admins.is_admin(actor):
            await ack(response_type="ephemeral", text=admin.refusal)
            return
        words = rest.split()
        user_id = parse_user(words[0]) if len(words) == 1 else None
        if user_id is None:
            await ack(response_type="ephemeral", text=UNLINK_USAGE)
            return
        await ack(response_type="ephemeral", text=admin.unlink(actor, user_id))

    async def links(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, rest: str
    ) -> None:
        """`/task links [page]`: the link table."""
        admin = self.admin
        if not await admin.admins.is_admin(dig_str(command, "user_id")):
            await ack(response_type="ephemeral", text=admin.refusal)
            return
        page = int(rest) if rest.isdigit() else 1
        await ack(response_type="ephemeral", **admin.links_page(page))

    async def whoami(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, rest: str
    ) -> None:
        """`/task whoami`: whom the caller is linked to."""
        whoami = self.admin.whoami(dig_str(command, "user_id"))
        await ack(response_type="ephemeral", text=whoami)

    # -- Bolt listeners --------------------------------------------------------------------

    async def provider_options(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The link modal's provider picker (answered in its ack, for admins only)."""
        query = dig_str(body, "value")
        await ack(options=await self.admin.picker_options(dig_str(body, "user", "id"), query))

    @answer_at_ack
    async def link_submitted(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        """The link modal submitted: check what was picked, then link through MaxCare."""
        view = dig_dict(body, "view")
        values = dig_dict(view, "state", "values")
        user = (values.get(ids.LINK_USER_BLOCK) or {}).get(ids.LINK_USER_ACTION) or {}
        picked = (values.get(ids.LINK_PROVIDER_BLOCK) or {}).get(ids.LINK_PROVIDER_ACTION) or {}
        user_id = user.get("selected_user")
        errors: dict[str, str] = {}
        if not isinstance(user_id, str) or not user_id:
            errors[ids.LINK_USER_BLOCK] = "Choose the person to link."
        if not is_picked_provider(picked.get("selected_option")):
            errors[ids.LINK_PROVIDER_BLOCK] = "Choose a provider from the list (type to search)."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        option = picked["selected_option"]
        checking = f"Checking `{escape_value(option)}` with MaxCare…"
        await ack(response_action="update", view=views.link_result_modal(checking))
        actor = dig_str(body, "user", "id")
        team_id = (dig_str(body, "team", "id") or None)
        view_id = str(view.get("id") or "")
        await self.admin.finish_link_modal(actor, view_id, str(user_id), option, team_id)

    @answer_at_ack
    async def links_page(self, ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Previous/Next on the link table."""
        await ack()
        user = dig_str(body, "user", "id")
        if not await self.admin.admins.is_admin(user):
            await respond(
                response_type="ephemeral", text=self.admin.refusal, replace_original=False
            )
            return
        value = dig_str(body, "actions", 0, "value") or "1"
        page = int(value) if value.isdigit() else 1
        await respond(
            response_type="ephemeral", replace_original=True, **self.admin.links_page(page)
        )

    async def user_changed(self, event: dict[str, Any]) -> None:
        """user_change events: a linked person renamed, deactivated or reactivated."""
        user = event.get("user")
        if isinstance(user, dict):
            self.admin.user_changed(user)


def register(app: AsyncApp, admin: AdminService, subcommands: Subcommands) -> LinkListeners:
    """The admin sub-commands, the link modal, its picker, the table's buttons, user_change."""
    listeners = LinkListeners(admin)
    subcommands.add("link", listeners.link)
    subcommands.add("unlink", listeners.unlink)
    subcommands.add("links", listeners.links)
    subcommands.add("whoami", listeners.whoami)
    app.options(ids.LINK_PROVIDER_ACTION)(listeners.provider_options)
    app.view(ids.LINK_VIEW)(listeners.link_submitted)
    app.action(ids.LINKS_PREV_ACTION)(listeners.links_page)
    app.action(ids.LINKS_NEXT_ACTION)(listeners.links_page)
    app.event("user_change")(listeners.user_changed)
    return listeners


def escape_value(option: dict[str, Any]) -> str:
    """The picked option's provider ID, safe to show."""
    value = str(option.get("value") or "")
    return value[:60].replace("`", "")
