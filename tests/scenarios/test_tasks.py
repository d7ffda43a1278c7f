"""End-to-end flows: signed Slack requests in over HTTP, effects observed through the fakes."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from bot.slack.client import SLACK_KEEPALIVE_SECONDS
from bot.slack.text import TRUNCATION_MARKER
from tests.support import payloads
from tests.support.fakes import Call, FakeSlack
from tests.support.harness import ADMIN, DOCTOR, NURSE, Harness
from tests.support.ids import NOTE, NOTE_UUID
from tests.support.messages import posts

OTHER_NOTE = "nte_0123456789abcdef0123456789abcdef"
NOTES = "Review missing plan"
CHANNEL = "C0GENERAL"
STRANGER = "UPAT"


# -- helpers ------------------------------------------------------------------------------


@pytest.fixture
def h(harness: Harness) -> Harness:
    """The harness with the nurse and the doctor linked to their MaxCare providers."""
    harness.link(NURSE, harness.nurse_provider)
    harness.link(DOCTOR, harness.doctor_provider)
    harness.slack.add_user(STRANGER, name="pstranger", real_name="Pat Stranger")
    harness.maxcare.add_note(NOTE)
    return harness


def form_values(
    note: str | None = NOTE,
    assignees: list[str] | tuple[str, ...] = (DOCTOR,),
    notes: str | None = NOTES,
    destination: str | None = None,
) -> dict[str, Any]:
    """`view.state.values` of the task form as Slack sends them on submit."""
    fragments = [
        payloads.plain_text_value("note", "note_input", note),
        payloads.users_value("assignees", "assignees_input", list(assignees)),
        payloads.plain_text_value("notes", "notes_input", notes),
    ]
    if destination is not None:
        fragments.append(
            payloads.conversation_value("destination", "destination_input", destination)
        )
    return payloads.state_values(*fragments)


def dumps(call: Call) -> str:
    """A recorded call's params as one string, for `in` checks."""
    return json.dumps(call.params, ensure_ascii=False)


def block_ids(view: dict[str, Any]) -> list[str]:
    return [b.get("block_id", "") for b in view["blocks"]]


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    """The input element of one block of a modal."""
    for block in view["blocks"]:
        if block.get("block_id") == block_id:
            return dict(block["element"])
    raise AssertionError(f"no block {block_id!r} in {block_ids(view)}")


def side_calls(slack: FakeSlack) -> list[str]:
    """Slack methods called because of requests: not auth.test (Bolt may call it at any time)
    nor users.list (the name directory reads it at start-up, whatever requests come)."""
    return [c.method for c in slack.calls() if c.method not in ("auth.test", "users.list")]


async def open_modal(h: Harness, signed: tuple[str, dict[str, str]]) -> dict[str, Any]:
    """Post a request that opens a modal; returns the view passed to views.open."""
    before = len(h.slack.calls("views.open"))
    resp = await h.post(signed)
    assert resp.status_code == 200, resp.text
    calls = await h.slack.async_wait_for("views.open", before + 1)
    view: dict[str, Any] = calls[before].params["view"]
    return view


async def open_form(h: Harness, text: str = "", **kwargs: Any) -> dict[str, Any]:
    """`/task text` from the nurse in #general; returns the opened form."""
    return await open_modal(h, payloads.slash_command(text, **kwargs))


async def submit(
    h: Harness,
    view: dict[str, Any],
    values: dict[str, Any],
    *,
    view_id: str,
    user_id: str = NURSE,
    **kwargs: Any,
) -> dict[str, Any]:
    """Submit `view` with `values`; returns the ack body (an empty ack reads as {})."""
    resp = await h.post(
        payloads.view_submission(view, values, view_id=view_id, user_id=user_id, **kwargs)
    )
    assert resp.status_code == 200, resp.text
    return resp.json() if resp.content else {}


async def create_from_command(
    h: Harness, view_id: str = "VCMD000001", values: dict[str, Any] | None = None, **cmd: Any
) -> dict[str, Any]:
    """Open the form with `/task`, submit it and let the worker finish; returns the ack."""
    view = await open_form(h, **cmd)
    ack = await submit(h, view, values or form_values(), view_id=view_id)
    await h.settle()
    return ack


def only_task(h: Harness) -> dict[str, Any]:
    tasks = h.maxcare.all_tasks()
    assert len(tasks) == 1, tasks
    return tasks[0]


