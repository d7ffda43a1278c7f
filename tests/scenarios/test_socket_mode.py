"""`python -m bot` in Socket Mode, as a real process, against the fake Slack's Socket Mode."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl

import httpx
import pytest

from tests.support import payloads
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import DOCTOR, NURSE
from tests.support.processes import App
from tests.support.submissions import CHANNEL, new_view_id, submission


def _wait(condition: object, what: str, app: App, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}\n{app.log.read_text()}")
        time.sleep(0.05)


def test_socket_mode_whole_flow(slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path) -> None:
    app = App(slack, maxcare, tmp_path)
    app.env["SLACK_APP_TOKEN"] = slack.app_token
    del app.env["SLACK_SIGNING_SECRET"]  # not needed in Socket Mode
    nurse = maxcare.add_provider(first_name="Nina", last_name="Nurse")
    doctor = maxcare.add_provider(first_name="James", last_name="Wilson")
    app.cli("links", "add", NURSE, nurse["id"])
    app.cli("links", "add", DOCTOR, doctor["id"])
    try:
        app.start()  # waits for /healthz 200, which in Socket Mode means the socket is up
        assert slack.socket_connected()
        assert httpx.post(f"{app.url}/slack/events", timeout=5).status_code == 404  # no HTTP

        body, _ = payloads.slash_command("help")
        envelope = slack.socket_send("slash_commands", dict(parse_qsl(body)))
        _wait(lambda: any(c.params.get("envelope_id") == envelope
                          for c in slack.calls("socket_ack")), "the help ack", app)
        ack = next(c.params for c in slack.calls("socket_ack")
                   if c.params.get("envelope_id") == envelope)
        assert "/task" in json.dumps(ack.get("payload"))

        body, _ = payloads.slash_command(f"<@{DOCTOR}|drwilson> check the plan")
        slack.socket_send("slash_commands", dict(parse_qsl(body)))
        _wait(lambda: slack.calls("views.open"), "views.open", app)

        signed, _ = submission(
            view_id=new_view_id(), note=maxcare.add_note()["id"], notes="Via the socket",
            assignees=[DOCTOR],
        )
        slack.socket_send("interactive", json.loads(parse_qs(signed)["payload"][0]))
        _wait(lambda: [c for c in slack.calls("chat.postMessage")
                       if c.params.get("channel") == CHANNEL], "the card", app)
        tasks = maxcare.all_tasks()
        assert len(tasks) == 1 and tasks[0]["notes"] == "Via the socket"
    finally:
        app.stop()
