"""Block Kit builders of live status: the task card, `/task mine` pages, status words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot import ids
from bot.maxcare import Task
from bot.status import views as blocks
from bot.status.views import CardData, mine_page, parse_task_id, people_text, task_card

NOTE = "nte_" + "3c" * 16
SECTION_TEXT_MAX = 3000  # Slack's limit for a section's text
FIELD_TEXT_MAX = 2000  # ... and for each of its fields


def all_texts(message: dict[str, Any]) -> list[str]:
    """Every mrkdwn/plain text in a message's blocks, plus its top-level text."""
    out = [message["text"]]
    for block in message["blocks"]:
        if "text" in block:
            out.append(block["text"]["text"])
        out.extend(f["text"] for f in block.get("fields", []))
        out.extend(e["text"] for e in block.get("elements", []) if "text" in e
                   and isinstance(e["text"], str))
    return out


# -- the confirmation card -----------------------------------------------------------------


def card(**changes: Any) -> CardData:
    data: dict[str, Any] = {
        "task_id": "tsk_" + "1" * 32,
        "note_id": NOTE,
        "notes": "Review missing plan for Impression #3",
        "status": "not_started",
        "sync_status": "synced",
        "creator_user_id": "UNURSE",
        "assignees": [("Dr. James Wilson, MD", "UDOC")],
    }
    data.update(changes)
    return CardData(**data)


def test_card_shows_everything() -> None:
    message = task_card(card())
    assert message["text"]
    joined = "\n".join(all_texts(message))
    for expected in ("Review missing plan for Impression #3", "Not started", "Synced to EHR",
                     "Dr. James Wilson, MD", "<@UDOC>", "<@UNURSE>", NOTE, "tsk_" + "1" * 32):
        assert expected in joined, expected
    assert "tsk_" + "1" * 32 in message["text"]
    assert "Not started" in message["text"]


@pytest.mark.parametrize("notes", ["", "x"])
def test_card_text_always_set(notes: str) -> None:
    message = task_card(card(notes=notes, status=None, sync_status=None, assignees=[]))
    assert isinstance(message["text"], str) and message["text"].strip()


def test_card_escapes_user_text() -> None:
    evil = "<!channel> <@UBOSS> <https://evil.example|https://ehr.example> & co"
    message = task_card(card(notes=evil, assignees=[("<!here> Mallory & <b>", None)]))
    for text in all_texts(message):
        for token in ("<!channel>", "<@UBOSS>", "<https://evil", "<!here>", "<b>"):
            assert token not in text, (token, text)
    joined = "\n".join(all_texts(message))
    assert "&lt;!channel&gt;" in joined
    assert "&amp; co" in joined


def test_card_escapes_unknown_status_everywhere() -> None:
    message = task_card(card(status="<!everyone>"))
    for text in all_texts(message):
        assert "<!everyone>" not in text, text


@pytest.mark.parametrize("status", ["awaiting_review", "blocked"])
def test_card_unknown_status_shown_as_is(status: str) -> None:
    message = task_card(card(status=status, sync_status="weird_sync"))
    joined = "\n".join(all_texts(message))
    assert status in joined
    assert "weird_sync" in joined
    assert blocks.status_label(status) == status


def test_card_known_statuses() -> None:
    assert blocks.status_label("in_progress") == "In progress"
    assert blocks.status_label("completed") == "Completed"
    assert blocks.status_label(None) == "Unknown"
    assert blocks.sync_label("failed") == "EHR sync failed"


def test_status_text_is_escaped_and_bounded() -> None:
    assert blocks.status_text("not_started") == "Not started"
    assert blocks.status_text("<b>") == "&lt;b&gt;"
    long = blocks.sync_text("&" * 500)
    assert len(long) <= blocks.LABEL_SHOWN_MAX
    assert long.endswith("…")


def test_card_long_notes_are_shortened_within_limits() -> None:
    message = task_card(card(notes="word " * 2000, assignees=[(f"Dr {i}", f"U{i:03}")
                                                              for i in range(20)]))
    assert len(message["blocks"]) <= 50
    assert len(message["text"]) < 1000
    for block in message["blocks"]:
        if "text" in block:
            assert len(block["text"]["text"]) <= SECTION_TEXT_MAX
        for f in block.get("fields", []):
            assert len(f["text"]) <= FIELD_TEXT_MAX
    assert "…" in message["blocks"][1]["text"]["text"]


def test_card_escaped_notes_stay_within_section_limit() -> None:
    message = task_card(card(notes="<&>" * 1000))
    for block in message["blocks"]:
        if "text" in block:
            assert len(block["text"]["text"]) <= SECTION_TEXT_MAX


