"""GET /metrics: the app's Prometheus metrics, on a registry of its own (one per built app)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from bot.db.interface import OPEN_STATES, Store
from bot.maxcare import MaxCareClient

log = logging.getLogger("bot.metrics")

PREFIX = "maxcare_tasks_"
# Slack waits 3 s for an answer: the buckets are finest where a good ack lands.
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)


class Metrics:
    """Counters the app updates as things happen, and gauges read when Prometheus scrapes."""

    def __init__(self) -> None:
        # Not the global registry: a process (the tests) can build several apps.
        self.registry = CollectorRegistry(auto_describe=True)
        self.maxcare_requests = Counter(
            PREFIX + "maxcare_requests",
            "MaxCare requests by method and outcome (status class, or the error's type).",
            ["method", "outcome"],
            registry=self.registry,
        )
        self.slack_ack_seconds = Histogram(
            PREFIX + "slack_ack_seconds",
            "Time from a Slack request's arrival (HTTP mode) to the answer Bolt gives it.",
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        ProcessCollector(registry=self.registry)  # memory, CPU, open files of this process

    def maxcare_outcome(self, method: str, outcome: str) -> None:
        """Count one MaxCare attempt that ended (the client's `on_outcome`)."""
        self.maxcare_requests.labels(method, outcome).inc()

    def watch(self, store: Store, maxcare: MaxCareClient) -> None:
        """Report the outbox and the MaxCare budget at each scrape."""
        self.registry.register(StateCollector(store, maxcare))

    def render(self, accept: str = "") -> tuple[bytes, str]:
        """Every metric, and its content type: Prometheus text (0.0.4) unless the scraper's
        Accept header asks for a format prometheus_client also writes (OpenMetrics)."""
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type


class StateCollector(Collector):
    """Gauges computed at scrape time: the outbox (one query) and MaxCare's budget."""

    def __init__(self, store: Store, maxcare: MaxCareClient) -> None:
        self._store = store
        self._maxcare = maxcare

    def describe(self) -> Iterator[Metric]:
        """The families without values, so registering them runs no query."""
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        """The families with this moment's values."""
        depth, oldest, used, limit = self._families()
        try:
            summary = self._store.outbox_summary()
        except Exception as exc:  # /healthz says so; the scrape keeps the other metrics
            log.warning("metrics: the outbox could not be read (%s)", type(exc).__name__)
        else:
            for state in OPEN_STATES:
                depth.add_metric([state], summary.get(state, (0, None))[0])
            waiting = [since for _, since in summary.values() if since]
            oldest.add_metric([], self._age(min(waiting)) if waiting else 0.0)
            yield depth
            yield oldest
        used.add_metric([], self._maxcare.budget_used())
        limit.add_metric([], self._maxcare.rate_limit)
        yield used
        yield limit

    def _age(self, since: str) -> float:
        try:
            return max(0.0, (self._store.clock() - datetime.fromisoformat(since)).total_seconds())
        except (TypeError, ValueError):  # a row written by hand: not worth failing the scrape
            return 0.0

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        return (
            GaugeMetricFamily(
                PREFIX + "outbox_submissions",
                "Submissions not finished yet (no card posted), by state.",
                labels=["state"],
            ),
            GaugeMetricFamily(
                PREFIX + "outbox_oldest_waiting_seconds",
                "Age of the oldest unfinished submission, from its latest ack (0: none).",
            ),
            GaugeMetricFamily(
                PREFIX + "maxcare_budget_used_requests",
                "MaxCare requests counted in the current rate window (in flight included).",
            ),
            GaugeMetricFamily(
                PREFIX + "maxcare_budget_limit_requests",
                "MaxCare requests allowed per rate window (MAXCARE_RATE_LIMIT_PER_MINUTE).",
            ),
        )
