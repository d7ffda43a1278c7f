"""The other phases: end-to-end overhead one at a time, the burst drain, mapping scale."""

from __future__ import annotations

import asyncio
import collections
import time
from pathlib import Path
from typing import Any

from benchmarks import mapping
from benchmarks.load import Sample, Signed, closed_loop, fixed_times, open_loop
from benchmarks.measure import (
    Receipts,
    maxcare_arrivals,
    maxcare_holds,
    ok_ack,
    wait_idle,
    wait_until,
)
from benchmarks.procs import Fakes, Proc
from benchmarks.stats import summary
from benchmarks.traffic import Tags, submission_requests

# The end-to-end phase takes turns: this many submissions, then as many delivery probes, ….
E2E_BLOCK = 20


def e2e_phase(cfg: Any, bot: Proc, fakes: Fakes, tags: Tags, relay: Proc | None = None) -> dict:
    """One submission at a time; card receipt − due − the time MaxCare held the request.

    "Minus the fakes' injected latency" is taken as the fake realized it: from the request's
    arrival in the fake MaxCare to its answer (its 50 ms sleep overshoots by a few ms, and
    that time is the fake's, not the app's).

    The target counts from the submission's receipt; a client can only time its send. So the
    same requests also go to a fake that records their arrival and answers at once: the
    delivery floor, which "received → card" subtracts, median from median. `relay`
    (benchmarks/relay.py) makes the same hops as the bot and nothing else. Submissions, relay
    submissions and probes take turns in blocks on one fixed schedule, so all see the same
    machine.
    """
    receipts = Receipts(fakes)
    interval = cfg.maxcare_latency_ms / 1000 + cfg.slack_latency_ms / 1000 * 2 + 0.1
    reqs = submission_requests(cfg.e2e_count, tags())
    relayed = submission_requests(cfg.e2e_count, tags()) if relay is not None else []
    plan: list[tuple[str, Signed]] = []
    for start in range(0, len(reqs), E2E_BLOCK):
        block = reqs[start : start + E2E_BLOCK]
        plan += [(f"{bot.url}/slack/events", r) for r in block]
        if relay is not None:
            plan += [(f"{relay.url}/slack/events", r) for r in relayed[start : start + E2E_BLOCK]]
        plan += [(f"{fakes.arrive_url}?key=arrive-{k}", (f"arrive-{k}", b, h)) for k, b, h in block]
    maxcare_from = fakes.maxcare_mark()
    offsets = fixed_times(len(plan), 1 / interval)
    sent = asyncio.run(
        open_loop([u for u, _ in plan], [r for _, r in plan], offsets, timeout=offsets[-1] + 120)
    )
    by_key = {s.key: s for s in sent}
    wait_idle(bot, 60)
    if relay is not None:
        wait_idle(relay, 60)
    receipts.refresh()
    held = maxcare_holds(fakes.maxcare_receipts(maxcare_from)[1], "POST /v4/tasks")

    def overheads(samples: list[Sample]) -> tuple[list[float], list[float]]:
        out, inside = [], []
        for s in samples:
            card = receipts.first.get(("chat.postMessage", s.key))
            if card is not None:
                spent = sum(end - start for start, end in held if s.due <= start <= card)
                inside.append(spent * 1000)
                out.append((card - s.due - spent) * 1000)
        return out, inside

    samples = [by_key[k] for k, _, _ in reqs if k in by_key]
    overhead, inside = overheads(samples)
    delivery = receipts.delays_ms("arrive", [s for s in sent if s.key.startswith("arrive-")])
    floor = summary(delivery).get("p50", 0.0)
    median = summary(overhead).get("p50", 0.0)
    result = {
        "submissions": len(reqs),
        "cards": len(overhead),
        "failed": len(reqs) - sum(ok_ack("submission", s) for s in samples),
        "cards_missing": len(reqs) - len(overhead),
        "injected_ms": cfg.maxcare_latency_ms,
        "maxcare_held_ms": summary(inside),
        "overhead_ms": summary(overhead),
        "card_after_maxcare_ms": summary(receipts.after_created_ms(samples)),
        "delivery_floor_ms": summary(delivery),
        "received_to_card_median_ms": round(median - floor, 2),
        "ack_ms": summary([s.ms for s in samples]),
    }
    if relay is not None:
        relay_overhead, _ = overheads([by_key[k] for k, _, _ in relayed if k in by_key])
        relay_median = summary(relay_overhead).get("p50", 0.0)
        result["relay_overhead_ms"] = summary(relay_overhead)
        result["relay_received_to_card_median_ms"] = round(relay_median - floor, 2)
        result["app_share_median_ms"] = round(median - relay_median, 2)
    return result


