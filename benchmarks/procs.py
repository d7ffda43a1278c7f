"""Child processes of the benchmark: start, wait until ready, read RSS, always stop."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from tests.support.processes import clean_env, free_port  # noqa: F401  (re-exported)

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    """Resident set size of a process in MiB (VmRSS from /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Proc:
    """One child process serving HTTP on 127.0.0.1:port."""

    name: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    startup_seconds: float | None = None
    _sink: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """`http://127.0.0.1:<port>`."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def start(self, timeout: float = 30.0) -> float:
        """Start the process and poll /healthz every 5 ms until 200; returns seconds to ready."""
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        """Start the process without waiting for it (several then start side by side)."""
        self._sink = self.log_path.open("ab")
        self.started_at = time.monotonic()
        self.popen = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float = 30.0) -> float:
        """Poll /healthz every 5 ms until 200; returns seconds from launch to ready."""
        assert self.popen is not None
        deadline = self.started_at + timeout
        with httpx.Client(timeout=1.0) as http:
            while True:
                if self.popen.poll() is not None:
                    raise RuntimeError(
                        f"{self.name} exited with {self.popen.returncode}:\n{self.logs()[-3000:]}"
                    )
                try:
                    if http.get(f"{self.url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name}: /healthz never answered 200:\n{self.logs()[-3000:]}"
                    )
                time.sleep(0.005)
        self.startup_seconds = time.monotonic() - self.started_at
        return self.startup_seconds

    def health(self) -> dict[str, Any]:
        """The /healthz body."""
        return dict(httpx.get(f"{self.url}/healthz", timeout=5).json())

    def rss_mb(self) -> float:
        """Current RSS in MiB."""
        return rss_mb(self.pid)

    def logs(self) -> str:
        """What the process wrote so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, grace: float = 25.0) -> int | None:
        """SIGTERM, wait up to grace, then SIGKILL; returns the exit status."""
        try:
            if self.popen is None:
                return None
            if self.popen.poll() is None:
                self.popen.send_signal(signal.SIGTERM)
                try:
                    self.popen.wait(grace)
                except subprocess.TimeoutExpired:
                    self.popen.kill()
                    self.popen.wait(10)
            return self.popen.returncode
        finally:
            if self._sink is not None:
                self._sink.close()
                self._sink = None


class Announced:
    """A `python -m …` child that prints one JSON line once it serves, and serves until its
    standard input closes (the line is `info`)."""

    def __init__(self, argv: list[str], log_path: Path, what: str) -> None:
        self._log = log_path.open("ab")
        self.popen = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=clean_env({}),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
        )
        assert self.popen.stdout is not None
        line = self.popen.stdout.readline()
        if not line:
            self.close()
            raise RuntimeError(f"{what} did not start; see {log_path}")
        self.info: dict[str, Any] = json.loads(line)

    def close(self) -> None:
        """Close its standard input (it stops), then make sure it is gone."""
        try:
            if self.popen.stdin is not None:
                self.popen.stdin.close()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        finally:
            if self.popen.stdout is not None:
                self.popen.stdout.close()
            self._log.close()


class SplitterProcess(Announced):
    """benchmarks.splitter in its own process, round-robin over `backends` (host:port)."""

    def __init__(self, backends: list[str], log_path: Path) -> None:
        argv = [sys.executable, "-m", "benchmarks.splitter"]
        for backend in backends:
            argv += ["--backend", backend]
        super().__init__(argv, log_path, "the splitter")
        self.url = f"http://127.0.0.1:{self.info['port']}"

    def counts(self) -> dict[str, dict[str, int]]:
        """Requests forwarded to, refused by and failed at each backend."""
        return dict(httpx.get(f"{self.url}/_splitter/counts", timeout=10).json())


