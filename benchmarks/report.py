"""The targets (each with its measured value and PASS/MISS) and the printed table."""

from __future__ import annotations

from typing import Any

from benchmarks.measure import failures_of

APPS = ("bot", "like_for_like", "as_it_comes")
NAMES = {"bot": "bot", "like_for_like": "like-for-like", "as_it_comes": "Bolt as it comes"}


def failures(r: dict[str, Any]) -> dict[str, Any]:
    """Failed requests, forms not opened and cards missing, by phase and app, and in all."""
    out: dict[str, Any] = {}
    for kind, rates in r["ack"].items():
        for rate, entry in rates.items():
            for app in APPS:
                e = entry[app]
                got = failures_of({kind: e})
                out[f"ack {kind} {rate}/s {app}"] = got
    for phase in ("traffic", "cold"):
        for app in ("bot", "like_for_like"):
            out[f"{phase} {app}"] = failures_of(r[phase][app])
    e2e, burst = r["e2e"], r["burst"]
    out["e2e bot"] = {"requests": e2e["failed"], "forms": 0, "cards": e2e["cards_missing"]}
    out["burst bot"] = {"requests": burst["failed"], "forms": 0, "cards": burst["lost"]}
    total = {k: sum(v[k] for v in out.values()) for k in ("requests", "forms", "cards")}
    return {"total": total, "where": {k: v for k, v in out.items() if any(v.values())}}


