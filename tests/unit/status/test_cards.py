"""The one card assembly: assignee names and mentions, and what comes from the submission."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.db.store import SQLiteStore, Submission
from bot.maxcare import Task
from bot.status.cards import TaskCards
from tests.support.ids import NOTE, PRV_A, PRV_B, PRV_C, TASK


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    db = SQLiteStore(tmp_path / "bot.db")
    yield db
    db.close()


def submission(**changes: Any) -> Submission:
    data: dict[str, Any] = {
        "view_id": "V1",
        "team_id": "T1",
        "user_id": "UNURSE",
        "source": "command",
        "note_id": NOTE,
        "notes": "Review the plan",
        "assignee_user_ids": ["UDOC"],
        "provider_id": PRV_C,
        "assignee_ids": [PRV_A],
        "channel_id": "C1",
    }
    data.update(changes)
    return Submission(**data)


def provider(pid: str, first: str, last: str) -> dict[str, Any]:
    return {"id": pid, "displayFirstName": first, "displayLastName": last}


def task(*providers: dict[str, Any], **changes: Any) -> Task:
    data: dict[str, Any] = {"id": TASK, "status": "not_started", "syncStatus": "synced",
                            "notes": "Review the plan", "noteId": NOTE,
                            "assignedProviders": list(providers)}
    data.update(changes)
    return Task.model_validate(data)


def assigned(card: dict[str, Any]) -> str:
    return next(f["text"] for b in card["blocks"] for f in b.get("fields", [])
                if f["text"].startswith("*Assigned to*"))


def test_submission_pairing_comes_before_the_links_table(store: SQLiteStore) -> None:
    # Two people are linked to PRV_A; the card names the one the creator picked.
    store.set_link("UAAA", PRV_A, actor="UADMIN")
    store.set_link("UDOC", PRV_A, actor="UADMIN")
    cards = TaskCards(store=store)
    people = cards.assignees(task(provider(PRV_A, "Dr. Ann", "Lee")), submission())
    assert people == [("Dr. Ann Lee", "UDOC")]
    assert cards.assignees(task(provider(PRV_A, "Dr. Ann", "Lee")), None) == [
        ("Dr. Ann Lee", "UAAA")
    ]


def test_links_table_names_the_rest(store: SQLiteStore) -> None:
    store.set_link("UBEN", PRV_B, actor="UADMIN")
    cards = TaskCards(store=store)
    live = task(provider(PRV_A, "Dr. Ann", "Lee"), provider(PRV_B, "Ben", "Ortiz"),
                provider(PRV_C, "Cy", "Unlinked"))
    assert cards.assignees(live, submission()) == [
        ("Dr. Ann Lee", "UDOC"), ("Ben Ortiz", "UBEN"), ("Cy Unlinked", None)
    ]


def test_maxcare_listing_none_falls_back_to_the_submission(store: SQLiteStore) -> None:
    store.set_link("UDOC", PRV_A, actor="UADMIN", provider_name="Dr. Ann Lee (cached)")
    cards = TaskCards(store=store)
    sub = submission(assignee_user_ids=["UDOC", "UBEN"], assignee_ids=[PRV_A, PRV_B])
    assert cards.assignees(task(), sub) == [("Dr. Ann Lee (cached)", "UDOC"), (PRV_B, "UBEN")]
    assert cards.assignees(task(), None) == []


def test_first_card_and_refresh_agree(store: SQLiteStore) -> None:
    # The first card gets the submission in hand; later ones find it through the task row.
    store.set_link("UBEN", PRV_B, actor="UADMIN")
    sub = submission()
    store.add_submission(sub)
    store.record_task(task_id=TASK, view_id="V1", note_id=NOTE, created_by="UNURSE")
    cards = TaskCards(store=store)
    live = task(provider(PRV_A, "Dr. Ann", "Lee"), provider(PRV_B, "Ben", "Ortiz"))
    first = cards.render(live, submission=sub)
    later = cards.render(live)
    assert first == later
    assert "Dr. Ann Lee (<@UDOC>), Ben Ortiz (<@UBEN>)" in assigned(first)
    assert "created by <@UNURSE>" in first["blocks"][0]["text"]["text"]


def test_notes_from_the_submission_when_maxcare_sends_none(store: SQLiteStore) -> None:
    cards = TaskCards(store=store)
    card = cards.render(task(provider(PRV_A, "A", "B"), notes=None, noteId=None),
                        submission=submission(notes="Typed notes"))
    assert card["blocks"][1]["text"]["text"] == "Typed notes"
    assert NOTE in card["blocks"][2]["fields"][3]["text"]
    assert "created by <@UNURSE>" in card["blocks"][0]["text"]["text"]


def test_a_task_made_elsewhere_has_no_creator(store: SQLiteStore) -> None:
    card = TaskCards(store=store).render(task(provider(PRV_A, "A", "B"), noteId=None))
    assert card["blocks"][0]["text"]["text"] == ":clipboard: *MaxCare task*"
    assert "`—`" in card["blocks"][2]["fields"][3]["text"]


def test_invite_hint_and_note_reach_the_card(store: SQLiteStore) -> None:
    card = TaskCards(store=store).render(
        task(provider(PRV_A, "A", "B")), note="Following", invite_hint="Invite me"
    )
    contexts = [b["elements"][0]["text"] for b in card["blocks"] if b["type"] == "context"]
    assert "Following" in contexts
    assert contexts[-1] == "Invite me"
