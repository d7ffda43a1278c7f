"""`python -m benchmarks.run [--quick]`: the app as a process against the fakes, in one run.

Phases: acks at fixed open-loop rates (bot, the like-for-like bare Bolt app, Bolt as it comes),
with the bot's cards counted; end-to-end overhead one at a time (with a relay making the same
hops); Slack-like traffic within MaxCare's real budget (the card target); the first burst after
a long idle (cold); the burst drain under a scaled-down budget; mapping scale; footprint.
Prints a table with PASS/MISS per target and writes benchmarks/results/latest.json and
benchmarks/results/ack_latency.png, and for a full run the committed copies
benchmarks/figures.json and benchmarks/ack_latency.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.ack import ack_phases, cards_phase, cold_phase
from benchmarks.apps import Apps
from benchmarks.chart import draw_ack_chart
from benchmarks.heap import keep_history_out_of_collections
from benchmarks.phases import burst_phase, e2e_phase, mapping_phase
from benchmarks.procs import ROOT, Fakes
from benchmarks.report import failures, report, targets
from benchmarks.traffic import Tags

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


@dataclass
class Config:
    """What one run does; --quick shrinks every count (a smoke run, figures only indicative)."""

    quick: bool = False
    slack_latency_ms: float = 20.0
    maxcare_latency_ms: float = 50.0
    # Ack phases: requests a second (Poisson). The top one is 3.6 times MaxCare's whole budget
    # (1,000 a minute) as submissions: more than the app could ever turn into tasks, with every
    # task and card still made (the bot's budget is lifted for these phases).
    rates: tuple[int, ...] = (10, 30, 60)
    # Per app per turn: the bot holds work up to 2 s while requests keep coming, so most of
    # each turn's acks are answered while its cards are being made (the rest are reported too).
    segment_seconds: float = 5.0
    segments: int = 4  # the apps take turns this many times per rate, forward then backward
    traffic_rate: float = 8.0  # forms a second, and as many submissions (card target)
    traffic_seconds: float = 60.0
    idle_seconds: float = 90.0  # before the cold burst
    cold_requests: int = 50
    cold_rate: float = 200.0
    e2e_count: int = 200
    burst: int = 2000
    burst_limit: int = 100
    burst_window: float = 6.0
    burst_concurrency: int = 200
    lookup_repeat: int = 2000
    import_rows: int = 100_000
    profile: bool = False

    @classmethod
    def quick_mode(cls, **kw: Any) -> Config:
        return cls(
            quick=True,
            segment_seconds=2.5,
            segments=2,
            traffic_seconds=10.0,
            idle_seconds=10.0,
            cold_requests=20,
            e2e_count=20,
            burst=200,
            burst_window=2.0,
            lookup_repeat=200,
            import_rows=10_000,
            **kw,
        )


def run(cfg: Config) -> dict[str, Any]:
    """Every measure, with every process stopped at the end whatever happens."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="maxcare-bench-"))
    results: dict[str, Any] = {"meta": meta(cfg, "benchmarks.run")}
    tags = Tags()
    fakes = Fakes(cfg.slack_latency_ms, cfg.maxcare_latency_ms, tmp / "fakes.log")
    raw: dict[str, Any] = {}
    try:
        apps = Apps(fakes, tmp, RESULTS if cfg.profile else None)
        # The ack phases let the bot's work run at full speed: the worst case for its acks.
        bot = apps.bot("bot", MAXCARE_RATE_LIMIT_PER_MINUTE="1000000")
        bare = apps.module("as_it_comes", ["benchmarks.bare_bolt"])
        lfl = apps.module(
            "like_for_like",
            ["benchmarks.bare_bolt", "--like-for-like"],
            RELAY_PROVIDER_ID=apps.doctor_id,
        )
        print(
            "starting the bot, the like-for-like bare Bolt app and Bolt as it comes …", flush=True
        )
        footprint: dict[str, Any] = {"startup_seconds": [round(bot.start(), 3)]}
        footprint["bare_startup_seconds"] = round(bare.start(), 3)
        lfl.start()
        time.sleep(1.0)
        footprint["rss_idle_mb"] = bot.rss_mb()
        footprint["bare_rss_idle_mb"] = bare.rss_mb()

        print(f"1. acks at {', '.join(f'{r}/s' for r in cfg.rates)} …", flush=True)
        results["ack"], raw = ack_phases(
            cfg, {"bot": bot, "like_for_like": lfl, "as_it_comes": bare}, fakes, tags
        )
        footprint["rss_after_ack_phases_mb"] = bot.rss_mb()

        print("2. end-to-end overhead, one at a time …", flush=True)
        relay = apps.module("relay", ["benchmarks.relay"], RELAY_PROVIDER_ID=apps.doctor_id)
        relay.start()
        results["e2e"] = e2e_phase(cfg, bot, fakes, tags, relay)
        for proc in (relay, bare, bot):
            proc.stop()

        print(
            f"3. traffic: {cfg.traffic_rate:g} forms + {cfg.traffic_rate:g} submissions a second "
            f"for {cfg.traffic_seconds:g} s, MaxCare's real budget …",
            flush=True,
        )
        fakes.maxcare_config(1000, 60.0)
        served = apps.bot("bot-traffic")  # the default budget, as in production
        footprint["startup_seconds"].append(round(served.start(), 3))
        traffic = cards_phase(cfg, {"like_for_like": lfl, "bot": served}, fakes, tags)
        for app, cards in traffic.pop("raw_cards").items():
            raw["card"][f"{app}, traffic"] = cards
        results["traffic"] = traffic

        print(
            f"4. mapping scale, during {cfg.idle_seconds:g} s of idle before the cold burst …",
            flush=True,
        )
        results["mapping"] = mapping_phase(cfg, tmp)
        last = {app: traffic[app].pop("finished_at") for app in ("bot", "like_for_like")}
        cold = cold_phase(cfg, {"bot": served, "like_for_like": lfl}, fakes, tags, last)
        for app, cards in cold.pop("raw_cards").items():
            raw["card"][f"{app}, cold"] = cards
        for app in ("bot", "like_for_like"):
            cold[app].pop("finished_at")
        results["cold"] = cold
        served.stop()
        lfl.stop()

        print(
            f"5. burst drain: {cfg.burst} submissions, budget {cfg.burst_limit} per "
            f"{cfg.burst_window:g} s …",
            flush=True,
        )
        fakes.maxcare_config(cfg.burst_limit, cfg.burst_window)
        burst_bot = apps.bot(
            "bot-burst",
            MAXCARE_RATE_LIMIT_PER_MINUTE=str(cfg.burst_limit),
            MAXCARE_RATE_WINDOW_SECONDS=str(cfg.burst_window),
        )
        footprint["startup_seconds"].append(round(burst_bot.start(), 3))
        time.sleep(1.0)
        footprint["rss_idle_burst_process_mb"] = burst_bot.rss_mb()
        results["burst"] = burst_phase(cfg, burst_bot, fakes, tags)
        footprint["rss_after_burst_mb"] = burst_bot.rss_mb()
        results["footprint"] = footprint
        burst_bot.stop()
        results["log_check"] = apps.log_check("bot")
    finally:
        if "apps" in locals():
            apps.stop()
        fakes.close()
    results["meta"]["loadavg_end"] = loadavg()
    results["failures"] = failures(results)
    results["targets"] = targets(results)
    png = draw_ack_chart(raw, RESULTS / "ack_latency.png")
    results["chart"] = str(png.relative_to(ROOT)) if png else None
    shutil.rmtree(tmp, ignore_errors=True)
    return results


def loadavg() -> str:
    """The 1, 5 and 15 minute load averages (the machine is shared: figures depend on it)."""
    try:
        return str(Path("/proc/loadavg").read_text().split(" ")[0:3])
    except OSError:
        return "?"


def meta(cfg: Any, module: str) -> dict[str, Any]:
    """When, where and how a run of `python -m <module>` was made (cfg: its dataclass)."""
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
        "command": f"python -m {module}" + (" --quick" if cfg.quick else ""),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": commit,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "loadavg_start": loadavg(),
        "config": asdict(cfg),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small counts: a smoke run of every phase")
    p.add_argument(
        "--slack-latency-ms", type=float, default=20.0, help="added to every fake Slack answer"
    )
    p.add_argument(
        "--maxcare-latency-ms", type=float, default=50.0, help="added to every fake MaxCare answer"
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
