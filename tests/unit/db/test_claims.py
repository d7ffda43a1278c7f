"""Claims with leases: two processes (two connections) on one database never work the same row."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from bot.db.store import Store
from tests.unit.db.conftest import Backend, Clock
from tests.unit.db.test_store import submission


@pytest.fixture
def pair(backend: Backend, clock: Clock) -> tuple[Store, Store]:
    """Two stores on one database, as two processes would have."""
    return backend.open(clock=clock), backend.open(clock=clock)


def test_only_one_process_wins_a_row(pair: tuple[Store, Store]) -> None:
    a, b = pair
    a.add_submission(submission("V1"))
    assert a.claim_submission("V1", "proc-a", 30) is not None
    assert b.claim_submission("V1", "proc-b", 30) is None
    assert a.claim_submission("V1", "proc-a", 30) is not None  # renewing one's own claim


def test_an_expired_lease_is_taken_by_another(pair: tuple[Store, Store], clock: Clock) -> None:
    a, b = pair
    a.add_submission(submission("V1"))
    a.claim_submission("V1", "proc-a", 30)
    assert b.claim_due_submissions("proc-b", 30) == []
    clock.tick(31)
    assert b.claim_due_submissions("proc-b", 30) == ["V1"]
    assert a.claim_submission("V1", "proc-a", 30) is None  # the first process lost it


def test_renewal_keeps_a_claim(pair: tuple[Store, Store], clock: Clock) -> None:
    a, b = pair
    a.add_submission(submission("V1"))
    a.claim_submission("V1", "proc-a", 30)
    clock.tick(20)
    assert a.renew_claims("proc-a", ["V1"], 30) == 1
    clock.tick(20)
    assert b.claim_due_submissions("proc-b", 30) == []
    assert b.renew_claims("proc-b", ["V1"], 30) == 0  # not its claim


def test_a_released_row_waits_until_not_before(pair: tuple[Store, Store], clock: Clock) -> None:
    a, b = pair
    a.add_submission(submission("V1"))
    a.claim_submission("V1", "proc-a", 30)
    a.release_submission("V1", "proc-a", not_before=clock() + timedelta(seconds=60))
    clock.tick(59)
    assert b.claim_due_submissions("proc-b", 30) == []
    clock.tick(2)
    assert b.claim_due_submissions("proc-b", 30) == ["V1"]


def test_sweeps_take_open_rows_oldest_first_and_no_finished_ones(
    pair: tuple[Store, Store], clock: Clock
) -> None:
    a, _ = pair
    states = [("V1", "pending"), ("V2", "failed"), ("V3", "unknown"), ("V4", "created")]
    for view_id, state in states:
        a.add_submission(submission(view_id, state=state))
        clock.tick(1)
    a.add_submission(submission("V5", state="created", confirmed_at="2026-03-20T18:00:00+00:00"))
    assert a.claim_due_submissions("proc-a", 30) == ["V1", "V3", "V4"]
    assert a.claim_due_submissions("proc-b", 30) == []


def test_follow_checks_are_claimed_too(pair: tuple[Store, Store], clock: Clock) -> None:
    a, b = pair
    a.record_task(task_id="tsk_1", view_id="V1", note_id="n", created_by="U")
    a.update_task("tsk_1", follow_until="2099-01-01T00:00:00+00:00",
                  next_check_at=clock().isoformat())
    assert [r["task_id"] for r in a.claim_due_follows("proc-a", 30)] == ["tsk_1"]
    assert b.claim_due_follows("proc-b", 30) == []
    clock.tick(31)
    assert [r["task_id"] for r in b.claim_due_follows("proc-b", 30)] == ["tsk_1"]


def test_two_processes_starting_on_a_new_database_migrate_once(backend: Backend) -> None:
    stores: list[Store] = []
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def open_store() -> None:
        start.wait()
        try:
            stores.append(backend.open())
        except BaseException as exc:  # collected: the test fails below naming it
            errors.append(exc)

    threads = [threading.Thread(target=open_store) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert {s.schema_version() for s in stores} == {backend.latest}


def test_released_follow_claims_are_free_at_once(pair: tuple[Store, Store], clock: Clock) -> None:
    a, b = pair
    a.record_task(task_id="tsk_1", view_id="V1", note_id="n", created_by="U")
    a.update_task("tsk_1", follow_until="2099-01-01T00:00:00+00:00",
                  next_check_at=clock().isoformat())
    a.claim_due_follows("proc-a", 120)
    assert a.release_follows("proc-a") == 1
    assert [r["task_id"] for r in b.claim_due_follows("proc-b", 30)] == ["tsk_1"]


def test_a_job_is_claimed_by_one_process_per_period(
    pair: tuple[Store, Store], clock: Clock
) -> None:
    a, b = pair
    assert a.claim_job("purge_drafts", 3600, "proc-a")
    assert not b.claim_job("purge_drafts", 3600, "proc-b")  # another process ran it just now
    assert not a.claim_job("purge_drafts", 3600, "proc-a")
    assert b.claim_job("other_job", 3600, "proc-b")  # jobs are counted apart
    clock.tick(3599)
    assert not b.claim_job("purge_drafts", 3600, "proc-b")
    clock.tick(1)
    assert b.claim_job("purge_drafts", 3600, "proc-b")  # due again: whoever asks first
    assert not a.claim_job("purge_drafts", 3600, "proc-a")


def test_racing_processes_claim_a_job_once(backend: Backend, clock: Clock) -> None:
    backend.open(clock=clock).migrate()
    won: list[bool] = []
    start = threading.Barrier(4)

    def race(name: str) -> None:
        store = backend.open(clock=clock)  # in its thread: a SQLite connection stays in one
        start.wait()
        won.append(store.claim_job("purge_drafts", 3600, name))

    threads = [threading.Thread(target=race, args=(f"p{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(won) == [False, False, False, True]
