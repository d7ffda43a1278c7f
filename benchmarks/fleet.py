"""`python -m benchmarks.fleet [--quick]`: several instances on one PostgreSQL, against the fakes.

1. Drain: three `python -m bot serve` on one fresh PostgreSQL database, behind the round-robin
   splitter (benchmarks/splitter.py), each told MaxCare's budget of 100 requests per 6 s, which
   the fake MaxCare enforces (429 beyond it). 2,000 signed submissions go through the splitter as
   fast as it takes them (200 in flight); once a third of them have their task, the instance
   holding the most unfinished submissions is SIGKILLed. Then, until every accepted submission
   has its task: the drain against the budget, the 429s, the lost and the duplicated.
2. Acks at 200 concurrent: one instance on PostgreSQL and one on SQLite, taking turns.
3. The shared limiter's cost: take() + done() of PostgresStore.shared_budget(), in process.

Prints the figures with PASS/MISS, writes benchmarks/results/fleet.json and, for a full run,
benchmarks/fleet.json. Needs a PostgreSQL server to create its databases on: TEST_DATABASE_URL
(or --server).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from benchmarks.apps import Apps
from benchmarks.heap import keep_history_out_of_collections
from benchmarks.load import Sample, closed_loop
from benchmarks.measure import Receipts, ok_ack, settle, wait_idle, wait_until
from benchmarks.output import RESULTS, pct, rounded, target_table, write_results
from benchmarks.phases import budget_fraction, per_window
from benchmarks.procs import Fakes, SplitterProcess
from benchmarks.run import loadavg, meta
from benchmarks.stats import summary
from benchmarks.traffic import Tags, note_for, submission_requests
from tests.support.postgres import TEST_URL_VARIABLE, PgServer

# The MaxCare client's own default timeout (a grant of a killed instance is stale after the
# window plus three of them); the limiter phase uses it as the app does.
DEFAULT_TIMEOUT_SECONDS = 10.0
ID_PREFIXES = ("tsk_", "prv_", "nte_")


@dataclass
class Config:
    """What one run does; --quick shrinks every count (a smoke run, figures only indicative)."""

    quick: bool = False
    slack_latency_ms: float = 20.0
    maxcare_latency_ms: float = 50.0
    instances: int = 3
    submissions: int = 2000
    limit: int = 100  # MaxCare's budget in the drain: this many requests …
    window: float = 6.0  # … per this many seconds
    lease_seconds: float = 5.0
    maxcare_timeout_seconds: float = 2.0
    send_concurrency: int = 200
    kill_after: float = 1 / 3  # of the accepted submissions with their task
    ack_concurrency: int = 200
    ack_per_turn: int = 600
    ack_turns: int = 4  # per database, in the order A B B A …
    limiter_calls: int = 1000
    limiter_limit: int = 1000  # the production budget: 1,000 …
    limiter_window: float = 60.0  # … a minute

    @classmethod
    def quick_mode(cls, **kw: Any) -> Config:
        return cls(
            quick=True,
            submissions=150,
            limit=25,
            window=2.0,
            send_concurrency=50,
            ack_concurrency=50,
            ack_per_turn=100,
            ack_turns=2,
            limiter_calls=200,
            **kw,
        )


# --- counting --------------------------------------------------------------------------------


def tally(accepted_notes: Iterable[str], tasks_by_note: Mapping[str, int]) -> dict[str, Any]:
    """Accepted submissions (by note ID) against the tasks MaxCare holds for each note ID.

    lost: an accepted submission with no task; duplicated: a note ID with more than one task
    (extra: how many tasks too many). A task of a note nobody submitted is `unexpected`.
    """
    wanted = set(accepted_notes)
    lost = sorted(n for n in wanted if tasks_by_note.get(n, 0) == 0)
    duplicated = sorted(n for n in wanted if tasks_by_note.get(n, 0) > 1)
    return {
        "lost": len(lost),
        "duplicated_notes": len(duplicated),
        "extra_tasks": sum(tasks_by_note[n] - 1 for n in duplicated),
        "unexpected_tasks": sum(c for n, c in tasks_by_note.items() if n not in wanted),
        "lost_examples": lost[:5],
        "duplicated_examples": duplicated[:5],
    }


def card_counts(keys: Iterable[str], posted: Mapping[tuple[str, str], int]) -> dict[str, int]:
    """Cards missing and posted more than once, of the submissions confirming in `keys`."""
    counts = [posted.get(("chat.postMessage", k), 0) for k in keys]
    return {
        "cards_missing": sum(1 for c in counts if c == 0),
        "duplicate_cards": sum(c - 1 for c in counts if c > 1),
    }


def arrivals(items: Sequence[Sequence[Any]]) -> tuple[list[float], list[float]]:
    """From the fake MaxCare's receipts: when each request arrived, and each task POST."""
    every = sorted(t for t, kind, _ in items if kind == "maxcare")
    posts = sorted(
        t
        for t, kind, key in items
        if kind == "maxcare" and key.startswith("POST ") and key.endswith("/tasks")
    )
    return every, posts


