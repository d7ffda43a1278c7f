"""Mapping scale: get_links of 10 users from memory and from SQL, small and large; the import."""

from __future__ import annotations

import secrets
import sqlite3
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


class OtherWriter:
    """A second connection to the same file that commits a write to a table of its own.

    The Store answers get_links from memory until SQLite's data_version says another
    connection wrote, as the links CLI does; after this write it reads the links table again
    (and SQLite its pages), the path the first lookup and every lookup after a change take.
    """

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        self.conn.execute("PRAGMA busy_timeout = 5000")
        self.conn.execute("CREATE TABLE IF NOT EXISTS bench_touch (n INTEGER)")
        self.n = 0

    def write(self) -> None:
        self.n += 1
        self.conn.execute("INSERT INTO bench_touch (n) VALUES (?)", [self.n])

    def close(self) -> None:
        self.conn.close()


def _reads_links(store: SQLiteStore, other: OtherWriter, wanted: list[str]) -> int:
    """SELECTs on the links table one lookup after another connection's write makes."""
    seen: list[str] = []
    store.db.conn.set_trace_callback(seen.append)
    try:
        other.write()
        store.get_links(wanted)
    finally:
        store.db.conn.set_trace_callback(None)
    return sum(1 for sql in seen if "FROM links" in sql)


def measure_lookup(store: SQLiteStore, count: int, *, users: int = 10, repeat: int = 1000) -> dict:
    """Time store.get_links(10 linked users) `repeat` times from memory ("cached") and as many
    times right after another connection wrote ("uncached": the SQL lookup); microseconds."""
    step = max(1, count // users)
    wanted = [user_id(min(count - 1, i * step)) for i in range(users)]
    found = store.get_links(wanted)
    assert len(found) == min(users, count), "lookup found fewer links than seeded"
    other = OtherWriter(store.path)
    try:
        if _reads_links(store, other, wanted) < 1:
            raise RuntimeError("the uncached lookup did not read the links table")
        cached, uncached = [], []
        for _ in range(repeat):
            started = time.perf_counter()
            store.get_links(wanted)
            cached.append((time.perf_counter() - started) * 1e6)
            other.write()
            started = time.perf_counter()
            store.get_links(wanted)
            uncached.append((time.perf_counter() - started) * 1e6)
    finally:
        other.close()
    result = {}
    for name, times in (("cached", cached), ("uncached", uncached)):
        result[name] = summary(times)
        result[name]["median_us"] = round(percentile(times, 50), 1)
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
    # The command line's own start-up (interpreter and imports), to tell it from the import.
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bot", "--help"],
        cwd=ROOT,
        env=env,
        timeout=60,
        check=True,
        capture_output=True,
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
