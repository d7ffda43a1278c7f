"""The Block Kit primitives: each one's shape, and that slack_sdk reads it back unchanged."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.models.blocks import Block, Option
from slack_sdk.models.views import View

from bot.slack import blocks as bk


def same_in_slack_sdk(block: dict[str, Any]) -> bool:
    parsed = Block.parse(block)
    assert parsed is not None, block
    return parsed.to_dict() == block


def test_text_objects() -> None:
    assert bk.plain_text("Hi :wave:") == {"type": "plain_text", "text": "Hi :wave:", "emoji": True}
    assert bk.mrkdwn("*bold*") == {"type": "mrkdwn", "text": "*bold*"}


def test_section_with_and_without_accessory() -> None:
    plain = bk.section("Hello")
    assert plain == {"type": "section", "text": {"type": "mrkdwn", "text": "Hello"}}
    assert "accessory" not in plain
    button = bk.button("act", "Go", "v")
    beside = bk.section("Hello", button)
    assert beside["accessory"] == button
    assert same_in_slack_sdk(plain) and same_in_slack_sdk(beside)


def test_fields_section() -> None:
    block = bk.fields("*A*\n1", "*B*\n2")
    assert block == {"type": "section", "fields": [bk.mrkdwn("*A*\n1"), bk.mrkdwn("*B*\n2")]}
    assert same_in_slack_sdk(block)


def test_context_holds_mrkdwn_lines() -> None:
    block = bk.context("one", "two")
    assert block == {"type": "context", "elements": [bk.mrkdwn("one"), bk.mrkdwn("two")]}
    assert same_in_slack_sdk(block)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("a", "Go"), {"type": "button", "action_id": "a", "text": bk.plain_text("Go")}),
        (("a", "Go", "v"), {"type": "button", "action_id": "a", "text": bk.plain_text("Go"),
                            "value": "v"}),
        (("a", "Go", "v", "primary"), {"type": "button", "action_id": "a",
                                       "text": bk.plain_text("Go"), "value": "v",
                                       "style": "primary"}),
        (("a", "Go", None, "danger"), {"type": "button", "action_id": "a",
                                       "text": bk.plain_text("Go"), "style": "danger"}),
    ],
)
def test_button(args: tuple[Any, ...], expected: dict[str, Any]) -> None:
    assert bk.button(*args) == expected


def test_actions_block() -> None:
    one, two = bk.button("a", "A", "1"), bk.button("b", "B", "2")
    block = bk.actions(one, two)
    assert block == {"type": "actions", "elements": [one, two]}
    assert bk.actions(one, block_id="row")["block_id"] == "row"
    assert same_in_slack_sdk(block) and same_in_slack_sdk(bk.actions(one, block_id="row"))


def test_header_and_divider() -> None:
    assert bk.header("Title") == {"type": "header", "text": bk.plain_text("Title")}
    assert bk.divider() == {"type": "divider"}
    assert same_in_slack_sdk(bk.header("Title")) and same_in_slack_sdk(bk.divider())


def test_option_cuts_text_to_slacks_limit() -> None:
    assert bk.option("v", "Dr. Lee") == {"text": bk.plain_text("Dr. Lee"), "value": "v"}
    exact = bk.option("v", "x" * bk.OPTION_TEXT_MAX)
    assert exact["text"]["text"] == "x" * bk.OPTION_TEXT_MAX
    long = bk.option("v", "x" * 200)
    assert long["text"]["text"] == "x" * (bk.OPTION_TEXT_MAX - 1) + "…"
    assert Option(**long).to_dict() == long


def test_input_block() -> None:
    element = {"type": "plain_text_input", "action_id": "a"}
    block = bk.input_block("b", "Label", element)
    assert block == {"type": "input", "block_id": "b", "label": bk.plain_text("Label"),
                     "element": element}
    hinted = bk.input_block("b", "Label", element, hint="Help")
    assert hinted["hint"] == bk.plain_text("Help")
    assert same_in_slack_sdk(block) and same_in_slack_sdk(hinted)


def test_modal_sets_only_what_is_given() -> None:
    bare = bk.modal("Title", [bk.divider()])
    assert bare == {"type": "modal", "title": bk.plain_text("Title"), "blocks": [bk.divider()]}
    full = bk.modal("Title", [bk.divider()], submit="Go", close="Stop", callback_id="cb",
                    private_metadata="{}")
    assert full["submit"] == bk.plain_text("Go")
    assert full["close"] == bk.plain_text("Stop")
    assert (full["callback_id"], full["private_metadata"]) == ("cb", "{}")
    for view in (bare, full):
        assert View(**view).to_dict() == view
    assert "private_metadata" not in bk.modal("Title", [], private_metadata="")


def test_home_and_message() -> None:
    assert bk.home([bk.divider()]) == {"type": "home", "blocks": [bk.divider()]}
    assert View(**bk.home([bk.divider()])).to_dict() == bk.home([bk.divider()])
    message = bk.message("fallback", (bk.divider(),))
    assert message == {"text": "fallback", "blocks": [bk.divider()]}


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("a&b", 7, "a&amp;b"),
        ("a&b", 4, "a…"),
        ("abcdefghij", 5, "abcd…"),
        ("word word", 6, "word…"),  # no space before the ellipsis
        ("<<<<", 9, "&lt;&lt;…"),
    ],
)
def test_escaped_within(text: str, limit: int, expected: str) -> None:
    assert bk.escaped_within(text, limit) == expected
    assert len(bk.escaped_within(text, limit)) <= limit


def test_escaped_within_never_cuts_an_escape() -> None:
    for limit in range(2, 40):
        out = bk.escaped_within("&" * 30, limit)
        assert len(out) <= limit
        assert out.removesuffix("…").replace("&amp;", "") == ""