def cards(h: Harness) -> list[Call]:
    return posts(h.slack)  # the assignees' DMs apart


def dms_opened(h: Harness, user_id: str) -> list[Call]:
    """conversations.open calls for a DM with one person."""
    return [c for c in h.slack.calls("conversations.open") if c.params.get("users") == user_id]


# -- 1-3: the slash command ---------------------------------------------------------------


@pytest.mark.parametrize("command", ["/task", "/maxtask"])
async def test_help_is_ephemeral_usage_and_opens_nothing(h: Harness, command: str) -> None:
    resp = await h.post(payloads.slash_command("help", command=command))

    assert resp.status_code == 200
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert f"`{command}`" in body["text"]
    assert "message" in body["text"] and "shortcuts menu" in body["text"]
    assert "Create MaxCare task" in body["text"]
    await h.settle()
    assert h.slack.calls("views.open") == []


async def test_unlinked_user_is_told_to_ask_an_admin(h: Harness) -> None:
    resp = await h.post(payloads.slash_command(NOTE, user_id=STRANGER))

    assert resp.status_code == 200
    body = resp.json()
    assert body["response_type"] == "ephemeral"
    assert "not linked" in body["text"]
    assert f"<@{ADMIN}>" in body["text"]
    assert h.slack.calls("views.open") == []


@pytest.mark.parametrize("command", ["/task", "/maxtask"])
async def test_command_text_prefills_the_form(h: Harness, command: str) -> None:
    trigger = payloads.new_trigger_id()
    view = await open_form(
        h, f"{NOTE} <@{DOCTOR}|drwilson> {NOTES}", command=command, trigger_id=trigger
    )

    call = h.slack.calls("views.open")[0]
    assert call.params["trigger_id"] == trigger
    assert view["callback_id"] == "create_task"
    assert element(view, "note")["initial_value"] == NOTE
    assert element(view, "assignees")["initial_users"] == [DOCTOR]
    assert element(view, "notes")["initial_value"] == NOTES
    assert "destination" not in block_ids(view)


async def test_command_with_a_dashed_uuid_prefills_the_nte_form(h: Harness) -> None:
    view = await open_form(h, f"please {NOTE_UUID} now")

    assert element(view, "note")["initial_value"] == NOTE
    assert element(view, "notes")["initial_value"] == "please now"
    assert "initial_users" not in element(view, "assignees")


# -- 4-5: submitting ----------------------------------------------------------------------


async def test_slack_calls_share_one_pool_kept_warm_between_bursts(h: Harness) -> None:
    await h.post(payloads.slash_command(""))
    await h.post(payloads.slash_command(""))
    await h.settle()
    connector = h.bot.slack.session.connector if h.bot.slack.session else None
    assert connector is not None and connector.limit == 0  # a views.open never queues
    assert connector._keepalive_timeout == SLACK_KEEPALIVE_SECONDS == 60.0  # not aiohttp's 15 s
    assert len(h.slack.calls("views.open")) == 2


@pytest.mark.both_databases
async def test_full_submit_creates_the_task_and_posts_the_card(h: Harness) -> None:
    view = await open_form(h, f"{NOTE} <@{DOCTOR}> {NOTES}")
    ack = await submit(h, view, form_values(), view_id="VFULL00001")

    assert ack["response_action"] == "update"
    assert NOTE in json.dumps(ack["view"])
    await h.settle()

    task = only_task(h)
    (post,) = h.maxcare.requests("POST", "/tasks")
    assert post.json == {
        "noteId": NOTE,
        "providerId": h.nurse_provider["id"],
        "notes": NOTES,
        "assigneeIds": [h.doctor_provider["id"]],
    }
    assert post.headers["authorization"] == f"Bearer {h.maxcare.api_key}"
    assert post.headers["x-organization-id"] == h.maxcare.organization_id
    assert h.maxcare.created_by[task["id"]] == h.nurse_provider["id"]

    (card,) = cards(h)
    assert card.params["channel"] == CHANNEL
    assert "thread_ts" not in card.params
    assert card.params["text"]
    assert task["id"] in card.params["text"]
    shown = dumps(card)
    for expected in ("Not started", "Dr. James Wilson, MD", f"<@{DOCTOR}>", NOTE, task["id"]):
        assert expected in shown
    assert f"<@{NURSE}>" in shown  # who created it

    sub = h.bot.store.get_submission("VFULL00001")
    assert sub is not None
    assert sub.state == "created" and sub.task_id == task["id"]
    assert sub.confirmed_at is not None
    assert sub.notes == ""
    # The modal, if still open, says the task exists.
    updates = [c for c in h.slack.calls("views.update") if c.params["view_id"] == "VFULL00001"]
    assert updates and task["id"] in dumps(updates[-1])