def targets(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target with its measured value and PASS/MISS; any failure anywhere misses them all."""
    ack, top = r["ack"], max(r["ack"]["command"])
    traffic, cold = r["traffic"], r["cold"]
    opened = {
        f"{rate}/s": ack["command"][rate]["bot"]["views_open_ms"]["p99"] for rate in ack["command"]
    }
    opened["traffic"] = traffic["bot"]["command"]["views_open_ms"]["p99"]
    worst = max(opened, key=lambda k: opened[k])
    b, m, f = r["burst"], r["mapping"], r["footprint"]
    card = traffic["bot"]["submission"]["card_after_maxcare_ms"]["p99"]
    cold_open = cold["bot"]["command"]["views_open_ms"]["p99"]
    cold_card = cold["bot"]["submission"]["card_after_maxcare_ms"]["p99"]
    rate = traffic["rate_per_kind_per_s"]
    fail = r["failures"]["total"]
    sub_ratio = ack["submission"][top]["ratio_p99_while_cards"]
    rows = [
        (
            f"ack p99 at {top}/s, `/task` commands (bot / like-for-like)",
            f"{ack['command'][top]['ratio_p99']}×",
            "≤ 1.25×",
            ack["command"][top]["ratio_p99"] <= 1.25,
        ),
        (
            f"ack p99 at {top}/s, submissions, while cards are posted (bot / like-for-like)",
            f"{sub_ratio}×",
            "≤ 1.25×",
            sub_ratio is not None and sub_ratio <= 1.25,
        ),
        (
            f"views.open p99 from due (worst: {worst})",
            f"{opened[worst]} ms",
            "< 300 ms",
            opened[worst] < 300,
        ),
        (
            f"card p99 after MaxCare's answer, {rate:g} forms + {rate:g} submissions a second",
            f"{card} ms",
            "≤ 500 ms",
            card <= 500,
        ),
        (
            f"cold ({cold['idle_seconds']['bot']:g} s idle): views.open p99 from due",
            f"{cold_open} ms",
            "< 300 ms",
            cold_open < 300,
        ),
        ("cold: card p99 after MaxCare's answer", f"{cold_card} ms", "≤ 500 ms", cold_card <= 500),
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
        (
            "provoked 429s (traffic + burst)",
            traffic["provoked_429"] + b["provoked_429"],
            "0",
            traffic["provoked_429"] + b["provoked_429"] == 0,
        ),
        (
            "burst: duplicate tasks / cards",
            b["duplicate_tasks"] + b["duplicate_cards"],
            "0",
            b["duplicate_tasks"] + b["duplicate_cards"] == 0,
        ),
        (
            "get_links from SQL: 100,000 links vs 100",
            f"{m['uncached_ratio']}×",
            "≤ 2×",
            m["uncached_ratio"] <= 2,
        ),
        (
            "get_links from memory: 100,000 vs 100",
            f"{m['cached_ratio']}×",
            "≤ 2×",
            m["cached_ratio"] <= 2,
        ),
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
            f"start-up to /healthz 200 (worst of {len(f['startup_seconds'])})",
            f"{max(f['startup_seconds'])} s",
            "< 2 s",
            max(f["startup_seconds"]) < 2,
        ),
        (
            "failed requests / forms not opened / cards missing",
            f"{fail['requests']} / {fail['forms']} / {fail['cards']}",
            "0 / 0 / 0",
            not any(fail.values()),
        ),
    ]
    clean = not any(fail.values())
    return [
        {
            "target": t,
            "measured": v,
            "goal": g,
            "result": "PASS" if ok and clean else "MISS",
        }
        for t, v, g, ok in rows
    ]


def _pp(s: dict[str, Any]) -> str:
    """p50 / p99 of a summary."""
    if not s.get("n"):
        return "-"
    return f"{s['p50']:.1f} / {s['p99']:.1f}"


def report(r: dict[str, Any]) -> str:
    """The human table."""
    lines: list[str] = []
    add = lines.append
    add("")
    add("Acks, open loop (Poisson arrivals, timed from when each request was due), ms p50 / p99.")
    add("like-for-like: bare Bolt with the bot's choices (answer at the ack, its GC settings, one")
    add("kept-alive Slack session) doing the same outside calls, at once; the targets' baseline.")
    add("as it comes: Bolt acking only (polls its ack every 10 ms). CPU: ms a request, work in.")
    add(
        f"  {'request':<11}{'rate':>6}  {'bot':>15}{'like-for-like':>16}{'as it comes':>15}"
        f"{'× lfl':>7}{'× aic':>7}  {'CPU bot / lfl':>15}"
    )
    for kind, rates in r["ack"].items():
        for rate, e in rates.items():
            bot, lfl, aic = (e[a] for a in APPS)
            add(
                f"  {kind:<11}{rate:>4}/s  {_pp(bot['ack_ms']):>15}{_pp(lfl['ack_ms']):>16}"
                f"{_pp(aic['ack_ms']):>15}{e['ratio_p99']!s:>7}{e['ratio_p99_as_it_comes']!s:>7}  "
                f"{bot['cpu_ms_per_request']:>7} / {lfl['cpu_ms_per_request']:<7}"
            )
            if kind == "command":
                add(
                    f"  {'':<17}views.open from due: bot {_pp(bot['views_open_ms'])}, lfl "
                    f"{_pp(lfl['views_open_ms'])}, as it comes {_pp(aic['views_open_ms'])}"
                )
            else:
                add(
                    f"  {'':<17}ack while cards are posted: bot "
                    f"{_pp(bot['ack_ms_while_cards_posted'])}, lfl "
                    f"{_pp(lfl['ack_ms_while_cards_posted'])} (× {e['ratio_p99_while_cards']})"
                )
                add(
                    f"  {'':<17}card after MaxCare: bot {_pp(bot['card_after_maxcare_ms'])}, lfl "
                    f"{_pp(lfl['card_after_maxcare_ms'])}; submission → card: bot "
                    f"{_pp(bot['submission_to_card_ms'])}, lfl {_pp(lfl['submission_to_card_ms'])}"
                )
    for phase, title in (("traffic", "Traffic"), ("cold", "Cold")):
        p = r[phase]
        if phase == "traffic":
            head = (
                f"{title}: {p['rate_per_kind_per_s']:g} forms + {p['rate_per_kind_per_s']:g} "
                f"submissions a second for {p['seconds']} s (MaxCare's real budget; "
                f"{p['provoked_429']} × 429)"
            )
        else:
            head = (
                f"{title}: the first {sum(p['sent'].values())} requests at {p['rate_per_s']:g}/s "
                f"after {p['idle_seconds']['bot']:g} s idle"
            )
        add(head)
        for app in ("bot", "like_for_like"):
            e = p[app]
            add(
                f"  {NAMES[app]:<14} ack command {_pp(e['command']['ack_ms'])}, submission "
                f"{_pp(e['submission']['ack_ms'])}; views.open "
                f"{_pp(e['command']['views_open_ms'])}; card after MaxCare "
                f"{_pp(e['submission']['card_after_maxcare_ms'])}, "
                f"submission → card {_pp(e['submission']['submission_to_card_ms'])}"
            )
    e2e = r["e2e"]
    add(
        f"End-to-end, one at a time (sent → card − time in MaxCare, median "
        f"{e2e['maxcare_held_ms'].get('p50')} ms for {e2e['injected_ms']:g} injected): "
        f"{_pp(e2e['overhead_ms'])} ms ({e2e['cards']}/{e2e['submissions']} cards); delivery floor "
        f"median {e2e['delivery_floor_ms'].get('p50')} ms; received → card median "
        f"{e2e['received_to_card_median_ms']} ms; card after MaxCare "
        f"{_pp(e2e['card_after_maxcare_ms'])}"
    )
    if "relay_overhead_ms" in e2e:
        add(
            f"  relay (the same hops, no app): median {e2e['relay_overhead_ms'].get('p50')} ms, "
            f"received → card {e2e['relay_received_to_card_median_ms']} ms; the app's own share "
            f"{e2e['app_share_median_ms']} ms"
        )
    b = r["burst"]
    add(
        f"Burst: {b['accepted']}/{b['submissions']} accepted, {b['maxcare_requests']} MaxCare "
        f"requests in {b['drain_seconds']} s (ideal {b['ideal_drain_seconds']} s), "
        f"{b['fraction_of_budget']:.1%} of the budget ({b['budget']}), {b['provoked_429']} × 429, "
        f"lost {b['lost']}, duplicates {b['duplicate_tasks']} tasks / {b['duplicate_cards']} cards"
    )
    m = r["mapping"]
    small, large = m["lookup_10_of_100_us"], m["lookup_10_of_100000_us"]
    add(
        f"Mapping: get_links(10), median µs at 100 / 100,000 links: from memory "
        f"{small['cached']['median_us']} / {large['cached']['median_us']} ({m['cached_ratio']}×), "
        f"from SQL {small['uncached']['median_us']} / {large['uncached']['median_us']} "
        f"({m['uncached_ratio']}×); import of {m['import']['rows']:,} rows "
        f"{m['import']['seconds']} s "
        f"(start-up ≈ {m['import']['interpreter_and_imports_seconds']} s)"
    )
    f = r["footprint"]
    add(
        f"Footprint: start-up {f['startup_seconds']} s (bare Bolt {f['bare_startup_seconds']} s); "
        f"RSS idle {f['rss_idle_mb']} MB (bare {f['bare_rss_idle_mb']} MB), after the ack phases "
        f"{f['rss_after_ack_phases_mb']} MB, after the burst {f['rss_after_burst_mb']} MB"
    )
    where = r["failures"]["where"]
    add("Failures: " + (", ".join(f"{k}: {v}" for k, v in where.items()) if where else "none"))
    add("")
    add(f"  {'target':<72}{'measured':>14}  {'goal':<10}result")
    for t in r["targets"]:
        add(f"  {t['target']:<72}{t['measured']!s:>14}  {t['goal']:<10}{t['result']}")
    if r["meta"]["config"]["quick"]:
        add(
            f"  (--quick: small counts and {r['meta']['config']['idle_seconds']:g} s idle before "
            "the cold burst instead of 90; the figures are indicative only)"
        )
    return "\n".join(lines)
