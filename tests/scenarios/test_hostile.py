"""Malformed payloads of every kind, signed correctly: never a 5xx, never a crash, never a task."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import ids
from bot.settings import load_settings
from tests.support import payloads
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.served import ServedBot

ACTIONS = [
    ids.REOPEN_DRAFT_ACTION, ids.DISMISS_DRAFT_ACTION, ids.LINKS_PREV_ACTION, ids.LINKS_NEXT_ACTION,
    ids.REFRESH_TASK_ACTION, ids.MINE_MORE_ACTION, ids.MINE_REFRESH_ACTION,
    ids.HOME_CREATE_TASK_ACTION, ids.LINK_PROVIDER_ACTION,
]
VIEWS = [ids.CREATE_TASK_VIEW, ids.LINK_VIEW]
TYPES = [
    "view_submission", "block_actions", "shortcut", "message_action", "block_suggestion",
    "view_closed", "interactive_message", "dialog_submission", "workflow_step_edit",
]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServedBot, FakeMaxCare]]:
    """One app for all examples (hypothesis runs hundreds); UADMIN may manage links.

    Nobody is linked, so no payload, however odd, can legitimately create a task."""
    tmp: Path = tmp_path_factory.mktemp("hostile")
    with FakeSlack() as slack, FakeMaxCare() as maxcare:
        config = load_settings(
            slack_bot_token=slack.token, slack_signing_secret=payloads.SIGNING_SECRET,
            slack_api_url=slack.api_url, maxcare_api_key=maxcare.api_key,
            maxcare_organization_id=maxcare.organization_id, maxcare_api_url=maxcare.url,
            database_path=tmp / "bot.db", bot_admins="UADMIN",
        )
        app = ServedBot(config).start()
        try:
            yield app, maxcare
        finally:
            app.stop()


def json_values() -> st.SearchStrategy[Any]:
    """Any JSON value, with unicode and control characters in the strings."""
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                     max_size=4),
        max_leaves=12,
    )


huge = st.builds(lambda ch, n: ch * n, st.characters(), st.integers(0, 100_000))
texts = st.text() | huge | st.sampled_from(
    ["<!channel>", "nte_" + "0" * 32, "\x00\x1b[2J", "'; DROP TABLE links; --"]
)
junk = json_values() | huge


def maybe(value: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return value | junk


views = st.fixed_dictionaries(
    {},
    optional={
        "id": maybe(st.just("V0FUZZ")),
        "callback_id": maybe(st.sampled_from(VIEWS)),
        "private_metadata": maybe(texts),
        "type": maybe(st.just("modal")),
        "state": maybe(
            st.fixed_dictionaries(
                {"values": maybe(st.dictionaries(
                    st.sampled_from([ids.NOTE_BLOCK, ids.ASSIGNEES_BLOCK, ids.NOTES_BLOCK,
                                     ids.DESTINATION_BLOCK]),
                    st.dictionaries(st.text(max_size=20), junk, max_size=2),
                    max_size=4,
                ))}
            )
        ),
    },
)

interactive = st.fixed_dictionaries(
    {"type": st.sampled_from(TYPES) | st.text(max_size=20)},
    optional={
        "team": maybe(st.just({"id": payloads.TEAM_ID})),
        "user": maybe(st.fixed_dictionaries(
            {"id": maybe(st.sampled_from(["UNURSE", "UBOT", "UADMIN"]))}
        )),
        "action_id": maybe(st.sampled_from(ACTIONS)),
        "block_id": maybe(st.sampled_from([ids.LINK_PROVIDER_BLOCK, ids.NOTE_BLOCK])),
        "value": texts,
        "view": maybe(views),
        "callback_id": maybe(st.sampled_from([ids.MESSAGE_SHORTCUT, ids.GLOBAL_SHORTCUT])),
        "trigger_id": maybe(st.just("1.2.abc")),
        "message": maybe(st.fixed_dictionaries({"text": texts, "ts": maybe(st.just("1.2"))})),
        "channel": maybe(st.just({"id": "C0GENERAL"})),
        "actions": maybe(st.lists(st.fixed_dictionaries({
            "action_id": maybe(st.sampled_from(ACTIONS)),
            "value": texts,
        }), max_size=2)),
        "response_url": maybe(st.just("http://127.0.0.1:9/nowhere")),
        "container": junk,
        "response_urls": junk,
        "api_app_id": maybe(st.just("A0APP")),
    },
)

commands = st.fixed_dictionaries(
    {
        "command": st.sampled_from(["/task", "/maxtask"]) | st.text(max_size=10),
        "text": texts,
    },
    optional={
        "team_id": st.just(payloads.TEAM_ID) | st.text(max_size=12),
        "user_id": st.sampled_from(["UNURSE", "UADMIN", ""]) | st.text(max_size=12),
        "channel_id": st.text(max_size=12),
        "trigger_id": st.text(max_size=20),
        "response_url": st.text(max_size=40),
    },
)

events = st.fixed_dictionaries(
    {"type": st.sampled_from(["event_callback", "url_verification", "app_rate_limited"])
     | st.text(max_size=12)},
    optional={
        "team_id": maybe(st.just(payloads.TEAM_ID)),
        "event": junk,
        "challenge": junk,
        "authorizations": junk,
    },
)


def signed_body(kind: str, data: Any, swap_type: bool = False) -> tuple[str, dict[str, str]]:
    if kind == "interactive":
        body = urlencode({"payload": json.dumps(data)})
    elif kind == "command":
        body = urlencode({k: str(v) for k, v in data.items()})
    elif kind == "raw-form":
        body = urlencode({"payload": str(data)})
    else:
        body = json.dumps(data)
    headers = payloads.sign(body)
    if swap_type:  # a content type that does not match the body: parsers disagree there
        json_type = headers["Content-Type"] == "application/json"
        headers["Content-Type"] = (
            "application/x-www-form-urlencoded" if json_type else "application/json"
        )
    return body, headers


requests = (
    st.tuples(st.just("interactive"), interactive)
    | st.tuples(st.just("command"), commands)
    | st.tuples(st.just("event"), events)
    | st.tuples(st.just("raw-form"), texts)
)


@settings(
    max_examples=250, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)
@given(request=requests, swap_type=st.booleans())
def test_junk_never_breaks_the_app(
    served: tuple[ServedBot, FakeMaxCare], request: tuple[str, Any], swap_type: bool,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app, maxcare = served
    caplog.clear()  # one caplog serves every example: judge each on its own records
    caplog.set_level(logging.WARNING)
    body, headers = signed_body(*request, swap_type=swap_type)
    answer = httpx.post(f"{app.url}/slack/events", content=body, headers=headers, timeout=10)
    assert answer.status_code < 500, answer.text
    app.settle()  # what listeners do after their ack is judged with this example, not the next
    crashes = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not crashes, [r.getMessage() for r in crashes]
    assert maxcare.requests("POST", "/tasks") == []


def test_the_app_still_answers_after_the_junk(served: tuple[ServedBot, FakeMaxCare]) -> None:
    app, _ = served
    assert httpx.get(f"{app.url}/healthz", timeout=5).status_code == 200
    body, headers = payloads.slash_command("help")
    answer = httpx.post(f"{app.url}/slack/events", content=body, headers=headers, timeout=10)
    assert answer.status_code == 200 and "/task" in answer.text
