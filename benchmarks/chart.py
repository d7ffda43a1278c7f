"""The PNG: ack latency distributions (empirical CDFs) of the three apps, and card latencies."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

NAMES = {"bot": "bot", "like_for_like": "like-for-like", "as_it_comes": "Bolt as it comes"}
STYLES = {"bot": "-", "like_for_like": ":", "as_it_comes": "--"}
COLOURS = ["tab:green", "tab:blue", "tab:red", "tab:purple", "tab:orange"]


def _cdf(ax: Any, values: Sequence[float], style: str, colour: str, label: str) -> None:
    ordered = sorted(values)
    ys = [(i + 1) / len(ordered) for i in range(len(ordered))]
    ax.plot(ordered, ys, style, color=colour, linewidth=1.4, label=label)


def draw_ack_chart(raw: Mapping[str, Any], path: Path) -> Path | None:
    """raw[kind][app][rate] = ack latencies (ms); raw["card"]["app, phase"] = cards after
    MaxCare's answer (ms). None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    kinds = [k for k in raw if k != "card"]
    fig, axes = plt.subplots(
        1, len(kinds) + 1, figsize=(6.2 * (len(kinds) + 1), 4.8), squeeze=False
    )
    for ax, kind in zip(axes[0], kinds, strict=False):
        rates = sorted({r for app in raw[kind].values() for r in app})
        colour = {r: COLOURS[i % len(COLOURS)] for i, r in enumerate(rates)}
        for app, style in STYLES.items():
            for rate, values in sorted(raw[kind].get(app, {}).items()):
                if values:
                    _cdf(ax, values, style, colour[rate], f"{NAMES[app]}, {rate}/s")
        ax.set_xlabel("ack latency from when the request was due (ms, log scale)")
        ax.set_title(
            f"{kind}: bot (solid), like-for-like (dotted), Bolt as it comes (dashed)", fontsize=9
        )
    ax = axes[0][len(kinds)]
    cards = raw.get("card", {})
    phases = list(dict.fromkeys(label.split(", ", 1)[1] for label in cards))
    for label, values in cards.items():
        app, phase = label.split(", ", 1)
        if values:
            tint = COLOURS[phases.index(phase) % len(COLOURS)]
            _cdf(ax, values, STYLES[app], tint, f"{NAMES[app]}, {phase}")
    ax.axvline(500, color="grey", linewidth=0.8, linestyle="--")
    ax.set_xlabel("card posted − MaxCare's answer (ms, log scale)")
    ax.set_title("card after MaxCare's answer: bot (solid), like-for-like (dotted)", fontsize=9)
    for ax in axes[0]:
        ax.set_xscale("log")
        ax.set_ylabel("fraction of requests")
        ax.axhline(0.99, color="grey", linewidth=0.6, linestyle=":")
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
