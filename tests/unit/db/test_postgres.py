"""What only the PostgreSQL store has: its schema and migrations, bounded memory of links,
claims that skip locked rows, one connection per transaction, and a 100,000-row import."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bot.db import pg_schema
from bot.db.postgres import LINK_CACHE_SECONDS, PostgresStore
from tests.support.cli import configure, run
from tests.unit.db.conftest import Clock
from tests.unit.db.test_store import PRV_A, PRV_B, submission


@pytest.fixture
def pg(pg_url: str, clock: Clock) -> Iterator[PostgresStore]:
    store = PostgresStore(pg_url, clock=clock)
    yield store
    store.close()


def query(url: str, sql: str, *args: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(sql, args)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


# -- schema and migrations --------------------------------------------------------------


def test_a_new_database_gets_every_table_and_its_version(pg: PostgresStore, pg_url: str) -> None:
    assert pg.schema_version() == len(pg_schema.MIGRATIONS)
    assert query(pg_url, "SELECT version FROM schema_version") == [(len(pg_schema.MIGRATIONS),)]
    tables = {r[0] for r in query(pg_url, "SELECT tablename FROM pg_tables WHERE schemaname = "
                                          "'public'")}  # fmt: skip
    assert {"links", "link_events", "submissions", "tasks", "schema_version"} <= tables
    (index,) = query(pg_url, "SELECT indexdef FROM pg_indexes "
                             "WHERE indexname = 'submissions_message_key'")  # fmt: skip
    assert "WHERE (message_key IS NOT NULL)" in str(index[0])


def test_every_text_column_sorts_bytewise_as_in_sqlite(pg: PostgresStore, pg_url: str) -> None:
    collations = query(
        pg_url,
        "SELECT table_name, column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND data_type = 'text' AND table_name <> 'schema_version'",
    )
    assert collations and {c for _, _, c in collations} == {"C"}, collations
    for user in ("U-B", "UA", "Ua", "U_C"):
        pg.set_link(user, PRV_A, actor="t")
    assert [x.slack_user_id for x in pg.list_links()] == sorted(["U-B", "UA", "Ua", "U_C"])


def test_a_migration_added_later_is_applied_once(
    pg: PostgresStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg.set_link("UNURSE", PRV_A, actor="t")
    later = [*pg_schema.MIGRATIONS, "ALTER TABLE links ADD COLUMN note text"]
    monkeypatch.setattr(pg_schema, "MIGRATIONS", later)
    again = PostgresStore(pg_url)
    try:
        assert again.schema_version() == len(later)
        again.migrate()  # nothing left: the column is not added twice
        assert query(pg_url, "SELECT slack_user_id, note FROM links") == [("UNURSE", None)]
    finally:
        again.close()


def test_a_failing_migration_leaves_the_schema_as_it_was(
    pg: PostgresStore, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = [*pg_schema.MIGRATIONS, "CREATE TABLE extra (x integer); SELECT 1 / 0"]
    monkeypatch.setattr(pg_schema, "MIGRATIONS", broken)
    with pytest.raises(psycopg.errors.DivisionByZero):
        pg.migrate()
    assert pg.schema_version() == len(broken) - 1
    assert query(pg_url, "SELECT to_regclass('extra')") == [(None,)]


# -- links in memory ------------------------------------------------------------------------


def test_links_are_answered_from_memory_for_at_most_the_cache_age(
    pg: PostgresStore, pg_url: str, clock: Clock
) -> None:
    pg.set_link("UNURSE", PRV_A, actor="t")
    assert pg.get_links(["UNURSE"])["UNURSE"].provider_id == PRV_A  # read, now remembered
    other = PostgresStore(pg_url)  # another instance relinks
    try:
        other.set_link("UNURSE", PRV_B, actor="t")
    finally:
        other.close()
    clock.tick(LINK_CACHE_SECONDS - 1)
    assert pg.get_links(["UNURSE"])["UNURSE"].provider_id == PRV_A  # from memory
    clock.tick(1)
    assert pg.get_links(["UNURSE"])["UNURSE"].provider_id == PRV_B  # expired: read again


def test_a_clock_set_back_does_not_keep_links_in_memory(
    pg: PostgresStore, pg_url: str, clock: Clock
) -> None:
    assert pg.get_links(["UNURSE"]) == {}
    query(pg_url, "INSERT INTO links (slack_user_id, provider_id) VALUES ('UNURSE', %s)", PRV_A)
    clock.tick(-60)
    assert pg.get_links(["UNURSE"]).keys() == {"UNURSE"}


# -- transactions and claims -----------------------------------------------------------------


def test_a_transaction_is_one_connection_committed_at_the_end(
    pg: PostgresStore, pg_url: str
) -> None:
    with pg.transaction():
        pg.add_submission(submission("V1"))
        pg.update_submission("V1", state="creating")
        assert pg.get_submission("V1").state == "creating"  # type: ignore[union-attr]
        assert query(pg_url, "SELECT count(*) FROM submissions") == [(0,)]  # not yet committed
    assert query(pg_url, "SELECT state FROM submissions") == [("creating",)]


def test_a_sweep_skips_rows_another_instance_has_locked(pg: PostgresStore, pg_url: str) -> None:
    for view_id in ("V1", "V2"):
        pg.add_submission(submission(view_id))
    claimed: list[list[str]] = []
    with psycopg.connect(pg_url) as other:  # another instance, mid-transaction on V1
        other.execute("SELECT 1 FROM submissions WHERE view_id = 'V1' FOR UPDATE")
        sweep = threading.Thread(target=lambda: claimed.append(pg.claim_due_submissions("a", 30)))
        sweep.start()
        sweep.join(10)
        finished_while_locked = not sweep.is_alive()
        other.rollback()
    sweep.join(10)
    assert finished_while_locked, "the sweep waited for the locked row"
    assert claimed == [["V2"]]


# -- links import at scale -------------------------------------------------------------------


def test_importing_100000_links_is_one_transaction(
    pg_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    configure(monkeypatch, {"DATABASE_URL": pg_url})
    lines = ["slack_user_id,provider_id"]
    lines += [f"U{i:08d},prv_{i:032x}" for i in range(100_000)]
    source = tmp_path / "links.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    started = time.perf_counter()
    code, out, err = run(capsys, "links", "import", str(source))
    elapsed = time.perf_counter() - started
    with capsys.disabled():
        print(f"\n`links import` of 100,000 rows into PostgreSQL: {elapsed:.2f} s")
    assert code == 0, err
    assert "imported 100000 link(s)" in out
    assert query(pg_url, "SELECT count(*) FROM links") == [(100_000,)]
    assert query(pg_url, "SELECT count(*), count(DISTINCT at) FROM link_events") == [(100_000, 1)]

    # Once more with a row the database refuses at the very end: nothing of it stays.
    store = PostgresStore(pg_url)
    try:
        rows: list[tuple[str, str]] = [(f"U{i:08d}", PRV_B) for i in range(100_000)]
        rows.append(("UBAD", object()))  # type: ignore[arg-type]
        with pytest.raises(psycopg.Error):
            store.import_links(rows, actor="t")
        assert query(pg_url, "SELECT count(*) FROM links WHERE provider_id = %s", PRV_B) == [(0,)]
        assert query(pg_url, "SELECT count(*) FROM link_events") == [(100_000,)]
    finally:
        store.close()