def whole_budgets_fraction(times: Sequence[float], limit: int, window: float) -> float | None:
    """The drain rate over whole budgets: 1.0 when the budget was used in full.

    Of requests sent as fast as a budget of `limit` per sliding `window` allows, the
    (k·limit + 1)-th can come k windows after the first at the soonest: k windows over the
    time it actually took. The last, partial budget's worth is left out, so the figure does
    not depend on how many requests there were past a multiple of `limit` (the whole-span
    figure, budget_fraction, charges a whole window for them). None with too few requests.
    """
    ordered = sorted(times)
    k = (len(ordered) - 1) // limit
    if k == 0:
        return None
    took = ordered[k * limit] - ordered[0]
    return k * window / took if took > 0 else None


def request_kind(key: str) -> str:
    """A receipt's "METHOD path" with IDs in the path made generic (GET /v4/tasks/{id})."""
    method, _, path = key.partition(" ")
    parts = ["{id}" if p[:4] in ID_PREFIXES else p for p in path.split("/")]
    return f"{method} {'/'.join(parts)}"


def owner_pid(owner: str) -> int | None:
    """The process ID inside a claim's owner ("host:pid:random")."""
    parts = owner.rsplit(":", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else None


# --- the drain, with one instance killed -----------------------------------------------------


def held_rows(url: str) -> dict[int, dict[str, int]]:
    """Unfinished submissions by the process that holds their claim: pid → state → count."""
    out: dict[int, dict[str, int]] = collections.defaultdict(dict)
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT claimed_by, state, count(*) FROM submissions WHERE confirmed_at IS NULL "
            "AND claimed_by IS NOT NULL GROUP BY claimed_by, state"
        ).fetchall()
    for owner, state, count in rows:
        pid = owner_pid(str(owner))
        if pid is not None:
            out[pid][str(state)] = int(count)
    return dict(out)


