"""Reconciliation against a stricter MaxCare: text it tidies, and a POST delayed then dropped."""

from __future__ import annotations

from tests.support.harness import DOCTOR, NURSE, Harness, MakeHarness
from tests.support.submissions import CHANNEL, new_view_id, submission

# What a person may type: surrounding blanks and Windows line endings, which MaxCare may tidy.
UNTIDY = "  Review the plan\r\nfor Impression #3 \r\n"


def _link(h: Harness) -> None:
    h.link(NURSE, h.nurse_provider)
    h.link(DOCTOR, h.doctor_provider)


async def _submit(h: Harness, text: str) -> tuple[str, str]:
    view_id, note = new_view_id(), h.maxcare.add_note()["id"]
    resp = await h.post(submission(view_id=view_id, note=note, notes=text, assignees=[DOCTOR]))
    assert resp.status_code == 200 and resp.json()["response_action"] == "update"
    return view_id, note


def _one_task_one_card(h: Harness, view_id: str) -> dict[str, object]:
    tasks = h.maxcare.all_tasks()
    assert len(tasks) == 1, tasks
    cards = [c for c in h.slack.calls("chat.postMessage") if c.params.get("channel") == CHANNEL]
    assert len(cards) == 1, cards
    sub = h.bot.store.get_submission(view_id)
    assert sub is not None and sub.task_id == tasks[0]["id"]
    return tasks[0]


async def test_task_with_tidied_notes_is_adopted_after_an_ambiguous_failure(
    harness: Harness,
) -> None:
    _link(harness)
    harness.maxcare.normalise_notes = True
    harness.maxcare.fail_next("POST", "/tasks", 502, after_apply=True)  # created, then failed
    view_id, note = await _submit(harness, UNTIDY)
    await harness.settle()
    task = _one_task_one_card(harness, view_id)
    assert task["notes"] == "Review the plan\nfor Impression #3"  # stored tidied, not as sent
    assert len(harness.maxcare.requests("POST", "/tasks")) == 1
    assert harness.maxcare.requests("GET", "/tasks")[0].query["noteId"] == note


async def test_a_post_delayed_then_not_applied_is_posted_again_exactly_once(
    make_harness: MakeHarness,
) -> None:
    harness = await make_harness(maxcare_timeout_seconds=0.3)
    _link(harness)
    harness.maxcare.stall_next("POST", "/tasks", 5.0)  # past the timeout, and never carried out
    view_id, note = await _submit(harness, "Review the plan")
    await harness.settle()
    _one_task_one_card(harness, view_id)
    seen = [(r.method, r.path, r.query.get("noteId")) for r in harness.maxcare.requests()]
    posts = [i for i, r in enumerate(seen) if r[:2] == ("POST", "/tasks")]
    assert len(posts) == 2, seen
    lookup = seen.index(("GET", "/tasks", note))
    assert posts[0] < lookup < posts[1]  # looked, found nothing, posted once more
