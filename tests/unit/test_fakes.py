"""Tests of the test fakes and payload builders, driven by the real client libraries."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt import App, BoltRequest
from slack_bolt.request import payload_utils
from slack_bolt.request.internals import extract_team_id, extract_user_id, parse_body
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from tests.support import payloads, slack_rules
from tests.support.fakes import FakeMaxCare, FakeSlack

NOTE = "nte_3cc73cb69c59403ca9108af6c5693b25"


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh_slack(slack: FakeSlack) -> None:
    slack.clear()


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    return WebClient(token=slack.token, base_url=slack.api_url)


@pytest.fixture
def maxcare() -> Iterator[FakeMaxCare]:
    with FakeMaxCare() as fake:
        yield fake


@pytest.fixture
def api(maxcare: FakeMaxCare) -> Iterator[httpx.Client]:
    headers = {
        "Authorization": f"Bearer {maxcare.api_key}",
        "X-Organization-Id": maxcare.organization_id,
    }
    with httpx.Client(base_url=maxcare.url + "/", headers=headers, timeout=2) as client:
        yield client


def _task_body(maxcare: FakeMaxCare, **overrides: Any) -> dict[str, Any]:
    maxcare.add_note(NOTE)
    creator = maxcare.add_provider(first_name="Nora", last_name="Nurse")
    doctor = maxcare.add_provider()
    return {
        "noteId": NOTE,
        "providerId": creator["id"],
        "notes": "Review missing plan for Impression #3",
        "assigneeIds": [doctor["id"]],
        **overrides,
    }


# --- FakeSlack -----------------------------------------------------------------------------------


def _modal(**fields: Any) -> dict[str, Any]:
    """A small valid modal."""
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Test"},
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}],
        **fields,
    }


def test_slack_auth_test_and_bad_token(slack: FakeSlack, web: WebClient) -> None:
    answer = web.auth_test()
    assert answer["team_id"] == "T0TEAM"
    assert answer["user_id"] == slack.bot_user_id
    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    assert [c.method for c in slack.calls()] == ["auth.test", "auth.test"]


def test_slack_merges_query_form_and_json_params(slack: FakeSlack) -> None:
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]
    httpx.post(
        slack.api_url + "chat.postMessage?channel=C1",
        data={"token": slack.token, "text": "hi", "blocks": json.dumps(blocks)},
    ).raise_for_status()
    httpx.post(
        slack.api_url + "views.open?trigger_id=t1",
        json={"view": {"type": "modal"}},
        headers={"Authorization": f"Bearer {slack.token}"},
    ).raise_for_status()
    form, as_json = slack.calls()
    assert form.params == {"channel": "C1", "token": slack.token, "text": "hi", "blocks": blocks}
    assert as_json.params == {"trigger_id": "t1", "view": {"type": "modal"}}


def test_slack_views_ids(slack: FakeSlack, web: WebClient) -> None:
    trigger = slack.new_trigger_id()
    opened = web.views_open(trigger_id=trigger, view=_modal(callback_id="create_task"))
    view_id = opened["view"]["id"]
    assert view_id.startswith("V")
    assert opened["view"]["callback_id"] == "create_task"
    assert opened["view"]["root_view_id"] == view_id
    updated = web.views_update(view_id=view_id, view=_modal())
    assert updated["view"]["id"] == view_id
    pushed = web.views_push(trigger_id=slack.new_trigger_id(view_id), view=_modal())
    assert pushed["view"]["id"] != view_id
    assert pushed["view"]["root_view_id"] == view_id
    home = {"type": "home", "blocks": _modal()["blocks"]}
    first = web.views_publish(user_id="U1", view=home)["view"]
    assert web.views_publish(user_id="U1", view=home)["view"]["id"] == first["id"]
    assert web.views_publish(user_id="U2", view=home)["view"]["id"] != first["id"]


def test_slack_post_message_ts_increase(web: WebClient) -> None:
    first = web.chat_postMessage(channel="C1", text="one")
    second = web.chat_postMessage(channel="C1", text="two", thread_ts=first["ts"])
    assert float(second["ts"]) > float(first["ts"])
    assert second["message"]["thread_ts"] == first["ts"]
    assert web.conversations_open(users="U1")["channel"]["id"] == "DU1"
    assert web.chat_postEphemeral(channel="C1", user="U1", text="x")["message_ts"]


def test_slack_fail_with_predicate_and_channel_access(slack: FakeSlack, web: WebClient) -> None:
    slack.fail("chat.postMessage", "is_archived", when=lambda p: p["channel"] == "C2")
    assert web.chat_postMessage(channel="C1", text="fine")["ok"]
    with pytest.raises(SlackApiError, match="is_archived"):
        web.chat_postMessage(channel="C2", text="archived")
    assert web.chat_postMessage(channel="C2", text="consumed")["ok"]
    slack.set_channel_access("GPRIVATE", "channel_not_found")
    for _ in range(2):
        with pytest.raises(SlackApiError, match="channel_not_found"):
            web.chat_postMessage(channel="GPRIVATE", text="x")
    slack.set_channel_access("GPRIVATE", None)
    assert web.chat_postMessage(channel="GPRIVATE", text="x")["ok"]
    assert len(slack.calls("chat.postMessage")) == 6


def test_slack_rate_limit_is_http_429(slack: FakeSlack, web: WebClient) -> None:
    slack.rate_limit("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C1", text="x")
    assert err.value.response.status_code == 429
    assert err.value.response.headers["Retry-After"] == "7"
    assert web.chat_postMessage(channel="C1", text="x")["ok"]


def test_slack_users_info_and_paginated_list(slack: FakeSlack, web: WebClient) -> None:
    for n in range(5):
        slack.add_user(f"ULIST{n}", name=f"user{n}", email=f"u{n}@clinic.test")
    info = web.users_info(user="ULIST3")["user"]
    assert info["profile"]["email"] == "u3@clinic.test"
    assert info["team_id"] == slack.team_id
    with pytest.raises(SlackApiError, match="user_not_found"):
        web.users_info(user="UNOBODY")
    seen: list[str] = []
    cursor = None
    while True:
        page = web.users_list(limit=2, cursor=cursor)
        seen += [m["id"] for m in page["members"] if m["id"].startswith("ULIST")]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == [f"ULIST{n}" for n in range(5)]


def test_slack_response_url(slack: FakeSlack) -> None:
    hook = WebhookClient(slack.response_url("abc"))
    assert hook.send(text="done", response_type="in_channel").status_code == 200
    assert slack.calls("response_url:abc")[0].params == {
        "text": "done",
        "response_type": "in_channel",
    }
    slack.fail_response_url("gone")
    assert WebhookClient(slack.response_url("gone")).send(text="x").status_code == 404


def test_slack_wait_for_times_out_with_what_was_seen(slack: FakeSlack, web: WebClient) -> None:
    web.auth_test()
    with pytest.raises(AssertionError, match=r"views\.open.*auth\.test"):
        slack.wait_for("views.open", timeout=0.05)


async def test_slack_async_client_and_async_wait(slack: FakeSlack) -> None:
    client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
    # The call comes from another thread, as a background worker in the app would make it.
    threading.Timer(0.05, lambda: WebClient(slack.token, slack.api_url).auth_test()).start()
    opened = await client.views_open(trigger_id=slack.new_trigger_id(), view=_modal())
    assert opened["view"]["id"].startswith("V")
    calls = await slack.async_wait_for("auth.test", timeout=2)
    assert calls[0].params == {}


# --- FakeSlack refuses what Slack refuses ----------------------------------------------------


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _error(call: Any, **kwargs: Any) -> str:
    """The error a Web API call was refused with."""
    with pytest.raises(SlackApiError) as err:
        call(**kwargs)
    return str(err.value.response["error"])


def test_slack_triggers_are_required_known_and_single_use(
    slack: FakeSlack, web: WebClient
) -> None:
    assert _error(web.api_call, api_method="views.open", json={"view": _modal()}) == (
        "invalid_arguments"
    )
    assert _error(web.views_open, trigger_id="t", view=_modal()) == "invalid_trigger_id"
    never_issued = "12345.98765.abcd2358fdea"
    assert _error(web.views_open, trigger_id=never_issued, view=_modal()) == "invalid_trigger_id"
    body, _ = payloads.slash_command("hello")  # Slack issues a trigger with each interaction
    trigger = parse_qs(body)["trigger_id"][0]
    assert web.views_open(trigger_id=trigger, view=_modal())["ok"]
    assert _error(web.views_open, trigger_id=trigger, view=_modal()) == "exchanged_trigger_id"
    assert [c.error for c in slack.calls("views.open")[-2:]] == [None, "exchanged_trigger_id"]
    refused = slack.new_trigger_id()
    assert _error(web.views_open, trigger_id=refused, view={"type": "modal"}) == (
        "invalid_arguments"
    )
    assert web.views_open(trigger_id=refused, view=_modal())["ok"]  # a refusal spends nothing


def test_slack_trigger_expires_3_seconds_after_it_was_issued() -> None:
    clock = Clock()
    with FakeSlack(clock=clock) as fake:
        web = WebClient(token=fake.token, base_url=fake.api_url)
        early, late = payloads.new_trigger_id(), fake.new_trigger_id()
        clock.now += 2.9
        assert web.views_open(trigger_id=early, view=_modal())["ok"]
        clock.now += 0.2
        assert _error(web.views_open, trigger_id=late, view=_modal()) == "expired_trigger_id"
        assert _error(web.views_push, trigger_id=payloads.new_trigger_id(), view=_modal()) == (
            "not_found"  # fresh, but from no view: nothing to push onto
        )
    missed = payloads.new_trigger_id()  # issued while no fake listens
    with FakeSlack() as fake:
        web = WebClient(token=fake.token, base_url=fake.api_url)
        assert _error(web.views_open, trigger_id=missed, view=_modal()) == "invalid_trigger_id"
    with FakeSlack(accept_any_trigger=True) as lenient:
        web = WebClient(token=lenient.token, base_url=lenient.api_url)
        assert web.views_open(trigger_id=missed, view=_modal())["ok"]
        assert _error(web.views_open, trigger_id=missed, view=_modal()) == "exchanged_trigger_id"


def test_slack_views_update_and_push_need_an_open_view(slack: FakeSlack, web: WebClient) -> None:
    assert _error(web.views_update, view_id="VUNKNOWN", view=_modal()) == "not_found"
    assert _error(web.views_update, external_id="nobody", view=_modal()) == "not_found"
    opened = web.views_open(
        trigger_id=slack.new_trigger_id(), view=_modal(external_id="draft-1")
    )["view"]
    assert web.views_update(external_id="draft-1", view=_modal())["view"]["id"] == opened["id"]
    assert _error(web.views_update, view_id=opened["id"], hash="1.stale", view=_modal()) == (
        "hash_conflict"
    )
    click, _ = payloads.block_actions([{"type": "button", "action_id": "a"}], view=opened)
    inside = json.loads(parse_qs(click)["payload"][0])["trigger_id"]
    slack.close_view(opened["id"])  # the person closed the modal
    assert _error(web.views_update, view_id=opened["id"], view=_modal()) == "not_found"
    assert _error(web.views_push, trigger_id=inside, view=_modal()) == "not_found"
    payloads.view_submission(opened, {})  # a submission shows Slack has the view open
    assert web.views_update(view_id=opened["id"], view=_modal())["ok"]


@pytest.mark.parametrize(
    ("answer", "still_open"),
    [
        ("", False),
        ('{"response_action": "clear"}', False),
        ('{"response_action": "errors", "errors": {"note": "no"}}', True),
        ('{"response_action": "update", "view": {}}', True),
    ],
)
def test_slack_ack_of_a_submission_closes_the_modal_as_slack_does(
    slack: FakeSlack, web: WebClient, answer: str, still_open: bool
) -> None:
    root = web.views_open(trigger_id=slack.new_trigger_id(), view=_modal())["view"]
    top = web.views_push(trigger_id=slack.new_trigger_id(root["id"]), view=_modal())["view"]
    body, _ = payloads.view_submission(top, {})
    slack.acked(body, "", status=500)  # a failed answer closes nothing
    assert slack.view(top["id"]) is not None
    slack.acked(body, answer)
    assert (slack.view(top["id"]) is not None) is still_open
    # `clear` closes the whole stack; a plain ack only the submitted view.
    assert (slack.view(root["id"]) is not None) is (answer != '{"response_action": "clear"}')


BLOCK = {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}


@pytest.mark.parametrize(
    ("method", "args", "error"),
    [
        ("views.open", {"view": _modal(blocks=[BLOCK] * 101)}, "invalid_arguments"),
        ("views.open", {"view": _modal(title={"type": "plain_text", "text": "x" * 25})},
         "invalid_arguments"),
        ("views.open", {"view": {"type": "modal", "blocks": [BLOCK]}}, "invalid_arguments"),
        ("views.open", {"view": _modal(blocks=[{"type": "nonsense"}])}, "invalid_arguments"),
        ("views.publish", {"user_id": "U1", "view": _modal()}, "invalid_arguments"),
        ("views.update", {"view_id": "V1", "view": _modal(blocks=[{**BLOCK, "colour": 1}])},
         "invalid_arguments"),
        ("chat.postMessage", {"channel": "C1", "text": "x", "blocks": [BLOCK] * 51},
         "invalid_blocks"),
        ("chat.postMessage", {"channel": "C1", "text": "x",
                              "blocks": [{"type": "section", "text": {"type": "mrkdwn"}}]},
         "invalid_blocks"),
        ("chat.postEphemeral", {"channel": "C1", "user": "U1", "text": "x",
                                "blocks": [{"type": "input", "label": "no element"}]},
         "invalid_blocks"),
        ("chat.update", {"channel": "C1", "ts": "1.2", "text": "x",
                         "blocks": [{**BLOCK, "text": {"type": "mrkdwn", "text": "x" * 3001}}]},
         "invalid_blocks"),
        ("chat.postMessage", {"channel": "C1"}, "no_text"),
    ],
)
def test_slack_refuses_invalid_views_and_blocks(
    slack: FakeSlack, web: WebClient, method: str, args: dict[str, Any], error: str
) -> None:
    if method in ("views.open", "views.push"):
        args = {**args, "trigger_id": slack.new_trigger_id()}
    assert _error(web.api_call, api_method=method, json=args) == error
    if method == "views.open":  # the same call with a valid view is taken
        assert web.api_call(method, json={**args, "view": _modal()})["ok"]


def test_slack_response_url_takes_5_posts_within_30_minutes() -> None:
    clock = Clock()
    with FakeSlack(clock=clock) as fake:
        hook, old = WebhookClient(fake.response_url("r")), WebhookClient(fake.response_url("o"))
        assert [hook.send(text=f"{n}").status_code for n in range(6)] == [200] * 5 + [404]
        assert hook.send(text="x").body == "used_url"
        clock.now += 30 * 60 + 1
        refused = old.send(text="late")
        assert (refused.status_code, refused.body) == (404, "expired_url")
        fresh = WebhookClient(fake.response_url("f"))
        assert fresh.send(text="x", blocks=[{"type": "nonsense"}]).status_code == 400
        assert fresh.send(text="x", blocks=[BLOCK]).status_code == 200
        never = WebhookClient(f"{fake.base}/response/never-issued")
        assert never.send(text="x").status_code == 404
        recorded = fake.calls("response_url:r")  # refused posts are recorded too
        assert [c.error for c in recorded] == [None] * 5 + ["used_url"] * 2


def test_slack_channel_access_covers_ephemeral_and_update(
    slack: FakeSlack, web: WebClient
) -> None:
    slack.set_channel_access("C0LEFT", "not_in_channel")
    calls: list[tuple[Callable[..., Any], dict[str, Any]]] = [
        (web.chat_postMessage, {"text": "x"}),
        (web.chat_postEphemeral, {"user": "U1", "text": "x"}),
        (web.chat_update, {"ts": "1.2", "text": "x"}),
    ]
    try:
        for call, args in calls:
            assert _error(call, channel="C0LEFT", **args) == "not_in_channel"
            assert call(channel="C0OPEN", **args)["ok"]
    finally:
        slack.set_channel_access("C0LEFT", None)


def test_slack_unknown_methods_and_scopes_the_manifest_lacks(
    slack: FakeSlack, web: WebClient
) -> None:
    assert _error(web.api_call, api_method="chat.scheduleMessage") == "unknown_method"
    assert slack.scopes == slack_rules.manifest_scopes()
    assert "chat:write" in slack.scopes and "channels:read" not in slack.scopes
    assert _error(web.conversations_info, channel="C1") == "missing_scope"
    with FakeSlack(scopes={"commands", "users:read"}) as fake:
        narrow = WebClient(token=fake.token, base_url=fake.api_url)
        with pytest.raises(SlackApiError) as err:
            narrow.chat_postMessage(channel="C1", text="x")
        assert err.value.response["needed"] == "chat:write"
        assert "missing_scope" in (
            _error(narrow.chat_postEphemeral, channel="C1", user="U1", text="x"),
            _error(narrow.conversations_open, users="U1"),
        )
        fake.add_user("UMAIL", email="m@clinic.test")
        assert "email" not in narrow.users_info(user="UMAIL")["user"]["profile"]
        assert narrow.auth_test()["ok"] and narrow.views_open(
            trigger_id=fake.new_trigger_id(), view=_modal()
        )["ok"]


def test_payloads_tell_listening_fakes_what_slack_issued() -> None:
    heard: list[tuple[str, Any, Any]] = []

    def listener(kind: str, subject: Any, detail: Any) -> None:
        heard.append((kind, subject, detail))

    payloads.listen(listener)
    try:
        body, _ = payloads.view_submission({"id": "V0HEARD", "type": "modal"}, {})
    finally:
        payloads.unlisten(listener)
    payloads.new_trigger_id()
    trigger = json.loads(parse_qs(body)["payload"][0])["trigger_id"]
    assert [(k, d) for k, _, d in heard] == [("view", None), ("trigger", "V0HEARD")]
    assert heard[0][1]["id"] == "V0HEARD" and heard[1][1] == trigger


# --- FakeMaxCare ---------------------------------------------------------------------------------


def test_maxcare_auth_and_org(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    anonymous = httpx.get(maxcare.url + "/tasks")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"
    assert anonymous.json()["trace_id"]
    wrong_org = api.get("tasks", headers={"X-Organization-Id": "org_" + "0" * 32})
    assert wrong_org.status_code == 403
    assert wrong_org.json()["code"] == "forbidden"
    assert [r.path for r in maxcare.requests("GET")] == ["/tasks", "/tasks"]
    assert maxcare.requests()[1].headers["x-organization-id"] == "org_" + "0" * 32


def test_maxcare_create_task(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    body = _task_body(maxcare)
    answer = api.post("tasks", json=body)
    assert answer.status_code == 201
    task = answer.json()["data"]
    assert task["id"].startswith("tsk_") and len(task["id"]) == 36
    assert task["status"] == "not_started" and task["syncStatus"] == "synced"
    assert task["assignedProviders"][0]["id"] == body["assigneeIds"][0]
    assert "hidden" not in task["assignedProviders"][0]
    assert " " in task["createdAt"] and task["createdAt"].endswith("+00")
    datetime.fromisoformat(task["createdAt"])
    assert "providerId" not in task
    assert maxcare.created_by[task["id"]] == body["providerId"]
    assert api.get(f"tasks/{task['id']}").json()["data"] == task
    assert maxcare.requests("POST", "/tasks")[0].json == body


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"providerId": None}, 400, "'providerId' is required"),
        ({"noteId": "3cc7"}, 400, "'noteId' must be a valid ID"),
        ({"notes": "  "}, 400, "'notes' must be a non-empty string"),
        ({"assigneeIds": []}, 400, "'assigneeIds' must contain at least 1 element"),
        ({"assigneeIds": ["prv_" + "f" * 32]}, 404, "Provider not found"),
        ({"noteId": "nte_" + "e" * 32}, 404, "Note not found"),
    ],
)
def test_maxcare_create_task_validation(
    maxcare: FakeMaxCare, api: httpx.Client, change: dict[str, Any], status: int, message: str
) -> None:
    maxcare.missing_notes.add("nte_" + "e" * 32)
    answer = api.post("tasks", json=_task_body(maxcare, **change))
    assert (answer.status_code, answer.json()["message"]) == (status, message)
    assert not maxcare.tasks


def test_maxcare_get_errors(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    assert api.get("tasks/nope").json()["message"] == "'id' must be a valid ID"
    assert api.get("providers/prv_" + "a" * 32).status_code == 404
    maxcare.add_note(NOTE)
    assert api.get(f"notes/{NOTE}").json()["data"]["id"] == NOTE


def test_maxcare_fail_after_apply_creates_the_task(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    maxcare.fail_next("POST", "/tasks", 502, after_apply=True)
    failed = api.post("tasks", json=_task_body(maxcare))
    assert failed.status_code == 502
    assert failed.json()["code"] == "internal_error"
    found = api.get("tasks", params={"noteId": NOTE}).json()["data"]["tasks"]
    assert [t["id"] for t in found] == list(maxcare.tasks)


def test_maxcare_fail_before_apply_and_429(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    maxcare.fail_next("POST", "tasks", 429)
    maxcare.fail_next("POST", "/v4/tasks", 500)
    limited = api.post("tasks", json=_task_body(maxcare))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["code"] == "rate_limit_exceeded"
    assert api.post("tasks", json=_task_body(maxcare)).status_code == 500
    assert not maxcare.tasks
    assert api.post("tasks", json=_task_body(maxcare)).status_code == 201


def test_maxcare_delay_after_apply_times_out_with_task_created(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    maxcare.delay_next("POST", "/tasks", 1.0)
    with pytest.raises(httpx.ReadTimeout):
        api.post("tasks", json=_task_body(maxcare), timeout=0.1)
    assert len(maxcare.tasks) == 1


def test_maxcare_drop(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    maxcare.drop_next("POST", "/tasks")
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("tasks", json=_task_body(maxcare))
    assert not maxcare.tasks
    maxcare.drop_next("POST", "/tasks", after_apply=True)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("tasks", json=_task_body(maxcare))
    assert len(maxcare.tasks) == 1


def test_maxcare_down(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    maxcare.set_down(True)
    assert api.get("providers").status_code == 503
    maxcare.set_down(False)
    assert api.get("providers").status_code == 200


def test_maxcare_providers_search_and_pagination(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    for last in ("Adams", "Baker", "Clark", "Davis", "Evans"):
        maxcare.add_provider(first_name="Pat", last_name=last)
    maxcare.add_provider(first_name="Ann", last_name="Lee", display_first_name="Dr. Annie")
    page = api.get("providers", params={"page": 3, "pageSize": 2}).json()["data"]
    assert page["pagination"] == {"page": 3, "pageSize": 2, "totalCount": 6, "totalPages": 3}
    assert [p["lastName"] for p in page["providers"]] == ["Evans", "Lee"]
    found = api.get("providers", params={"search": "ANNIE"}).json()["data"]["providers"]
    assert [p["lastName"] for p in found] == ["Lee"]
    assert api.get("providers", params={"pageSize": 101}).status_code == 400


def test_maxcare_list_tasks_filters_newest_first(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    first = api.post("tasks", json=_task_body(maxcare)).json()["data"]
    second = api.post("tasks", json=_task_body(maxcare)).json()["data"]
    maxcare.set_task(first["id"], status="in_progress", syncStatus="failed")
    listed = api.get("tasks").json()["data"]["tasks"]
    assert [t["id"] for t in listed] == [second["id"], first["id"]]
    busy = api.get("tasks", params={"status": "in_progress,completed"}).json()["data"]["tasks"]
    assert [(t["id"], t["syncStatus"]) for t in busy] == [(first["id"], "failed")]
    mine = api.get("tasks", params={"providerId": second["assignedProviders"][0]["id"]})
    assert [t["id"] for t in mine.json()["data"]["tasks"]] == [second["id"]]


def test_maxcare_rate_limit_sliding_window() -> None:
    with FakeMaxCare(rate_limit=2, rate_window=0.3) as maxcare:
        headers = {
            "Authorization": f"Bearer {maxcare.api_key}",
            "X-Organization-Id": maxcare.organization_id,
        }
        with httpx.Client(base_url=maxcare.url + "/", headers=headers) as api:
            ok = api.get("tasks")
            assert ok.headers["X-RateLimit-Limit"] == "2"
            assert ok.headers["X-RateLimit-Remaining"] == "1"
            assert api.get("tasks").status_code == 200
            limited = api.get("tasks")
            assert limited.status_code == 429
            assert limited.headers["Retry-After"] == "1"
            assert limited.headers["X-RateLimit-Remaining"] == "0"
            assert int(limited.headers["X-RateLimit-Reset"]) >= int(time.time())
            assert limited.json()["code"] == "rate_limit_exceeded"
            assert maxcare.rate_limited_count == 1
            time.sleep(0.35)
            assert api.get("tasks").status_code == 200


async def test_maxcare_from_async_client(maxcare: FakeMaxCare) -> None:
    headers = {
        "Authorization": f"Bearer {maxcare.api_key}",
        "X-Organization-Id": maxcare.organization_id,
    }
    async with httpx.AsyncClient(base_url=maxcare.url + "/", headers=headers) as api:
        answer = await api.post("tasks", json=_task_body(maxcare))
    assert answer.status_code == 201


def test_maxcare_reachable_from_a_subprocess(maxcare: FakeMaxCare) -> None:
    script = (
        "import sys, urllib.request, urllib.error\n"
        "try: urllib.request.urlopen(sys.argv[1])\n"
        "except urllib.error.HTTPError as e: print(e.code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, maxcare.url + "/tasks"],
        capture_output=True, text=True, timeout=10, check=True,
    )
    assert out.stdout.strip() == "401"
    assert maxcare.requests("GET", "tasks")


# --- FakeMaxCare refuses what MaxCare refuses ------------------------------------------------


def test_maxcare_notes_exist_only_once_registered(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    body = _task_body(maxcare, noteId="nte_" + "b" * 32)
    assert api.get(f"notes/{body['noteId']}").status_code == 404
    refused = api.post("tasks", json=body)
    assert (refused.status_code, refused.json()["message"]) == (404, "Note not found")
    assert not maxcare.tasks
    note = maxcare.add_note(body["noteId"])
    assert api.get(f"notes/{note['id']}").json()["data"]["patient"] == note["patient"]
    assert api.post("tasks", json=body).status_code == 201
    fresh = maxcare.add_note()["id"]
    assert fresh.startswith("nte_") and api.post("tasks", json={**body, "noteId": fresh}).is_success
    with FakeMaxCare(any_note=True) as lenient:
        lenient_body = _task_body(lenient, noteId="nte_" + "c" * 32)
        lenient.notes.clear()
        headers = {
            "Authorization": f"Bearer {lenient.api_key}",
            "X-Organization-Id": lenient.organization_id,
        }
        answer = httpx.post(f"{lenient.url}/tasks", json=lenient_body, headers=headers)
        assert answer.status_code == 201


@pytest.mark.parametrize(
    "send",
    [
        {"content_type": "text/plain"},
        {"content_type": "application/x-www-form-urlencoded"},
        {"content_type": None},
    ],
)
def test_maxcare_json_bodies_need_the_json_content_type(
    maxcare: FakeMaxCare, api: httpx.Client, send: dict[str, str | None]
) -> None:
    body = json.dumps(_task_body(maxcare))
    headers = {"Content-Type": send["content_type"]} if send["content_type"] else {}
    refused = api.post("tasks", content=body, headers=headers)
    assert refused.request.headers.get("Content-Type") == send["content_type"]
    assert refused.status_code == 400 and "Content-Type" in refused.json()["message"]
    assert not maxcare.tasks
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert api.post("tasks", content=body, headers=charset).status_code == 201


def test_maxcare_rate_limit_headers_on_every_answer(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    answers = [
        api.get("providers"),
        api.post("tasks", json=_task_body(maxcare)),
        api.get("tasks/nope"),
        api.get("notes/nte_" + "d" * 32),
        httpx.get(maxcare.url + "/tasks"),
        api.get("tasks", headers={"X-Organization-Id": "org_" + "0" * 32}),
    ]
    maxcare.set_down(True)
    answers.append(api.get("tasks"))
    assert [a.status_code for a in answers] == [200, 201, 400, 404, 401, 403, 503]
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers]
    assert remaining == list(range(999, 992, -1))
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"1000"}
    assert all(int(a.headers["X-RateLimit-Reset"]) >= int(time.time()) for a in answers)
    with FakeMaxCare(rate_limit=None) as unlimited:
        assert "X-RateLimit-Limit" not in httpx.get(unlimited.url + "/tasks").headers


def test_maxcare_normalise_notes_mode(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    untidy = "  Review the plan\r\nfor Impression #3\r \n"
    exact = api.post("tasks", json=_task_body(maxcare, notes=untidy)).json()["data"]
    assert exact["notes"] == untidy
    maxcare.normalise_notes = True
    tidied = api.post("tasks", json=_task_body(maxcare, notes=untidy)).json()["data"]
    assert tidied["notes"] == "Review the plan\nfor Impression #3"
    assert api.get(f"tasks/{tidied['id']}").json()["data"]["notes"] == tidied["notes"]


def test_maxcare_stall_holds_the_post_then_drops_it_unapplied(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    maxcare.stall_next("POST", "/tasks", 30.0)
    with pytest.raises(httpx.ReadTimeout):  # held past the client's timeout
        api.post("tasks", json=_task_body(maxcare), timeout=0.2)
    maxcare.stall_next("POST", "/tasks", 0.2)
    with pytest.raises(httpx.RemoteProtocolError):  # the end of the stall: dropped, not done
        api.post("tasks", json=_task_body(maxcare), timeout=10)
    assert not maxcare.tasks
    assert len(maxcare.requests("POST", "/tasks")) == 2
    assert api.post("tasks", json=_task_body(maxcare)).status_code == 201  # faults used up


# --- payloads ------------------------------------------------------------------------------------

VIEW = {"type": "modal", "callback_id": "create_task", "private_metadata": '{"c":"C1"}'}
ALL_BODIES = {
    "command": payloads.slash_command("nte_1 @Dr.Wilson review"),
    "message_action": payloads.message_action({"text": "plan missing", "thread_ts": "1.2"}),
    "shortcut": payloads.global_shortcut(),
    "view_submission": payloads.view_submission(
        VIEW,
        payloads.state_values(
            payloads.plain_text_value("note", "note", NOTE),
            payloads.users_value("assignees", "assignees", ["UDOC"]),
            payloads.conversation_value("destination", "destination", "C1"),
        ),
        response_urls=[payloads.response_url_entry("C1", "http://127.0.0.1:1/response/d")],
    ),
    "block_actions": payloads.block_actions(
        [{"type": "button", "action_id": "reopen_draft", "block_id": "b", "value": "1"}],
        channel_id="C1",
        message={"ts": "1.2", "text": "card"},
    ),
    "block_suggestion": payloads.block_suggestion("note", "note", "nte_3cc"),
    "event": payloads.event_callback({"type": "app_home_opened", "user": "UNURSE", "tab": "home"}),
    "url_verification": payloads.url_verification("challenge-me"),
}


@pytest.mark.parametrize("kind", list(ALL_BODIES))
def test_payloads_are_signed_like_slack(kind: str) -> None:
    body, headers = ALL_BODIES[kind]
    verifier = SignatureVerifier(payloads.SIGNING_SECRET)
    assert verifier.is_valid_request(body, headers)
    assert not SignatureVerifier("other-secret").is_valid_request(body, headers)
    parsed = parse_body(body, headers["Content-Type"])
    if kind != "url_verification":
        assert extract_team_id(parsed) == payloads.TEAM_ID
    if kind not in ("event", "url_verification"):
        assert extract_user_id(parsed) == "UNURSE"
        assert parsed.get("trigger_id") or parsed.get("type") == "block_suggestion"


def test_payload_kinds_as_bolt_sees_them() -> None:
    def parsed(kind: str) -> dict[str, Any]:
        body, headers = ALL_BODIES[kind]
        return parse_body(body, headers["Content-Type"])

    assert payload_utils.is_slash_command(parsed("command"))
    assert payload_utils.is_message_shortcut(parsed("message_action"))
    assert payload_utils.is_global_shortcut(parsed("shortcut"))
    assert payload_utils.is_view_submission(parsed("view_submission"))
    assert payload_utils.is_block_actions(parsed("block_actions"))
    assert payload_utils.is_block_suggestion(parsed("block_suggestion"))
    assert payload_utils.is_event(parsed("event"))
    view = parsed("view_submission")["view"]
    assert view["state"]["values"]["assignees"]["assignees"]["selected_users"] == ["UDOC"]
    assert view["private_metadata"] == '{"c":"C1"}'
    assert parse_qs(ALL_BODIES["command"][0])["text"] == ["nte_1 @Dr.Wilson review"]


def test_sign_with_fixed_timestamp() -> None:
    headers = payloads.sign("a=1", timestamp=1_700_000_000)
    assert headers["X-Slack-Request-Timestamp"] == "1700000000"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    # Too old for the verifier's five-minute window, as a replayed request would be.
    assert not SignatureVerifier(payloads.SIGNING_SECRET).is_valid_request("a=1", headers)


def _bolt_request(signed: tuple[str, dict[str, str]]) -> BoltRequest:
    body, headers = signed
    bolt_headers: dict[str, str | Sequence[str]] = dict(headers)
    return BoltRequest(body=body, headers=bolt_headers)


def test_bolt_app_against_fake_slack(slack: FakeSlack) -> None:
    client = WebClient(token=slack.token, base_url=slack.api_url)
    app = App(signing_secret=payloads.SIGNING_SECRET, client=client)

    @app.command("/task")
    def open_form(ack: Any, body: dict[str, Any], client: WebClient) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=_modal(**VIEW))

    @app.view("create_task")
    def submit(ack: Any) -> None:
        ack(response_action="errors", errors={"note": "Not a note ID"})

    assert slack.calls("auth.test")
    assert app.dispatch(_bolt_request(payloads.slash_command("hello"))).status == 200
    opened = slack.wait_for("views.open")[0].params["view"]
    body, headers = payloads.view_submission(opened, {})
    answer = app.dispatch(_bolt_request((body, headers)))
    assert json.loads(answer.body)["response_action"] == "errors"
    forged = {**headers, "X-Slack-Signature": "v0=" + "0" * 64}
    assert app.dispatch(_bolt_request((body, forged))).status == 401
