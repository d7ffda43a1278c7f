"""The processes of one benchmark run: the bot (a database each, or one PostgreSQL database
shared), the baselines, the relay."""

from __future__ import annotations

import sys
from pathlib import Path

from benchmarks.procs import ROOT, Fakes, Proc, clean_env, free_port
from benchmarks.traffic import DOCTOR, NURSES
from bot.db.interface import Store
from bot.db.store import SQLiteStore
from tests.support import payloads


def bot_command(profile_dir: Path | None, name: str) -> list[str]:
    """`python -m bot serve --mode http`, under pyinstrument when given a profile directory."""
    serve = ["-m", "bot", "serve", "--mode", "http"]
    if profile_dir is not None:
        out = profile_dir / f"profile-{name}.html"
        return [sys.executable, "-m", "pyinstrument", "-r", "html", "-o", str(out), *serve]
    return [sys.executable, *serve]


class Apps:
    """The processes of one run, each started on demand and all stopped at the end."""

    def __init__(self, fakes: Fakes, tmp: Path, profile_dir: Path | None = None) -> None:
        self.fakes, self.tmp, self.profile_dir = fakes, tmp, profile_dir
        self.procs: list[Proc] = []
        nurse_ids = fakes.maxcare_providers(len(NURSES))
        self.doctor_id = fakes.maxcare_providers(1)[0]
        self.people = [*zip(NURSES, nurse_ids, strict=True), (DOCTOR, self.doctor_id)]
        self.env = {
            **fakes.env(),
            "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
            "BIND_HOST": "127.0.0.1",
            "LOG_LEVEL": "INFO",
        }

    def _link_people(self, store: Store) -> None:
        try:
            for user, provider in self.people:
                store.set_link(user, provider, actor="bench", provider_name=f"Bench {user}")
        finally:
            store.close()

    def database(self, name: str) -> Path:
        """A database of its own for one bot process, with every benchmark user linked."""
        db = self.tmp / f"{name}.db"
        self._link_people(SQLiteStore(db))
        return db

    def postgres(self, url: str) -> str:
        """A PostgreSQL database (migrated, every benchmark user linked) for bots to share."""
        from bot.db.postgres import PostgresStore

        self._link_people(PostgresStore(url))
        return url

    def bot(self, name: str, database_url: str | None = None, **env: str) -> Proc:
        """`python -m bot serve` on its own SQLite database, or on `database_url` (prepared
        with `postgres`), not started."""
        where = (
            {"DATABASE_URL": database_url}
            if database_url
            else {"DATABASE_PATH": str(self.database(name))}
        )
        return self._bot(name, {**self.env, **where, **env})

    def many_workspaces_bot(self, name: str, **env: str) -> Proc:
        """`python -m bot serve` in many-workspace mode on a SQLite database of its own,
        installed nowhere and with nobody linked yet, not started."""
        from bot.workspaces.tokens import new_key

        full = {
            **{k: v for k, v in self.env.items()
               if k not in ("SLACK_BOT_TOKEN", "MAXCARE_ORGANIZATION_ID")},
            **self.fakes.many_workspaces_env(),
            "TOKEN_ENCRYPTION_KEY": new_key(),
            "DATABASE_PATH": str(self.tmp / f"{name}.db"),
            **env,
        }  # fmt: skip
        return self._bot(name, full)

    def _bot(self, name: str, env: dict[str, str]) -> Proc:
        port = free_port()
        proc = Proc(
            name,
            bot_command(self.profile_dir, name),
            clean_env({**env, "PORT": str(port)}),
            self.tmp,
            port,
            self.tmp / f"{name}.log",
        )
        self.procs.append(proc)
        return proc

    def module(self, name: str, argv: list[str], **env: str) -> Proc:
        """`python -m benchmarks.<…>` (not started)."""
        port = free_port()
        full = {**self.env, "PORT": str(port), **env}
        proc = Proc(
            name,
            [sys.executable, "-m", *argv],
            clean_env(full),
            ROOT,
            port,
            self.tmp / f"{name}.log",
        )
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        """Stop every process started (each stop is safe to repeat)."""
        for proc in self.procs:
            proc.stop()

    def logs(self, prefix: str) -> str:
        """What the processes whose name starts with `prefix` wrote."""
        return "".join(p.logs() for p in self.procs if p.name.startswith(prefix) and p.popen)

    def log_check(self, prefix: str) -> dict[str, int]:
        """Tracebacks and ERROR lines in those processes' logs (a run must have none)."""
        logs = self.logs(prefix)
        return {"tracebacks": logs.count("Traceback"), "errors": logs.count(" ERROR ")}
