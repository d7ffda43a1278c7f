"""Issue 5 from Slack: admins link, unlink and list people; everyone can ask who they are."""

from __future__ import annotations

import json
import re
import time
from dataclasses import replace
from typing import Any

import pytest

from bot import ids
from bot.db.store import STALE_PROVIDER
from bot.links.service import AdminCheck
from bot.settings import Settings
from bot.slack.client import slack_client
from tests.support import ROOT, payloads
from tests.support.fakes import FakeSlack
from tests.support.harness import ADMIN, DOCTOR, FAST, NURSE, Harness, MakeHarness, ManualClock

CAROL = "UCAROL"
OWNER = "UOWNER"
WSADMIN = "UWSADMIN"
GONE = "UGONE"
ROBOT = "UROBOT"
UNKNOWN_PRV = "prv_" + "0" * 32


@pytest.fixture
def h(harness: Harness) -> Harness:
    return with_people(harness)


def with_people(harness: Harness) -> Harness:
    """Nurse and doctor linked; Carol (unlinked) has a provider; an owner, a deleted user, a bot."""
    harness.link(NURSE, harness.nurse_provider)
    harness.link(DOCTOR, harness.doctor_provider)
    harness.slack.add_user(CAROL, name="carol", real_name="Carol Diaz")
    harness.slack.add_user(OWNER, name="owner", real_name="Olga Owner", is_owner=True)
    harness.slack.add_user(WSADMIN, name="wsadmin", real_name="Walt Admin", is_admin=True)
    harness.slack.add_user(GONE, name="gone", real_name="Gail Gone", deleted=True)
    harness.slack.add_user(ROBOT, name="robot", is_bot=True)
    harness.carol = harness.maxcare.add_provider(  # type: ignore[attr-defined]
        first_name="Carol", last_name="Diaz", display_first_name="Dr. Carol",
        display_last_name="Diaz, MD", username="cdiaz",
    )
    return harness


def carol_id(h: Harness) -> str:
    return str(h.carol["id"])  # type: ignore[attr-defined]


async def command(
    h: Harness, text: str, *, user_id: str = ADMIN, hook: str = "adm"
) -> dict[str, Any]:
    """`/task <text>`; returns the ack body ({} for an empty ack)."""
    resp = await h.post(
        payloads.slash_command(text, user_id=user_id, response_url=h.slack.response_url(hook))
    )
    assert resp.status_code == 200, resp.text
    return resp.json() if resp.content else {}


async def answer(h: Harness, hook: str = "adm", count: int = 1) -> dict[str, Any]:
    """The `count`-th message posted to response_url `hook`."""
    calls = await h.slack.async_wait_for(f"response_url:{hook}", count)
    return calls[count - 1].params


def dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def table(h: Harness) -> dict[str, str]:
    return {link.slack_user_id: link.provider_id for link in h.bot.store.list_links()}


def events(h: Harness) -> list[tuple[str, str, str | None, str | None]]:
    return [
        (e.slack_user_id, e.actor, e.old_provider_id, e.new_provider_id)
        for e in h.bot.store.link_events()
    ]


# -- 1. who is an admin -------------------------------------------------------------------


@pytest.mark.parametrize("actor", [ADMIN, OWNER, WSADMIN])
async def test_bot_admins_workspace_admins_and_owners_may_link(h: Harness, actor: str) -> None:
    ack = await command(h, f"link <@{CAROL}|carol> {carol_id(h)}", user_id=actor)

    assert ack["response_type"] == "ephemeral"
    assert ack["text"] == f"Checking `{carol_id(h)}` with MaxCare…"
    reply = await answer(h)
    assert reply["response_type"] == "ephemeral"
    assert reply["text"] == f"Linked <@{CAROL}> → Dr. Carol Diaz, MD (`{carol_id(h)}`)."
    link = h.bot.store.get_link(CAROL)
    assert link is not None and link.provider_name == "Dr. Carol Diaz, MD"
    assert link.linked_by == actor and link.team_id == payloads.TEAM_ID
    assert events(h)[-1] == (CAROL, actor, None, carol_id(h))
    assert [r.path for r in h.maxcare.requests("GET")] == [f"/providers/{carol_id(h)}"]


