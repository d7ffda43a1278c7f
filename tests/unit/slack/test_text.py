"""Pure text helpers: readable Slack markup, cutting, shortening and escaping."""

from __future__ import annotations

import pytest

from bot.slack.text import NOTES_MAX, TRUNCATION_MARKER, cut, escape, readable, shorten

# -- readable ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("<@U123|drwilson>", "@drwilson"),
        ("<@U123>", "@U123"),
        ("<@W123>", "@W123"),
        ("<#C123|general>", "#general"),
        ("<#C123>", "#C123"),
        ("<#G123|private>", "#private"),
        ("<!here>", "@here"),
        ("<!here|here>", "@here"),
        ("<!channel>", "@channel"),
        ("<!everyone>", "@everyone"),
        ("<!subteam^S123|@nurses>", "@nurses"),
        ("<!subteam^S123>", "@group"),
        ("<!date^1392734382^{date_short}|Feb 18, 2014>", "Feb 18, 2014"),
        ("<https://ehr.example/x|the chart>", "the chart (https://ehr.example/x)"),
        ("<https://ehr.example/x>", "https://ehr.example/x"),
        ("<https://ehr.example/x|https://ehr.example/x>", "https://ehr.example/x"),
        ("<http://ehr.example>", "http://ehr.example"),
        ("<mailto:a@b.org>", "a@b.org"),
        ("<tel:+15551234>", "+15551234"),
        ("a &lt; b &gt; c &amp; d", "a < b > c & d"),
        ("&amp;lt;", "&lt;"),  # the person typed "&lt;" literally
        ("no markup at all", "no markup at all"),
    ],
)
def test_readable_every_markup_kind(markup: str, expected: str) -> None:
    assert readable(markup) == expected


def test_readable_uses_names_for_bare_mentions() -> None:
    names = {"U1": "Nina Nurse"}
    assert readable("<@U1> and <@U2> and <@U3|given>", names.get) == (
        "@Nina Nurse and @U2 and @given"
    )


def test_readable_mailto_with_its_own_address_as_label() -> None:
    assert readable("<mailto:a@b.org|a@b.org>") == "a@b.org"


def test_readable_mixed_sentence() -> None:
    text = (
        "<@U1|nina> asks <!subteam^S1|@docs> in <#C1|ward-3> "
        "about <https://x.org/n|note> &amp; more"
    )
    assert readable(text) == "@nina asks @docs in #ward-3 about note (https://x.org/n) & more"


# -- cut, shorten, escape ------------------------------------------------------------------


def test_cut_keeps_text_within_the_limit() -> None:
    assert cut("short") == "short"
    exact = "y" * NOTES_MAX
    assert cut(exact) == exact
    over = cut("y" * (NOTES_MAX + 1))
    assert len(over) <= NOTES_MAX
    assert over.endswith(TRUNCATION_MARKER)
    assert over.startswith("y" * 100)


@pytest.mark.parametrize("limit", [len(TRUNCATION_MARKER) + 1, 100, 500])
def test_cut_with_other_limits(limit: int) -> None:
    text = "word " * 400
    got = cut(text, limit)
    assert len(got) <= limit
    assert got.endswith(TRUNCATION_MARKER)
    assert not got.removesuffix(TRUNCATION_MARKER).endswith(" ")


def test_shorten() -> None:
    assert shorten("abc", 3) == "abc"
    assert shorten("abcdef", 4) == "abc…"
    assert len(shorten("a" * 500, 100)) == 100


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<@U123>", "&lt;@U123&gt;"),
        ("<https://evil.example|https://ehr.example>", "&lt;https://evil.example|https://ehr.example&gt;"),
        ("a & b", "a &amp; b"),
        ("&lt;", "&amp;lt;"),
        ("plain *bold* _it_", "plain *bold* _it_"),
    ],
)
def test_escape(raw: str, escaped: str) -> None:
    assert escape(raw) == escaped
    assert readable(escape(raw)) == raw  # Slack shows exactly what was typed
