"""Mapping scale: Store.get_links for 10 users against small and large tables; CSV import."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.procs import ROOT, clean_env
from benchmarks.stats import percentile, summary
from bot.db.store import SQLiteStore


def user_id(i: int) -> str:
    """The i-th benchmark Slack user ID."""
    return f"U{i:09d}"


def write_links_csv(path: Path, count: int) -> Path:
    """A `links import` file with `count` rows."""
    with path.open("w", encoding="utf-8") as out:
        out.write("slack_user_id,provider_id\n")
        for i in range(count):
            out.write(f"{user_id(i)},prv_{secrets.token_hex(16)}\n")
    return path


def seed_links(store: SQLiteStore, count: int) -> None:
    """`count` links written straight into the table (fast set-up for the lookup measure)."""
    rows = [
        (user_id(i), f"prv_{secrets.token_hex(16)}", "bench", "2026-01-01T00:00:00+00:00")
        for i in range(count)
    ]
    with store.transaction():
        store.db.conn.executemany(
            "INSERT OR REPLACE INTO links (slack_user_id, provider_id, linked_by, linked_at) "
            "VALUES (?, ?, ?, ?)",
            rows,
        )


def measure_lookup(store: SQLiteStore, count: int, *, users: int = 10, repeat: int = 1000) -> dict:
    """Time store.get_links(10 linked users) `repeat` times; summary in microseconds."""
    step = max(1, count // users)
    wanted = [user_id(min(count - 1, i * step)) for i in range(users)]
    found = store.get_links(wanted)
    assert len(found) == min(users, count), "lookup found fewer links than seeded"
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        store.get_links(wanted)
        times.append((time.perf_counter() - started) * 1e6)
    result = summary(times)
    result["median_us"] = round(percentile(times, 50), 1)
    return result


def lookup_at(tmp: Path, count: int, *, repeat: int) -> dict:
    """A fresh database with `count` links; the lookup measure on it."""
    store = SQLiteStore(tmp / f"lookup-{count}.db")
    try:
        seed_links(store, count)
        return measure_lookup(store, count, repeat=repeat)
    finally:
        store.close()


def cli_import(tmp: Path, count: int) -> dict:
    """`python -m bot links import` of `count` rows into a new database, timed end to end."""
    csv_path = write_links_csv(tmp / f"links-{count}.csv", count)
    db = tmp / f"import-{count}.db"
    env = clean_env({"DATABASE_PATH": str(db)})
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bot", "links", "import", str(csv_path)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"links import failed: {done.stderr[-2000:]}")
    # The interpreter's own start-up, to tell it apart from the import itself.
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "import bot.cli"], cwd=ROOT, env=env, timeout=60, check=True
    )
    startup = time.perf_counter() - started
    store = SQLiteStore(db)
    try:
        imported = store.count_links()
    finally:
        store.close()
    return {
        "rows": count,
        "seconds": round(seconds, 2),
        "imported": imported,
        "interpreter_and_imports_seconds": round(startup, 2),
    }