@pytest.mark.parametrize(
    "text",
    ["link <@UCAROL|carol> {prv}", "link", "unlink <@UDOCTOR>", "links", "link <@UCAROL> nope"],
)
async def test_non_admins_are_refused_and_nothing_changes(h: Harness, text: str) -> None:
    before_table, before_events = table(h), events(h)
    ack = await command(h, text.format(prv=carol_id(h)), user_id=NURSE)

    assert ack["response_type"] == "ephemeral"
    assert "Only MaxCare Tasks admins" in ack["text"] and "Nothing was changed" in ack["text"]
    assert f"<@{ADMIN}>" in ack["text"]
    await h.settle()
    assert table(h) == before_table and events(h) == before_events
    assert h.maxcare.requests() == []
    assert h.slack.calls("views.open") == []
    assert h.slack.calls("response_url:adm") == []


async def test_admin_status_is_cached_for_five_minutes(
    slack: FakeSlack, settings: Settings
) -> None:
    now = [1000.0]
    check = AdminCheck(slack_client(settings), {ADMIN}, clock=lambda: now[0])
    slack.add_user(WSADMIN, is_admin=True)

    assert await check.is_admin(ADMIN)  # BOT_ADMINS: no Slack call
    assert slack.calls("users.info") == []
    assert await check.is_admin(WSADMIN) and await check.is_admin(WSADMIN)
    assert len(slack.calls("users.info")) == 1
    slack.add_user(WSADMIN, is_admin=False)  # demoted in Slack
    now[0] += 299
    assert await check.is_admin(WSADMIN)
    now[0] += 2
    assert not await check.is_admin(WSADMIN)
    assert len(slack.calls("users.info")) == 2
    slack.fail("users.info", "internal_error")
    assert not await check.is_admin("UNEW")  # Slack cannot say: not an admin, not cached
    assert await check.is_admin(OWNER) is False


# -- 2. /task link @user prv_… ------------------------------------------------------------


async def test_link_acks_before_asking_maxcare(h: Harness) -> None:
    h.maxcare.delay_next("GET", "/providers", 1.5)
    started = time.monotonic()
    ack = await command(h, f"link <@{CAROL}> {carol_id(h)}")
    acked = time.monotonic() - started

    assert acked < 1.0, acked
    assert ack["text"].startswith("Checking")
    assert h.bot.store.get_link(CAROL) is None  # not yet: MaxCare has not answered
    reply = await answer(h)
    assert reply["text"].startswith("Linked")


@pytest.mark.parametrize(
    ("target", "provider", "expected"),
    [
        (CAROL, UNKNOWN_PRV, f"MaxCare knows no provider `{UNKNOWN_PRV}`"),
        (GONE, "carol", "is deactivated in Slack"),
        (ROBOT, "carol", "is a bot"),
        ("USLACKBOT", "carol", "Slackbot is a bot"),
        ("UNOBODY", "carol", "Slack knows no user `UNOBODY`"),
    ],
)
async def test_link_refusals_after_the_ack(
    h: Harness, target: str, provider: str, expected: str
) -> None:
    prv = carol_id(h) if provider == "carol" else provider
    before = events(h)
    ack = await command(h, f"link <@{target}> {prv}")
    assert ack["text"].startswith("Checking")
    reply = await answer(h)

    assert expected in reply["text"]
    assert "Nothing was changed" in reply["text"]
    assert target not in table(h) and events(h) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("link <@UCAROL> prv_123", "is not a MaxCare provider ID"),
        ("link <@UCAROL> <script>", "`&lt;script&gt;` is not a MaxCare provider ID"),
        ("link <@UCAROL>", "Usage: `/task link @someone prv_…`"),
        ("link carol prv_" + "a" * 32, "Usage"),
        ("unlink", "Usage: `/task unlink @someone`"),
    ],
)
async def test_malformed_arguments_are_refused_in_the_ack(
    h: Harness, text: str, expected: str
) -> None:
    ack = await command(h, text)
    assert expected in ack["text"]
    await h.settle()
    assert h.maxcare.requests() == [] and CAROL not in table(h)


async def test_relink_with_a_dashed_uuid_names_the_old_provider(h: Harness) -> None:
    uuid = carol_id(h).removeprefix("prv_")
    dashed = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}".upper()
    await command(h, f"link <@{DOCTOR}> {dashed}")
    reply = await answer(h)

    old = h.doctor_provider["id"]
    assert reply["text"] == (
        f"Re-linked <@{DOCTOR}> → Dr. Carol Diaz, MD (`{carol_id(h)}`); it was `{old}`."
    )
    assert events(h)[-1] == (DOCTOR, ADMIN, old, carol_id(h))


