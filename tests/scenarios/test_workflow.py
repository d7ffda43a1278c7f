"""The Workflow Builder step: signed function_executed events in, effects seen in the fakes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot import ids
from tests.support import payloads
from tests.support.fakes import Call
from tests.support.harness import DOCTOR, NURSE, Harness
from tests.support.ids import NOTE
from tests.support.messages import assignment_dms, posts

NOTES = "Review the missing plan for Impression #3"
WARD = "C0WARD3"
STRANGER = "UPAT"


@pytest.fixture
def h(harness: Harness) -> Harness:
    """The nurse and the doctor linked; a stranger in the workspace, not linked."""
    harness.link(NURSE, harness.nurse_provider)
    harness.link(DOCTOR, harness.doctor_provider)
    harness.slack.add_user(STRANGER, name="pstranger", real_name="Pat Stranger")
    harness.maxcare.add_note(NOTE)
    return harness


def inputs(**changes: Any) -> dict[str, Any]:
    """The step's inputs as a workflow maps them: the nurse asks the doctor, card in #ward-3."""
    values: dict[str, Any] = {
        ids.STEP_NOTE_ID: NOTE,
        ids.STEP_ASSIGNEES: [DOCTOR],
        ids.STEP_NOTES: NOTES,
        ids.STEP_CREATOR: NURSE,
        ids.STEP_CHANNEL: WARD,
    }
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


async def run_step(h: Harness, execution_id: str, **changes: Any) -> None:
    """A workflow runs the step; Slack's event is answered at once."""
    signed = payloads.function_executed(inputs(**changes), execution_id=execution_id)
    resp = await h.post(signed)
    assert resp.status_code == 200, resp.text
    await h.settle()


def completion(h: Harness, execution_id: str) -> Call:
    """The one completion of an execution (success or error)."""
    done = h.slack.completions(execution_id)
    assert len(done) == 1, done
    return done[0]


# -- the step end to end ----------------------------------------------------------------------


@pytest.mark.both_databases
async def test_a_run_creates_the_task_completes_the_step_and_posts_the_card(h: Harness) -> None:
    await run_step(h, "FxRUN0001")

    (post,) = h.maxcare.requests("POST", "/tasks")
    assert post.json == {
        "noteId": NOTE,
        "providerId": h.nurse_provider["id"],  # the creator input, through the links table
        "notes": NOTES,
        "assigneeIds": [h.doctor_provider["id"]],
    }
    (task,) = h.maxcare.all_tasks()
    done = completion(h, "FxRUN0001")
    assert done.method == "functions.completeSuccess"
    assert done.params["outputs"] == {
        "task_id": task["id"],
        "status": "not_started",
        "sync_status": "synced",
    }
    (card,) = [c for c in posts(h.slack) if c.params["channel"] == WARD]
    assert task["id"] in card.params["text"]
    assert f"created by <@{NURSE}>" in json.dumps(card.params["blocks"])
    sub = h.bot.store.get_submission("FxRUN0001")
    assert sub is not None and sub.source == "workflow"
    assert sub.completed_at is not None and sub.confirmed_at is not None
    assert sub.notes == ""  # the EHR holds the text now
    # The workflow heard before the card went out: its next steps need not wait for Slack.
    methods = [c.method for c in h.slack.calls()]
    assert methods.index("functions.completeSuccess") < methods.index("chat.postMessage")


async def test_without_a_channel_the_card_goes_to_the_creator(h: Harness) -> None:
    await run_step(h, "FxRUN0002", channel=None)

    (task,) = h.maxcare.all_tasks()
    (card,) = posts(h.slack)
    assert card.params["channel"] == f"D{NURSE}"
    assert task["id"] in card.params["text"]
    assert completion(h, "FxRUN0002").method == "functions.completeSuccess"


@pytest.mark.both_databases
async def test_the_same_run_delivered_twice_while_maxcare_is_slow_makes_one_task(
    h: Harness,
) -> None:
    h.maxcare.delay_next("POST", "/tasks", 1.0)
    signed = payloads.function_executed(inputs(), execution_id="FxSLOW0001")
    first = await h.post(signed)
    again = await h.post(payloads.retried(signed, 1))  # Slack retrying, the POST in flight
    assert (first.status_code, again.status_code) == (200, 200)
    await h.settle()

    assert len(h.maxcare.requests("POST", "/tasks")) == 1
    assert len(h.maxcare.all_tasks()) == 1
    assert completion(h, "FxSLOW0001").method == "functions.completeSuccess"
    assert len([c for c in posts(h.slack) if c.params["channel"] == WARD]) == 1


@pytest.mark.both_databases
async def test_a_restart_never_completes_the_step_twice(h: Harness) -> None:
    h.slack.fail("functions.completeSuccess", "internal_error")  # Slack hiccups once
    await run_step(h, "FxRUN0003")
    told = h.slack.completions("FxRUN0003")
    assert [c.method for c in told] == ["functions.completeSuccess"] * 2  # tried again once
    # The process dies after telling the workflow but before recording the card.
    h.bot.store.update_submission("FxRUN0003", confirmed_at=None, claimed_by=None,
                                  lease_until=None)

    assert h.bot.outbox.resume() == 1
    await h.settle()

    assert len(h.maxcare.all_tasks()) == 1
    assert h.slack.completions("FxRUN0003") == told  # recorded: not told again
    sub = h.bot.store.get_submission("FxRUN0003")
    assert sub is not None and sub.confirmed_at is not None


