"""GET /metrics from the served app: Prometheus text that follows what happened."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from bot.db.store import OPEN_STATES, utcnow
from tests.support.harness import DOCTOR, FAST, NURSE, Harness, MakeHarness
from tests.support.submissions import new_view_id, submission

P = "maxcare_tasks_"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(h: Harness) -> Samples:
    """Every sample of one scrape, keyed by name and labels."""
    resp = await h.http.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(resp.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when it has not appeared yet (a counter never incremented)."""
    return samples.get((P + name, frozenset(labels.items())), 0.0)


async def until_scraped(h: Harness, shows: Callable[[Samples], bool]) -> Samples:
    """Scrape until the metrics show something (the worker runs on after the ack)."""
    async with asyncio.timeout(30):
        while not shows(samples := await scrape(h)):
            await asyncio.sleep(0.02)
    return samples


async def _submit(h: Harness, text: str = "Review the plan") -> str:
    h.link(NURSE, h.nurse_provider)
    h.link(DOCTOR, h.doctor_provider)
    view_id, note = new_view_id(), h.maxcare.add_note()["id"]
    resp = await h.post(submission(view_id=view_id, note=note, notes=text, assignees=[DOCTOR]))
    assert resp.json()["response_action"] == "update"
    return view_id


async def test_a_submission_shows_in_acks_maxcare_outcomes_and_the_budget(
    harness: Harness,
) -> None:
    before = await scrape(harness)
    assert value(before, "maxcare_budget_limit_requests") == (
        harness.bot.settings.maxcare_rate_limit_per_minute
    )
    await _submit(harness)
    await harness.settle()
    after = await scrape(harness)

    acks = value(after, "slack_ack_seconds_count") - value(before, "slack_ack_seconds_count")
    assert acks == 1  # the submission's answer
    assert value(after, "slack_ack_seconds_sum") > value(before, "slack_ack_seconds_sum")
    assert value(after, "slack_ack_seconds_bucket", le="+Inf") == value(
        after, "slack_ack_seconds_count"
    )
    posts = value(after, "maxcare_requests_total", method="POST", outcome="2xx")
    assert posts - value(before, "maxcare_requests_total", method="POST", outcome="2xx") == 1
    made = sum(v for (name, _), v in after.items() if name == P + "maxcare_requests_total")
    assert made == len(harness.maxcare.requests())  # every request the fake saw, counted once
    # All of them within the minute's window, so all in the budget used.
    assert value(after, "maxcare_budget_used_requests") == len(harness.maxcare.requests())
    for state in OPEN_STATES:  # done: nothing waits any more
        assert value(after, "outbox_submissions", state=state) == 0
    assert value(after, "outbox_oldest_waiting_seconds") == 0


async def test_failed_maxcare_requests_are_counted_by_status_class(harness: Harness) -> None:
    harness.maxcare.fail_next("POST", "/tasks", 503)
    await _submit(harness)
    await harness.settle()
    samples = await scrape(harness)
    assert value(samples, "maxcare_requests_total", method="POST", outcome="5xx") == 1
    assert value(samples, "maxcare_requests_total", method="POST", outcome="2xx") == 1
    assert value(samples, "maxcare_requests_total", method="GET", outcome="2xx") >= 1  # lookup


async def test_waiting_submissions_show_by_state_with_the_oldest_age(
    make_harness: MakeHarness,
) -> None:
    started = utcnow()
    later = [timedelta(0)]

    def now() -> datetime:  # the database's clock, moved by the test only
        return started + later[0]

    h = await make_harness(tuning=replace(FAST, now=now))
    h.maxcare.set_down(True)  # every request answered 503: the submission waits
    await _submit(h)
    await until_scraped(h, lambda m: value(m, "maxcare_requests_total", method="POST",
                                           outcome="5xx") >= 1)
    later[0] = timedelta(seconds=90)
    waiting = await scrape(h)
    open_now = {s: value(waiting, "outbox_submissions", state=s) for s in OPEN_STATES}
    assert sum(open_now.values()) == 1, open_now
    assert open_now["created"] == 0  # no task yet
    assert value(waiting, "outbox_oldest_waiting_seconds") == 90

    h.maxcare.set_down(False)
    await h.settle()
    done = await scrape(h)
    assert all(value(done, "outbox_submissions", state=s) == 0 for s in OPEN_STATES)
    assert value(done, "outbox_oldest_waiting_seconds") == 0


async def test_each_app_has_its_own_registry(make_harness: MakeHarness) -> None:
    first = await make_harness()
    second = await make_harness()
    await _submit(first)
    await first.settle()
    one, other = await scrape(first), await scrape(second)
    assert value(one, "slack_ack_seconds_count") == 1
    assert value(other, "slack_ack_seconds_count") == 0
    assert first.bot.metrics.registry is not second.bot.metrics.registry