async def test_linking_again_refreshes_the_name_and_clears_a_stale_flag(h: Harness) -> None:
    h.bot.store.set_link(CAROL, carol_id(h), actor="test", provider_name="Old Name")
    h.bot.store.mark_stale(CAROL, STALE_PROVIDER)
    await command(h, f"link <@{CAROL}> {carol_id(h)}")
    reply = await answer(h)

    assert reply["text"].startswith("Already linked")
    link = h.bot.store.get_link(CAROL)
    assert link is not None and link.provider_name == "Dr. Carol Diaz, MD"
    assert link.stale_reason is None
    assert len(h.bot.store.link_events(CAROL)) == 1  # same provider: no audit row


# -- 3. the link modal and its provider picker -----------------------------------------------


def link_values(user: str | None, option: dict[str, Any] | None) -> dict[str, Any]:
    return {
        ids.LINK_USER_BLOCK: {
            ids.LINK_USER_ACTION: {"type": "users_select", "selected_user": user}
        },
        ids.LINK_PROVIDER_BLOCK: {
            ids.LINK_PROVIDER_ACTION: {"type": "external_select", "selected_option": option}
        },
    }


async def open_link_modal(h: Harness) -> dict[str, Any]:
    ack = await command(h, "link")
    assert ack == {}
    (opened,) = await h.slack.async_wait_for("views.open")
    view: dict[str, Any] = opened.params["view"]
    return view


async def options(h: Harness, value: str, user_id: str = ADMIN) -> tuple[list[Any], float]:
    started = time.monotonic()
    resp = await h.post(
        payloads.block_suggestion(
            ids.LINK_PROVIDER_ACTION, ids.LINK_PROVIDER_BLOCK, value, user_id=user_id,
            view={"callback_id": ids.LINK_VIEW},
        )
    )
    elapsed = time.monotonic() - started
    assert resp.status_code == 200, resp.text
    return resp.json()["options"], elapsed


async def test_link_modal_picks_a_provider_and_links(h: Harness) -> None:
    view = await open_link_modal(h)
    assert view["callback_id"] == ids.LINK_VIEW
    picker = next(b for b in view["blocks"] if b.get("block_id") == ids.LINK_PROVIDER_BLOCK)
    assert picker["element"]["type"] == "external_select"

    found, _ = await options(h, "diaz")
    assert found == [
        {"text": {"type": "plain_text", "text": "Dr. Carol Diaz, MD · cdiaz", "emoji": True},
         "value": carol_id(h)}
    ]
    assert h.maxcare.requests("GET", "/providers")[0].query["search"] == "diaz"

    resp = await h.post(
        payloads.view_submission(view, link_values(CAROL, found[0]), user_id=ADMIN,
                                 view_id="VLINK00001")
    )
    ack = resp.json()
    assert ack["response_action"] == "update"
    assert "Checking" in dump(ack["view"])
    (update,) = await h.slack.async_wait_for("views.update")
    assert update.params["view_id"] == "VLINK00001"
    assert f"Linked <@{CAROL}> → Dr. Carol Diaz, MD" in dump(update.params["view"])
    assert table(h)[CAROL] == carol_id(h)
    assert events(h)[-1] == (CAROL, ADMIN, None, carol_id(h))


async def test_link_modal_errors_stay_in_the_form(h: Harness) -> None:
    view = await open_link_modal(h)
    hint = {"text": {"type": "plain_text", "text": "No provider"}, "value": ids.NO_PROVIDER_VALUE}
    resp = await h.post(payloads.view_submission(view, link_values(None, hint), user_id=ADMIN))
    ack = resp.json()
    assert ack["response_action"] == "errors"
    assert set(ack["errors"]) == {ids.LINK_USER_BLOCK, ids.LINK_PROVIDER_BLOCK}

    # A provider that vanished between the search and the submit: the form comes back, filled.
    gone = {"text": {"type": "plain_text", "text": "Dr. Nobody"}, "value": UNKNOWN_PRV}
    await h.post(payloads.view_submission(view, link_values(CAROL, gone), user_id=ADMIN,
                                          view_id="VLINK00002"))
    (update,) = await h.slack.async_wait_for("views.update")
    again = update.params["view"]
    assert again["callback_id"] == ids.LINK_VIEW
    assert "MaxCare knows no provider" in dump(again)
    elements = {b.get("block_id"): b.get("element", {}) for b in again["blocks"]}
    assert elements[ids.LINK_USER_BLOCK]["initial_user"] == CAROL
    assert elements[ids.LINK_PROVIDER_BLOCK]["initial_option"] == gone
    assert CAROL not in table(h)


