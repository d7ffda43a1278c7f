"""`python -m bot` as a real process in tests: a free port, a clean environment, restarts."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support import ROOT
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import DOCTOR, env_for
from tests.support.submissions import new_view_id, submission


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """PATH, the project on PYTHONPATH and the given variables: nothing from the developer."""
    return {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT), **extra}


class App:
    """Starts and restarts `python -m bot` on one database; always stopped at the end."""

    def __init__(
        self,
        slack: FakeSlack,
        maxcare: FakeMaxCare,
        tmp: Path,
        name: str = "app",
        database_url: str | None = None,  # PostgreSQL; else SQLite in tmp
    ) -> None:
        self.env = clean_env(
            {**env_for(slack, maxcare, tmp / "bot.db"), "PORT": str(free_port()),
             "OUTBOX_LEASE_SECONDS": "3"}  # a killed process's rows are free again soon
        )
        if database_url is not None:
            self.env["DATABASE_URL"] = database_url
        self.maxcare = maxcare
        self.cwd = tmp
        self.url = f"http://127.0.0.1:{self.env['PORT']}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = tmp / f"{name}.log"

    def start(self) -> None:
        with self.log.open("ab") as sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"], cwd=self.cwd, env=self.env,
                stdout=sink, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        pytest.fail("the app never became healthy:\n" + self.log.read_text())

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM, as a platform does when it replaces a process; returns its exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def cli(self, *argv: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "bot", *argv], cwd=self.cwd, env=self.env,
            capture_output=True, text=True, timeout=30,
        )
        assert done.returncode == 0, done.stderr

    def submit(self, text: str) -> str:
        view_id = new_view_id()
        note = self.maxcare.add_note()["id"]
        body, headers = submission(view_id=view_id, note=note, notes=text, assignees=[DOCTOR])
        answer = httpx.post(f"{self.url}/slack/events", content=body, headers=headers, timeout=10)
        assert answer.status_code == 200 and answer.json()["response_action"] == "update"
        return view_id