def test_card_twenty_long_names_stay_within_field_limit() -> None:
    people = [("Dr. " + "&" * 300 + f" {i}", f"U{i:010}") for i in range(20)]
    message = task_card(card(assignees=people))
    assigned = next(f["text"] for b in message["blocks"] for f in b.get("fields", [])
                    if f["text"].startswith("*Assigned to*"))
    assert len(assigned) <= FIELD_TEXT_MAX
    assert "<@U0000000000>" in assigned
    assert "more" in assigned
    assert len(message["text"]) < 1000


def test_people_text_counts_who_did_not_fit() -> None:
    people = [(f"Name {i:02}", f"U{i:02}") for i in range(10)]
    whole = people_text(people, 1000)
    assert whole.count("<@") == 10
    assert whole.startswith("Name 00 (<@U00>), Name 01 (<@U01>)")
    cut = people_text(people, 60)
    assert len(cut) <= 60
    shown = cut.count("<@")
    assert 0 < shown < 10
    assert cut.endswith(f", and {10 - shown} more")
    assert people_text([("A & B", None)], 60) == "A &amp; B"
    assert people_text([], 60) == ""


def test_card_invite_hint() -> None:
    message = task_card(card(invite_hint="Invite me with `/invite @MaxCare Tasks`"))
    assert "/invite" in message["blocks"][-1]["elements"][0]["text"]
    assert len(message["blocks"]) == len(task_card(card())["blocks"]) + 1


def test_card_refresh_button_carries_the_task_id() -> None:
    message = task_card(card())
    block = next(b for b in message["blocks"] if b.get("block_id") == ids.CARD_ACTIONS_BLOCK)
    assert block["elements"][0]["action_id"] == ids.REFRESH_TASK_ACTION
    assert block["elements"][0]["value"] == "tsk_" + "1" * 32


def test_card_sync_failed_says_what_to_do() -> None:
    failed = "\n".join(all_texts(task_card(card(sync_status="failed"))))
    assert blocks.SYNC_FAILED_HELP in failed
    assert "EHR sync failed." in task_card(card(sync_status="failed"))["text"]
    assert blocks.SYNC_FAILED_HELP not in "\n".join(all_texts(task_card(card())))


def test_card_dates_and_sync_note() -> None:
    when = datetime(2026, 3, 20, 18, 35, tzinfo=UTC)
    message = task_card(card(updated_at=when, checked_at=when + timedelta(minutes=1),
                             sync_note=blocks.FOLLOWING_NOTE))
    joined = "\n".join(all_texts(message))
    assert f"<!date^{int(when.timestamp())}^" in joined
    assert "|2026-03-20 18:35 UTC>" in joined
    assert "|2026-03-20 18:36 UTC>" in joined
    assert blocks.FOLLOWING_NOTE in joined


def test_stopped_note_says_minutes() -> None:
    assert "after 60 min" in blocks.stopped_note(3600)
    assert "after 1 min" in blocks.stopped_note(5)


# -- `/task status` and `/task mine` -------------------------------------------------------


def test_parse_task_id() -> None:
    task_id = "tsk_" + "a" * 32
    assert parse_task_id(f" `{task_id}` ") == (task_id, None)
    assert parse_task_id("")[0] is None
    none, problem = parse_task_id("<!channel>")
    assert none is None and problem is not None
    assert "<!channel>" not in problem


def tasks(count: int) -> list[Task]:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    return [
        Task(id=f"tsk_{i:032x}", status="not_started", sync_status="synced", notes=f"Task {i}",
             note_id=NOTE, created_at=start + timedelta(hours=i))
        for i in range(count)
    ]


def test_newest_first() -> None:
    ordered = blocks.newest_first(tasks(3))
    assert [t.notes for t in ordered] == ["Task 2", "Task 1", "Task 0"]


def test_mine_page_empty() -> None:
    page = mine_page([], offset=0, headline="Refreshed `tsk_1`.")
    assert "No open MaxCare tasks" in page["text"]
    assert page["blocks"][0]["type"] == "context"


def test_mine_page_rows_and_more() -> None:
    listed = tasks(45)
    page = mine_page(listed, offset=20)
    assert "21–40 of 45" in page["text"]
    rows = [b for b in page["blocks"] if "accessory" in b]
    assert len(rows) == blocks.MINE_PAGE_SIZE
    assert rows[0]["accessory"]["value"] == f"{listed[20].id}:20"
    more = page["blocks"][-1]["elements"][0]
    assert (more["action_id"], more["value"]) == (ids.MINE_MORE_ACTION, "40")
    last = mine_page(listed, offset=99)
    assert "41–45 of 45" in last["text"]
    assert last["blocks"][-1]["type"] == "section"


def test_mine_page_escapes_notes() -> None:
    page = mine_page([Task(id="tsk_1", notes="<!channel> & <@U1>")], offset=0)
    for block in page["blocks"]:
        assert "<!channel>" not in block["text"]["text"]
        assert "<@U1>" not in block["text"]["text"]
