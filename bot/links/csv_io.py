"""CSV in and out of the links table: all-or-nothing import with line-numbered errors."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass

from bot.db.store import Link
from bot.errors import LinksFileError
from bot.maxcare.ids import normalize_provider_id
from bot.slack.payload import is_user_id

HEADER = ("slack_user_id", "provider_id")
EXPORT_HEADER = ("slack_user_id", "provider_id", "provider_name", "linked_by", "linked_at")


@dataclass
class ParsedRow:
    """One good row and where it came from."""

    line: int
    slack_user_id: str
    provider_id: str


def parse_links_csv(text: str) -> list[ParsedRow]:
    """Every row of a links CSV, or LinksFileError naming every bad line."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    fields = [f.strip().lower() for f in (reader.fieldnames or [])]
    missing = [h for h in HEADER if h not in fields]
    if missing:
        raise LinksFileError(
            [f"line 1: the header must name {', '.join(HEADER)} (missing: {', '.join(missing)})"]
        )
    reader.fieldnames = fields
    rows: list[ParsedRow] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        user = (record.get("slack_user_id") or "").strip()
        provider_raw = (record.get("provider_id") or "").strip()
        if not user and not provider_raw and not any((v or "").strip() for v in record.values()):
            continue  # blank line
        provider = normalize_provider_id(provider_raw)
        if not is_user_id(user):
            problems.append(f"line {line}: {user!r} is not a Slack user ID (U… or W…)")
        elif provider is None:
            problems.append(
                f"line {line}: {provider_raw!r} is not a provider ID "
                "(prv_ and 32 characters 0-9a-f)"
            )
        elif user in first_line:
            problems.append(f"line {line}: {user} is already on line {first_line[user]}")
        else:
            first_line[user] = line
            rows.append(ParsedRow(line, user, provider))
    if problems:
        raise LinksFileError(problems)
    return rows


def safe_cell(value: str | None) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def links_to_csv(links: Iterable[Link]) -> str:
    """The links as CSV that `links import` reads back."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_HEADER)
    for link in links:
        writer.writerow(
            [
                link.slack_user_id,
                link.provider_id,
                safe_cell(link.provider_name),
                safe_cell(link.linked_by),
                link.linked_at or "",
            ]
        )
    return out.getvalue()