def grants_in_flight(url: str) -> int:
    """Grants of the shared budget whose request has no answer yet (every instance's)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM maxcare_grants WHERE done_at IS NULL").fetchone()
    return int(row[0]) if row else 0


def drain_phase(cfg: Config, apps: Apps, fakes: Fakes, url: str, tags: Tags) -> dict[str, Any]:
    """The fleet behind the splitter takes a burst; one instance is SIGKILLed a third through."""
    env = {
        "MAXCARE_RATE_LIMIT_PER_MINUTE": str(cfg.limit),
        "MAXCARE_RATE_WINDOW_SECONDS": str(cfg.window),
        "OUTBOX_LEASE_SECONDS": str(cfg.lease_seconds),
        "MAXCARE_TIMEOUT_SECONDS": str(cfg.maxcare_timeout_seconds),
    }
    fleet = [apps.bot(f"fleet-{i}", database_url=url, **env) for i in range(cfg.instances)]
    for proc in fleet:
        proc.launch()
    startup = [round(proc.wait_ready(60), 2) for proc in fleet]
    # Each instance's start-up check of MaxCare is not in the shared count (docs/operations.md):
    # the fake counts the budget from here, once every instance is ready.
    fakes.maxcare_config(cfg.limit, cfg.window)
    splitter = SplitterProcess([f"127.0.0.1:{p.port}" for p in fleet], apps.tmp / "splitter.log")
    try:
        receipts = Receipts(fakes)
        mc_from = fakes.maxcare_mark()
        tag = tags()
        prefix = f"bench {tag} "
        reqs = submission_requests(cfg.submissions, tag)
        started = time.monotonic()
        samples = asyncio.run(
            closed_loop(f"{splitter.url}/slack/events", reqs, cfg.send_concurrency, timeout=600)
        )
        send_seconds = time.monotonic() - started
        accepted = [s for s in samples if ok_ack("submission", s)]
        ideal = (math.ceil(len(accepted) / cfg.limit) - 1) * cfg.window
        timeout = ideal * 1.5 + 60 + cfg.lease_seconds + cfg.window

        def created() -> int:
            return int(fakes.maxcare_stats(prefix)["distinct"])

        kill_at_tasks = math.ceil(len(accepted) * cfg.kill_after)
        wait_until(lambda: created() >= kill_at_tasks, timeout, 0.1)
        held = held_rows(url)
        victim = max(fleet, key=lambda p: sum(held.get(p.pid, {}).values()))
        kill = {
            "instance": victim.name,
            "tasks_before": created(),
            "held_by_state": held.get(victim.pid, {}),
            "grants_in_flight_fleet_wide": grants_in_flight(url),
        }
        assert victim.popen is not None
        victim.popen.kill()  # SIGKILL: no drain, no release of its claims
        kill["exit_status"] = victim.popen.wait(10)
        kill["seconds_after_start"] = round(time.monotonic() - started, 2)
        kill["open_rows_held"] = sum(kill["held_by_state"].values())

        wait_until(lambda: created() >= len(accepted), timeout, 0.5)
        for proc in fleet:
            if proc is not victim:
                wait_idle(proc, 120)
        cards = {("chat.postMessage", s.key) for s in accepted}
        wait_until(lambda: receipts.has(cards), 30, 0.2)
        drain_seconds = time.monotonic() - started
        stats = fakes.maxcare_stats(prefix, by_note=True)
        _, items = fakes.maxcare_receipts(mc_from)
        split = splitter.counts()
    finally:
        splitter.close()
        for proc in fleet:
            proc.stop()
    every, posts = arrivals(items)
    first, last = (posts[0], posts[-1]) if posts else (0.0, 0.0)
    span = last - first
    during = [t for t in every if first <= t <= last]
    counted = tally([note_for(s.key) for s in accepted], stats["by_note"])
    kill["seconds_after_first_post"] = round(kill["seconds_after_start"] - (first - started), 2)
    return {
        "instances": cfg.instances,
        "submissions": len(reqs),
        "accepted": len(accepted),
        "failed": len(reqs) - len(accepted),
        "budget": f"{cfg.limit} per {cfg.window:g} s",
        "startup_seconds": startup,
        "send_seconds": round(send_seconds, 2),
        "ack_ms": summary([s.ms for s in samples]),
        "kill": kill,
        "drain_seconds": round(drain_seconds, 2),
        "ideal_drain_seconds": round(ideal, 2),
        "first_to_last_post_seconds": round(span, 2),
        "tasks_created": stats["tasks"],
        # Task POSTs over whole budgets (the target), and every request the same way.
        "fraction_of_budget": rounded(whole_budgets_fraction(posts, cfg.limit, cfg.window)),
        "requests_fraction_of_budget": rounded(
            whole_budgets_fraction(during, cfg.limit, cfg.window)
        ),
        # As the single instance's burst counts it (benchmarks/phases.py): the whole span.
        "whole_span_fraction_of_budget": rounded(
            budget_fraction(stats["tasks"], span, cfg.limit, cfg.window)
        ),
        "maxcare_requests": len(every),
        "maxcare_requests_by_kind": dict(collections.Counter(request_kind(k)
                                                              for _, kind, k in items
                                                              if kind == "maxcare")),
        "provoked_429": stats["rate_limited"],
        **counted,
        **card_counts([s.key for s in accepted], receipts.count),
        "requests_per_window": per_window([t for t in every if t >= first], cfg.window),
        "splitter": split,
    }  # fmt: skip


# --- acks at 200 concurrent: PostgreSQL and SQLite ----------------------------------------


def ack_phase(cfg: Config, apps: Apps, fakes: Fakes, url: str, tags: Tags) -> dict[str, Any]:
    """cfg.ack_concurrency submissions in flight, to one instance on each database in turn.

    Each turn opens its connections on as many unmeasured submissions first, and ends once
    that instance's tasks and cards are all made. MaxCare's budget is lifted: every task and
    card is made while the acks are measured, the worst case for them.
    """
    lifted = {"MAXCARE_RATE_LIMIT_PER_MINUTE": "1000000"}
    fakes.maxcare_config(None)
    bots = {
        "postgres": apps.bot("ack-postgres", database_url=url, **lifted),
        "sqlite": apps.bot("ack-sqlite", **lifted),
    }
    got: dict[str, list[Sample]] = {name: [] for name in bots}
    try:
        for proc in bots.values():
            proc.launch()
        for proc in bots.values():
            proc.wait_ready(60)
        receipts = Receipts(fakes)
        for turn in range(cfg.ack_turns):
            order = list(bots.items())
            if turn % 2:
                order.reverse()
            for name, proc in order:
                warm = submission_requests(cfg.ack_concurrency, tags())
                reqs = submission_requests(cfg.ack_per_turn, tags())
                url_of = f"{proc.url}/slack/events"
                samples = asyncio.run(
                    closed_loop(url_of, reqs, cfg.ack_concurrency, warmup=warm, timeout=300)
                )
                settle(receipts, proc, "bot", [], samples)
                got[name] += samples
    finally:
        for proc in bots.values():
            proc.stop()
    out: dict[str, Any] = {"concurrency": cfg.ack_concurrency}
    for name, samples in got.items():
        sent = cfg.ack_per_turn * cfg.ack_turns
        out[name] = {
            "ack_ms": summary([s.ms for s in samples]),
            "failed": sent - sum(ok_ack("submission", s) for s in samples),
            **card_counts([s.key for s in samples], receipts.count),
        }
    mine, theirs = out["postgres"]["ack_ms"].get("p99"), out["sqlite"]["ack_ms"].get("p99")
    out["ratio_p99"] = round(mine / theirs, 2) if mine and theirs else None
    return out


# --- the shared limiter's cost ---------------------------------------------------------------


def limiter_phase(cfg: Config, url: str) -> dict[str, Any]:
    """take() + done() of the shared budget, one request after another, timed in process.

    At the production budget (1,000 a minute), so the window fills as in the busiest minute:
    every grant stays in the table until its answer is a window old, and each take counts
    them. A `SELECT 1` on the same pool is the round trip underneath.
    """
    from bot.db.postgres import PostgresStore

    store = PostgresStore(url)
    takes: list[float] = []
    dones: list[float] = []
    floor: list[float] = []
    refused = 0
    stale = cfg.limiter_window + 3 * DEFAULT_TIMEOUT_SECONDS
    try:
        budget = store.shared_budget()
        for _ in range(cfg.limiter_calls):
            t0 = time.perf_counter()
            grant, _ = budget.take(cfg.limiter_limit, cfg.limiter_window, stale)
            t1 = time.perf_counter()
            if grant is None:
                refused += 1
                continue
            budget.done(grant)
            takes.append((t1 - t0) * 1e6)
            dones.append((time.perf_counter() - t1) * 1e6)
        for _ in range(200):
            t0 = time.perf_counter()
            with store.pool.connection() as conn:
                conn.execute("SELECT 1")
            floor.append((time.perf_counter() - t0) * 1e6)
    finally:
        store.close()
    per_request = [a + b for a, b in zip(takes, dones, strict=True)]
    tenth = max(1, len(per_request) // 10)
    return {
        "calls": cfg.limiter_calls,
        "budget": f"{cfg.limiter_limit} per {cfg.limiter_window:g} s",
        "refused": refused,
        "per_request_us": summary(per_request),
        "take_us": summary(takes),
        "done_us": summary(dones),
        "select_1_us": summary(floor),
        "first_tenth_mean_us": summary(per_request[:tenth]).get("mean"),
        "last_tenth_mean_us": summary(per_request[-tenth:]).get("mean"),
    }


# --- targets and the table -------------------------------------------------------------------


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and PASS/MISS."""
    d, a = r["drain"], r["ack"]
    frac = d["fraction_of_budget"] or 0.0
    ratio = a["ratio_p99"]
    failed = d["failed"] + a["postgres"]["failed"] + a["sqlite"]["failed"]
    missing = d["cards_missing"] + a["postgres"]["cards_missing"] + a["sqlite"]["cards_missing"]
    # A card caught mid-post by the SIGKILL is posted again by the instance that takes its row
    # up (Slack's chat.postMessage cannot be asked whether it arrived): those are reported, not
    # a target. With no instance killed there must be none.
    twice = a["postgres"]["duplicate_cards"] + a["sqlite"]["duplicate_cards"]
    rows = [
        (
            f"drain of {d['submissions']:,} at {d['budget']}, 1 of {d['instances']} SIGKILLed",
            f"{pct(d['fraction_of_budget'])} of the budget",
            "≥ 95 %",
            frac >= 0.95,
        ),
        ("429s the fake MaxCare answered", str(d["provoked_429"]), "0", d["provoked_429"] == 0),
        ("lost (accepted, no task)", str(d["lost"]), "0", d["lost"] == 0),
        (
            "duplicates (note IDs with > 1 task)",
            str(d["duplicated_notes"]),
            "0",
            d["duplicated_notes"] == 0,
        ),
        (
            f"ack p99 at {a['concurrency']} concurrent, PostgreSQL / SQLite",
            f"{ratio}×",
            "≤ 1.5×",
            ratio is not None and ratio <= 1.5,
        ),
        (
            "not accepted; cards missing; second cards with no kill",
            f"{failed}; {missing}; {twice}",
            "0",
            failed == missing == twice == 0,
        ),
    ]
    return [
        {"target": t, "measured": m, "goal": g, "result": "PASS" if ok else "MISS"}
        for t, m, g, ok in rows
    ]


