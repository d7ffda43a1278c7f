"""Every view and message the app builds, with worst-case inputs, within Slack's limits.

Each view goes through slack_sdk's `View`, each block through `Block.parse`: their validators
hold Slack's limits (titles, texts, buttons, options), and reading a block back unchanged
shows slack_sdk knows every field. What slack_sdk does not check is checked here.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block, Option
from slack_sdk.models.views import View

from bot import ids
from bot.db.store import STALE_PROVIDER, STALE_SLACK, Link
from bot.home import views as home
from bot.links import views as links
from bot.maxcare import Task
from bot.slack import blocks as bk
from bot.slack.text import NOTES_MAX
from bot.status import views as status
from bot.tasks import views as tasks
from bot.tasks.form import ASSIGNEES_MAX, Destination
from bot.tasks.notifier import undelivered_text
from bot.tasks.prefill import Prefill
from tests.support.ids import NOTE, PRV_A, TASK

MESSAGE_BLOCKS_MAX = 50
TEXT_MAX = 3000  # any text object
FIELD_TEXT_MAX = 2000  # a section field
# Slack cuts a message's text at 40,000 characters and advises at most 4,000.
MESSAGE_TEXT_MAX = 4000
INPUT_MAX_LENGTH = 3000

# Worst cases: every character user text can have is one that escaping makes five times longer.
WORST_NOTES = "&<>" * (NOTES_MAX // 3)
LONG_NAME = "Dr. " + "&" * 296
USER = "W" + "0" * 10  # enterprise grid user IDs are the longest
ODD_STATUS = "<weird_status>" * 40  # unknown values are shown as MaxCare sent them
REASON = "MaxCare answered the task with an error (HTTP 400): " + "<&>" * 100 + " (trace x)"
WHEN = datetime(2026, 3, 20, 18, 35, tzinfo=UTC)
MANY_ADMINS = [f"U{i:010}" for i in range(40)]


def user(i: int) -> str:
    return f"W{i:010}"


# -- the checks ------------------------------------------------------------------------------


def text_objects(value: Any) -> list[dict[str, Any]]:
    """Every text object (plain_text or mrkdwn) anywhere in a block."""
    found = []
    if isinstance(value, dict):
        if value.get("type") in ("plain_text", "mrkdwn") and isinstance(value.get("text"), str):
            found.append(value)
        for item in value.values():
            found += text_objects(item)
    elif isinstance(value, list):
        for item in value:
            found += text_objects(item)
    return found


def check_block(block: dict[str, Any]) -> None:
    parsed = Block.parse(block)
    assert parsed is not None, block
    parsed.validate_json()
    assert parsed.to_dict() == block  # validates every nested element; no field was dropped
    for text in text_objects(block):
        assert 0 < len(text["text"]) <= TEXT_MAX
    for field in block.get("fields", []):
        assert len(field["text"]) <= FIELD_TEXT_MAX
    element = block.get("element") or {}
    if "max_length" in element:
        assert element["max_length"] <= INPUT_MAX_LENGTH
        assert len(element.get("initial_value", "")) <= element["max_length"]


def check_view(built: dict[str, Any]) -> None:
    view = View(**built)
    view.validate_json()
    assert view.to_dict() == built
    for block in built["blocks"]:
        check_block(block)


def check_message(built: dict[str, Any]) -> None:
    assert set(built) <= {"text", "blocks"}
    assert built["text"].strip()  # notifications and screen readers use it
    assert len(built["text"]) <= MESSAGE_TEXT_MAX
    assert len(built.get("blocks", [])) <= MESSAGE_BLOCKS_MAX
    for block in built.get("blocks", []):
        check_block(block)


def check_option(built: dict[str, Any]) -> None:
    option = Option(**built)
    option.validate_json()
    assert option.to_dict() == built


def test_the_checks_can_fail() -> None:
    with pytest.raises(SlackObjectFormationError):
        check_view(bk.modal("A title of twenty-five ch", [bk.divider()]))
    with pytest.raises(SlackObjectFormationError):
        check_view(bk.modal("Title", [bk.section("x" * 3001)]))
    with pytest.raises(SlackObjectFormationError):
        check_block(bk.actions(bk.button("a", "x" * 76)))
    with pytest.raises(SlackObjectFormationError):
        check_option(bk.option("v" * 151, "text"))
    with pytest.raises(AssertionError):
        check_message(bk.message("text", [bk.divider()] * 51))
    with pytest.raises(AssertionError):
        check_block(bk.fields("x" * 2001))
    with pytest.raises(AssertionError):
        check_block({**bk.divider(), "blok_id": "typo"})
    with pytest.raises(AssertionError):
        check_message({"text": " ", "blocks": []})


# -- tasks: the form and its notices ---------------------------------------------------------


def worst_metadata() -> str:
    return Destination(
        source="message",
        channel_id="C" + "0" * 10,
        thread_ts="1700000000.000100",
        message_ts="1700000000.000200",
        response_url="https://hooks.slack.com/commands/T0/" + "1" * 20 + "/" + "a" * 24,
    ).dump()


FULL = Prefill(NOTE, [user(i) for i in range(ASSIGNEES_MAX)], WORST_NOTES)

VIEWS: dict[str, Callable[[], dict[str, Any]]] = {
    "task form, empty": lambda: tasks.task_modal(Prefill()),
    "task form, full": lambda: tasks.task_modal(FULL, private_metadata=worst_metadata()),
    "task form, destination": lambda: tasks.task_modal(Prefill(), destination=True),
    "task form, error and notice": lambda: tasks.task_modal(
        FULL, destination=True, error=f"The task was not created. {REASON}",
        notice=f"A task was already created from this message: `{TASK}`. Submit again only "
        "if you want another one.",
    ),
    "info, not linked": lambda: tasks.info_modal(tasks.not_linked_text(MANY_ADMINS)),
    "creating": lambda: tasks.creating_modal(NOTE),
    "created": lambda: tasks.created_modal(TASK, "in_progress"),
    "created, odd status": lambda: tasks.created_modal(TASK, ODD_STATUS),
    "link form, empty": lambda: links.link_modal(),
    "link form, chosen": lambda: links.link_modal(
        user_id=USER, provider=links.option(PRV_A, f"{LONG_NAME} · {PRV_A}"), error=REASON
    ),
    "link result": lambda: links.link_result_modal(
        f":white_check_mark: <@{USER}> is now linked to {bk.escaped_within(LONG_NAME, 150)}"
    ),
    "home, linked, admin": lambda: home.home_view(
        link=Link(USER, PRV_A, LONG_NAME),
        admin_ids=MANY_ADMINS,
        recent=[recent_row(i) for i in range(home.HOME_RECENT + 5)],
        admin=home.AdminSummary(links=100_000, stale=None),
        notice="x" * 5000,
    ),
    "home, unlinked": lambda: home.home_view(
        link=None, admin_ids=MANY_ADMINS, recent=[], admin=home.AdminSummary(3, 2)
    ),
    "home, linked without a name": lambda: home.home_view(
        link=Link(USER, PRV_A), admin_ids=[], recent=[recent_row(0)]
    ),
    "home, assignment DMs off": lambda: home.home_view(
        link=Link(USER, PRV_A, LONG_NAME), admin_ids=[], recent=[], notify_assigned=False
    ),
}


def recent_row(i: int) -> dict[str, Any]:
    return {
        "task_id": f"tsk_{i:032x}",
        "status": ODD_STATUS,
        "sync_status": ODD_STATUS,
        "note_id": NOTE,
        "created_at": WHEN.isoformat(),
        "checked_at": (WHEN + timedelta(minutes=i)).isoformat(),
        "channel_id": "C" + "0" * 10,
    }


@pytest.mark.parametrize("name", list(VIEWS))
def test_views(name: str) -> None:
    check_view(VIEWS[name]())


def test_failure_message() -> None:
    check_message(tasks.failure_message("V" + "0" * 10, REASON))


@pytest.mark.parametrize("command", [ids.SLASH_COMMAND, "/" + "x" * 31])
def test_text_messages(command: str) -> None:
    # Answered as `text` alone; a section must still be able to hold each.
    for text in (tasks.help_text(command), tasks.not_linked_text(MANY_ADMINS),
                 links.refusal_text(MANY_ADMINS), status.parse_task_id("x" * 5000)[1] or "",
                 undelivered_text(TASK, NOTE, "C" + "0" * 10)):
        check_message({"text": text})
        check_block(bk.section(text))


# -- status: the card in every state, and `/task mine` -----------------------------------------


STATUSES = [*status.STATUS_LABELS, ODD_STATUS, None]
SYNCS = [*status.SYNC_LABELS, ODD_STATUS, None]
NOTES = {"following": status.FOLLOWING_NOTE, "stopped": status.stopped_note(3600), "none": None}


def state_id(value: str | None) -> str:
    return "odd" if value == ODD_STATUS else str(value)


def worst_card(**changes: Any) -> status.CardData:
    data: dict[str, Any] = {
        "task_id": TASK,
        "note_id": NOTE,
        "notes": WORST_NOTES,
        "status": ODD_STATUS,
        "sync_status": "failed",
        "creator_user_id": USER,
        "assignees": [(f"{LONG_NAME} {i}", user(i)) for i in range(ASSIGNEES_MAX)],
        "invite_hint": f"I could not post in <#C{'0' * 10}>. To get cards there, type "
        "`/invite @MaxCare Tasks` in that conversation.",
        "updated_at": WHEN,
        "checked_at": WHEN,
        "sync_note": status.stopped_note(3600),
    }
    data.update(changes)
    return status.CardData(**data)


@pytest.mark.parametrize("task_status", STATUSES, ids=state_id)
@pytest.mark.parametrize("sync_status", SYNCS, ids=state_id)
@pytest.mark.parametrize("note", list(NOTES))
def test_card_in_every_state(task_status: str | None, sync_status: str | None, note: str) -> None:
    card = worst_card(status=task_status, sync_status=sync_status, sync_note=NOTES[note])
    check_message(status.task_card(card))


@pytest.mark.parametrize(
    "changes",
    [
        {"notes": "", "assignees": [], "creator_user_id": "", "invite_hint": None},
        {"updated_at": None, "checked_at": None},
        {"assignees": [(LONG_NAME, None)] * 200},  # a task made elsewhere, for many people
        {"notes": "x" * 100_000},
    ],
    ids=["bare", "undated", "200 assignees", "huge notes"],
)
def test_card_edge_cases(changes: dict[str, Any]) -> None:
    check_message(status.task_card(worst_card(**changes)))


def listed(count: int) -> list[Task]:
    return [
        Task(id=f"tsk_{i:032x}", status=ODD_STATUS, sync_status=ODD_STATUS,
             notes=WORST_NOTES, note_id=NOTE, created_at=WHEN + timedelta(minutes=i))
        for i in range(count)
    ]


LEFT_LIST = f"`{TASK}` is now *{status.status_text(ODD_STATUS)}*, so it left this list."


@pytest.mark.parametrize("offset", [0, 20, 40, 1000])
@pytest.mark.parametrize("headline", [None, LEFT_LIST], ids=["plain", "headline"])
def test_mine_pages(offset: int, headline: str | None) -> None:
    check_message(status.mine_page(listed(45), offset=offset, headline=headline))


@pytest.mark.parametrize("notes", [WORST_NOTES, ""], ids=["worst notes", "no notes"])
def test_assignment_dm(notes: str) -> None:
    dm = tasks.assigned_message(task_id=TASK, note_id=NOTE, notes=notes, creator_user_id=USER)
    check_message(dm)


@pytest.mark.parametrize("task_status", STATUSES, ids=state_id)
@pytest.mark.parametrize("people", [0, 1, 2, 200])
def test_status_news(task_status: str | None, people: int) -> None:
    news = status.status_news(
        creator_user_id=USER, task_id=TASK, note_id=NOTE, status=task_status,
        assignees=[f"{LONG_NAME} {i}" for i in range(people)],
    )
    check_message(news)


def test_mine_page_empty() -> None:
    check_message(status.mine_page([], offset=0, headline=f"`{TASK}` is no longer in MaxCare."))


# -- links: options and the links table ------------------------------------------------------


def test_options() -> None:
    check_option(links.option(PRV_A, f"{LONG_NAME} · {'u' * 100}"))
    check_option(links.hint_option(f"No provider matches “{'q' * 100}”; try the last name"))


def worst_links(count: int) -> list[Link]:
    reasons = [STALE_SLACK, STALE_PROVIDER, "x" * 30, None]
    return [
        Link(user(i), f"prv_{i:032x}", LONG_NAME if i % 7 else None,
             stale_reason=reasons[i % len(reasons)])
        for i in range(count)
    ]


@pytest.mark.parametrize(("page", "total"), [(1, 1), (1, 10_000), (2, 10_000), (200, 10_000)])
def test_links_pages(page: int, total: int) -> None:
    shown = min(links.LINKS_PER_PAGE, total - (page - 1) * links.LINKS_PER_PAGE)
    check_message(links.links_page(worst_links(shown), page, total))


def test_links_page_empty() -> None:
    check_message(links.links_page([], 1, 0))


# -- nothing left out ------------------------------------------------------------------------


CHECKED = {
    tasks: {
        "task_modal", "info_modal", "creating_modal", "created_modal", "failure_message",
        "assigned_message",
    },
    status: {"task_card", "mine_page", "status_news"},
    home: {"home_view"},
    links: {"link_modal", "link_result_modal", "links_page", "hint_option"},
}


@pytest.mark.parametrize("module", list(CHECKED), ids=lambda m: m.__name__)
def test_every_builder_is_checked_here(module: Any) -> None:
    # A new view or message builder fails this until it has worst cases above.
    builders = {
        name for name, value in vars(module).items()
        if inspect.isfunction(value) and value.__module__ == module.__name__
        and not name.startswith("_") and value.__annotations__.get("return") == "dict[str, Any]"
    }
    assert builders == CHECKED[module]
