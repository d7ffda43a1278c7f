"""The task watch's schedule and claims, and each person's assignment-DM setting."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.db.store import Store
from tests.unit.db.conftest import Clock

TASK = "tsk_" + "a" * 32


def watched(store: Store, clock: Clock, task_id: str = TASK) -> None:
    store.record_task(task_id=task_id, view_id="V1", note_id="nte_" + "b" * 32,
                      status="not_started", created_by="UNURSE")
    store.watch_task(task_id, next_at=clock.now + timedelta(seconds=600), status="not_started")


def test_a_watch_comes_due_and_only_one_process_claims_it(tmp_path: Path, clock: Clock) -> None:
    a, b = Store(tmp_path / "bot.db", clock=clock), Store(tmp_path / "bot.db", clock=clock)
    try:
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
    finally:
        a.close()
        b.close()


def test_old_watches_end(tmp_path: Path, clock: Clock) -> None:
    store = Store(tmp_path / "bot.db", clock=clock)
    watched(store, clock)
    clock.tick(3600)
    assert store.end_watches(clock.now - timedelta(days=14)) == 0
    assert store.next_watch_at() is not None
    assert store.end_watches(clock.now) == 1  # created before now
    assert store.next_watch_at() is None
    assert store.claim_due_watches("p", 120, created_since=clock.now - timedelta(days=99)) == []


def test_the_assignment_dm_setting_is_on_until_turned_off(tmp_path: Path, clock: Clock) -> None:
    store = Store(tmp_path / "bot.db", clock=clock)
    assert store.notify_assigned(["UDOCTOR", "UNURSE"]) == {"UDOCTOR": True, "UNURSE": True}
    store.set_notify_assigned("UDOCTOR", False)
    assert store.notify_assigned(["UDOCTOR", "UNURSE"]) == {"UDOCTOR": False, "UNURSE": True}
    store.set_notify_assigned("UDOCTOR", True)
    assert store.notify_assigned(["UDOCTOR"]) == {"UDOCTOR": True}
    assert store.notify_assigned([]) == {}
