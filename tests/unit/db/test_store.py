"""Both stores on real databases: links and audit, outbox, tasks; SQLite's file and schema."""

from __future__ import annotations

import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.db.schema import MIGRATIONS
from bot.db.store import STALE_PROVIDER, STALE_SLACK, Link, SQLiteStore, Store, Submission
from tests.support.ids import NOTE, PRV_A, PRV_B, PRV_C
from tests.unit.db.conftest import Backend, Clock


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "bot.db"


@pytest.fixture
def sqlite_store(db_path: Path, clock: Clock) -> Iterator[SQLiteStore]:
    """The SQLite store alone, for what only a file has (WAL, permissions, PRAGMAs)."""
    s = SQLiteStore(db_path, clock=clock)
    yield s
    s.close()


def submission(view_id: str = "V1", **changes: object) -> Submission:
    data: dict[str, object] = {
        "view_id": view_id,
        "team_id": "T0TEAM",
        "user_id": "UNURSE",
        "source": "command",
        "note_id": NOTE,
        "notes": "Review missing plan",
        "assignee_user_ids": ["UDOCTOR"],
        "provider_id": PRV_A,
        "assignee_ids": [PRV_B],
        "channel_id": "C0GENERAL",
    }
    data.update(changes)
    return Submission(**data)  # type: ignore[arg-type]


# -- the file and the schema -----------------------------------------------------------


def test_new_database_is_migrated_to_latest_version(
    sqlite_store: SQLiteStore, db_path: Path
) -> None:
    store = sqlite_store
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    tables = set(store.db.table_names())
    assert {"links", "link_events", "submissions", "tasks"} <= tables
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    finally:
        raw.close()


def test_reopening_keeps_data_and_does_not_migrate_again(backend: Backend, clock: Clock) -> None:
    first = backend.open(clock=clock)
    first.set_link("UNURSE", PRV_A, actor="test")
    first.add_submission(submission())
    first.close()
    second = backend.open(clock=clock)
    assert second.get_link("UNURSE") is not None
    assert second.get_submission("V1") is not None
    assert len(second.link_events()) == 1
    assert second.schema_version() == backend.latest


def test_only_message_shortcut_submissions_are_indexed_by_message(
    sqlite_store: SQLiteStore,
) -> None:
    store = sqlite_store
    store.add_submission(submission())
    store.add_submission(submission(view_id="V2", message_key="C0GENERAL:1700000000.000100"))
    indexed = store.db.execute(
        "SELECT count(*) FROM submissions INDEXED BY idx_submissions_message_key "
        "WHERE message_key = ?",
        ["C0GENERAL:1700000000.000100"],
    ).fetchone()[0]
    assert indexed == 1
    plan = store.db.execute(
        "EXPLAIN QUERY PLAN SELECT task_id FROM submissions WHERE message_key = ? "
        "AND task_id IS NOT NULL",
        ["x"],
    ).fetchall()
    assert "idx_submissions_message_key" in str(plan)
    sql = store.db.execute(
        "SELECT sql FROM sqlite_master WHERE name = 'idx_submissions_message_key'"
    ).fetchone()[0]
    assert "WHERE message_key IS NOT NULL" in sql


def test_database_file_is_private_and_parent_created(
    sqlite_store: SQLiteStore, db_path: Path
) -> None:
    store = sqlite_store
    store.set_link("UNURSE", PRV_A, actor="test")  # make SQLite write (and create the WAL)
    assert db_path.parent.is_dir()
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    for extra in (Path(str(db_path) + "-wal"), Path(str(db_path) + "-shm")):
        if extra.exists():
            assert stat.S_IMODE(extra.stat().st_mode) & 0o077 == 0, extra


def test_wal_mode_is_on(sqlite_store: SQLiteStore, db_path: Path) -> None:
    store = sqlite_store
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def test_ping(store: Store) -> None:
    assert store.ping() is True
    store.close()
    assert store.ping() is False


# -- links -----------------------------------------------------------------------------


def test_link_crud_and_audit(store: Store, clock: Clock) -> None:
    assert store.get_link("UNURSE") is None
    old = store.set_link("UNURSE", PRV_A, actor="UADMIN", provider_name="Nina", team_id="T1")
    assert old is None
    link = store.get_link("UNURSE")
    assert link == Link("UNURSE", PRV_A, "Nina", "T1", "UADMIN", clock.now.isoformat())

    clock.tick()
    old = store.set_link("UNURSE", PRV_B, actor="cli:root")
    assert old is not None and old.provider_id == PRV_A
    relinked = store.get_link("UNURSE")
    assert relinked is not None
    assert (relinked.provider_id, relinked.linked_by) == (PRV_B, "cli:root")

    clock.tick()
    removed = store.remove_link("UNURSE", actor="UADMIN2")
    assert removed is not None and removed.provider_id == PRV_B
    assert store.get_link("UNURSE") is None
    assert store.remove_link("UNURSE", actor="UADMIN2") is None  # nothing to remove: no event

    events = store.link_events("UNURSE")
    assert [(e.actor, e.old_provider_id, e.new_provider_id) for e in events] == [
        ("UADMIN", None, PRV_A),
        ("cli:root", PRV_A, PRV_B),
        ("UADMIN2", PRV_B, None),
    ]
    assert [e.at for e in events] == sorted(e.at for e in events)
    assert len({e.at for e in events}) == 3


