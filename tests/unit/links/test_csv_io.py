"""Links CSV: parsing with line-numbered errors, formula-safe export, round trip."""

from __future__ import annotations

import pytest

from bot.db.store import Link
from bot.errors import LinksFileError
from bot.links.csv_io import (
    EXPORT_HEADER,
    links_to_csv,
    parse_links_csv,
    safe_cell,
)
from tests.support.ids import PRV_A, PRV_B

UUID = "3cc7aaaa-bbbb-cccc-dddd-eeeeffff0000"


def pairs(text: str) -> list[tuple[int, str, str]]:
    return [(r.line, r.slack_user_id, r.provider_id) for r in parse_links_csv(text)]


def problems(text: str) -> list[str]:
    with pytest.raises(LinksFileError) as info:
        parse_links_csv(text)
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def test_parse_good_file() -> None:
    text = f"slack_user_id,provider_id\nUNURSE,{PRV_A}\nWDOC,{UUID.upper()}\n"
    assert pairs(text) == [
        (2, "UNURSE", PRV_A),
        (3, "WDOC", "prv_3cc7aaaabbbbccccddddeeeeffff0000"),
    ]


def test_parse_bom_blank_lines_spaces_crlf_and_extra_columns() -> None:
    text = (
        "\ufeffSlack_User_ID , Provider_ID ,provider_name,notes\r\n"
        "\r\n"
        f" UNURSE , {PRV_A.upper()} ,Nina,whatever\r\n"
        ",,,\r\n"
        f"UDOC,{PRV_B}\r\n"
    )
    assert pairs(text) == [(3, "UNURSE", PRV_A), (5, "UDOC", PRV_B)]


def test_parse_export_header_is_accepted() -> None:
    text = ",".join(EXPORT_HEADER) + f"\nUNURSE,{PRV_A},'=Nina,cli:x,2026-01-01\n"
    assert pairs(text) == [(2, "UNURSE", PRV_A)]


def test_parse_empty_table() -> None:
    assert parse_links_csv("slack_user_id,provider_id\n") == []


@pytest.mark.parametrize(
    "text",
    ["", "\n", "user,provider\nU1,prv_x\n", "slack_user_id\nUNURSE\n", f"provider_id\n{PRV_A}\n"],
)
def test_parse_bad_header(text: str) -> None:
    found = problems(text)
    assert len(found) == 1
    assert found[0].startswith("line 1:")
    assert "slack_user_id" in found[0] and "provider_id" in found[0]


def test_parse_reports_every_bad_row_with_its_line() -> None:
    text = (
        "slack_user_id,provider_id\n"  # 1
        f"UNURSE,{PRV_A}\n"  # 2 good
        "UDOC,prv_123\n"  # 3 bad provider shape
        f"nurse,{PRV_B}\n"  # 4 bad user
        "\n"  # 5 blank
        f"UNURSE,{PRV_B}\n"  # 6 duplicate user
        "UPA\n"  # 7 missing column
        f"C0CHANNEL,{PRV_B}\n"  # 8 a channel, not a person
        f"UOK,{PRV_B}\n"  # 9 good
    )
    found = problems(text)
    assert [p.split(":")[0] for p in found] == ["line 3", "line 4", "line 6", "line 7", "line 8"]
    assert "prv_123" in found[0]
    assert "nurse" in found[1]
    assert "line 2" in found[2]  # names where the first one is
    assert "provider" in found[3]


def test_parse_line_numbers_count_quoted_newlines() -> None:
    text = 'slack_user_id,provider_id,provider_name\nUNURSE,' + PRV_A + ',"two\nlines"\nbad,x\n'
    assert problems(text)[0].startswith("line 4:")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Dr. Wilson", "Dr. Wilson"),
        ("", ""),
        (None, ""),
    ],
)
def test_safe_cell(value: str | None, expected: str) -> None:
    assert safe_cell(value) == expected


def test_export_is_formula_safe_and_reimportable() -> None:
    links = [
        Link("UNURSE", PRV_A, "=cmd|' /C calc'!A0", "T1", "@admin", "2026-01-01T00:00:00+00:00"),
        Link("UDOC", PRV_B, "Wilson, James \"Jim\"", None, None, None),
    ]
    text = links_to_csv(links)
    lines = text.splitlines()
    assert lines[0] == ",".join(EXPORT_HEADER)
    assert "'=cmd" in lines[1]
    assert ",'@admin," in lines[1]
    assert "=cmd" not in text.replace("'=cmd", "")
    assert pairs(text) == [(2, "UNURSE", PRV_A), (3, "UDOC", PRV_B)]
