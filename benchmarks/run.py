"""`python -m benchmarks.run [--quick]`: the app as a process against the fakes, in one run.

Measures (issue 7): ack latency bot vs bare Bolt at 1/50/200 concurrent, trigger use (command →
views.open), end-to-end overhead (submission → card, minus injected latency), burst drain under a
scaled-down MaxCare budget, mapping scale, footprint. Prints a table with PASS/MISS per target and
writes benchmarks/results/latest.json, benchmarks/results/ack_latency.png and, for a full run,
the committed copies benchmarks/figures.json and benchmarks/ack_latency.png.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import mapping
from benchmarks.chart import draw_ack_chart
from benchmarks.heap import keep_history_out_of_collections
from benchmarks.load import Sample, Signed, closed_loop, paced
from benchmarks.procs import ROOT, Fakes, Proc, clean_env, free_port
from benchmarks.stats import summary
from bot.db.store import SQLiteStore
from tests.support import payloads, submissions

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
NURSES = [f"UNURSE{i:02d}" for i in range(10)]
DOCTOR = "UDOCTOR0"
LEVELS = (1, 50, 200)


@dataclass
class Config:
    """What one run does; --quick shrinks every count (a smoke run, figures only indicative)."""

    quick: bool = False
    slack_latency_ms: float = 20.0
    maxcare_latency_ms: float = 50.0
    counts: dict[int, int] = field(default_factory=lambda: {1: 200, 50: 1000, 200: 2000})
    e2e_count: int = 200
    burst: int = 2000
    burst_limit: int = 100
    burst_window: float = 6.0
    burst_concurrency: int = 200
    lookup_repeat: int = 2000
    import_rows: int = 100_000
    segments: int = 4  # bot and bare Bolt take turns this many times per level
    profile: bool = False

    @classmethod
    def quick_mode(cls, **kw: Any) -> Config:
        return cls(
            quick=True,
            counts={1: 20, 50: 100, 200: 400},
            e2e_count=20,
            burst=200,
            burst_window=2.0,
            lookup_repeat=200,
            import_rows=10_000,
            segments=2,
            **kw,
        )


# --- requests --------------------------------------------------------------------------------


def command_requests(count: int, tag: str) -> list[Signed]:
    """Signed `/task nte_… <@doctor> text` commands from linked nurses; key: trigger_id."""
    out = []
    for i in range(count):
        trigger = payloads.new_trigger_id()
        text = f"nte_{secrets.token_hex(16)} <@{DOCTOR}|doctor> Bench {tag} {i}: review the plan"
        body, headers = payloads.slash_command(
            text, user_id=NURSES[i % len(NURSES)], channel_id="C0GENERAL", trigger_id=trigger
        )
        out.append((trigger, body, headers))
    return out


def submission_requests(count: int, tag: str) -> list[Signed]:
    """Signed valid task-form submissions, each confirming in its own channel; key: channel."""
    out = []
    for i in range(count):
        channel = f"C{tag}{i:07d}"
        body, headers = submissions.submission(
            view_id=submissions.new_view_id(),
            note=submissions.note_id(),
            notes=f"bench {tag} {i}: plan missing for Impression #3",
            assignees=[DOCTOR],
            user_id=NURSES[i % len(NURSES)],
            channel=channel,
        )
        out.append((channel, body, headers))
    return out


class Tags:
    """Short unique upper-case tags, so channels and notes never repeat within a run."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"B{self.n:03d}"


# --- helpers -----------------------------------------------------------------------------------


def wait_until(check: Callable[[], bool], timeout: float, step: float = 0.1) -> bool:
    """Poll `check` until true or `timeout` seconds pass (bounded by construction)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(step)
    return check()


def wait_idle(bot: Proc, timeout: float = 300.0) -> bool:
    """Until the bot's worker has nothing in hand (twice in a row, 100 ms apart)."""
    state = {"zero": 0}

    def idle() -> bool:
        state["zero"] = state["zero"] + 1 if bot.health().get("in_hand") == 0 else 0
        return state["zero"] >= 2

    return wait_until(idle, timeout)


