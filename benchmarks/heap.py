"""GC policy for the benchmark's own processes (the driver and the fakes), which keep all they saw.

Their heaps only grow (every sample, receipt, call and view is kept for the figures), and each
full collection walked all of it. A gc callback logging pauses showed, under the 200-concurrent
`/task` load: up to 240 ms in the fakes, up to 90 ms in the driver, every 2 s or so and longer as
the run went on. The fake Slack read nothing during its pauses, so the views.open receipts of
every app (bot and bare alike) landed late in clusters of identical delay; the driver sent and
timed nothing during its own. Freezing what survives each full collection (gc.freeze) keeps it
out of the next ones: each then walks only what came since (longest fakes pause after: 26–47 ms).
"""

from __future__ import annotations

import gc
from typing import Any


def freeze_after_full_collection(phase: str, info: dict[str, Any]) -> None:
    """gc callback: after a full (generation 2) collection, freeze the survivors."""
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def keep_history_out_of_collections() -> None:
    """Install the callback once in this process."""
    if freeze_after_full_collection not in gc.callbacks:
        gc.callbacks.append(freeze_after_full_collection)
