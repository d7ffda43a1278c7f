"""Which response_url hosts the app trusts: Slack's own, or the configured Slack API host."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from bot.slack.client import response_url_checker


@pytest.fixture
def ok(settings: Settings):  # type: ignore[no-untyped-def]
    return response_url_checker(settings)


@pytest.mark.parametrize("url", [
    "https://hooks.slack.com/commands/T0TEAM/123/abc",
    "https://hooks.slack.com/actions/T0TEAM/123/abc",
    "https://hooks.slack-gov.com/commands/T0TEAM/123/abc",
])
def test_slacks_real_hook_hosts_are_trusted(ok, url: str) -> None:  # type: ignore[no-untyped-def]
    assert ok(url)


@pytest.mark.parametrize("url", [
    "http://hooks.slack.com/commands/T0TEAM/123/abc",  # not https
    "https://hooks.slack.com.evil.example/commands/x",
    "https://evil.example/hooks.slack.com/commands/x",
    "https://user@evil.example/x",
    "https://slack.com/api/chat.postMessage",
    "javascript:alert(1)",
    "",
])
def test_anything_else_is_not(ok, url: str) -> None:  # type: ignore[no-untyped-def]
    assert not ok(url)


def test_the_configured_slack_host_is_trusted(ok, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert ok(settings.slack_api_url.rstrip("/") + "/response/abc")
