"""Logging set-up: libraries stay quiet, and slack_sdk does not render payloads it then drops."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from bot.logs import SLACK_CLIENTS, setup_logging
from bot.settings import Settings
from bot.slack.client import slack_client
from tests.support.fakes import FakeSlack


class CountedView(dict[str, Any]):
    """A view dict that counts how often it is rendered as text (JSON encoding does not)."""

    renders = 0

    def __repr__(self) -> str:
        type(self).renders += 1
        return super().__repr__()


@pytest.fixture
def logging_restored() -> Iterator[None]:
    """setup_logging changes process-wide loggers: put them back afterwards."""
    root = logging.getLogger()
    names = ["httpx", "httpcore", "slack_sdk", "slack_bolt", "aiohttp.access", *SLACK_CLIENTS]
    saved = root.handlers[:], root.level, {n: logging.getLogger(n).level for n in names}
    yield
    root.handlers[:], root.level = saved[0], saved[1]
    for name, level in saved[2].items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_slack_calls_do_not_render_views_for_debug_lines(
    logging_restored: None, settings: Settings, slack: FakeSlack, level: str
) -> None:
    setup_logging(level)
    client = slack_client(settings)
    CountedView.renders = 0
    blocks = [{"type": "section", "text": {"type": "plain_text", "text": "hi"}}]
    view = CountedView(type="modal", title={"type": "plain_text", "text": "T"}, blocks=blocks)
    await client.views_open(trigger_id=slack.new_trigger_id(), view=view)
    assert slack.calls("views.open"), "the call reached the fake"
    assert CountedView.renders == 0


def test_library_loggers_stay_at_warning_even_when_the_app_debugs(logging_restored: None) -> None:
    setup_logging("DEBUG")
    assert logging.getLogger().level == logging.DEBUG
    for name in ("httpx", "slack_sdk", *SLACK_CLIENTS):
        assert logging.getLogger(name).level == logging.WARNING, name
