"""Block Kit for the admin commands: the link modal, provider options, the paged links table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot import ids
from bot.db.store import STALE_PROVIDER, STALE_SLACK, Link
from bot.slack.blocks import (
    Blocks,
    actions,
    button,
    escaped_within,
    input_block,
    message,
    modal,
    option,  # also the provider picker's options: links.service calls views.option
    plain_text,
    section,
)
from bot.tasks.views import admins_phrase, info_modal

LINKS_PER_PAGE = 50  # people per message; 5 sections of 10 lines, far under 50 blocks
LINES_PER_SECTION = 10
NAME_SHOWN_MAX = 150  # escaped, per line: ten lines with long names still fit one section
LINK_TITLE = "Link to MaxCare"

# Why a link cannot be used: after a person's name, and as a short label.
STALE_TEXT = {
    STALE_SLACK: "has left Slack",
    STALE_PROVIDER: "is linked to a provider MaxCare no longer knows",
}
STALE_LABEL = {STALE_SLACK: "left Slack", STALE_PROVIDER: "provider unknown to MaxCare"}


def stale_phrase(reason: str | None) -> str:
    """`<name> has left Slack`: why a link cannot be used, after the person's name."""
    return STALE_TEXT.get(reason or "", f"cannot be used ({reason})")


def stale_label(reason: str | None) -> str:
    """`left Slack`: why a link cannot be used, as a label."""
    return STALE_LABEL.get(reason or "", reason or "")


def refusal_text(admin_ids: Sequence[str]) -> str:
    """What a non-admin is told when asking for an admin action."""
    return (
        "Only MaxCare Tasks admins can change who is linked to which provider: "
        f"{admins_phrase(admin_ids)}, or a workspace admin or owner. Nothing was changed."
    )


def hint_option(text: str) -> dict[str, Any]:
    """A hint shown in place of results; choosing it is refused on submit."""
    return option(ids.NO_PROVIDER_VALUE, text)


def link_modal(
    *,
    user_id: str | None = None,
    provider: dict[str, Any] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    """The link form: a person picker and a MaxCare provider picker (searched as you type)."""
    blocks: Blocks = []
    if error:
        blocks.append(section(f":warning: {error}"))
    user: dict[str, Any] = {
        "type": "users_select",
        "action_id": ids.LINK_USER_ACTION,
        "placeholder": plain_text("Choose a person"),
    }
    if user_id:
        user["initial_user"] = user_id
    picker: dict[str, Any] = {
        "type": "external_select",
        "action_id": ids.LINK_PROVIDER_ACTION,
        "placeholder": plain_text("Type part of the provider's name"),
        "min_query_length": 2,
    }
    if provider:
        picker["initial_option"] = provider
    blocks += [
        input_block(ids.LINK_USER_BLOCK, "Slack user", user),
        input_block(
            ids.LINK_PROVIDER_BLOCK,
            "MaxCare provider",
            picker,
            hint="Tasks this person creates are created in the EHR as this provider.",
        ),
    ]
    return modal(LINK_TITLE, blocks, callback_id=ids.LINK_VIEW, submit="Link", close="Cancel")


def link_result_modal(text: str) -> dict[str, Any]:
    """The link form turned into a message (checking…, done, refused)."""
    return info_modal(text, title=LINK_TITLE)


def link_line(link: Link) -> str:
    """`@carol → Dr. Carol Diaz, MD (prv_…)`, flagged when the link cannot be used."""
    name = (
        escaped_within(link.provider_name, NAME_SHOWN_MAX)
        if link.provider_name
        else "_(name not known yet)_"
    )
    line = f"<@{link.slack_user_id}> → {name} (`{link.provider_id}`)"
    if link.stale_reason:
        line += f" :warning: _{stale_label(link.stale_reason)}_"
    return line


def page_count(total: int) -> int:
    """How many pages `total` links take (at least one)."""
    return max(1, -(-total // LINKS_PER_PAGE))


def links_page(links: Sequence[Link], page: int, total: int) -> dict[str, Any]:
    """One page of the links table as an ephemeral message (`text` + `blocks`)."""
    pages = page_count(total)
    if not total:
        text = "Nobody is linked yet. Link people with `/task link @someone prv_…` or `/task link`."
        return message(text, [section(text)])
    first = (page - 1) * LINKS_PER_PAGE + 1
    text = f"MaxCare links {first}–{first + len(links) - 1} of {total} (page {page} of {pages})"
    blocks: Blocks = [section(f"*{text}*")]
    for start in range(0, len(links), LINES_PER_SECTION):
        lines = [link_line(link) for link in links[start : start + LINES_PER_SECTION]]
        blocks.append(section("\n".join(lines)))
    buttons = []
    if page > 1:
        buttons.append(button(ids.LINKS_PREV_ACTION, "‹ Previous", str(page - 1)))
    if page < pages:
        buttons.append(button(ids.LINKS_NEXT_ACTION, "Next ›", str(page + 1)))
    if buttons:
        blocks.append(actions(*buttons))
    return message(text, blocks)
