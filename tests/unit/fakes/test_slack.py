"""FakeSlack, driven by the real slack_sdk clients: what it records, answers and refuses.

Longer than 300 lines on purpose: every refusal of the fake (triggers, views, Block Kit, scopes,
response_url limits) is checked here next to the calls it accepts.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookClient

from tests.support import payloads
from tests.support.fakes import FakeSlack, slack_rules
from tests.support.harness import ManualClock


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
    calls = await slack.async_wait_for("auth.test")
    assert calls[0].params == {}


# --- FakeSlack refuses what Slack refuses ----------------------------------------------------


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
    clock = ManualClock()
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
    clock = ManualClock()
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
        client.views_open(trigger_id=body["trigger_id"], view=_modal(callback_id="create_task"))

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