@pytest.mark.parametrize(
    "metadata",
    [
        '{"source":"command","channel_id":"C0GENERAL","provider_id":"prv_'
        + "a" * 32
        + '","providerId":"prv_'
        + "b" * 32
        + '"}',
        "{not json",
        "[1, 2, 3]",
        '{"source": "evil", "channel_id": 42}',
        '{"channel_id": "C0GENERAL", "thread_ts": "not a ts"}',
        "null",
        "\u0000" * 10,
        "[" * 2999,
    ],
    ids=["attacker-provider", "broken", "list", "bad-types", "bad-ts", "null", "nul", "deep"],
)
async def test_provider_comes_from_the_submitter_never_the_form(h: Harness, metadata: str) -> None:
    view = await open_form(h)
    ack = await submit(h, view, form_values(), view_id="VMETA00001", private_metadata=metadata)

    assert ack["response_action"] == "update"
    await h.settle()
    (post,) = h.maxcare.requests("POST", "/tasks")
    assert post.json["providerId"] == h.nurse_provider["id"]
    assert len(h.maxcare.all_tasks()) == 1
    assert len(cards(h)) == 1  # delivered somewhere (the channel or the author's DM)


# -- 6: inline errors ---------------------------------------------------------------------


def _many(n: int) -> list[str]:
    return [f"UMANY{i:04d}" for i in range(n)]


@pytest.mark.parametrize(
    ("values", "block", "phrase"),
    [
        (form_values(note="nte_123"), "note", "not a note ID"),
        (form_values(note="3cc73cb6-9c59"), "note", "not a note ID"),
        (form_values(note=None), "note", "Enter the note ID"),
        (form_values(notes="   \n "), "notes", "Write what needs doing"),
        (form_values(notes=None), "notes", "Write what needs doing"),
        (form_values(notes="x" * 3001), "notes", "3,000"),
        (form_values(assignees=[]), "assignees", "at least one"),
        (form_values(assignees=["UBOT"]), "assignees", "Bots cannot"),
        (form_values(assignees=[DOCTOR, "USLACKBOT"]), "assignees", "Bots cannot"),
        (form_values(assignees=_many(21)), "assignees", "at most 20"),
    ],
    ids=[
        "short-note",
        "half-uuid",
        "no-note",
        "blank-notes",
        "empty-notes",
        "long-notes",
        "no-assignee",
        "our-bot",
        "slackbot",
        "21-assignees",
    ],
)
async def test_invalid_input_comes_back_on_its_block(
    h: Harness, values: dict[str, Any], block: str, phrase: str
) -> None:
    view = await open_form(h)
    ack = await submit(h, view, values, view_id="VERR000001")

    assert ack["response_action"] == "errors"
    assert block in ack["errors"], ack
    assert phrase in ack["errors"][block]
    assert set(ack["errors"]) <= set(block_ids(view))  # Slack rejects unknown block IDs
    await h.settle()
    assert h.maxcare.requests("POST", "/tasks") == []
    assert h.bot.store.get_submission("VERR000001") is None
    assert cards(h) == []


async def test_exactly_3000_chars_and_20_assignees_are_accepted(h: Harness) -> None:
    people = _many(20)
    provider = h.maxcare.add_provider(first_name="Many", last_name="People")
    for uid in people:
        h.link(uid, provider)
    view = await open_form(h)
    ack = await submit(
        h, view, form_values(assignees=people, notes="y" * 3000), view_id="VLIMIT0001"
    )

    assert ack["response_action"] == "update"
    await h.settle()
    assert only_task(h)["notes"] == "y" * 3000


@pytest.mark.both_databases
async def test_unlinked_assignee_is_named(h: Harness) -> None:
    view = await open_form(h)
    ack = await submit(h, view, form_values(assignees=[DOCTOR, STRANGER]), view_id="VERR000002")

    assert ack["response_action"] == "errors"
    error = ack["errors"]["assignees"]
    assert "Not linked" in error
    assert "pstranger" in error or "Pat Stranger" in error
    assert "James Wilson" not in error and "drwilson" not in error
    assert [c.params["user"] for c in h.slack.calls("users.info")] == [STRANGER]
    assert h.maxcare.requests() == []


