"""Whole flows at LOG_LEVEL=DEBUG: no log line carries task text, tokens, keys or secrets."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.support import payloads
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import env_for
from tests.support.processes import App

SECRET_NOTES = "Patient Jane Roe DOB 1961-02-03 needs plan for melanoma"
REFUSED_NOTES = "Patient John Doe allergic to penicillin"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_debug_logs_hold_no_secrets_or_patient_text(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path, log_format: str
) -> None:
    app = App(slack, maxcare, tmp_path)
    app.env.update({"LOG_LEVEL": "DEBUG", "LOG_FORMAT": log_format})
    nurse = maxcare.add_provider(first_name="Nina", last_name="Nurse")
    doctor = maxcare.add_provider(first_name="James", last_name="Wilson")
    app.cli("links", "add", "UNURSE", nurse["id"])
    app.cli("links", "add", "UDOCTOR", doctor["id"])
    try:
        app.start()
        app.submit(SECRET_NOTES)
        slack.wait_for("chat.postMessage", timeout=10)
        maxcare.fail_next("POST", "/tasks", 400, body={
            "code": "bad_request", "message": "'noteId' must be a valid ID", "trace_id": "t-42",
        })
        app.submit(REFUSED_NOTES)
        slack.wait_for("views.update", count=2, timeout=10)
        assert app.terminate() == 0  # drained and exited: every line these flows log is written
    finally:
        app.stop()
    logs = app.log.read_text()
    assert "DEBUG" in logs or '"level": "DEBUG"' in logs  # the level really was DEBUG
    assert "t-42" in logs  # trace IDs are logged: support needs them
    for secret in (
        SECRET_NOTES, REFUSED_NOTES, "Jane Roe", "penicillin",
        maxcare.api_key, slack.token, payloads.SIGNING_SECRET,
    ):
        assert secret not in logs, f"{secret!r} leaked into the logs"
    if log_format == "json":
        for line in logs.splitlines():
            if line.startswith("{"):
                assert "level" in json.loads(line)


def test_debug_logs_of_a_workflow_run_hold_no_token_or_text(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path
) -> None:
    app = App(slack, maxcare, tmp_path)
    app.env["LOG_LEVEL"] = "DEBUG"
    nurse = maxcare.add_provider(first_name="Nina", last_name="Nurse")
    doctor = maxcare.add_provider(first_name="James", last_name="Wilson")
    app.cli("links", "add", "UNURSE", nurse["id"])
    app.cli("links", "add", "UDOCTOR", doctor["id"])
    inputs = {"note_id": maxcare.add_note()["id"], "assignees": ["UDOCTOR"], "notes": SECRET_NOTES,
              "creator": "UNURSE", "channel": "C0WARD3"}
    body, headers = payloads.function_executed(inputs, execution_id="FxSECRET01")
    token = json.loads(body)["event"]["bot_access_token"]
    try:
        app.start()
        answer = httpx.post(f"{app.url}/slack/events", content=body, headers=headers, timeout=10)
        assert answer.status_code == 200
        slack.wait_for("functions.completeSuccess", timeout=10)
        slack.wait_for("chat.postMessage", count=2, timeout=10)  # the card, the doctor's DM
        assert app.terminate() == 0  # drained and exited: every line these flows log is written
    finally:
        app.stop()
    logs = app.log.read_text()
    assert "FxSECRET01" in logs  # execution IDs are logged
    for secret in (token, SECRET_NOTES, "Jane Roe", slack.token, maxcare.api_key):
        assert secret not in logs, f"{secret!r} leaked into the logs"


def test_check_output_and_settings_never_print_secrets(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bot.check import check
    from bot.settings import load_settings

    monkeypatch.chdir(tmp_path)
    for key, value in env_for(slack, maxcare, tmp_path / "bot.db").items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("MAXCARE_API_KEY", "max_dev_ak_wrong-key-XYZ")
    assert check(__import__("sys").stdout) == 1
    out = capsys.readouterr().out
    settings = load_settings()
    shown = out + repr(settings) + str(settings) + str(settings.model_dump())
    for secret in ("max_dev_ak_wrong-key-XYZ", slack.token, payloads.SIGNING_SECRET):
        assert secret not in shown
