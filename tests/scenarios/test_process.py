"""`python -m bot` as a real process in HTTP mode, against the fake Slack and fake MaxCare."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from bot import ids
from tests.support import payloads
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import DOCTOR, NURSE, env_for
from tests.support.ids import NOTE
from tests.support.messages import posts
from tests.support.processes import clean_env, free_port


@dataclass
class Running:
    """The app process and how to reach it."""

    proc: subprocess.Popen[bytes]
    url: str
    env: dict[str, str]
    cwd: Path
    log: Path

    def logs(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture
def app_process(slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path) -> Iterator[Running]:
    port = free_port()
    env = clean_env({**env_for(slack, maxcare, tmp_path / "bot.db"), "PORT": str(port)})
    log = tmp_path / "app.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot"], cwd=tmp_path, env=env,
            stdout=sink, stderr=subprocess.STDOUT,
        )
    running = Running(proc, f"http://127.0.0.1:{port}", env, tmp_path, log)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited with {proc.returncode}:\n{running.logs()}")
            try:
                if httpx.get(f"{running.url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"/healthz never answered 200:\n{running.logs()}")
            time.sleep(0.05)
        yield running
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def cli(running: Running, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *argv], cwd=running.cwd, env=running.env,
        capture_output=True, text=True, timeout=30,
    )


def test_whole_flow_over_http_then_sigterm(
    app_process: Running, slack: FakeSlack, maxcare: FakeMaxCare
) -> None:
    health = httpx.get(f"{app_process.url}/healthz", timeout=5)
    assert health.json()["database"] is True

    maxcare.add_note(NOTE)
    nurse = maxcare.add_provider(first_name="Nina", last_name="Nurse", roles=("Nurse",))
    doctor = maxcare.add_provider(first_name="James", last_name="Wilson",
                                  display_first_name="Dr. James", display_last_name="Wilson, MD")
    for user, provider in ((NURSE, nurse), (DOCTOR, doctor)):
        linked = cli(app_process, "links", "add", user, provider["id"])
        assert linked.returncode == 0, linked.stderr

    with httpx.Client(base_url=app_process.url, timeout=10) as http:
        body, headers = payloads.slash_command(
            f"{NOTE} <@{DOCTOR}|drwilson> Review missing plan for Impression #3",
            channel_id="C0WARD3", response_url=slack.response_url("cmd"),
        )
        answer = http.post("/slack/events", content=body, headers=headers)
        assert answer.status_code == 200, app_process.logs()

        opened = slack.wait_for("views.open", timeout=10)
        view = opened[0].params["view"]
        assert view["callback_id"] == ids.CREATE_TASK_VIEW
        by_block = {b["block_id"]: b["element"] for b in view["blocks"] if "block_id" in b}
        assert by_block[ids.NOTE_BLOCK]["initial_value"] == NOTE
        assert by_block[ids.ASSIGNEES_BLOCK]["initial_users"] == [DOCTOR]
        notes = by_block[ids.NOTES_BLOCK]["initial_value"]
        assert notes == "Review missing plan for Impression #3"

        values = payloads.state_values(
            payloads.plain_text_value(ids.NOTE_BLOCK, ids.NOTE_ACTION, NOTE),
            payloads.users_value(ids.ASSIGNEES_BLOCK, ids.ASSIGNEES_ACTION, [DOCTOR]),
            payloads.plain_text_value(ids.NOTES_BLOCK, ids.NOTES_ACTION, notes),
        )
        body, headers = payloads.view_submission(view, values, view_id="V0PROCESS1")
        submitted = http.post("/slack/events", content=body, headers=headers)
        assert submitted.status_code == 200, app_process.logs()
        assert submitted.json()["response_action"] == "update"

    slack.wait_for("chat.postMessage", timeout=10)
    posted = posts(slack)  # the card; the doctor's DM apart
    assert len(posted) == 1
    card = posted[0].params
    assert card["channel"] == "C0WARD3"
    assert card["text"]

    creates = maxcare.requests("POST", "/tasks")
    assert len(creates) == 1
    request = creates[0]
    assert request.json == {
        "noteId": NOTE,
        "providerId": nurse["id"],
        "notes": "Review missing plan for Impression #3",
        "assigneeIds": [doctor["id"]],
    }
    assert request.headers["authorization"] == f"Bearer {maxcare.api_key}"
    assert request.headers["x-organization-id"] == maxcare.organization_id
    assert request.headers["user-agent"].startswith("maxcare-tasks-slack/")
    assert request.headers["content-type"].startswith("application/json")
    (task,) = maxcare.all_tasks()
    assert maxcare.created_by[task["id"]] == nurse["id"]
    assert task["id"] in card["text"]

    app_process.proc.send_signal(signal.SIGTERM)
    assert app_process.proc.wait(10) == 0, app_process.logs()
    logs = app_process.logs()
    assert "Traceback" not in logs
    assert "Review missing plan" not in logs  # notes text is never logged
    assert maxcare.api_key not in logs


def test_missing_variable_stops_start_up_with_one_line(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path
) -> None:
    env = env_for(slack, maxcare, tmp_path / "bot.db", PORT=str(free_port()))
    del env["MAXCARE_API_KEY"]
    done = subprocess.run(
        [sys.executable, "-m", "bot"], cwd=tmp_path, env=clean_env(env),
        capture_output=True, text=True, timeout=30,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert "MAXCARE_API_KEY" in lines[0]
    assert "Traceback" not in done.stderr
    assert slack.token not in done.stderr + done.stdout
    assert slack.calls() == []