async def test_unlinked_submitter_gets_an_error_not_a_task(h: Harness) -> None:
    view = await open_form(h)  # opened while linked; the link is removed before submitting
    h.bot.store.remove_link(NURSE, actor="test")
    ack = await submit(h, view, form_values(), view_id="VERR000003")

    assert ack["response_action"] == "errors"
    assert "not linked" in " ".join(ack["errors"].values())
    assert set(ack["errors"]) <= set(block_ids(view))
    await h.settle()
    assert h.maxcare.requests() == []
    assert h.bot.store.get_submission("VERR000003") is None


# -- 7: the message shortcut --------------------------------------------------------------


MESSAGE_TS = "1700000100.000200"


def message(text: str, ts: str = MESSAGE_TS, **extra: Any) -> dict[str, Any]:
    return {"text": text, "ts": ts, **extra}


async def test_message_shortcut_prefills_from_the_message(h: Harness) -> None:
    text = (
        f"<@{DOCTOR}> see <#C123|general> and <https://x.org|label> <!channel> "
        f"for {NOTE} &amp; fix it"
    )
    view = await open_modal(h, payloads.message_action(message(text)))

    notes = element(view, "notes")["initial_value"]
    mention, rest = notes.split(" ", 1)
    assert mention.startswith("@") and "<" not in mention
    assert rest == f"see #general and label (https://x.org) @channel for {NOTE} & fix it"
    assert element(view, "note")["initial_value"] == NOTE
    assert element(view, "assignees")["initial_users"] == [DOCTOR]
    assert "destination" not in block_ids(view)


async def test_message_shortcut_cuts_long_messages_visibly(h: Harness) -> None:
    view = await open_modal(h, payloads.message_action(message("word " * 1000)))

    notes = element(view, "notes")["initial_value"]
    assert len(notes) <= 3000
    assert notes.endswith(TRUNCATION_MARKER)
    assert notes.startswith("word word")


@pytest.mark.both_databases
async def test_message_shortcut_card_goes_in_the_thread_and_is_remembered(h: Harness) -> None:
    signed = payloads.message_action(message(f"{NOTE} <@{DOCTOR}> {NOTES}"))
    view = await open_modal(h, signed)
    ack = await submit(h, view, form_values(), view_id="VMSG000001")
    assert ack["response_action"] == "update"
    await h.settle()

    task = only_task(h)
    (card,) = cards(h)
    assert card.params["channel"] == CHANNEL
    assert card.params["thread_ts"] == MESSAGE_TS

    again = await open_modal(h, payloads.message_action(message(f"{NOTE} {NOTES}")))
    shown = json.dumps(again)
    assert "already created from this message" in shown
    assert task["id"] in shown
    assert element(again, "note")["initial_value"] == NOTE  # still a usable form

    other = await open_modal(h, payloads.message_action(message(NOTES, ts="1700000200.000100")))
    assert "already created" not in json.dumps(other)


async def test_message_shortcut_reply_card_goes_to_the_thread_root(h: Harness) -> None:
    reply = message(NOTES, ts="1700000300.000100", thread_ts=MESSAGE_TS)
    view = await open_modal(h, payloads.message_action(reply))
    await submit(h, view, form_values(), view_id="VMSG000002")
    await h.settle()

    (card,) = cards(h)
    assert card.params["thread_ts"] == MESSAGE_TS


async def test_task_from_a_reply_is_not_reported_for_the_thread_root(h: Harness) -> None:
    reply = message(NOTES, ts="1700000300.000100", thread_ts=MESSAGE_TS)
    view = await open_modal(h, payloads.message_action(reply))
    await submit(h, view, form_values(), view_id="VMSG000003")
    await h.settle()
    assert len(h.maxcare.all_tasks()) == 1

    root = await open_modal(h, payloads.message_action(message("the root message")))
    assert "already created" not in json.dumps(root)


