"""`kill -9` at the worst moments, then a restart: still exactly one task and one card."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import DOCTOR, NURSE
from tests.support.processes import App
from tests.support.submissions import CHANNEL


@pytest.fixture
def app(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path, database_url: str | None
) -> Iterator[App]:
    running = App(slack, maxcare, tmp_path, database_url=database_url)
    nurse = maxcare.add_provider(first_name="Nina", last_name="Nurse")
    doctor = maxcare.add_provider(first_name="James", last_name="Wilson")
    running.cli("links", "add", NURSE, nurse["id"])
    running.cli("links", "add", DOCTOR, doctor["id"])
    try:
        yield running
    finally:
        running.stop()


def _wait(condition: object, what: str, log: Path | None = None, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n" + (log.read_text() if log else ""))
        time.sleep(0.05)


def _cards(slack: FakeSlack) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in slack.calls("chat.postMessage")
        if c.params.get("channel") == CHANNEL
    ]


@pytest.mark.both_databases
def test_killed_during_the_post_then_restarted(
    app: App, slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    # MaxCare creates the task, then sits on the answer: the app dies waiting for it.
    maxcare.delay_next("POST", "/tasks", 60, after_apply=True)
    app.start()
    app.submit("Killed mid-POST")
    _wait(lambda: len(maxcare.all_tasks()) == 1, "the task to exist in MaxCare")
    app.kill9()
    assert _cards(slack) == []

    app.start()  # resumes the row left in 'creating': looks first, finds it, adopts it
    _wait(lambda: len(_cards(slack)) == 1, "the card after the restart")
    time.sleep(0.5)  # room for a wrong second POST or card to show up (nothing to wait for)
    tasks = maxcare.all_tasks()
    assert len(tasks) == 1 and len(maxcare.requests("POST", "/tasks")) == 1
    assert tasks[0]["id"] in _cards(slack)[0]


def test_killed_before_the_post_was_answered_without_effect(
    app: App, slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    # The POST hangs before MaxCare does anything; killing the app drops it unapplied.
    maxcare.delay_next("POST", "/tasks", 60, after_apply=False)
    app.start()
    app.submit("Killed before MaxCare acted")
    _wait(lambda: len(maxcare.requests("POST", "/tasks")) == 1, "the POST to arrive")
    app.kill9()
    app.start()  # looks, finds nothing, posts again
    _wait(lambda: len(_cards(slack)) == 1, "the card after the restart")
    time.sleep(0.5)  # room for a wrong second POST: a non-event, so nothing to wait for
    assert len(maxcare.all_tasks()) == 1


def test_killed_after_creation_before_the_card(
    app: App, slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    slack.fail("chat.postMessage", "internal_error", times=1000)  # the card cannot be posted
    app.start()
    view_id = app.submit("Killed before the card")
    _wait(lambda: len(slack.calls("chat.postMessage")) >= 1, "a card attempt")
    app.kill9()
    slack.clear_faults()
    slack.clear()
    app.start()  # resumes the row in 'created': fetches the task, posts the card once
    _wait(lambda: len(_cards(slack)) == 1, "the card after the restart", app.log)
    time.sleep(0.5)  # room for a wrong second card: a non-event, so nothing to wait for
    assert len(_cards(slack)) == 1
    assert len(maxcare.all_tasks()) == 1 and len(maxcare.requests("POST", "/tasks")) == 1
    assert view_id  # the row was keyed by this view all along


def test_sigterm_lets_work_in_hand_finish_and_exits_0(
    app: App, slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    maxcare.delay_next("POST", "/tasks", 1.0, after_apply=False)
    app.start()
    app.submit("Finish before you go")
    _wait(lambda: len(maxcare.requests("POST", "/tasks")) == 1, "the POST to arrive")
    assert app.proc is not None
    app.proc.send_signal(signal.SIGTERM)
    assert app.proc.wait(15) == 0
    assert len(maxcare.all_tasks()) == 1 and len(_cards(slack)) == 1