async def test_link_modal_submitted_by_a_non_admin_changes_nothing(h: Harness) -> None:
    view = {"callback_id": ids.LINK_VIEW, "blocks": []}
    option = {"text": {"type": "plain_text", "text": "x"}, "value": carol_id(h)}
    await h.post(payloads.view_submission(view, link_values(CAROL, option), user_id=NURSE,
                                          view_id="VLINK00003"))
    (update,) = await h.slack.async_wait_for("views.update")
    assert "Only MaxCare Tasks admins" in dump(update.params["view"])
    assert CAROL not in table(h) and h.maxcare.requests() == []


async def test_provider_options_are_cached_briefly(make_harness: MakeHarness) -> None:
    clock = ManualClock()
    h = with_people(await make_harness(tuning=replace(FAST, cache_clock=clock)))
    first, _ = await options(h, "Diaz ")
    second, elapsed = await options(h, "diaz")
    assert first == second and elapsed < 0.5
    assert len(h.maxcare.requests("GET", "/providers")) == 1
    clock.advance(61)
    await options(h, "diaz")
    assert len(h.maxcare.requests("GET", "/providers")) == 2


async def test_provider_options_answer_in_time_when_maxcare_is_slow(h: Harness) -> None:
    h.maxcare.delay_next("GET", "/providers", 5.0)
    found, elapsed = await options(h, "wil")
    assert elapsed < 2.8, elapsed  # Slack waits 3 s for options
    assert [o["value"] for o in found] == [ids.NO_PROVIDER_VALUE]
    assert "slow" in found[0]["text"]["text"]

    nothing, _ = await options(h, "zzz")
    assert [o["value"] for o in nothing] == [ids.NO_PROVIDER_VALUE]
    assert "No provider matches" in nothing[0]["text"]["text"]


async def test_provider_options_are_for_admins_only(h: Harness) -> None:
    found, _ = await options(h, "diaz", user_id=NURSE)
    assert [o["value"] for o in found] == [ids.NO_PROVIDER_VALUE]
    assert h.maxcare.requests() == []


# -- 4. unlink, links, whoami -------------------------------------------------------------


async def test_unlink(h: Harness) -> None:
    ack = await command(h, f"unlink <@{DOCTOR}|drwilson>")
    old = h.doctor_provider["id"]
    assert ack["text"] == f"Unlinked <@{DOCTOR}> (was Dr. James Wilson, MD `{old}`)."
    assert DOCTOR not in table(h)
    assert events(h)[-1] == (DOCTOR, ADMIN, old, None)
    again = await command(h, f"unlink {DOCTOR}")
    assert "was not linked" in again["text"]
    assert len(events(h)) == 3  # nurse, doctor, doctor's unlink


async def test_whoami(h: Harness) -> None:
    mine = await command(h, "whoami", user_id=NURSE)
    assert mine["response_type"] == "ephemeral"
    assert f"You are linked to Nina Nurse, RN (`{h.nurse_provider['id']}`)" in mine["text"]
    assert "by test on" in mine["text"]
    stranger = await command(h, "whoami", user_id=CAROL)
    assert "not linked" in stranger["text"] and f"<@{ADMIN}>" in stranger["text"]
    h.bot.store.mark_stale(NURSE, STALE_PROVIDER)
    flagged = await command(h, "whoami", user_id=NURSE)
    assert "provider unknown to MaxCare" in flagged["text"]


async def test_links_table_is_paged_beyond_slacks_block_limit(h: Harness) -> None:
    people = [f"UP{n:04d}" for n in range(118)]  # + nurse and doctor = 120
    h.bot.store.import_links([(u, f"prv_{n:032x}") for n, u in enumerate(people)], actor="t")
    seen: list[str] = []

    page = await command(h, "links")
    for number in (1, 2, 3):
        assert len(page["blocks"]) <= 50
        assert all(len(b["text"]["text"]) <= 3000 for b in page["blocks"] if "text" in b)
        assert f"page {number} of 3" in page["text"]
        text = dump(page["blocks"])
        seen += re.findall(r"<@(U[A-Z0-9]+)>", text)
        buttons = [e for b in page["blocks"] if b["type"] == "actions" for e in b["elements"]]
        nexts = [b for b in buttons if b["action_id"] == ids.LINKS_NEXT_ACTION]
        if number == 3:
            assert nexts == []
            (prev,) = [b for b in buttons if b["action_id"] == ids.LINKS_PREV_ACTION]
            back = payloads.block_actions(
                [{"type": "button", "action_id": ids.LINKS_PREV_ACTION, "block_id": "p",
                  "value": prev["value"]}],
                user_id=ADMIN, response_url=h.slack.response_url("back"),
            )
            await h.post(back)
            assert "page 2 of 3" in (await answer(h, "back"))["text"]
            break
        click = payloads.block_actions(
            [{"type": "button", "action_id": ids.LINKS_NEXT_ACTION, "block_id": "p",
              "value": nexts[0]["value"]}],
            user_id=ADMIN, response_url=h.slack.response_url(f"page{number}"),
        )
        assert (await h.post(click)).status_code == 200
        page = await answer(h, f"page{number}")
        assert page["replace_original"] is True

    assert sorted(seen) == sorted([*people, NURSE, DOCTOR])