def test_same_link_again_adds_no_audit_event(store: Store) -> None:
    store.set_link("UNURSE", PRV_A, actor="a")
    store.set_link("UNURSE", PRV_A, actor="b")
    assert len(store.link_events("UNURSE")) == 1


def test_link_events_for_everyone_and_one_user(store: Store) -> None:
    store.set_link("UNURSE", PRV_A, actor="a")
    store.set_link("UDOCTOR", PRV_B, actor="a")
    assert [e.slack_user_id for e in store.link_events()] == ["UNURSE", "UDOCTOR"]
    assert [e.slack_user_id for e in store.link_events("UDOCTOR")] == ["UDOCTOR"]


def test_get_links_list_and_count(store: Store) -> None:
    store.set_link("UZED", PRV_C, actor="a")
    store.set_link("UABE", PRV_A, actor="a")
    assert [link.slack_user_id for link in store.list_links()] == ["UABE", "UZED"]
    assert store.count_links() == 2
    found = store.get_links(["UZED", "UNOBODY", "UZED"])
    assert set(found) == {"UZED"}
    assert found["UZED"].provider_id == PRV_C
    assert store.get_links([]) == {}


def test_import_links_upserts_and_audits(store: Store) -> None:
    store.set_link("UNURSE", PRV_A, actor="a", provider_name="Nina")
    count = store.import_links([("UNURSE", PRV_A), ("UDOCTOR", PRV_B)], actor="cli:x")
    assert count == 2
    nurse = store.get_link("UNURSE")
    assert nurse is not None and nurse.provider_name == "Nina"  # same provider keeps its name
    assert store.get_link("UDOCTOR") is not None
    assert [(e.slack_user_id, e.actor) for e in store.link_events()] == [
        ("UNURSE", "a"),
        ("UDOCTOR", "cli:x"),
    ]


def test_import_links_is_all_or_nothing(store: Store, backend: Backend) -> None:
    store.set_link("UNURSE", PRV_A, actor="a")
    bad = object()  # the database cannot take it: the second row fails after the first
    with pytest.raises(backend.error):
        store.import_links([("UDOCTOR", PRV_B), ("UOTHER", bad), ("UNURSE", PRV_C)], actor="x")
    assert store.get_link("UDOCTOR") is None
    nurse = store.get_link("UNURSE")
    assert nurse is not None and nurse.provider_id == PRV_A
    assert len(store.link_events()) == 1
    assert backend.in_transaction(store) is False