async def test_slack_saying_the_step_already_ended_is_the_end_of_it(h: Harness) -> None:
    h.slack.fail("functions.completeSuccess", "execution_not_in_running_state")
    await run_step(h, "FxRUN0004")

    assert len(h.slack.completions("FxRUN0004")) == 1  # refused for good: not asked again
    sub = h.bot.store.get_submission("FxRUN0004")
    assert sub is not None and sub.completed_at is not None and sub.confirmed_at is not None
    assert len(posts(h.slack)) == 1  # the card still goes out


# -- refusals: the workflow's author is told why -----------------------------------------------


@pytest.mark.both_databases
async def test_an_unlinked_creator_ends_the_step_with_an_error_naming_them(h: Harness) -> None:
    await run_step(h, "FxNOLINK01", creator=STRANGER)

    done = completion(h, "FxNOLINK01")
    assert done.method == "functions.completeError"
    assert "pstranger" in done.params["error"]  # Slack's name for them
    assert "not linked to a MaxCare provider" in done.params["error"]
    assert h.maxcare.requests("POST", "/tasks") == []
    assert posts(h.slack) == []
    sub = h.bot.store.get_submission("FxNOLINK01")
    assert sub is not None and sub.state == "failed" and sub.completed_at is not None
    assert sub.notes == ""


@pytest.mark.parametrize(
    ("changes", "said"),
    [
        ({ids.STEP_NOTE_ID: "note 42"}, 'The `note_id` input "note 42" is not a MaxCare note ID'),
        ({ids.STEP_NOTE_ID: ""}, "The `note_id` input is empty"),
        ({ids.STEP_NOTES: "   "}, "The `notes` input is empty"),
        ({ids.STEP_ASSIGNEES: []}, "names nobody"),
        ({ids.STEP_ASSIGNEES: [DOCTOR, STRANGER]}, "Not linked to MaxCare yet: pstranger"),
        ({ids.STEP_ASSIGNEES: ["UBOT"]}, "Bots cannot be assigned tasks"),
        ({ids.STEP_CREATOR: "UBOT"}, "is a bot"),
        ({ids.STEP_CREATOR: ""}, "The `creator` input must be a person"),
    ],
    ids=["bad note", "no note", "blank text", "nobody", "unlinked assignee", "bot assignee",
         "bot creator", "no creator"],
)
async def test_the_forms_rules_apply_and_name_the_input(
    h: Harness, changes: dict[str, Any], said: str
) -> None:
    await run_step(h, "FxRULES001", **changes)

    done = completion(h, "FxRULES001")
    assert done.method == "functions.completeError"
    assert done.params["error"].startswith("MaxCare task not created.")
    assert said in done.params["error"]
    assert h.maxcare.requests("POST", "/tasks") == []


async def test_a_dashed_note_uuid_is_accepted(h: Harness) -> None:
    await run_step(h, "FxUUID0001", note_id="3CC73CB6-9C59-403C-A910-8AF6C5693B25")

    (post,) = h.maxcare.requests("POST", "/tasks")
    assert post.json["noteId"] == NOTE


async def test_maxcare_refusing_the_task_ends_the_step_with_its_message(h: Harness) -> None:
    refusal = {"code": "not_found", "message": "Note not found", "trace_id": "trace-404"}
    h.maxcare.fail_next("POST", "/tasks", 404, body=refusal)
    await run_step(h, "FxREFUSE01")

    done = completion(h, "FxREFUSE01")
    assert done.method == "functions.completeError"
    assert "Note not found" in done.params["error"]
    assert "trace-404" in done.params["error"]
    assert posts(h.slack) == []
    assert h.slack.calls("views.update") == []  # no modal to give a draft back in
    sub = h.bot.store.get_submission("FxREFUSE01")
    assert sub is not None and sub.state == "failed" and sub.notes == ""


async def test_a_refused_run_delivered_again_is_not_told_twice(h: Harness) -> None:
    signed = payloads.function_executed(inputs(creator=STRANGER), execution_id="FxAGAIN001")
    assert (await h.post(signed)).status_code == 200
    await h.settle()
    assert (await h.post(payloads.retried(signed, 1))).status_code == 200
    await h.settle()

    assert len(h.slack.completions("FxAGAIN001")) == 1


async def test_a_step_the_app_does_not_have_is_not_answered(h: Harness) -> None:
    signed = payloads.function_executed(inputs(), execution_id="FxOTHER001", callback_id="other")
    await h.post(signed)  # Bolt answers 404: no listener for it
    await h.post(payloads.function_executed(inputs(creator=STRANGER), execution_id="FxMARK0001"))
    await h.settle()
    assert len(h.slack.completions("FxMARK0001")) == 1  # the marker after it was answered

    assert h.slack.completions("FxOTHER001") == []
    assert h.maxcare.requests("POST", "/tasks") == []
    assert h.bot.store.get_submission("FxOTHER001") is None


# -- the assignees hear of it ------------------------------------------------------------------


async def test_assignees_but_not_the_creator_get_a_dm(h: Harness) -> None:
    await run_step(h, "FxDM000001", assignees=[DOCTOR, NURSE])

    (task,) = h.maxcare.all_tasks()
    (dm,) = assignment_dms(h.slack)
    assert dm.params["channel"] == f"D{DOCTOR}"
    shown = json.dumps(dm.params["blocks"])
    assert f"<@{NURSE}> assigned you a MaxCare task" in shown
    assert NOTES in shown and NOTE in shown and task["id"] in shown
    buttons = [e for b in dm.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["action_id"], b["value"]) for b in buttons] == [
        (ids.REFRESH_TASK_ACTION, task["id"])
    ]