class Fakes(Announced):
    """benchmarks.fakes in its own process: its addresses, and helpers for its control routes."""

    def __init__(self, slack_latency_ms: float, maxcare_latency_ms: float, log_path: Path) -> None:
        argv = [
            sys.executable,
            "-m",
            "benchmarks.fakes",
            "--slack-latency-ms",
            str(slack_latency_ms),
            "--maxcare-latency-ms",
            str(maxcare_latency_ms),
            "--max-seconds",
            "3600",
        ]
        super().__init__(argv, log_path, "the fakes")
        self.http = httpx.Client(timeout=30)

    def env(self) -> dict[str, str]:
        """Variables that point the app at the fakes."""
        return {
            "SLACK_BOT_TOKEN": self.info["slack_token"],
            "SLACK_API_URL": self.info["slack_api_url"],
            "MAXCARE_API_KEY": self.info["maxcare_api_key"],
            "MAXCARE_ORGANIZATION_ID": self.info["maxcare_org"],
            "MAXCARE_API_URL": self.info["maxcare_url"],
        }

    def many_workspaces_env(self) -> dict[str, str]:
        """Variables of many-workspace mode: the fake Slack's OAuth client, no bot token and no
        MaxCare organization (each workspace's own, once installed and connected)."""
        env = {k: v for k, v in self.env().items()
               if k not in ("SLACK_BOT_TOKEN", "MAXCARE_ORGANIZATION_ID")}  # fmt: skip
        env["SLACK_CLIENT_ID"] = self.info["slack_client_id"]
        env["SLACK_CLIENT_SECRET"] = self.info["slack_client_secret"]
        return env

    def slack_workspace(self, team_id: str, name: str) -> None:
        """Another workspace the app can be installed in."""
        self._post(self.info["slack_base"], "workspace", {"team_id": team_id, "name": name})

    def slack_user(self, user_id: str, team_id: str, is_admin: bool = False) -> None:
        """A person of workspace `team_id` (users.info answers for them with its token)."""
        body = {"user_id": user_id, "team_id": team_id, "is_admin": is_admin}
        self._post(self.info["slack_base"], "user", body)

    def slack_approve(self, authorize_url: str, team_id: str, user_id: str) -> tuple[str, str]:
        """The installer approves on Slack's authorize page: (code, state) for the redirect."""
        body = {"url": authorize_url, "team_id": team_id, "user_id": user_id}
        got = self._post(self.info["slack_base"], "approve", body)
        return str(got["code"]), str(got["state"])

    def slack_response_url(self, name: str) -> str:
        """A response_url issued now; its posts are the calls of `response_url:<name>`."""
        return str(self._post(self.info["slack_base"], "response_url", {"name": name})["url"])

    def slack_calls(self, method: str) -> list[dict[str, Any]]:
        """Each recorded call of `method`: its `params` and `error`."""
        got = self.http.get(f"{self.info['slack_base']}/_bench/calls", params={"method": method})
        got.raise_for_status()
        return list(got.json()["items"])

    def maxcare_organization(self) -> str:
        """Another organization the API key reaches; its ID."""
        return str(self._post(self.info["maxcare_base"], "organizations", {})["id"])

    def maxcare_task_posts(self, since: int = 0) -> tuple[int, list[list[Any]]]:
        """Each task POST: [arrived (monotonic), note ID, X-Organization-Id, answer status]."""
        got = self.http.get(
            f"{self.info['maxcare_base']}/_bench/task_posts", params={"since": since}
        )
        body = got.json()
        return int(body["next"]), body["items"]

    def _post(self, base: str, route: str, body: dict[str, Any]) -> dict[str, Any]:
        got = self.http.post(f"{base}/_bench/{route}", json=body)
        got.raise_for_status()
        return dict(got.json())

    def slack_receipts(self, since: int = 0) -> tuple[int, list[list[Any]]]:
        got = self.http.get(f"{self.info['slack_base']}/_bench/receipts", params={"since": since})
        body = got.json()
        return int(body["next"]), body["items"]

    @property
    def arrive_url(self) -> str:
        """Answers at once, recording when each request arrived (key: `?key=`)."""
        return f"{self.info['slack_base']}/_bench/arrive"

    def slack_counts(self) -> dict[str, int]:
        return dict(self.http.get(f"{self.info['slack_base']}/_bench/counts").json())

    def maxcare_mark(self) -> int:
        """Index of the next MaxCare receipt (for `maxcare_receipts(since=…)`); fetches none."""
        return self.maxcare_receipts(2**31)[0]

    def maxcare_receipts(self, since: int = 0) -> tuple[int, list[list[Any]]]:
        got = self.http.get(f"{self.info['maxcare_base']}/_bench/receipts", params={"since": since})
        body = got.json()
        return int(body["next"]), body["items"]

    def maxcare_config(self, rate_limit: int | None, rate_window: float = 60.0) -> None:
        self.http.post(
            f"{self.info['maxcare_base']}/_bench/config",
            json={"rate_limit": rate_limit, "rate_window": rate_window},
        )

    def maxcare_providers(self, count: int, organization_id: str | None = None) -> list[str]:
        """New providers of `organization_id` (the first organization's when None)."""
        body = {"count": count, "organization_id": organization_id}
        return list(self._post(self.info["maxcare_base"], "providers", body)["ids"])

    def maxcare_stats(self, prefix: str = "", by_note: bool = False) -> dict[str, Any]:
        """Tasks, distinct, duplicates (by notes text starting with prefix), the 429 count;
        with by_note, also `by_note`: how many tasks each note ID has."""
        params = {"prefix": prefix, **({"by_note": "1"} if by_note else {})}
        got = self.http.get(f"{self.info['maxcare_base']}/_bench/stats", params=params)
        return dict(got.json())

    def close(self) -> None:
        """Stop the fakes (see Announced.close) and close the control client."""
        try:
            super().close()
        finally:
            if hasattr(self, "http"):
                self.http.close()