async def test_message_shortcut_from_unlinked_user_opens_an_info_modal(h: Harness) -> None:
    view = await open_modal(
        h, payloads.message_action(message(f"{NOTE} {NOTES}"), user_id=STRANGER)
    )

    assert "not linked" in json.dumps(view)
    assert f"<@{ADMIN}>" in json.dumps(view)
    assert "callback_id" not in view or view["callback_id"] != "create_task"
    assert "submit" not in view


# -- 8: the global shortcut ---------------------------------------------------------------


async def test_global_shortcut_form_has_a_destination_picker(h: Harness) -> None:
    view = await open_modal(h, payloads.global_shortcut())

    picker = element(view, "destination")
    assert picker["type"] == "conversations_select"
    assert picker["default_to_current_conversation"] is True
    assert picker["response_url_enabled"] is True
    assert block_ids(view)[:3] == ["note", "assignees", "notes"]


@pytest.mark.both_databases
async def test_global_shortcut_card_goes_to_the_chosen_conversation(h: Harness) -> None:
    view = await open_modal(h, payloads.global_shortcut())
    ack = await submit(
        h,
        view,
        form_values(destination="C0OTHER"),
        view_id="VGLOB00001",
        response_urls=[payloads.response_url_entry("C0OTHER", h.slack.response_url("g1"))],
    )
    assert ack["response_action"] == "update"
    await h.settle()

    task = only_task(h)
    (card,) = cards(h)
    assert card.params["channel"] == "C0OTHER"
    assert task["id"] in card.params["text"]
    assert h.slack.calls("response_url:g1") == []


async def test_global_shortcut_falls_back_to_the_pickers_response_url(h: Harness) -> None:
    h.slack.set_channel_access("C0PRIVATE", "channel_not_found")
    view = await open_modal(h, payloads.global_shortcut())
    await submit(
        h,
        view,
        form_values(destination="C0PRIVATE"),
        view_id="VGLOB00002",
        response_urls=[payloads.response_url_entry("C0PRIVATE", h.slack.response_url("g2"))],
    )
    await h.settle()

    task = only_task(h)
    (hook,) = h.slack.calls("response_url:g2")
    assert hook.params["response_type"] == "in_channel"
    assert task["id"] in hook.params["text"]


async def test_global_shortcut_from_unlinked_user_opens_an_info_modal(h: Harness) -> None:
    view = await open_modal(h, payloads.global_shortcut(user_id=STRANGER))
    assert "not linked" in json.dumps(view)
    assert "destination" not in block_ids(view)


# -- 9: where the card goes when the bot may not post -------------------------------------


async def test_card_goes_through_response_url_when_bot_is_not_in_channel(h: Harness) -> None:
    h.slack.set_channel_access(CHANNEL, "not_in_channel")
    await create_from_command(h, response_url=h.slack.response_url("cmd1"))

    task = only_task(h)
    (hook,) = h.slack.calls("response_url:cmd1")
    assert hook.params["response_type"] == "in_channel"
    assert hook.params["text"] and task["id"] in hook.params["text"]
    assert "Not started" in json.dumps(hook.params)
    assert dms_opened(h, NURSE) == []  # no DM to the author (the doctor gets the task's)
    sub = h.bot.store.get_submission("VCMD000001")
    assert sub is not None and sub.confirmed_at is not None and sub.notes == ""


async def test_card_goes_to_a_dm_with_invite_hint_when_response_url_fails(h: Harness) -> None:
    h.slack.set_channel_access(CHANNEL, "not_in_channel")
    h.slack.fail_response_url("cmd1")
    await create_from_command(h, response_url=h.slack.response_url("cmd1"))

    task = only_task(h)
    assert len(h.slack.calls("response_url:cmd1")) == 1
    (opened,) = dms_opened(h, NURSE)  # the doctor's DM about the task apart
    assert opened.params["users"] == NURSE
    dm = [c for c in cards(h) if c.params["channel"] == f"D{NURSE}"]
    assert len(dm) == 1
    assert "/invite" in dumps(dm[0])
    assert task["id"] in dm[0].params["text"]


