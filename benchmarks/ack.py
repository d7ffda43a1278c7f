"""Open-loop phases: acks at fixed rates, cards at Slack-like traffic, and the first burst cold.

Every phase sends requests on a Poisson or fixed schedule and times each from when it was due.
Each app's figures include what it did with the requests: the forms it opened, and for the bot
the MaxCare task and the card of each submission (a segment ends when that work is done, not
when the last ack came back).
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Sequence
from typing import Any

from benchmarks.load import Sample, Signed, fixed_times, open_loop, poisson_times
from benchmarks.measure import WORKERS, Receipts, cpu_seconds, figures, settle
from benchmarks.procs import Fakes, Proc
from benchmarks.stats import summary
from benchmarks.traffic import Tags, command_requests, mixed_requests, submission_requests

KINDS = ("command", "submission")


def seed(*parts: object) -> int:
    """A stable seed for a schedule: every app in a segment gets the same arrivals."""
    return zlib.crc32(repr(parts).encode())


def drive(
    proc: Proc,
    requests: Sequence[tuple[str, Signed]],
    offsets: Sequence[float],
    receipts: Receipts,
    name: str,
) -> tuple[list[Sample], list[Sample], float]:
    """Send on schedule, wait for the work; (commands, submissions, CPU seconds the app used)."""
    kind_of = {r[0]: k for k, r in requests}
    cpu = cpu_seconds(proc.pid)
    timeout = (offsets[-1] if offsets else 0) + 120
    got = asyncio.run(
        open_loop(f"{proc.url}/slack/events", [r for _, r in requests], offsets, timeout=timeout)
    )
    commands = [s for s in got if kind_of[s.key] == "command"]
    subs = [s for s in got if kind_of[s.key] == "submission"]
    settle(receipts, proc, name, commands, subs)
    return commands, subs, cpu_seconds(proc.pid) - cpu


def during_work(subs: Sequence[Sample], receipts: Receipts) -> list[Sample]:
    """The submissions due once cards were being posted (their acks shared the CPU with it)."""
    cards = [receipts.first.get(("chat.postMessage", s.key)) for s in subs]
    posted = [t for t in cards if t is not None]
    if not posted:
        return []
    first = min(posted)
    return [s for s in subs if s.due >= first]


def ack_phases(
    cfg: Any, apps: dict[str, Proc], fakes: Fakes, tags: Tags
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Acks at each rate for each kind, the apps taking turns (cfg.segments per rate).

    apps: "bot", "like_for_like" (bare Bolt with the bot's choices around it and the same
    outside calls, benchmarks/bare_bolt.py: the baseline the targets use) and "as_it_comes"
    (Bolt as it comes, acking only). Returns the table and, for the chart,
    raw[kind][app][rate] (ack latencies) and raw["card"][label] (cards after MaxCare's answer).
    """
    receipts = Receipts(fakes)
    raw: dict[str, Any] = {k: {a: {} for a in apps} for k in KINDS}
    raw["card"] = {}
    table: dict[str, Any] = {}
    for kind in KINDS:
        build = command_requests if kind == "command" else submission_requests
        table[kind] = {}
        for rate in cfg.rates:
            count = max(1, round(rate * cfg.segment_seconds))
            got: dict[str, tuple[list[Sample], list[Sample]]] = {a: ([], []) for a in apps}
            cpu = {a: 0.0 for a in apps}
            working: dict[str, list[Sample]] = {a: [] for a in WORKERS if a in apps}
            # Forward, then backward (A B C, C B A): each app runs early as often as late, and
            # a spell of load from elsewhere on a shared machine falls on all of them.
            for segment in range(cfg.segments):
                offsets = poisson_times(count, rate, seed(kind, rate, segment))
                order = list(apps.items())
                if segment % 2:
                    order.reverse()
                for name, proc in order:
                    reqs = [(kind, r) for r in build(count, tags())]
                    cmds, subs, used = drive(proc, reqs, offsets, receipts, name)
                    got[name][0].extend(cmds)
                    got[name][1].extend(subs)
                    cpu[name] += used
                    if name in working:
                        working[name] += during_work(subs, receipts)
            entry: dict[str, Any] = {"rate_per_s": rate}
            for name in apps:
                cmds, subs = got[name]
                sent = {kind: count * cfg.segments}
                entry[name] = figures(receipts, name, cmds, subs, sent)[kind]
                entry[name]["cpu_ms_per_request"] = round(cpu[name] * 1000 / sent[kind], 3)
                raw[kind][name][rate] = [s.ms for s in (cmds or subs)]
                if kind == "submission" and name in working:
                    raw["card"][f"{name}, {rate}/s"] = receipts.after_created_ms(subs)
                    during = [s.ms for s in working[name]]
                    entry[name]["ack_ms_while_cards_posted"] = summary(during)
            for ref, suffix in (("like_for_like", ""), ("as_it_comes", "_as_it_comes")):
                for q in ("p50", "p99"):
                    mine, theirs = entry["bot"]["ack_ms"].get(q), entry[ref]["ack_ms"].get(q)
                    entry[f"ratio_{q}{suffix}"] = _ratio(mine, theirs)
            if kind == "submission":
                # Both apps' acks while their own cards were being posted: the work included.
                mine, theirs = (entry[a]["ack_ms_while_cards_posted"].get("p99") for a in WORKERS)
                entry["ratio_p99_while_cards"] = _ratio(mine, theirs)
            table[kind][rate] = entry
            print(
                f"  {kind:<10} {rate:>4}/s: ack p99 ms "
                + " | ".join(f"{a} {entry[a]['ack_ms'].get('p99', 0):7.2f}" for a in apps)
                + f" | × like-for-like {entry['ratio_p99']}"
                + f", × as it comes {entry['ratio_p99_as_it_comes']}",
                flush=True,
            )
    return table, raw