def report(r: dict[str, Any]) -> str:
    """The figures and the targets, for people."""
    d, a, lim = r["drain"], r["ack"], r["limiter"]
    k = d["kill"]

    def pq(s: dict[str, Any]) -> str:
        return f"{s.get('p50', 0):.1f} / {s.get('p99', 0):.1f}"

    lines = [
        f"drain: {d['accepted']:,} of {d['submissions']:,} accepted through the splitter in "
        f"{d['send_seconds']} s (ack p50 / p99 {pq(d['ack_ms'])} ms); {d['tasks_created']:,} "
        f"tasks in {d['drain_seconds']} s (ideal {d['ideal_drain_seconds']} s)",
        f"  first to last POST {d['first_to_last_post_seconds']} s; of the budget, over whole "
        f"budgets: tasks {pct(d['fraction_of_budget'])}, every MaxCare request "
        f"{pct(d['requests_fraction_of_budget'])}; tasks over the whole span "
        f"{pct(d['whole_span_fraction_of_budget'])}",
        f"  killed {k['instance']} {k['seconds_after_first_post']} s after the first POST, with "
        f"{k['tasks_before']:,} tasks made and {k['open_rows_held']} unfinished submissions "
        f"in its hands ({k['held_by_state']})",
        f"  429s {d['provoked_429']}, lost {d['lost']}, duplicated notes "
        f"{d['duplicated_notes']}, cards missing {d['cards_missing']}, second cards "
        f"{d['duplicate_cards']} (posts the kill interrupted); MaxCare requests "
        f"{d['maxcare_requests_by_kind']}",
        f"  requests per window: {d['requests_per_window']}",
        f"acks at {a['concurrency']} concurrent, p50 / p99 ms: PostgreSQL "
        f"{pq(a['postgres']['ack_ms'])}, SQLite {pq(a['sqlite']['ack_ms'])} "
        f"(×{a['ratio_p99']})",
        f"shared limiter, {lim['calls']} requests at {lim['budget']}: take + done "
        f"{pq(lim['per_request_us'])} µs p50 / p99 (mean {lim['per_request_us'].get('mean')}; "
        f"first tenth {lim['first_tenth_mean_us']}, last {lim['last_tenth_mean_us']}); "
        f"a SELECT 1 {pq(lim['select_1_us'])} µs",
        "",
        *target_table(r["targets"], 24),
    ]
    return "\n".join(lines)


