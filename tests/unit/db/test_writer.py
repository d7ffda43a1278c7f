"""Group commit: submissions reaching the store in one turn of the event loop share a commit."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from bot.db.store import Store, Submission
from bot.db.writer import SubmissionWriter
from tests.unit.db.conftest import Backend
from tests.unit.db.test_store import submission

CountingStore = Any  # a real store whose `groups` lists the size of each group it wrote


@pytest.fixture
def store(store: Store) -> CountingStore:
    """The real store (each backend), remembering the size of each group it was asked to write."""
    groups: list[int] = []
    write = store.add_submissions

    def add_submissions(subs: Sequence[Submission]) -> list[tuple[Submission, bool]]:
        groups.append(len(subs))
        return write(subs)

    store.add_submissions = add_submissions  # type: ignore[method-assign]
    store.groups = groups  # type: ignore[attr-defined]
    return store


def test_a_group_is_one_transaction_with_an_answer_per_submission(
    store: CountingStore, backend: Backend
) -> None:
    store.add_submission(submission("V0", notes="stored earlier"))
    got = store.add_submissions(
        [submission("V1"), submission("V0", notes="again"), submission("V2"), submission("V1")]
    )
    assert [(s.view_id, inserted) for s, inserted in got] == [
        ("V1", True), ("V0", False), ("V2", True), ("V1", False),
    ]
    assert got[1][0].notes == "stored earlier"  # the row as stored, not the repeat
    assert backend.count(store, "submissions") == 3


def test_a_failing_submission_rolls_its_whole_group_back(
    store: CountingStore, backend: Backend
) -> None:
    broken = submission("V2")
    broken.notes = object()  # type: ignore[assignment]  # the database cannot take it
    with pytest.raises(Exception, match="bind|type"):
        store.add_submissions([submission("V1"), broken, submission("V3")])
    assert backend.count(store, "submissions") == 0
    assert store.add_submission(submission("V1"))[1] is True  # the store is usable after


async def test_submissions_of_one_turn_share_a_commit(
    store: CountingStore, backend: Backend
) -> None:
    writer = SubmissionWriter(store)
    results = await asyncio.gather(*(writer.add(submission(f"V{i}")) for i in range(5)))
    assert store.groups == [5]
    assert [(s.view_id, inserted) for s, inserted in results] == [
        (f"V{i}", True) for i in range(5)
    ]
    assert backend.count(store, "submissions") == 5

    alone, inserted = await writer.add(submission("V9"))
    assert (alone.view_id, inserted) == ("V9", True) and store.groups == [5, 1]


async def test_every_submitter_of_a_failed_group_hears_it(
    store: CountingStore, backend: Backend
) -> None:
    writer = SubmissionWriter(store)
    broken = submission("V2")
    broken.notes = object()  # type: ignore[assignment]
    results = await asyncio.gather(
        writer.add(submission("V1")), writer.add(broken), return_exceptions=True
    )
    assert all(isinstance(r, Exception) for r in results)
    assert backend.count(store, "submissions") == 0
    assert (await writer.add(submission("V1")))[1] is True  # the next group is unaffected


async def test_a_submitter_cancelled_while_waiting_leaves_its_row_for_resume(
    store: CountingStore,
) -> None:
    writer = SubmissionWriter(store)
    waiting = asyncio.ensure_future(writer.add(submission("V1")))
    await asyncio.sleep(0)  # it is waiting for the group's commit
    waiting.cancel()
    await asyncio.sleep(0.01)
    assert waiting.cancelled()
    (row,) = store.open_submissions()  # stored: the worker takes it up at the next start
    assert row.view_id == "V1"


def test_a_submission_alone_is_written_without_waiting_for_a_turn(store: CountingStore) -> None:
    writer = SubmissionWriter(store, busy=lambda: False)
    adding = writer.add(submission("V1"))
    with pytest.raises(StopIteration) as finished:
        adding.send(None)  # runs to its end without once giving the event loop a turn
    row, inserted = finished.value.value
    assert (row.view_id, inserted) == ("V1", True) and store.groups == [1]


async def test_a_submission_joins_a_group_already_waiting(store: CountingStore) -> None:
    answers = iter([True])  # busy when the first arrives, quiet from then on
    writer = SubmissionWriter(store, busy=lambda: next(answers, False))
    await asyncio.gather(writer.add(submission("V1")), writer.add(submission("V2")))
    assert store.groups == [2]  # the second did not write alone ahead of the first's group
