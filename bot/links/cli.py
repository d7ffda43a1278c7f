"""`python -m bot links …` and `python -m bot check`: the admin's command line."""

from __future__ import annotations

import asyncio
import getpass
import sys
from pathlib import Path
from typing import TextIO

from slack_sdk.errors import SlackApiError, SlackClientError

from bot.db.store import Store
from bot.links.csv_io import (
    LinksFileError,
    links_to_csv,
    normalize_provider_id,
    parse_links_csv,
    valid_slack_user,
)
from bot.links.review import check_links
from bot.maxcare import MaxCareClient, MaxCareError
from bot.settings import ConfigError, Settings, load_settings
from bot.slack.client import slack_client


def actor() -> str:
    """Who is changing links from the command line, for the audit."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli:unknown"


def links_add(store: Store, slack_user_id: str, provider_id: str, out: TextIO) -> int:
    """Link (or re-link) one person."""
    provider = normalize_provider_id(provider_id)
    slack_user_id = slack_user_id.strip()
    if not valid_slack_user(slack_user_id):
        print(f"error: {slack_user_id!r} is not a Slack user ID (U… or W…)", file=sys.stderr)
        return 2
    if provider is None:
        print(
            f"error: {provider_id!r} is not a provider ID (prv_ and 32 characters 0-9a-f)",
            file=sys.stderr,
        )
        return 2
    old = store.set_link(slack_user_id, provider, actor=actor())
    if old and old.provider_id != provider:
        print(f"re-linked {slack_user_id}: {old.provider_id} → {provider}", file=out)
    elif old:
        print(f"{slack_user_id} was already linked to {provider}", file=out)
    else:
        print(f"linked {slack_user_id} → {provider}", file=out)
    return 0


def links_remove(store: Store, slack_user_id: str, out: TextIO) -> int:
    """Unlink one person."""
    old = store.remove_link(slack_user_id, actor=actor())
    if old is None:
        print(f"error: {slack_user_id} is not linked", file=sys.stderr)
        return 1
    print(f"unlinked {slack_user_id} (was {old.provider_id})", file=out)
    return 0


def links_list(store: Store, as_csv: bool, out: TextIO) -> int:
    """Print the table, or CSV."""
    links = store.list_links()
    if as_csv:
        out.write(links_to_csv(links))
        return 0
    if not links:
        print("no links yet: add one with `python -m bot links add U… prv_…`", file=out)
        return 0
    print(f"{'SLACK USER':<14}{'PROVIDER':<38}{'NAME':<28}LINKED BY", file=out)
    for link in links:
        name = (link.provider_name or "")[:26]
        print(
            f"{link.slack_user_id:<14}{link.provider_id:<38}{name:<28}{link.linked_by or ''}",
            file=out,
        )
    print(f"{len(links)} link(s)", file=out)
    return 0


def links_import(store: Store, path: Path, out: TextIO) -> int:
    """Import a CSV: every row, or none when any row is bad."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {path}: {exc}", file=sys.stderr)
        return 2
    try:
        rows = parse_links_csv(text)
    except LinksFileError as exc:
        for problem in exc.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        print(f"nothing imported ({len(exc.problems)} problem(s))", file=sys.stderr)
        return 1
    count = store.import_links([(r.slack_user_id, r.provider_id) for r in rows], actor=actor())
    print(f"imported {count} link(s) from {path}", file=out)
    return 0


def links_export(store: Store, path: Path | None, out: TextIO) -> int:
    """Write the links as CSV to a file or standard output."""
    text = links_to_csv(store.list_links())
    if path is None:
        out.write(text)
    else:
        path.write_text(text, encoding="utf-8")
        print(f"exported {len(store.list_links())} link(s) to {path}", file=sys.stderr)
    return 0


def check(out: TextIO) -> int:
    """Check configuration, database, Slack and MaxCare; print what is wrong."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"FAIL configuration: {exc}", file=out)
        return 1
    print("ok   configuration", file=out)
    return asyncio.run(_check_services(settings, out))


async def _check_services(settings: Settings, out: TextIO) -> int:
    failures = 0
    db_ok = slack_ok = False
    try:
        store = Store(settings.database_path)
        print(f"ok   database {settings.database_path} ({store.count_links()} links)", file=out)
        store.close()
        db_ok = True
    except Exception as exc:  # any failure to open is the message
        failures += 1
        print(f"FAIL database {settings.database_path}: {exc}", file=out)
    slack = slack_client(settings)
    try:
        auth = await slack.auth_test()
        print(f"ok   Slack: bot {auth.get('user')} in workspace {auth.get('team')}", file=out)
        slack_ok = True
    except SlackApiError as exc:
        failures += 1
        print(f"FAIL Slack: {exc.response.get('error')} (check SLACK_BOT_TOKEN)", file=out)
    except SlackClientError as exc:
        failures += 1
        print(f"FAIL Slack: cannot reach {settings.slack_api_url} ({type(exc).__name__})", file=out)
    except OSError as exc:
        failures += 1
        print(f"FAIL Slack: cannot reach {settings.slack_api_url} ({exc})", file=out)
    maxcare = MaxCareClient(
        base_url=settings.maxcare_api_url,
        api_key=settings.maxcare_api_key,
        organization_id=settings.maxcare_organization_id,
        timeout=settings.maxcare_timeout_seconds,
        max_attempts=1,
    )
    try:
        await maxcare.ping()
        print(f"ok   MaxCare at {settings.maxcare_api_url}", file=out)
        if db_ok and slack_ok:  # stale links: people gone from Slack, providers gone from MaxCare
            failures += await check_links(settings, slack, maxcare, out)
    except MaxCareError as exc:
        failures += 1
        print(f"FAIL MaxCare: {exc.user_message('the check')}", file=out)
    finally:
        await maxcare.aclose()
    print("all good" if not failures else f"{failures} problem(s)", file=out)
    return 1 if failures else 0
