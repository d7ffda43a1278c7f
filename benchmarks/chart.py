"""The PNG: ack latency distributions (empirical CDFs), the bot against the bare Bolt apps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

NAMES = {"bot": "bot", "bare": "bare Bolt", "inline": "bare Bolt, inline"}


def draw_ack_chart(
    samples: Mapping[str, Mapping[str, Mapping[int, Sequence[float]]]], path: Path
) -> Path | None:
    """samples[kind][app][concurrency] = latencies in ms; None when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    kinds = list(samples)
    fig, axes = plt.subplots(1, len(kinds), figsize=(6.5 * len(kinds), 4.8), squeeze=False)
    colours = {1: "tab:green", 50: "tab:blue", 200: "tab:red"}
    for ax, kind in zip(axes[0], kinds, strict=True):
        for app, style in (("bot", "-"), ("bare", "--"), ("inline", ":")):
            for level, values in sorted(samples[kind].get(app, {}).items()):
                if not values:
                    continue
                ordered = sorted(values)
                ys = [(i + 1) / len(ordered) for i in range(len(ordered))]
                ax.plot(
                    ordered,
                    ys,
                    style,
                    color=colours.get(level, "black"),
                    linewidth=1.4,
                    label=f"{NAMES[app]}, {level} concurrent",
                )
        ax.set_xscale("log")
        ax.set_xlabel("ack latency (ms, log scale)")
        ax.set_ylabel("fraction of requests acked")
        ax.set_title(f"{kind}: bot (solid), bare Bolt (dashed), bare answering inline (dotted)")
        ax.axhline(0.99, color="grey", linewidth=0.6, linestyle=":")
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
