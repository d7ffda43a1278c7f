"""What the fleet and fairness benchmarks print and write: rounded figures, the targets' table,
the JSON results (benchmarks/results/NAME.json, and benchmarks/NAME.json for a full run)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def rounded(value: float | None) -> float | None:
    """A fraction kept to four places (None stays None)."""
    return None if value is None else round(value, 4)


def pct(fraction: float | None) -> str:
    """A fraction as a percentage for people."""
    return "n/a" if fraction is None else f"{fraction * 100:.1f} %"


def target_table(targets: list[dict[str, Any]], measured_width: int) -> list[str]:
    """The targets, one line each: what, measured, goal, PASS or MISS."""
    lines = [f"{'target':<58} {'measured':<{measured_width}} {'goal':<8} result"]
    for t in targets:
        lines.append(
            f"{t['target']:<58} {t['measured']:<{measured_width}} {t['goal']:<8} {t['result']}"
        )
    return lines


def write_results(name: str, results: dict[str, Any], *, full: bool, to: Path | None) -> int:
    """Write the results as JSON (to `to`, else the results folder and, for a full run, the
    committed copy); the exit status: 0 only when every target passed."""
    text = json.dumps(results, indent=2, default=str) + "\n"
    written = [RESULTS / f"{name}.json"] if to is None else [to]
    if full and to is None:
        written.append(HERE / f"{name}.json")
    for path in written:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print("wrote " + ", ".join(str(w) for w in written))
    return 0 if all(t["result"] == "PASS" for t in results["targets"]) else 1