# --- the run ---------------------------------------------------------------------------------


def run(cfg: Config, server: PgServer) -> dict[str, Any]:
    """Every phase, each on a database of its own, every process stopped whatever happens."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="maxcare-fleet-"))
    results: dict[str, Any] = {"meta": meta(cfg, "benchmarks.fleet")}
    tags = Tags()
    fakes = Fakes(cfg.slack_latency_ms, cfg.maxcare_latency_ms, tmp / "fakes.log")
    apps: Apps | None = None
    try:
        apps = Apps(fakes, tmp)
        print(f"1. drain: {cfg.instances} instances on one PostgreSQL database, "
              f"{cfg.submissions:,} submissions at {cfg.limit} per {cfg.window:g} s, "
              "one SIGKILLed …", flush=True)  # fmt: skip
        with server.database("bench_fleet") as url:
            results["drain"] = drain_phase(cfg, apps, fakes, apps.postgres(url), tags)
        print(f"2. acks at {cfg.ack_concurrency} concurrent, PostgreSQL and SQLite …", flush=True)
        with server.database("bench_acks") as url:
            results["ack"] = ack_phase(cfg, apps, fakes, apps.postgres(url), tags)
        print("3. the shared limiter's cost …", flush=True)
        with server.database("bench_limiter") as url:
            results["limiter"] = limiter_phase(cfg, url)
        results["log_check"] = apps.log_check("")
    finally:
        if apps is not None:
            apps.stop()
        fakes.close()
    results["meta"]["loadavg_end"] = loadavg()
    results["targets"] = targets(results)
    shutil.rmtree(tmp, ignore_errors=True)
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.fleet", description=__doc__.split("\n")[0]
    )
    p.add_argument("--quick", action="store_true", help="small counts: a smoke run")
    p.add_argument(
        "--server",
        default=os.environ.get(TEST_URL_VARIABLE, ""),
        help=f"a PostgreSQL server's URL to create databases on (default: ${TEST_URL_VARIABLE})",
    )
    p.add_argument("--json", type=Path, help="write the figures here instead (nothing else)")
    p.add_argument("--slack-latency-ms", type=float, default=20.0)
    p.add_argument("--maxcare-latency-ms", type=float, default=50.0)
    args = p.parse_args(argv)
    if not args.server.strip():
        need = f"set {TEST_URL_VARIABLE} (postgresql://user@host:port/postgres) or pass --server"
        print(f"benchmarks.fleet needs a PostgreSQL server: {need}", file=sys.stderr)
        return 2
    server = PgServer(args.server.strip().replace("postgres://", "postgresql://", 1))
    try:
        with server.admin() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        print(f"benchmarks.fleet cannot reach the PostgreSQL server: {exc}", file=sys.stderr)
        return 2
    kw = {"slack_latency_ms": args.slack_latency_ms, "maxcare_latency_ms": args.maxcare_latency_ms}
    cfg = Config.quick_mode(**kw) if args.quick else Config(**kw)
    keep_history_out_of_collections()
    results = run(cfg, server)
    print(report(results))
    return write_results("fleet", results, full=not cfg.quick, to=args.json)


if __name__ == "__main__":
    sys.exit(main())
