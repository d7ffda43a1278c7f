"""Pure text helpers: `/task` text, readable Slack markup, cutting and escaping."""

from __future__ import annotations

import pytest

from bot.slack.text import (
    NOTES_MAX,
    TRUNCATION_MARKER,
    Prefill,
    cut,
    escape,
    find_note_id,
    mentioned_users,
    normalize_note_id,
    parse_command_text,
    prefill_from_message,
    readable,
    shorten,
)

HEX = "3cc7aaaabbbbccccddddeeeeffff0000"
NOTE = "nte_" + HEX
UUID = "3cc7aaaa-bbbb-cccc-dddd-eeeeffff0000"


# -- parse_command_text ----------------------------------------------------------------------


def test_command_with_note_mention_and_notes() -> None:
    got = parse_command_text(f"{NOTE} <@UDOCTOR|drwilson> Review missing plan for Impression #3")
    assert got == Prefill(NOTE, ["UDOCTOR"], "Review missing plan for Impression #3")


def test_command_with_uuid_note_id_is_converted() -> None:
    got = parse_command_text(f"{UUID.upper()} <@UDOCTOR> check it")
    assert got.note_id == NOTE
    assert got.assignee_user_ids == ["UDOCTOR"]
    assert got.notes == "check it"


def test_command_mentions_with_and_without_names_anywhere() -> None:
    got = parse_command_text(f"please <@UDOC|drwilson> and <@WPA> look at {NOTE} now <@UDOC>")
    assert got.assignee_user_ids == ["UDOC", "WPA"]  # in order, no repeats
    assert got.notes == "please and look at now"
    assert got.note_id == NOTE


def test_command_rest_is_made_readable() -> None:
    got = parse_command_text(
        "see <#C0GENERAL|general> &amp; <https://ehr.example/n|the note> &lt;3"
    )
    assert got.notes == "see #general & the note (https://ehr.example/n) <3"
    assert got.note_id == ""
    assert got.assignee_user_ids == []


@pytest.mark.parametrize("text", ["", "   ", None])
def test_empty_command_text(text: str | None) -> None:
    assert parse_command_text(text) == Prefill()  # type: ignore[arg-type]


def test_command_only_first_note_id_is_taken() -> None:
    other = "nte_" + "f" * 32
    got = parse_command_text(f"{NOTE} compare with {other}")
    assert got.note_id == NOTE
    assert got.notes == f"compare with {other}"


def test_command_not_quite_a_note_id_stays_in_notes() -> None:
    text = "nte_" + "a" * 31 + " fix it"
    got = parse_command_text(text)
    assert got.note_id == ""
    assert got.notes == text


def test_long_command_text_is_cut_to_the_input_limit() -> None:
    got = parse_command_text(f"{NOTE} " + "word " * 1000)
    assert len(got.notes) <= NOTES_MAX
    assert got.notes.endswith(TRUNCATION_MARKER)


# -- note IDs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOTE, NOTE),
        (NOTE.upper(), NOTE),
        (f"  {NOTE}  ", NOTE),
        (UUID, NOTE),
        (UUID.upper(), NOTE),
        ("nte_" + "g" * 32, None),
        ("nte_" + "a" * 33, None),
        (HEX, None),
        ("prv_" + HEX, None),
        ("", None),
    ],
)
def test_normalize_note_id(value: str, expected: str | None) -> None:
    assert normalize_note_id(value) == expected


def test_find_note_id() -> None:
    assert find_note_id(f"about {NOTE} please") == (NOTE, "about  please")
    assert find_note_id(f"about {UUID}") == (NOTE, "about")
    assert find_note_id("nothing here") == (None, "nothing here")
    assert find_note_id(f"x{NOTE}") == (None, f"x{NOTE}")  # not a word of its own
    # A prefixed ID wins over an earlier UUID.
    assert find_note_id(f"{UUID.replace('3cc7', '9999')} {NOTE}")[0] == NOTE


def test_mentioned_users() -> None:
    assert mentioned_users("<@U1|a> <@W2> <@U1> <#C3> <!here>") == ["U1", "W2"]
    assert mentioned_users("@U1 plain text") == []


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


# -- message prefill ------------------------------------------------------------------------


def test_prefill_from_message() -> None:
    got = prefill_from_message(f"<@UDOC> plan missing on {NOTE} &lt;urgent&gt;")
    assert got.note_id == NOTE
    assert got.assignee_user_ids == ["UDOC"]
    assert got.notes == f"@UDOC plan missing on {NOTE} <urgent>"  # the whole message is kept


def test_prefill_from_long_message_is_cut_with_marker() -> None:
    got = prefill_from_message("x" * 10_000)
    assert len(got.notes) == NOTES_MAX
    assert got.notes.endswith(TRUNCATION_MARKER)


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