def _ratio(mine: float | None, theirs: float | None) -> float | None:
    return round(mine / theirs, 2) if mine and theirs else None


def mixed_schedule(seconds: float, per_kind_rate: float, key: object) -> list[tuple[str, float]]:
    """Two Poisson streams (commands and submissions, each at per_kind_rate) merged."""
    count = max(1, round(seconds * per_kind_rate))
    out = [
        (kind, t)
        for kind in KINDS
        for t in poisson_times(count, per_kind_rate, seed(key, kind))
        if t < seconds
    ]
    return sorted(out, key=lambda kt: kt[1])


def traffic_phase(
    apps: dict[str, Proc],
    fakes: Fakes,
    tags: Tags,
    schedule: Sequence[tuple[str, float]],
) -> dict[str, Any]:
    """The same schedule of commands and submissions to each app in turn; figures of each."""
    receipts = Receipts(fakes)
    offsets = [t for _, t in schedule]
    sent = {k: sum(1 for kind, _ in schedule if kind == k) for k in KINDS}
    out: dict[str, Any] = {}
    for name, proc in apps.items():
        reqs = mixed_requests([k for k, _ in schedule], tags())
        cmds, subs, used = drive(proc, reqs, offsets, receipts, name)
        out[name] = figures(receipts, name, cmds, subs, sent)
        out[name]["cpu_ms_per_request"] = round(used * 1000 / max(1, len(schedule)), 3)
        out[name]["finished_at"] = time.monotonic()
        if name in WORKERS:
            out.setdefault("raw_cards", {})[name] = receipts.after_created_ms(subs)
    for kind in KINDS:
        bot = out["bot"][kind]["ack_ms"].get("p99")
        ref = out["like_for_like"][kind]["ack_ms"].get("p99")
        out[f"ratio_p99_{kind}"] = _ratio(bot, ref)
    out["sent"] = sent
    out["seconds"] = round(offsets[-1], 2) if offsets else 0.0
    return out


def cards_phase(cfg: Any, apps: dict[str, Proc], fakes: Fakes, tags: Tags) -> dict[str, Any]:
    """Slack-like traffic within MaxCare's budget: cfg.traffic_rate forms and submissions a
    second each, for cfg.traffic_seconds; the card latency target is read from here."""
    schedule = mixed_schedule(cfg.traffic_seconds, cfg.traffic_rate, "traffic")
    limited = fakes.maxcare_stats()["rate_limited"]
    out = traffic_phase(apps, fakes, tags, schedule)
    out["provoked_429"] = fakes.maxcare_stats()["rate_limited"] - limited
    out["rate_per_kind_per_s"] = cfg.traffic_rate
    return out


def cold_phase(
    cfg: Any, apps: dict[str, Proc], fakes: Fakes, tags: Tags, last_active: dict[str, float]
) -> dict[str, Any]:
    """The first burst after cfg.idle_seconds with no request: cfg.cold_requests, commands and
    submissions alternating, at cfg.cold_rate a second (each app in turn, the first one's idle
    being the one named; last_active: when each app last finished its work)."""
    first = next(iter(apps))
    wait = last_active[first] + cfg.idle_seconds - time.monotonic()
    if wait > 0:
        time.sleep(wait)
    started = time.monotonic()
    kinds = [KINDS[i % 2] for i in range(cfg.cold_requests)]
    schedule = list(zip(kinds, fixed_times(len(kinds), cfg.cold_rate), strict=True))
    out = traffic_phase(apps, fakes, tags, schedule)
    out["idle_seconds"] = {a: round(started - last_active[a], 1) for a in apps}
    out["rate_per_s"] = cfg.cold_rate
    return out