def ok_ack(kind: str, sample: Sample, app: str = "bot") -> bool:
    """A command acks empty (the form opens after); the bot acks a submission with
    `response_action: update`, the bare apps with an empty body."""
    if sample.status != 200:
        return False
    if kind == "command" or app != "bot":
        return sample.body.strip() == b""
    return (
        b'"response_action": "update"' in sample.body
        or b'"response_action":"update"' in sample.body
    )


class Receipts:
    """What the fake Slack received, fetched incrementally: first receipt time per key."""

    def __init__(self, fakes: Fakes) -> None:
        self.fakes = fakes
        self.next = 0
        self.first: dict[tuple[str, str], float] = {}
        self.count: collections.Counter[tuple[str, str]] = collections.Counter()

    def refresh(self) -> None:
        self.next, items = self.fakes.slack_receipts(self.next)
        for t, method, key in items:
            self.count[(method, key)] += 1
            self.first.setdefault((method, key), t)

    def has(self, keys: set[tuple[str, str]]) -> bool:
        """Refresh, then True when every key was received."""
        self.refresh()
        return keys <= self.first.keys()

    def delays_ms(self, method: str, samples: list[Sample], minus_ms: float = 0.0) -> list[float]:
        """Receipt of `method` for each sample's key, minus the sample's send time."""
        out = []
        for s in samples:
            t = self.first.get((method, s.key))
            if t is not None:
                out.append((t - s.sent) * 1000 - minus_ms)
        return out


# --- phases ------------------------------------------------------------------------------------


# Warm-up requests per segment, in rounds of `level`. Reaching a new concurrency the bot grows
# its pool of Slack connections, ~145 at 200 concurrent; each new one took 3-5 turns of its
# loop (median 106 ms, aiohttp trace), so the views.open calls waiting on them made the whole
# p99 tail (~300 ms against ~160 for the rest). With 2 rounds that growth fell in the measured
# window; with 5 it is over before it (every new connection 0.15-0.6 s before the first
# measured request). The figures are the steady state at each level, for every app alike.
WARMUP_ROUNDS = 5


