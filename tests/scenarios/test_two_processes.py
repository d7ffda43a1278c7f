"""Two `python -m bot` processes on one database (a SQLite file, or PostgreSQL), as in a rolling
deploy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import DOCTOR, NURSE
from tests.support.processes import App
from tests.support.submissions import CHANNEL


@pytest.fixture
def apps(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path, database_url: str | None
) -> Iterator[tuple[App, App]]:
    old = App(slack, maxcare, tmp_path, "old", database_url=database_url)
    new = App(slack, maxcare, tmp_path, "new", database_url=database_url)
    nurse = maxcare.add_provider(first_name="Nina", last_name="Nurse")
    doctor = maxcare.add_provider(first_name="James", last_name="Wilson")
    old.cli("links", "add", NURSE, nurse["id"])
    old.cli("links", "add", DOCTOR, doctor["id"])
    try:
        yield old, new
    finally:
        old.stop()
        new.stop()


def _wait(condition: object, what: str, app: App, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n" + app.log.read_text())
        time.sleep(0.05)


def _pings(maxcare: FakeMaxCare) -> list[object]:
    return [r for r in maxcare.requests("GET", "/providers") if r.query.get("pageSize") == "1"]


def _cards(slack: FakeSlack) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in slack.calls("chat.postMessage")
        if c.params.get("channel") == CHANNEL
    ]


@pytest.mark.both_databases
def test_a_new_process_started_mid_post_never_posts_again(
    apps: tuple[App, App], slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    old, new = apps
    # MaxCare creates the task at once but answers only when released: the POST is in flight.
    hold = maxcare.hold_next("POST", "/tasks", after_apply=True)
    old.start()
    old.submit("Rolling deploy")
    _wait(lambda: len(maxcare.all_tasks()) == 1, "the POST to reach MaxCare", old)

    new.start()  # its start-up sweep must leave the row: the old process holds its claim
    hold.release()
    assert old.terminate() == 0  # drains: the answer arrives, the card is posted
    _wait(lambda: len(_cards(slack)) == 1, "the card", new)
    time.sleep(2.0)  # several sweeps of the new process: room for a wrong second POST or card

    assert len(maxcare.requests("POST", "/tasks")) == 1
    assert len(maxcare.all_tasks()) == 1
    assert len(_cards(slack)) == 1
    assert maxcare.all_tasks()[0]["id"] in _cards(slack)[0]
    assert maxcare.requests("GET", "/tasks") == []  # nobody even had to look for it


@pytest.mark.both_databases
def test_a_process_killed_mid_post_is_taken_over_by_the_other(
    apps: tuple[App, App], slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    old, new = apps
    maxcare.delay_next("POST", "/tasks", 60, after_apply=True)
    old.start()
    new.start()
    old.submit("Killed mid-POST")
    _wait(lambda: len(maxcare.all_tasks()) == 1, "the POST to reach MaxCare", old)
    old.kill9()
    # The claim's lease runs out; the other process looks first, finds the task, adopts it.
    _wait(lambda: len(_cards(slack)) == 1, "the card from the other process", new)
    time.sleep(1.0)  # a sweep of the new process: room for a wrong second POST (a non-event)
    assert len(maxcare.requests("POST", "/tasks")) == 1
    assert len(maxcare.all_tasks()) == 1 and len(_cards(slack)) == 1


def test_three_processes_on_postgresql_spend_one_maxcare_budget(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path, pg_url: str
) -> None:
    # Each process alone keeps to the budget; without the count they share, three of them
    # would send three budgets' worth in the first window and MaxCare would refuse two.
    maxcare.rate_limit = None  # uncounted until the fleet's own traffic starts
    budget = {"MAXCARE_RATE_LIMIT_PER_MINUTE": "5", "MAXCARE_RATE_WINDOW_SECONDS": "3"}
    apps = [App(slack, maxcare, tmp_path, f"app{i}", database_url=pg_url) for i in range(3)]
    nurse = maxcare.add_provider(first_name="Nina", last_name="Nurse")
    doctor = maxcare.add_provider(first_name="James", last_name="Wilson")
    apps[0].cli("links", "add", NURSE, nurse["id"])
    apps[0].cli("links", "add", DOCTOR, doctor["id"])
    before = len(_pings(maxcare))
    try:
        for app in apps:
            app.env.update(budget)
            app.start()
        # The command line's and the start-up checks' few requests are not in the shared count
        # (docs/operations.md): the fake's budget starts once each process has checked.
        _wait(lambda: len(_pings(maxcare)) >= before + 3, "the start-up checks", apps[0])
        maxcare.rate_limit, maxcare.rate_window = 5, 3.0
        for i in range(15):
            apps[i % 3].submit(f"Fleet {i}")
        _wait(lambda: len(maxcare.all_tasks()) == 15, "15 tasks", apps[0], timeout=90)
        _wait(lambda: len(_cards(slack)) == 15, "15 cards", apps[0], timeout=60)
    finally:
        for app in apps:
            app.stop()
    assert maxcare.rate_limited_count == 0
    assert len(maxcare.requests("POST", "/tasks")) == 15