def burst_phase(cfg: Any, bot: Proc, fakes: Fakes, tags: Tags) -> dict:
    """All submissions at once (as fast as the bot takes them, cfg.burst_concurrency in
    flight): the budget, 429s, lost and duplicated tasks."""
    receipts = Receipts(fakes)
    receipts.refresh()
    mc_next = fakes.maxcare_mark()
    tag = tags()
    reqs = submission_requests(cfg.burst, tag)
    started = time.monotonic()
    samples = asyncio.run(
        closed_loop(f"{bot.url}/slack/events", reqs, cfg.burst_concurrency, timeout=600)
    )
    sent_seconds = time.monotonic() - started
    accepted = [s for s in samples if ok_ack("submission", s)]
    windows = -(-len(accepted) // cfg.burst_limit)
    ideal = (windows - 1) * cfg.burst_window
    prefix = f"bench {tag} "

    def all_created() -> bool:
        return fakes.maxcare_stats(prefix)["distinct"] >= len(accepted)

    wait_until(all_created, ideal * 1.5 + 60, 0.5)
    wait_idle(bot, 120)
    drained_seconds = time.monotonic() - started
    receipts.refresh()
    _, mc = fakes.maxcare_receipts(mc_next)
    times = maxcare_arrivals(mc)
    stats = fakes.maxcare_stats(prefix)
    cards = collections.Counter(
        s.key for s in accepted if receipts.count[("chat.postMessage", s.key)] > 0
    )
    duplicate_cards = sum(max(0, receipts.count[("chat.postMessage", s.key)] - 1) for s in accepted)
    span = (times[-1] - times[0]) if times else 0.0
    fraction = budget_fraction(len(times), span, cfg.burst_limit, cfg.burst_window)
    return {
        "submissions": len(reqs),
        "accepted": len(accepted),
        "failed": len(reqs) - len(accepted),
        "budget": f"{cfg.burst_limit} per {cfg.burst_window:g} s",
        "maxcare_requests": len(times),
        "send_seconds": round(sent_seconds, 2),
        "drain_seconds": round(drained_seconds, 2),
        "ideal_drain_seconds": round(ideal, 2),
        "fraction_of_budget": round(fraction, 4),
        "rate_per_s": round((len(times) - cfg.burst_limit) / span, 2) if span else None,
        "budget_rate_per_s": round(cfg.burst_limit / cfg.burst_window, 2),
        "provoked_429": stats["rate_limited"],
        "tasks_created": stats["tasks"],
        "lost": len(accepted) - min(stats["distinct"], len(cards)),
        "tasks_missing": len(accepted) - stats["distinct"],
        "cards_missing": len(accepted) - len(cards),
        "duplicate_tasks": stats["duplicates"],
        "duplicate_cards": duplicate_cards,
        "ack_ms": summary([s.ms for s in samples]),
        # MaxCare requests per budget window counted from the first one: shows where time went.
        "requests_per_window": per_window(times, cfg.burst_window),
    }


def budget_fraction(count: int, span: float, limit: int, window: float) -> float:
    """How much of a budget of `limit` per `window` seconds `count` requests spent, sent
    between a first and a last `span` seconds apart: 1.0 is the whole budget.

    Windows' worth of requests over the time they took plus the last window (whose requests
    may all come at its start): `limit` a window, back to back, is exactly 1.0.
    """
    return (count / limit * window) / (span + window)


def per_window(times: list[float], window: float) -> list[int]:
    """How many of `times` fall in each window, counted from the first."""
    if not times:
        return []
    counts = collections.Counter(int((t - times[0]) // window) for t in times)
    return [counts.get(i, 0) for i in range(max(counts) + 1)]


def mapping_phase(cfg: Any, tmp: Path) -> dict:
    """get_links of 10 users at 100 and at 100,000 links, from memory and from SQL; the import."""
    small = mapping.lookup_at(tmp, 100, repeat=cfg.lookup_repeat)
    large = mapping.lookup_at(tmp, 100_000, repeat=cfg.lookup_repeat)
    imported = mapping.cli_import(tmp, cfg.import_rows)

    def ratio(path: str) -> float:
        return round(large[path]["median_us"] / small[path]["median_us"], 2)

    return {
        "lookup_10_of_100_us": small,
        "lookup_10_of_100000_us": large,
        "cached_ratio": ratio("cached"),
        "uncached_ratio": ratio("uncached"),
        "import": imported,
    }