def ack_phases(cfg: Config, apps: dict[str, Proc], fakes: Fakes, out: dict[str, Any]) -> dict:
    """1-2: ack latency and trigger use, the apps taking turns (cfg.segments per level).

    apps: "bot", "bare" (Bolt as it comes: the floor the targets compare with) and "inline"
    (bare Bolt answering at the ack like the bot: the like-for-like reference).
    """
    bot = apps["bot"]
    receipts = Receipts(fakes)
    raw: dict[str, dict[str, dict[int, list[float]]]] = {}
    tags = out.setdefault("_tags", Tags())
    table: dict[str, Any] = {}
    for kind, build in (("command", command_requests), ("submission", submission_requests)):
        raw[kind] = {name: {} for name in apps}
        table[kind] = {}
        for level in LEVELS:
            count = cfg.counts[level]
            per_app: dict[str, list[Sample]] = {name: [] for name in apps}
            bad: dict[str, int] = {name: 0 for name in apps}
            # Forward, then backward (A B C, C B A, ...): each app runs early as often as late,
            # and a spell of load from elsewhere on a shared machine falls on all of them.
            for segment in range(cfg.segments):
                order = list(apps.items())
                if segment % 2:
                    order.reverse()
                for name, proc in order:
                    warm = build(max(20, WARMUP_ROUNDS * level), tags())
                    reqs = build(count // cfg.segments, tags())
                    got = asyncio.run(
                        closed_loop(
                            f"{proc.url}/slack/events", reqs, level, warmup=warm, timeout=600
                        )
                    )
                    bad[name] += sum(1 for s in got if not ok_ack(kind, s, name))
                    bad[name] += len(reqs) - len(got)
                    per_app[name].extend(got)
                    if kind == "submission" and name == "bot":
                        if not wait_idle(bot):
                            raise RuntimeError("the bot did not drain its outbox within 300 s")
                    elif kind == "command":
                        keys = {("views.open", s.key) for s in got}
                        wait_until(lambda k=keys: receipts.has(k), 30, 0.2)  # type: ignore[misc]
            receipts.refresh()
            entry: dict[str, Any] = {}
            for name in apps:
                ms = [s.ms for s in per_app[name]]
                raw[kind][name][level] = ms
                entry[name] = {"ack_ms": summary(ms), "bad_acks": bad[name]}
                if kind == "command":
                    opened = receipts.delays_ms("views.open", per_app[name])
                    entry[name]["views_open_ms"] = summary(opened)
                    entry[name]["views_open_missing"] = len(per_app[name]) - len(opened)
                elif name == "bot":
                    cards = receipts.delays_ms(
                        "chat.postMessage", per_app[name], cfg.maxcare_latency_ms
                    )
                    entry[name]["e2e_overhead_under_load_ms"] = summary(cards)
            for name, suffix in (("bare", ""), ("inline", "_inline")):
                if name not in entry:
                    continue
                ref = entry[name]["ack_ms"]
                for q in ("p50", "p99"):
                    mine = entry["bot"]["ack_ms"].get(q, 0)
                    entry[f"ratio_{q}{suffix}"] = round(mine / ref[q], 2) if ref.get(q) else None
            table[kind][level] = entry
            print(
                f"  {kind:<10} {level:>3} concurrent: p99 ms "
                + " | ".join(f"{name} {entry[name]['ack_ms'].get('p99', 0):7.2f}" for name in apps)
                + f" | bot/bare {entry['ratio_p99']}"
                + (f", bot/inline {entry['ratio_p99_inline']}" if "inline" in apps else ""),
                flush=True,
            )
    out["_raw_ack"] = raw
    return table


# Phase 3 takes turns: this many submissions, then as many delivery probes, and so on.
E2E_BLOCK = 20


def e2e_phase(cfg: Config, bot: Proc, fakes: Fakes, tags: Tags, relay: Proc | None = None) -> dict:
    """3: one submission at a time; card receipt − send − the time MaxCare held the request.

    "Minus the fakes' injected latency" is taken as the fake realized it: from the request's
    arrival in the fake MaxCare to its answer. Its 50 ms sleep overshoots by 1–10 ms when the
    machine is idle, and that time is the fake's, not the app's.

    The issue counts from the submission's receipt; a client can only time its send. So the
    same requests also go to a fake that records their arrival and answers at once: the
    delivery floor (send → arrival in an idle process on this machine), which "received → card"
    subtracts, median from median. `relay` (benchmarks/relay.py) makes the same hops as the bot
    and nothing else: its figure is what the machine charges for the hops. Submissions, relay
    submissions and probes take turns in blocks at the same pace, so all see the same machine.
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
    sent = asyncio.run(paced([u for u, _ in plan], [r for _, r in plan], interval, timeout=900))
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
                spent = sum(end - start for start, end in held if s.sent <= start <= card)
                inside.append(spent * 1000)
                out.append((card - s.sent - spent) * 1000)
        return out, inside

    samples = [by_key[k] for k, _, _ in reqs if k in by_key]
    overhead, inside = overheads(samples)
    delivery = receipts.delays_ms("arrive", [s for s in sent if s.key.startswith("arrive-")])
    floor = summary(delivery).get("p50", 0.0)
    median = summary(overhead).get("p50", 0.0)
    result = {
        "submissions": len(samples),
        "cards": len(overhead),
        "injected_ms": cfg.maxcare_latency_ms,
        "maxcare_held_ms": summary(inside),
        "overhead_ms": summary(overhead),
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


def maxcare_arrivals(items: list[list[Any]]) -> list[float]:
    """When each request reached the fake MaxCare, sorted (not when it was answered)."""
    return sorted(t for t, kind, _ in items if kind == "maxcare")


def maxcare_holds(items: list[list[Any]], key: str) -> list[tuple[float, float]]:
    """(arrival, answer) times of each `key` request the fake MaxCare answered, in order."""
    arrivals: collections.deque[float] = collections.deque()
    holds = []
    for t, kind, k in items:
        if k != key:
            continue
        if kind == "maxcare":
            arrivals.append(t)
        elif kind == "maxcare-answer" and arrivals:
            holds.append((arrivals.popleft(), t))
    return holds


def burst_phase(cfg: Config, bot: Proc, fakes: Fakes, tags: Tags) -> dict:
    """4: all submissions at once; the budget, 429s, lost and duplicated tasks."""
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
    # Windows' worth of requests over the time they took (+ the last window): 1.0 is the budget.
    fraction = (len(times) / cfg.burst_limit * cfg.burst_window) / (span + cfg.burst_window)
    return {
        "submissions": len(reqs),
        "accepted": len(accepted),
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
        "requests_per_window": _per_window(times, cfg.burst_window),
    }


def _per_window(times: list[float], window: float) -> list[int]:
    if not times:
        return []
    counts = collections.Counter(int((t - times[0]) // window) for t in times)
    return [counts.get(i, 0) for i in range(max(counts) + 1)]


def mapping_phase(cfg: Config, tmp: Path) -> dict:
    """5: get_links of 10 users at 100 and at 100,000 links; links import of 100,000 rows."""
    small = mapping.lookup_at(tmp, 100, repeat=cfg.lookup_repeat)
    large = mapping.lookup_at(tmp, 100_000, repeat=cfg.lookup_repeat)
    imported = mapping.cli_import(tmp, cfg.import_rows)
    return {
        "lookup_10_of_100_us": small,
        "lookup_10_of_100000_us": large,
        "lookup_ratio": round(large["median_us"] / small["median_us"], 2),
        "import": imported,
    }


# --- the run -----------------------------------------------------------------------------------


def bot_command(cfg: Config, name: str) -> list[str]:
    """`python -m bot serve --mode http`, under pyinstrument with --profile."""
    if cfg.profile:
        out = RESULTS / f"profile-{name}.html"
        return [
            sys.executable,
            "-m",
            "pyinstrument",
            "-r",
            "html",
            "-o",
            str(out),
            "-m",
            "bot",
            "serve",
            "--mode",
            "http",
        ]
    return [sys.executable, "-m", "bot", "serve", "--mode", "http"]


def run(cfg: Config) -> dict[str, Any]:
    """Every measure, with every process stopped at the end whatever happens."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="maxcare-bench-"))
    results: dict[str, Any] = {"meta": _meta(cfg)}
    scratch: dict[str, Any] = {}
    procs: list[Proc] = []
    fakes = Fakes(cfg.slack_latency_ms, cfg.maxcare_latency_ms, tmp / "fakes.log")
    try:
        nurse_ids = fakes.maxcare_providers(len(NURSES))
        doctor_id = fakes.maxcare_providers(1)[0]
        db = tmp / "bot.db"
        store = SQLiteStore(db)
        for user, provider in [*zip(NURSES, nurse_ids, strict=True), (DOCTOR, doctor_id)]:
            store.set_link(user, provider, actor="bench", provider_name=f"Bench {user}")
        store.close()
        base_env = {
            **fakes.env(),
            "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
            "DATABASE_PATH": str(db),
            "BIND_HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO",
        }
        bot_port, bare_port, inline_port = free_port(), free_port(), free_port()
        bot = Proc(
            "bot",
            bot_command(cfg, "latency"),
            clean_env(
                {**base_env, "PORT": str(bot_port), "MAXCARE_RATE_LIMIT_PER_MINUTE": "1000000"}
            ),
            tmp,
            bot_port,
            tmp / "bot.log",
        )
        bare = Proc(
            "bare",
            [sys.executable, "-m", "benchmarks.bare_bolt"],
            clean_env({**base_env, "PORT": str(bare_port)}),
            ROOT,
            bare_port,
            tmp / "bare.log",
        )
        inline = Proc(
            "inline",
            [sys.executable, "-m", "benchmarks.bare_bolt", "--inline"],
            clean_env({**base_env, "PORT": str(inline_port)}),
            ROOT,
            inline_port,
            tmp / "inline.log",
        )
        procs += [bot, bare, inline]
        print("starting the bot and bare Bolt (as it comes, and answering inline) …", flush=True)
        footprint: dict[str, Any] = {"startup_seconds": [round(bot.start(), 3)]}
        footprint["bare_startup_seconds"] = round(bare.start(), 3)
        inline.start()
        time.sleep(1.0)
        footprint["rss_idle_mb"] = bot.rss_mb()
        footprint["bare_rss_idle_mb"] = bare.rss_mb()

        print("1-2. ack latency and trigger use …", flush=True)
        results["ack"] = ack_phases(
            cfg, {"bot": bot, "bare": bare, "inline": inline}, fakes, scratch
        )
        footprint["rss_after_ack_phases_mb"] = bot.rss_mb()
        footprint["bare_rss_after_ack_phases_mb"] = bare.rss_mb()
        tags: Tags = scratch["_tags"]

        print("3. end-to-end overhead …", flush=True)
        relay_port = free_port()
        relay = Proc(
            "relay",
            [sys.executable, "-m", "benchmarks.relay"],
            clean_env({**base_env, "PORT": str(relay_port), "RELAY_PROVIDER_ID": doctor_id}),
            ROOT,
            relay_port,
            tmp / "relay.log",
        )
        procs.append(relay)
        relay.start()
        results["e2e"] = e2e_phase(cfg, bot, fakes, tags, relay)
        relay.stop()
        inline.stop()
        bare.stop()
        bot.stop()

        print(
            f"4. burst drain: {cfg.burst} submissions, budget {cfg.burst_limit} per "
            f"{cfg.burst_window:g} s …",
            flush=True,
        )
        fakes.maxcare_config(cfg.burst_limit, cfg.burst_window)
        burst_port = free_port()
        burst_bot = Proc(
            "bot-burst",
            bot_command(cfg, "burst"),
            clean_env(
                {
                    **base_env,
                    "PORT": str(burst_port),
                    "MAXCARE_RATE_LIMIT_PER_MINUTE": str(cfg.burst_limit),
                    "MAXCARE_RATE_WINDOW_SECONDS": str(cfg.burst_window),
                }
            ),
            tmp,
            burst_port,
            tmp / "bot-burst.log",
        )
        procs.append(burst_bot)
        footprint["startup_seconds"].append(round(burst_bot.start(), 3))
        time.sleep(1.0)
        footprint["rss_idle_burst_process_mb"] = burst_bot.rss_mb()
        results["burst"] = burst_phase(cfg, burst_bot, fakes, tags)
        footprint["rss_after_burst_mb"] = burst_bot.rss_mb()
        results["footprint"] = footprint
        burst_bot.stop()
        logs = bot.logs() + burst_bot.logs()
        results["log_check"] = {
            "tracebacks": logs.count("Traceback"),
            "errors": logs.count(" ERROR "),
        }
    finally:
        for proc in procs:
            proc.stop()
        fakes.close()
    print("5. mapping scale …", flush=True)
    results["mapping"] = mapping_phase(cfg, tmp)
    results["meta"]["loadavg_end"] = _loadavg()
    results["targets"] = targets(results)
    png = draw_ack_chart(scratch["_raw_ack"], RESULTS / "ack_latency.png")
    results["chart"] = str(png.relative_to(ROOT)) if png else None
    shutil.rmtree(tmp, ignore_errors=True)
    return results


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue 7 with its measured value and PASS/MISS."""
    ack = r["ack"]
    worst_open = max(ack["command"][lv]["bot"]["views_open_ms"]["p99"] for lv in LEVELS)
    worst_open_level = max(LEVELS, key=lambda lv: ack["command"][lv]["bot"]["views_open_ms"]["p99"])
    b, m, f = r["burst"], r["mapping"], r["footprint"]
    rows = [
        (
            "ack p99 at 200 concurrent, slash commands",
            ack["command"][200]["ratio_p99"],
            "≤ 1.25× bare",
            ack["command"][200]["ratio_p99"] <= 1.25,
        ),
        (
            "ack p99 at 200 concurrent, view submissions",
            ack["submission"][200]["ratio_p99"],
            "≤ 1.25× bare",
            ack["submission"][200]["ratio_p99"] <= 1.25,
        ),
        (
            f"views.open p99 after receipt (worst level: {worst_open_level})",
            f"{worst_open} ms",
            "< 300 ms",
            worst_open < 300,
        ),
        (
            "end-to-end overhead, median (received → card)",
            f"{r['e2e']['received_to_card_median_ms']} ms",
            "≤ 15 ms",
            r["e2e"]["received_to_card_median_ms"] <= 15,
        ),
        (
            "burst drain, fraction of budget",
            f"{b['fraction_of_budget']:.1%}",
            "≥ 95 %",
            b["fraction_of_budget"] >= 0.95,
        ),
        ("burst: provoked 429s", b["provoked_429"], "0", b["provoked_429"] == 0),
        ("burst: lost", b["lost"], "0", b["lost"] == 0),
        (
            "burst: duplicates",
            b["duplicate_tasks"] + b["duplicate_cards"],
            "0",
            b["duplicate_tasks"] + b["duplicate_cards"] == 0,
        ),
        ("lookup at 100,000 links vs 100", f"{m['lookup_ratio']}×", "≤ 2×", m["lookup_ratio"] <= 2),
        (
            f"links import of {m['import']['rows']:,} rows",
            f"{m['import']['seconds']} s",
            "< 5 s",
            m["import"]["seconds"] < 5,
        ),
        (
            "RSS after the burst",
            f"{f['rss_after_burst_mb']} MB",
            "< 150 MB",
            f["rss_after_burst_mb"] < 150,
        ),
        (
            "start-up to /healthz 200 (worst of 2)",
            f"{max(f['startup_seconds'])} s",
            "< 2 s",
            max(f["startup_seconds"]) < 2,
        ),
    ]
    return [
        {"target": t, "measured": v, "goal": g, "result": "PASS" if ok else "MISS"}
        for t, v, g, ok in rows
    ]


def _loadavg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split(" ")[0:3].__str__()
    except OSError:
        return "?"


def _meta(cfg: Config) -> dict[str, Any]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "command": "python -m benchmarks.run" + (" --quick" if cfg.quick else ""),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_start": _loadavg(),
        "config": {k: v for k, v in asdict(cfg).items()},
    }


# --- output ------------------------------------------------------------------------------------


def report(r: dict[str, Any]) -> str:
    """The human table."""
    lines: list[str] = []
    add = lines.append
    add("")
    add("Ack latency (ms; client send → HTTP answer). bare: Bolt as it comes (polls for the ack);")
    add("inline: bare Bolt answering at the ack, like the bot. Ratios: bot / bare, bot / inline.")
    add(
        f"  {'request':<11}{'conc':>5} {'bot p50':>8}{'p99':>8} {'bare p50':>9}{'p99':>8}"
        f" {'inline p50':>11}{'p99':>8}  {'p50 ×':>6}{'p99 ×':>6}  {'p50 ×i':>7}{'p99 ×i':>7}"
    )
    for kind in ("command", "submission"):
        for lv in LEVELS:
            e = r["ack"][kind][lv]
            bot, bare, inl = (e[a]["ack_ms"] for a in ("bot", "bare", "inline"))
            add(
                f"  {kind:<11}{lv:>5} {bot['p50']:>8.2f}{bot['p99']:>8.2f} {bare['p50']:>9.2f}"
                f"{bare['p99']:>8.2f} {inl['p50']:>11.2f}{inl['p99']:>8.2f}"
                f"  {e['ratio_p50']:>6.2f}{e['ratio_p99']:>6.2f}"
                f"  {e['ratio_p50_inline']:>7.2f}{e['ratio_p99_inline']:>7.2f}"
            )
    add("Trigger use: command sent → views.open received, p50 / p99 (ms)")
    for lv in LEVELS:
        e = r["ack"]["command"][lv]
        add(
            f"  {lv:>3} concurrent: "
            + " | ".join(
                f"{a} {e[a]['views_open_ms']['p50']:.2f} / {e[a]['views_open_ms']['p99']:.2f}"
                for a in ("bot", "bare", "inline")
            )
        )
    e2e = r["e2e"]
    add(
        f"End-to-end overhead (submission sent → card received − time in MaxCare, median "
        f"{e2e['maxcare_held_ms'].get('p50')} ms for {e2e['injected_ms']:g} injected): median "
        f"{e2e['overhead_ms']['p50']} ms, p99 {e2e['overhead_ms']['p99']} ms"
        f" ({e2e['cards']}/{e2e['submissions']} cards); delivery floor (send → arrival in an"
        f" idle fake) median {e2e['delivery_floor_ms'].get('p50')} ms; received → card median"
        f" {e2e['received_to_card_median_ms']} ms"
    )
    if "relay_overhead_ms" in e2e:
        add(
            f"  the same hops with no app (benchmarks/relay.py): median "
            f"{e2e['relay_overhead_ms'].get('p50')} ms, received → card "
            f"{e2e['relay_received_to_card_median_ms']} ms; the app's own share (bot − relay, "
            f"medians) {e2e['app_share_median_ms']} ms"
        )
    b = r["burst"]
    add(
        f"Burst: {b['accepted']}/{b['submissions']} accepted, {b['maxcare_requests']} MaxCare "
        f"requests in {b['drain_seconds']} s (ideal {b['ideal_drain_seconds']} s), "
        f"{b['fraction_of_budget']:.1%} of the budget ({b['budget']}), "
        f"{b['provoked_429']} × 429, lost {b['lost']}, duplicates "
        f"{b['duplicate_tasks']} tasks / {b['duplicate_cards']} cards; "
        f"ack p99 {b['ack_ms']['p99']} ms"
    )
    m = r["mapping"]
    add(
        f"Mapping: get_links(10) median {m['lookup_10_of_100_us']['median_us']} µs at 100 links, "
        f"{m['lookup_10_of_100000_us']['median_us']} µs at 100,000 ({m['lookup_ratio']}×); "
        f"links import of {m['import']['rows']:,} rows {m['import']['seconds']} s "
        f"(of which interpreter + imports ≈ {m['import']['interpreter_and_imports_seconds']} s)"
    )
    f = r["footprint"]
    add(
        f"Footprint: start-up {f['startup_seconds']} s (bare Bolt {f['bare_startup_seconds']} s); "
        f"RSS idle {f['rss_idle_mb']} MB (bare {f['bare_rss_idle_mb']} MB), after ack phases "
        f"{f['rss_after_ack_phases_mb']} MB, burst process idle {f['rss_idle_burst_process_mb']} MB"
        f" → after the burst {f['rss_after_burst_mb']} MB"
    )
    add("")
    add(f"  {'target':<58}{'measured':>14}  {'goal':<14}result")
    for t in r["targets"]:
        add(f"  {t['target']:<58}{t['measured']!s:>14}  {t['goal']:<14}{t['result']}")
    if r["meta"]["config"]["quick"]:
        add("  (--quick: small counts; the figures are indicative only)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small counts: a smoke run of every phase")
    p.add_argument(
        "--slack-latency-ms",
        type=float,
        default=20.0,
        help="added to every fake Slack answer (default 20)",
    )
    p.add_argument(
        "--maxcare-latency-ms",
        type=float,
        default=50.0,
        help="added to every fake MaxCare answer (default 50)",
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="run the bot under pyinstrument (HTML profiles in benchmarks/results/)",
    )
    args = p.parse_args(argv)
    kw = {
        "slack_latency_ms": args.slack_latency_ms,
        "maxcare_latency_ms": args.maxcare_latency_ms,
        "profile": args.profile,
    }
    cfg = Config.quick_mode(**kw) if args.quick else Config(**kw)
    keep_history_out_of_collections()
    results = run(cfg)
    print(report(results))
    text = json.dumps(results, indent=2, default=str)
    (RESULTS / "latest.json").write_text(text + "\n", encoding="utf-8")
    written = [RESULTS / "latest.json"]
    if not cfg.quick and not cfg.profile:
        (HERE / "figures.json").write_text(text + "\n", encoding="utf-8")
        written.append(HERE / "figures.json")
        if results["chart"]:
            shutil.copyfile(ROOT / results["chart"], HERE / "ack_latency.png")
            written.append(HERE / "ack_latency.png")
    if results["chart"]:
        written.append(ROOT / results["chart"])
    print("wrote " + ", ".join(str(w.relative_to(ROOT)) for w in written))
    return 0 if all(t["result"] == "PASS" for t in results["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
