"""The step's inputs read leniently, and the form's rules worded for a workflow's author."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.db.store import STALE_SLACK, SQLiteStore
from bot.workflow import views
from bot.workflow.service import StepInputs, WorkflowService
from tests.support.ids import NOTE, PRV_A


def test_inputs_are_read_leniently() -> None:
    event = {"inputs": {"note_id": 42, "assignees": "UDOCTOR", "notes": None,
                        "creator": ["UNURSE"], "channel": "not a channel", "extra": "x"}}
    read = StepInputs.from_event(event)
    assert read == StepInputs(assignees=["UDOCTOR"])
    assert StepInputs.from_event({"inputs": "junk"}) == StepInputs()
    assert StepInputs.from_event({}).channel is None
    full = StepInputs.from_event({"inputs": {"assignees": [" UA ", "", 7], "channel": "C0X1"}})
    assert (full.assignees, full.channel) == (["UA"], "C0X1")


@pytest.fixture
def service(tmp_path: Path) -> WorkflowService:
    store = SQLiteStore(tmp_path / "bot.db")
    store.set_link("UNURSE", PRV_A, actor="test")
    store.set_link("UDOCTOR", PRV_A, actor="test")
    store.set_link("UGONE", PRV_A, actor="test")
    store.mark_stale("UGONE", STALE_SLACK)

    async def names(user_ids: list[str]) -> list[str]:
        return [f"name-of-{u}" for u in user_ids]

    return WorkflowService(store=store, slack=None,  # type: ignore[arg-type]
                           enqueue=lambda key: None, bot_user_id="UBOT", user_names=names)


async def problems_of(service: WorkflowService, **values: Any) -> list[str]:
    given = {"note_id": NOTE, "assignees": ["UDOCTOR"], "notes": "x", "creator": "UNURSE",
             **values}
    inputs = StepInputs.model_validate(given)
    links = service.store.get_links([inputs.creator, *inputs.assignees])
    found, _ = await service.problems(inputs, inputs.assignees, links)
    return found


async def test_a_good_run_has_no_problems(service: WorkflowService) -> None:
    assert await problems_of(service) == []


async def test_every_problem_is_named_once(service: WorkflowService) -> None:
    found = await problems_of(service, creator="UNOBODY", note_id="", notes="",
                              assignees=["UDOCTOR", "USTRANGER", "UGONE"])
    assert found == [
        views.creator_not_linked("name-of-UNOBODY"),
        views.note_missing(),
        views.notes_missing(),
        views.assignees_not_linked(["name-of-USTRANGER"]),
        views.assignees_stale(["name-of-UGONE has left Slack"]),
    ]


async def test_a_stale_creator_and_bots(service: WorkflowService) -> None:
    assert await problems_of(service, creator="UGONE") == [
        views.creator_stale("name-of-UGONE", "has left Slack")
    ]
    assert await problems_of(service, assignees=["USLACKBOT"]) == [views.bots_assigned()]
    assert await problems_of(service, assignees=["not-a-user"]) == [
        views.not_people(["not-a-user"])
    ]
    assert await problems_of(service, assignees=[f"U{i:05}" for i in range(21)]) == [
        views.too_many_assignees(21, 20)
    ]


def test_names_read_as_a_sentence() -> None:
    assert views.names([]) == ""
    assert views.names(["A"]) == "A"
    assert views.names(["A", "B", "C"]) == "A, B and C"
    assert views.refused(["One.", "Two."]) == "MaxCare task not created. One. Two."