async def test_response_url_off_the_slack_host_is_never_called(h: Harness) -> None:
    h.slack.set_channel_access(CHANNEL, "not_in_channel")
    with FakeSlack() as elsewhere:
        evil = elsewhere.response_url("evil")
        view = await open_form(h, response_url=evil)
        metadata = json.dumps(
            {"source": "command", "channel_id": CHANNEL, "response_url": "http://127.0.0.2:9/evil"}
        )
        await submit(h, view, form_values(), view_id="VEVIL00001")
        await submit(h, view, form_values(), view_id="VEVIL00002", private_metadata=metadata)
        await h.settle()
        assert elsewhere.calls() == []

    assert len(h.maxcare.all_tasks()) == 2
    for view_id in ("VEVIL00001", "VEVIL00002"):
        sub = h.bot.store.get_submission(view_id)
        assert sub is not None and sub.response_url is None
    dms = [c for c in cards(h) if c.params["channel"] == f"D{NURSE}"]
    assert len(dms) == 2


# -- 10: escaping -------------------------------------------------------------------------


async def test_user_text_is_escaped_in_the_card_but_exact_in_maxcare(h: Harness) -> None:
    nasty = "<!channel> <@U999> <https://evil|your bank> & more"
    await create_from_command(h, values=form_values(notes=nasty))

    (post,) = h.maxcare.requests("POST", "/tasks")
    assert post.json["notes"] == nasty
    (card,) = cards(h)
    shown = dumps(card)
    assert "&lt;!channel&gt; &lt;@U999&gt; &lt;https://evil|your bank&gt; &amp; more" in shown
    for raw in ("<!channel>", "<@U999>", "<https://evil"):
        assert raw not in shown
    assert "<!channel>" not in card.params["text"]


# -- 11-12: MaxCare refusals, drafts, resubmission ----------------------------------------


def refusal(status: int) -> dict[str, str]:
    codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found"}
    return {
        "code": codes[status],
        "message": f"Refused with {status}: 'noteId' is not editable",
        "trace_id": "abc-123",
    }


@pytest.mark.parametrize("status", [400, 401, 403, 404])
async def test_refusal_gives_the_form_back_with_the_reason(h: Harness, status: int) -> None:
    h.maxcare.fail_next("POST", "/tasks", status, body=refusal(status))
    await create_from_command(h, values=form_values(notes="Keep this text"))

    assert h.maxcare.all_tasks() == []
    assert len(h.maxcare.requests("POST", "/tasks")) == 1  # a refusal is not retried
    assert cards(h) == []
    sub = h.bot.store.get_submission("VCMD000001")
    assert sub is not None
    assert sub.state == "failed"
    assert sub.notes == "Keep this text"
    assert sub.trace_id == "abc-123"

    (update,) = h.slack.calls("views.update")
    assert update.params["view_id"] == "VCMD000001"
    form = update.params["view"]
    assert form["callback_id"] == "create_task"
    assert element(form, "note")["initial_value"] == NOTE
    assert element(form, "assignees")["initial_users"] == [DOCTOR]
    assert element(form, "notes")["initial_value"] == "Keep this text"
    error = form["blocks"][0]["text"]["text"]
    assert "abc-123" in error
    if status == 401:  # the key is the app's problem, not the person's: say so
        assert "API key" in error
    assert refusal(status)["message"] in error


@pytest.mark.both_databases
async def test_refused_then_fixed_resubmission_creates_the_task(h: Harness) -> None:
    h.maxcare.fail_next("POST", "/tasks", 404, body=refusal(404))
    view = await open_form(h)
    await submit(h, view, form_values(note=OTHER_NOTE), view_id="VRETRY0001")
    await h.settle()
    assert h.bot.store.get_submission("VRETRY0001").state == "failed"  # type: ignore[union-attr]
    form = h.slack.calls("views.update")[-1].params["view"]

    ack = await submit(h, form, form_values(note=NOTE), view_id="VRETRY0001")
    assert ack["response_action"] == "update"
    await h.settle()

    task = only_task(h)
    assert task["noteId"] == NOTE
    posts = h.maxcare.requests("POST", "/tasks")
    assert [p.json["noteId"] for p in posts] == [OTHER_NOTE, NOTE]
    (card,) = cards(h)
    assert card.params["channel"] == CHANNEL
    sub = h.bot.store.get_submission("VRETRY0001")
    assert sub is not None and sub.state == "created" and sub.task_id == task["id"]


