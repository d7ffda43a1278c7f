"""Forms and cards built from whatever people type are accepted by a Slack that checks Block Kit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.settings import load_settings
from tests.support import payloads
from tests.support.fakes import Call, FakeMaxCare, FakeSlack
from tests.support.harness import DOCTOR, NURSE
from tests.support.ids import NOTE
from tests.support.messages import posts
from tests.support.served import ServedBot
from tests.support.submissions import CHANNEL, new_view_id, submission

Served = tuple[ServedBot, FakeSlack, FakeMaxCare]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One app for all examples, the nurse and the doctor linked."""
    tmp: Path = tmp_path_factory.mktemp("block_kit")
    with FakeSlack() as slack, FakeMaxCare() as maxcare:
        config = load_settings(
            slack_bot_token=slack.token, slack_signing_secret=payloads.SIGNING_SECRET,
            slack_api_url=slack.api_url, maxcare_api_key=maxcare.api_key,
            maxcare_organization_id=maxcare.organization_id, maxcare_api_url=maxcare.url,
            database_path=tmp / "bot.db",
        )
        slack.add_user(NURSE, name="nurse")
        slack.add_user(DOCTOR, name="drwilson")
        maxcare.add_note(NOTE)
        app = ServedBot(config).start()
        assert app.bot is not None
        for user in (NURSE, DOCTOR):
            provider = maxcare.add_provider(first_name=user.title())
            app.bot.store.set_link(user, provider["id"], actor="test", provider_name=user)
        try:
            yield app, slack, maxcare
        finally:
            app.stop()


# Text people type or post: anything, long runs, and the tokens Slack puts in messages.
texts = (
    st.text()
    # Slack sends UTF-8: lone surrogates cannot arrive (and cannot be encoded to send).
    | st.builds(
        lambda ch, n: ch * n, st.characters(codec="utf-8"), st.integers(2900, 40_000)
    )
    | st.lists(st.sampled_from([
        "<@UDOCTOR>", "<@UDOCTOR|drwilson>", "<#C0GENERAL|general>", "<!channel>",
        "<https://x.org|label>", "&amp; &lt;b&gt;", "*bold* _it_ ~s~ `code`", "\n", "😀", " ",
        "\u200b", "\x00", NOTE,
    ]), max_size=40).map("".join)
)
SETTINGS = settings(
    max_examples=60, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _post(app: ServedBot, signed: tuple[str, dict[str, str]]) -> httpx.Response:
    body, headers = signed
    return httpx.post(f"{app.url}/slack/events", content=body, headers=headers, timeout=10)


def _next(slack: FakeSlack, method: str, before: int) -> Call:
    """The first call of `method` after the `before` seen already."""
    return slack.wait_for(method, before + 1, timeout=10)[before]


@SETTINGS
@given(text=texts)
def test_the_form_opened_from_any_text_is_valid(served: Served, text: str) -> None:
    app, slack, _ = served
    for signed in (
        payloads.slash_command(f"{NOTE} {text}", user_id=NURSE),  # a note first: not `help`
        payloads.message_action({"text": text}, user_id=NURSE),
    ):
        before = len(slack.calls("views.open"))
        assert _post(app, signed).status_code == 200
        opened = _next(slack, "views.open", before)
        assert opened.error is None, slack_problems(opened)


@SETTINGS
@given(notes=texts.filter(lambda t: t.strip() and len(t) <= 3000))
def test_the_card_and_the_modal_for_any_notes_are_valid(served: Served, notes: str) -> None:
    app, slack, _ = served
    cards, updates = len(posts(slack)), len(slack.calls("views.update"))  # the DMs apart
    view_id = new_view_id()
    answer = _post(app, submission(view_id=view_id, note=NOTE, notes=notes, assignees=[DOCTOR]))
    assert answer.json()["response_action"] == "update", answer.text
    card = _next_post(slack, cards)
    assert card.params["channel"] == CHANNEL and card.error is None, slack_problems(card)
    created = _next(slack, "views.update", updates)
    assert created.params["view_id"] == view_id and created.error is None


def _next_post(slack: FakeSlack, before: int) -> Call:
    """The first message after the `before` seen already, assignees' DMs apart."""
    deadline = time.monotonic() + 10
    while len(posts(slack)) <= before:
        assert time.monotonic() < deadline, "no new message"
        time.sleep(0.01)
    return posts(slack)[before]


def slack_problems(call: Call) -> str:
    """What the fake said was wrong with a refused call."""
    return f"{call.method} refused: {call.error}"