def test_transaction_rolls_back_everything(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.set_link("UNURSE", PRV_A, actor="a")
        store.set_link("UDOCTOR", PRV_B, actor="a")
        raise RuntimeError("boom")
    assert store.list_links() == []
    assert store.link_events() == []
    with store.transaction():
        store.set_link("UNURSE", PRV_A, actor="a")
    assert store.get_link("UNURSE") is not None


def test_committed_link_is_visible_to_another_connection(store: Store, backend: Backend) -> None:
    store.set_link("UNURSE", PRV_A, actor="a")
    other = backend.open()
    assert other.get_link("UNURSE") is not None


def test_get_links_sees_every_write_through_the_store(store: Store) -> None:
    assert store.get_links(["UNURSE"]) == {}  # remembered as not linked
    store.set_link("UNURSE", PRV_A, actor="a")
    assert store.get_links(["UNURSE"])["UNURSE"].provider_id == PRV_A
    store.set_link("UNURSE", PRV_B, actor="a")
    assert store.get_links(["UNURSE"])["UNURSE"].provider_id == PRV_B
    assert store.mark_stale("UNURSE", STALE_PROVIDER)
    assert store.get_links(["UNURSE"])["UNURSE"].stale_reason == STALE_PROVIDER
    assert store.clear_stale("UNURSE")
    assert store.get_links(["UNURSE"])["UNURSE"].stale_reason is None
    store.import_links([("UNURSE", PRV_C)], actor="cli:x")
    assert store.get_links(["UNURSE"])["UNURSE"].provider_id == PRV_C
    store.remove_link("UNURSE", actor="a")
    assert store.get_links(["UNURSE"]) == {}


def test_get_links_sees_another_process_writing(
    store: Store, backend: Backend, clock: Clock
) -> None:
    store.set_link("UNURSE", PRV_A, actor="a")
    assert store.get_links(["UNURSE", "UDOCTOR"]).keys() == {"UNURSE"}
    cli = backend.open()  # `python -m bot links …` while the app runs: another connection
    cli.set_link("UNURSE", PRV_B, actor="cli")
    cli.set_link("UDOCTOR", PRV_C, actor="cli")
    backend.others_seen(clock)
    found = store.get_links(["UNURSE", "UDOCTOR"])
    assert (found["UNURSE"].provider_id, found["UDOCTOR"].provider_id) == (PRV_B, PRV_C)
    cli.remove_link("UDOCTOR", actor="cli")
    backend.others_seen(clock)
    assert store.get_links(["UNURSE", "UDOCTOR"]).keys() == {"UNURSE"}


def test_get_link_sees_another_process_writing(
    store: Store, backend: Backend, clock: Clock
) -> None:
    assert store.get_link("UNURSE") is None  # remembered as not linked
    cli = backend.open()
    cli.set_link("UNURSE", PRV_A, actor="cli")
    backend.others_seen(clock)
    link = store.get_link("UNURSE")
    assert link is not None and link.provider_id == PRV_A
    cli.remove_link("UNURSE", actor="cli")
    backend.others_seen(clock)
    assert store.get_link("UNURSE") is None


def test_a_write_returns_the_link_the_database_had(store: Store, backend: Backend) -> None:
    store.set_link("UNURSE", PRV_A, actor="a")
    assert store.get_link("UNURSE") is not None  # now in memory
    cli = backend.open()
    cli.set_link("UNURSE", PRV_B, actor="cli")
    cli.close()
    old = store.set_link("UNURSE", PRV_C, actor="a")
    assert old is not None and old.provider_id == PRV_B  # read inside the write, not remembered
    events = store.link_events("UNURSE")
    assert (events[-1].old_provider_id, events[-1].new_provider_id) == (PRV_B, PRV_C)


def test_get_links_forgets_what_a_rolled_back_transaction_wrote(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.set_link("UNURSE", PRV_A, actor="a")
        assert store.get_links(["UNURSE"]).keys() == {"UNURSE"}  # read inside it
        raise RuntimeError("boom")
    assert store.get_links(["UNURSE"]) == {}


# -- submissions ---------------------------------------------------------------------------


def test_add_submission_round_trips(store: Store, clock: Clock) -> None:
    stored, inserted = store.add_submission(
        submission(assignee_user_ids=["UDOCTOR", "UPA"], assignee_ids=[PRV_B, PRV_C],
                   thread_ts="1700000000.000100", message_key="C0GENERAL:1700000000.000100")
    )
    assert inserted is True
    assert stored.assignee_user_ids == ["UDOCTOR", "UPA"]
    assert stored.assignee_ids == [PRV_B, PRV_C]
    assert stored.state == "pending"
    assert stored.attempts == 0
    assert stored.created_at == clock.now.isoformat()
    assert stored.thread_ts == "1700000000.000100"
    assert store.get_submission("V1") == stored
    assert store.get_submission("VNONE") is None


def test_add_submission_is_idempotent_by_view_id(
    store: Store, clock: Clock, backend: Backend
) -> None:
    first, inserted = store.add_submission(submission(notes="first"))
    assert inserted
    clock.tick()
    again, inserted_again = store.add_submission(submission(notes="second"))
    assert inserted_again is False
    assert again.notes == "first"
    assert again.created_at == first.created_at
    assert backend.count(store, "submissions") == 1


def test_open_submissions_oldest_first_and_only_unfinished(store: Store, clock: Clock) -> None:
    for view_id in ("VA", "VB", "VC", "VD", "VE"):
        store.add_submission(submission(view_id))
        clock.tick()
    store.update_submission("VB", state="failed")
    store.update_submission("VC", state="created", task_id="tsk_1",
                            confirmed_at=clock.now.isoformat())
    store.update_submission("VD", state="creating")
    assert [s.view_id for s in store.open_submissions()] == ["VA", "VD", "VE"]


def test_update_submission(store: Store, clock: Clock) -> None:
    store.add_submission(submission())
    clock.tick(5)
    store.update_submission("V1", state="creating", attempts=2, last_error="timeout",
                            assignee_ids=[PRV_C], notes="")
    sub = store.get_submission("V1")
    assert sub is not None
    assert (sub.state, sub.attempts, sub.last_error, sub.notes) == ("creating", 2, "timeout", "")
    assert sub.assignee_ids == [PRV_C]
    assert sub.updated_at == clock.now.isoformat()
    assert sub.created_at != sub.updated_at


def test_update_submission_refuses_unknown_columns(store: Store) -> None:
    store.add_submission(submission())
    with pytest.raises(ValueError, match="not submission columns"):
        store.update_submission("V1", state="created", colour="red")
    sub = store.get_submission("V1")
    assert sub is not None and sub.state == "pending"


def test_task_for_message(store: Store, clock: Clock) -> None:
    key = "C0GENERAL:1700000000.000100"
    assert store.task_for_message(key) is None
    store.add_submission(submission("V1", message_key=key))
    assert store.task_for_message(key) is None  # no task yet
    store.update_submission("V1", task_id="tsk_old", state="created")
    clock.tick()
    store.add_submission(submission("V2", message_key=key))
    store.update_submission("V2", task_id="tsk_new", state="created")
    store.add_submission(submission("V3", message_key="C0OTHER:1.2"))
    store.update_submission("V3", task_id="tsk_other", state="created")
    assert store.task_for_message(key) == "tsk_new"


# -- tasks ---------------------------------------------------------------------------------


def test_record_task_inserts_then_updates(store: Store, clock: Clock) -> None:
    store.record_task(task_id="tsk_1", view_id="V1", note_id=NOTE, status="not_started",
                      sync_status="pending", created_by="UNURSE")
    first = store.get_task("tsk_1")
    assert first is not None
    assert first["status"] == "not_started"
    assert first["created_at"] == clock.now.isoformat()
    clock.tick()
    store.record_task(task_id="tsk_1", status="in_progress", channel_id="C0GENERAL",
                      message_ts="1700000000.000100")
    task = store.get_task("tsk_1")
    assert task is not None
    assert task["status"] == "in_progress"
    assert task["sync_status"] == "pending"  # untouched columns keep their value
    assert task["view_id"] == "V1"
    assert task["message_ts"] == "1700000000.000100"
    assert task["updated_at"] == clock.now.isoformat()
    assert task["created_at"] == first["created_at"]
    assert store.get_task("tsk_none") is None


def test_record_task_update_keeps_created_at(store: Store, clock: Clock) -> None:
    store.record_task(task_id="tsk_1", view_id="V1", status="not_started")
    created = clock.now.isoformat()
    clock.tick(60)
    store.record_task(task_id="tsk_1", status="completed")
    task = store.get_task("tsk_1")
    assert task is not None
    assert task["created_at"] == created


def test_record_task_refuses_unknown_columns(store: Store, backend: Backend) -> None:
    with pytest.raises(backend.error):
        store.record_task(task_id="tsk_1", patient_name="should never be stored")


def test_relinking_to_a_known_provider_clears_the_provider_flag(store: Store) -> None:
    store.set_link("UA", PRV_A, actor="t")
    store.mark_stale("UA", STALE_PROVIDER)
    store.set_link("UA", PRV_A, actor="t")  # same provider: still unknown
    assert (link := store.get_link("UA")) is not None and link.stale_reason == STALE_PROVIDER
    store.set_link("UA", PRV_B, actor="t")
    assert (link := store.get_link("UA")) is not None and link.stale_reason is None
    store.set_link("UB", PRV_A, actor="t")
    store.mark_stale("UB", STALE_SLACK)
    store.set_link("UB", PRV_B, actor="t")  # a new provider does not bring the person back
    assert (link := store.get_link("UB")) is not None and link.stale_reason == STALE_SLACK


def test_v2_migration_upgrades_a_v1_database(tmp_path: Path) -> None:
    import sqlite_utils

    from bot.db.schema import _v1

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    _v1(db)
    db.execute("PRAGMA user_version = 1")
    db["links"].insert({"slack_user_id": "UOLD", "provider_id": PRV_A})
    db.close()
    store = SQLiteStore(path)
    link = store.get_link("UOLD")
    assert link is not None and link.stale_reason is None
    assert store.mark_stale("UOLD", STALE_SLACK) and not store.mark_stale("UOLD", STALE_SLACK)
    assert store.clear_stale("UOLD", STALE_PROVIDER) is False
    assert store.clear_stale("UOLD") is True
    store.close()


def test_outbox_summary_counts_unfinished_rows_by_state(store: Store, clock: Clock) -> None:
    store.add_submission(submission("V1"))
    clock.tick(5)
    store.add_submission(submission("V2", state="unknown"))
    store.add_submission(submission("V3", state="failed"))
    store.add_submission(submission("V4", state="created", confirmed_at=clock().isoformat()))
    summary = store.outbox_summary()
    assert set(summary) == {"pending", "unknown"}
    assert summary["pending"][0] == 1 and summary["unknown"][0] == 1
    assert summary["pending"][1] is not None and summary["pending"][1] < summary["unknown"][1]