@pytest.mark.both_databases
async def test_the_same_view_submitted_twice_makes_one_task_and_one_card(h: Harness) -> None:
    view = await open_form(h)
    first = await submit(h, view, form_values(), view_id="VTWICE0001")
    second = await submit(h, view, form_values(), view_id="VTWICE0001")
    await h.settle()
    third = await submit(h, view, form_values(), view_id="VTWICE0001")
    await h.settle()

    assert first["response_action"] == second["response_action"] == "update"
    task = only_task(h)
    assert len(h.maxcare.requests("POST", "/tasks")) == 1
    assert len(cards(h)) == 1
    assert third["response_action"] == "update"
    assert task["id"] in json.dumps(third["view"])


async def _refused_with_closed_modal(h: Harness, view_id: str = "VDRAFT0001") -> Call:
    """A refusal while the modal is closed: returns the ephemeral failure notice."""
    h.maxcare.fail_next("POST", "/tasks", 400, body=refusal(400))
    h.slack.fail("views.update", "not_found")
    await create_from_command(h, view_id=view_id, values=form_values(notes="Draft text"))
    (notice,) = h.slack.calls("chat.postEphemeral")
    return notice


def click(
    h: Harness, action_id: str, value: str, *, user_id: str = NURSE, hook: str = "eph"
) -> tuple[str, dict[str, str]]:
    """A click on a draft button in the failure notice; its answer goes to response_url `hook`."""
    return payloads.block_actions(
        [{"type": "button", "action_id": action_id, "block_id": "b", "value": value}],
        user_id=user_id,
        channel_id=CHANNEL,
        message={"ts": "1700000000.000100", "text": "notice"},
        response_url=h.slack.response_url(hook),
    )


