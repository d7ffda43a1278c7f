"""MaxCare's budget shared by instances on one PostgreSQL database (PgBudget, maxcare_take)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from bot.db.pg_budget import PgBudget
from bot.db.postgres import PostgresStore
from bot.db.store import SQLiteStore
from tests.unit.db.conftest import Clock


@pytest.fixture
def instances(pg_url: str, clock: Clock) -> Iterator[list[PgBudget]]:
    """The shared budget as three instances (three stores, three pools) see it."""
    stores = [PostgresStore(pg_url, clock=clock) for _ in range(3)]
    yield [s.shared_budget() for s in stores]
    for s in stores:
        s.close()


def grants(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM maxcare_grants").fetchone()
        assert row is not None
        return int(row[0])


def test_sqlite_has_no_shared_budget(clock: Clock) -> None:
    store = SQLiteStore(":memory:", clock=clock)
    assert store.shared_budget() is None  # one process: its own count is the whole budget


def test_grants_stop_at_the_budget_and_say_how_long_to_wait(instances: list[PgBudget]) -> None:
    a, b, c = instances
    taken = [a.take(5, 60, 600), b.take(5, 60, 600), c.take(5, 60, 600)]
    taken += [a.take(5, 60, 600), b.take(5, 60, 600)]
    assert all(g is not None and wait == 0 for g, wait in taken)
    assert len({g for g, _ in taken}) == 5
    grant, wait = c.take(5, 60, 600)
    assert grant is None and 0 < wait <= 0.05  # all in flight: no answer to wait for yet
    for g, _ in taken:
        assert g is not None
        a.done(g)
    grant, wait = b.take(5, 60, 600)
    assert grant is None and 59 < wait <= 60  # the oldest answer leaves the window in a minute


def test_concurrent_instances_never_grant_more_than_the_budget(
    instances: list[PgBudget], pg_url: str
) -> None:
    granted: list[int] = []
    start = threading.Barrier(len(instances) * 2)

    def spend(budget: PgBudget) -> None:
        start.wait()
        for _ in range(20):
            grant, _ = budget.take(25, 60, 600)
            if grant is not None:
                granted.append(grant)

    threads = [threading.Thread(target=spend, args=(b,)) for b in instances * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(granted) == 25 == len(set(granted)) == grants(pg_url)


def test_an_answer_frees_its_slot_once_it_is_a_window_old(instances: list[PgBudget]) -> None:
    a, b, _ = instances
    first, _ = a.take(1, 0.5, 600)
    assert first is not None
    a.done(first)
    grant, wait = b.take(1, 0.5, 600)
    assert grant is None and 0 < wait <= 0.5
    deadline = time.monotonic() + 30
    while grant is None and time.monotonic() < deadline:
        time.sleep(wait)
        grant, wait = b.take(1, 0.5, 600)
    assert grant is not None  # the server's clock moved the first answer out of the window


def test_a_grant_never_answered_frees_once_stale(instances: list[PgBudget], pg_url: str) -> None:
    a, b, _ = instances
    lost, _ = a.take(1, 60, 0.5)  # its instance was killed mid-request: done() never comes
    assert lost is not None
    grant, _ = b.take(1, 60, 0.5)
    deadline = time.monotonic() + 30
    while grant is None and time.monotonic() < deadline:
        time.sleep(0.1)
        grant, _ = b.take(1, 60, 0.5)
    assert grant is not None and grants(pg_url) == 1  # the stale grant is gone
