"""The task watch's schedule and claims, and each person's assignment-DM setting (both backends)."""

from __future__ import annotations

from datetime import timedelta

from bot.db.interface import Store
from tests.support.ids import TASK
from tests.unit.db.conftest import Backend, Clock
from tests.unit.db.test_store import submission


def watched(store: Store, clock: Clock, task_id: str = TASK) -> None:
    store.record_task(task_id=task_id, view_id="V1", note_id="nte_" + "b" * 32,
                      status="not_started", created_by="UNURSE")
    store.watch_task(task_id, next_at=clock.now + timedelta(seconds=600), status="not_started")


def test_a_watch_comes_due_and_only_one_process_claims_it(backend: Backend, clock: Clock) -> None:
    a, b = backend.open(clock=clock), backend.open(clock=clock)
    watched(a, clock)
    since = clock.now - timedelta(days=14)
    assert a.claim_due_watches("proc-a", 120, created_since=since) == []  # not yet due
    clock.tick(601)
    (row,) = a.claim_due_watches("proc-a", 120, created_since=since)
    assert row["task_id"] == TASK and row["watch_status"] == "not_started"
    assert b.claim_due_watches("proc-b", 120, created_since=since) == []
    assert a.release_watches("proc-a") == 1
    assert [r["task_id"] for r in b.claim_due_watches("proc-b", 120, created_since=since)]
    clock.tick(121)  # a dead process's claim runs out
    assert a.claim_due_watches("proc-a", 120, created_since=since)


def test_old_watches_end(store: Store, clock: Clock) -> None:
    watched(store, clock)
    clock.tick(3600)
    assert store.end_watches(clock.now - timedelta(days=14)) == 0
    assert store.next_watch_at() is not None
    assert store.end_watches(clock.now) == 1  # created before now
    assert store.next_watch_at() is None
    assert store.claim_due_watches("p", 120, created_since=clock.now - timedelta(days=99)) == []


def test_the_assignment_dm_setting_is_on_until_turned_off(store: Store) -> None:
    assert store.notify_assigned(["UDOCTOR", "UNURSE"]) == {"UDOCTOR": True, "UNURSE": True}
    store.set_notify_assigned("UDOCTOR", False)
    assert store.notify_assigned(["UDOCTOR", "UNURSE"]) == {"UDOCTOR": False, "UNURSE": True}
    store.set_notify_assigned("UDOCTOR", True)
    assert store.notify_assigned(["UDOCTOR"]) == {"UDOCTOR": True}
    assert store.notify_assigned([]) == {}


def test_a_workflow_runs_completion_is_kept(store: Store) -> None:
    sub = submission("FxRUN00001")
    sub.source, sub.state = "workflow", "refused"
    store.add_submission(sub)
    assert [s.view_id for s in store.open_submissions()] == ["FxRUN00001"]  # Slack must hear
    store.update_submission("FxRUN00001", state="failed", completed_at="2026-03-20T18:00:00")
    stored = store.get_submission("FxRUN00001")
    assert stored is not None and stored.completed_at == "2026-03-20T18:00:00"
    assert store.open_submissions() == []