async def test_closed_modal_gets_an_ephemeral_with_reopen_button(h: Harness) -> None:
    notice = await _refused_with_closed_modal(h)

    assert notice.params["channel"] == CHANNEL
    assert notice.params["user"] == NURSE
    assert notice.params["text"]
    assert "abc-123" in dumps(notice)
    buttons = [e for b in notice.params["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert {(b["action_id"], b["value"]) for b in buttons} == {
        ("reopen_draft", "VDRAFT0001"),
        ("dismiss_draft", "VDRAFT0001"),
    }


@pytest.mark.both_databases
async def test_reopen_draft_opens_the_form_with_the_same_inputs(h: Harness) -> None:
    await _refused_with_closed_modal(h)
    trigger = payloads.new_trigger_id()
    before = len(h.slack.calls("views.open"))
    signed = payloads.block_actions(
        [{"type": "button", "action_id": "reopen_draft", "block_id": "b", "value": "VDRAFT0001"}],
        channel_id=CHANNEL,
        response_url=h.slack.response_url("eph"),
        trigger_id=trigger,
    )
    resp = await h.post(signed)
    assert resp.status_code == 200
    calls = await h.slack.async_wait_for("views.open", before + 1)

    assert calls[-1].params["trigger_id"] == trigger
    form = calls[-1].params["view"]
    assert element(form, "note")["initial_value"] == NOTE
    assert element(form, "assignees")["initial_users"] == [DOCTOR]
    assert element(form, "notes")["initial_value"] == "Draft text"
    assert "abc-123" in json.dumps(form)
    (answer,) = await h.slack.async_wait_for("response_url:eph")
    assert answer.params["text"] == "Draft reopened in a form."

    # The reopened form submits like any other, with the card in the original channel.
    ack = await submit(h, form, form_values(notes="Draft text"), view_id="VDRAFT0002")
    assert ack["response_action"] == "update"
    await h.settle()
    task = only_task(h)
    (card,) = cards(h)
    assert card.params["channel"] == CHANNEL and task["id"] in card.params["text"]


async def test_someone_else_cannot_reopen_or_dismiss_a_draft(h: Harness) -> None:
    await _refused_with_closed_modal(h)
    opened = len(h.slack.calls("views.open"))

    assert (await h.post(click(h, "reopen_draft", "VDRAFT0001", user_id=DOCTOR))).status_code == 200
    (answer,) = await h.slack.async_wait_for("response_url:eph")
    assert "not yours" in answer.params["text"]
    assert (
        await h.post(click(h, "dismiss_draft", "VDRAFT0001", user_id=DOCTOR, hook="e2"))
    ).status_code == 200
    (answer2,) = await h.slack.async_wait_for("response_url:e2")
    assert "not yours" in answer2.params["text"]

    assert len(h.slack.calls("views.open")) == opened
    sub = h.bot.store.get_submission("VDRAFT0001")
    assert sub is not None and sub.state == "failed" and sub.notes == "Draft text"


@pytest.mark.both_databases
async def test_dismiss_draft_forgets_the_text(h: Harness) -> None:
    await _refused_with_closed_modal(h)

    assert (await h.post(click(h, "dismiss_draft", "VDRAFT0001"))).status_code == 200
    (answer,) = await h.slack.async_wait_for("response_url:eph")
    assert "discarded" in answer.params["text"]
    sub = h.bot.store.get_submission("VDRAFT0001")
    assert sub is not None and sub.notes == "" and sub.state == "dismissed"

    # A discarded draft cannot be reopened.
    assert (await h.post(click(h, "reopen_draft", "VDRAFT0001", hook="e3"))).status_code == 200
    (again,) = await h.slack.async_wait_for("response_url:e3")
    assert "already reopened or discarded" in again.params["text"]
    assert h.slack.calls("views.open")[-1].params["view"]["callback_id"] == "create_task"
    assert len(h.slack.calls("views.open")) == 1  # only the original /task form


async def test_reopened_global_shortcut_draft_keeps_its_destination(h: Harness) -> None:
    h.maxcare.fail_next("POST", "/tasks", 400, body=refusal(400))
    h.slack.fail("views.update", "not_found")
    view = await open_modal(h, payloads.global_shortcut())
    await submit(h, view, form_values(destination="C0OTHER"), view_id="VGDRAFT001")
    await h.settle()
    assert h.slack.calls("chat.postEphemeral")[0].params["channel"] == "C0OTHER"

    form = await open_modal(h, click(h, "reopen_draft", "VGDRAFT001"))
    await submit(h, form, form_values(), view_id="VGDRAFT002")
    await h.settle()

    only_task(h)
    (card,) = cards(h)
    assert card.params["channel"] == "C0OTHER"


# -- 13: who may talk to the app ----------------------------------------------------------


def _resigned(signed: tuple[str, dict[str, str]], secret: str) -> tuple[str, dict[str, str]]:
    body, _ = signed
    return body, payloads.sign(body, secret=secret)


@pytest.mark.parametrize("kind", ["command", "submission", "shortcut"])
async def test_wrong_signature_is_rejected_without_side_effects(h: Harness, kind: str) -> None:
    signed = {
        "command": payloads.slash_command(f"{NOTE} <@{DOCTOR}> {NOTES}"),
        "submission": payloads.view_submission(
            {"callback_id": "create_task", "private_metadata": ""},
            form_values(),
            view_id="VSIGN00001",
        ),
        "shortcut": payloads.global_shortcut(),
    }[kind]

    resp = await h.post(_resigned(signed, "not-the-secret"))
    assert resp.status_code == 401
    stale_body, _ = signed
    stale = payloads.sign(stale_body, timestamp=1_000_000_000)
    assert (await h.post((stale_body, stale))).status_code == 401
    unsigned = await h.http.post(
        "/slack/events",
        content=stale_body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert unsigned.status_code == 401

    await h.settle()
    assert side_calls(h.slack) == []
    assert h.maxcare.requests() == []
    assert h.bot.store.get_submission("VSIGN00001") is None


@pytest.mark.parametrize("kind", ["command", "submission", "shortcut"])
async def test_another_team_is_refused_without_side_effects(h: Harness, kind: str) -> None:
    other = "T0OTHER"
    signed = {
        "command": payloads.slash_command(f"{NOTE} <@{DOCTOR}> {NOTES}", team_id=other),
        "submission": payloads.view_submission(
            {"callback_id": "create_task", "private_metadata": ""},
            form_values(),
            view_id="VTEAM00001",
            team_id=other,
        ),
        "shortcut": payloads.message_action(message(NOTES), team_id=other),
    }[kind]

    resp = await h.post(signed)
    assert resp.status_code == 403
    assert "response_action" not in resp.text

    await h.settle()
    assert side_calls(h.slack) == []
    assert h.maxcare.requests() == []
    assert h.bot.store.get_submission("VTEAM00001") is None


@pytest.mark.parametrize("secret", [payloads.SIGNING_SECRET, "not-the-secret"])
async def test_malformed_body_is_not_a_server_error(h: Harness, secret: str) -> None:
    body = urlencode({"payload": "{not json"})
    resp = await h.post((body, payloads.sign(body, secret=secret)))
    assert 400 <= resp.status_code < 500
    assert side_calls(h.slack) == []