async def test_page_buttons_refuse_non_admins(h: Harness) -> None:
    click = payloads.block_actions(
        [{"type": "button", "action_id": ids.LINKS_NEXT_ACTION, "block_id": "p", "value": "2"}],
        user_id=NURSE, response_url=h.slack.response_url("peek"),
    )
    await h.post(click)
    reply = await answer(h, "peek")
    assert "Only MaxCare Tasks admins" in reply["text"] and "blocks" not in reply


async def test_empty_table(harness: Harness) -> None:
    page = await command(harness, "links")
    assert "Nobody is linked yet" in page["text"]


async def test_help_names_the_admin_commands(h: Harness) -> None:
    ack = await command(h, "help")
    for word in ("link @someone prv_", "unlink @someone", "links", "whoami"):
        assert word in ack["text"], word


# -- 7. stale links in the form -----------------------------------------------------------


async def submit_to(h: Harness, assignees: list[str]) -> dict[str, Any]:
    values = payloads.state_values(
        payloads.plain_text_value("note", "note_input", "nte_" + "3" * 32),
        payloads.users_value("assignees", "assignees_input", assignees),
        payloads.plain_text_value("notes", "notes_input", "Review the plan"),
    )
    resp = await h.post(payloads.view_submission({"callback_id": "create_task"}, values))
    body: dict[str, Any] = resp.json()
    return body


async def test_someone_who_left_slack_cannot_be_assigned(h: Harness) -> None:
    h.link(CAROL, h.carol)  # type: ignore[attr-defined]
    gone = {**h.slack.add_user(CAROL, name="carol", real_name="Carol Diaz"), "deleted": True}
    resp = await h.post(payloads.event_callback({"type": "user_change", "user": gone}))
    assert resp.status_code == 200
    link = h.bot.store.get_link(CAROL)
    assert link is not None and link.stale_reason == "slack_deleted"

    ack = await submit_to(h, [DOCTOR, CAROL])
    assert ack["response_action"] == "errors"
    assert ack["errors"]["assignees"] == (
        "Cannot be assigned: carol has left Slack. Choose someone else."
    )
    await h.settle()
    assert h.maxcare.requests("POST", "/tasks") == []

    back = {**gone, "deleted": False}
    await h.post(payloads.event_callback({"type": "user_change", "user": back}))
    link = h.bot.store.get_link(CAROL)
    assert link is not None and link.stale_reason is None


async def test_unknown_provider_and_unlinked_are_named_together(h: Harness) -> None:
    h.bot.store.mark_stale(DOCTOR, STALE_PROVIDER)
    h.slack.add_user("UPAT", name="pstranger")
    ack = await submit_to(h, [DOCTOR, "UPAT"])
    error = ack["errors"]["assignees"]
    assert error.startswith("Not linked to MaxCare yet: pstranger.")
    assert "Cannot be assigned: drwilson is linked to a provider MaxCare no longer knows." in error


def test_manifest_declares_what_the_admin_features_need() -> None:
    import yaml

    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert "users:read.email" in manifest["oauth_config"]["scopes"]["bot"]  # links suggest
    assert "user_change" in manifest["settings"]["event_subscriptions"]["bot_events"]
    options_url = manifest["settings"]["interactivity"]["message_menu_options_url"]
    assert options_url.endswith("/slack/events")


def test_readme_documents_the_admin_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for text in ("python -m bot links history", "python -m bot links suggest", "/task link @",
                 "/task unlink @", "/task links", "/task whoami", "cli:<OS user>"):
        assert text in readme, text
