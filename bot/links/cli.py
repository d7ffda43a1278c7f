"""`python -m bot links …`: the admin's command line for the links table."""

from __future__ import annotations

import asyncio
import csv
import getpass
import sys
from pathlib import Path
from typing import TextIO

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import tenancy
from bot.db import open_store
from bot.db.interface import INSTALLED
from bot.db.store import Link, LinkEvent, Store
from bot.errors import ConfigError, LinksFileError
from bot.links import suggest
from bot.links.csv_io import links_to_csv, parse_links_csv
from bot.links.stale import slack_people
from bot.maxcare import MaxCareError
from bot.maxcare.ids import normalize_provider_id
from bot.settings import Settings, load_settings
from bot.slack.client import slack_client
from bot.slack.payload import is_user_id
from bot.tenancy import Workspace
from bot.workspaces.service import as_installed, maxcare_as

# -- which workspace's links ----------------------------------------------------------------


def links_workspace(store: Store, team: str | None) -> Workspace | None:
    """The workspace whose links a command works on: the one named by --team (its team ID, or
    the enterprise ID of an org-wide install), the only one installed, or single-workspace
    mode's when none is. None, said why on standard error, when that cannot be told."""
    rows = store.list_installations()
    if team is not None:
        named = team.strip()
        found = [r for r in rows if named in (r["key"], r["team_id"])]
        if not found:
            known = ", ".join(r["key"] for r in rows) or "none"
            print(f"error: no workspace {named!r} has installed the app (installed: {known})",
                  file=sys.stderr)  # fmt: skip
            return None
        row = found[0]
    else:
        active = [r for r in rows if r["state"] == INSTALLED]
        if not rows:
            return Workspace(tenancy.SINGLE, None, None, "")
        if len(active) != 1:
            keys = ", ".join(r["key"] for r in active) or "none is installed now"
            print(f"error: name the workspace with --team TEAM_ID ({keys})", file=sys.stderr)
            return None
        row = active[0]
    # The links' workspace only: the command line makes no Slack call as it, so no token.
    return Workspace(row["key"], row["team_id"], row["enterprise_id"], "")


# -- the table ------------------------------------------------------------------------------


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
    if not is_user_id(slack_user_id):
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


# -- the audit ------------------------------------------------------------------------------


def _change(event: LinkEvent) -> str:
    if event.old_provider_id is None:
        return f"linked to {event.new_provider_id}"
    if event.new_provider_id is None:
        return f"unlinked (was {event.old_provider_id})"
    return f"re-linked {event.old_provider_id} → {event.new_provider_id}"


def links_history(store: Store, slack_user_id: str | None, as_csv: bool, out: TextIO) -> int:
    """Print the audit of link changes, oldest first, for everyone or one person."""
    events = store.link_events(slack_user_id)
    if as_csv:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("at", "slack_user_id", "actor", "old_provider_id", "new_provider_id"))
        for e in events:
            row = (e.at, e.slack_user_id, e.actor, e.old_provider_id, e.new_provider_id)
            writer.writerow(["" if v is None else v for v in row])
        return 0
    if not events:
        whose = f" for {slack_user_id}" if slack_user_id else ""
        print(f"no link changes recorded{whose}", file=out)
        return 0
    print(f"{'WHEN (UTC)':<21}{'SLACK USER':<14}{'BY':<20}CHANGE", file=out)
    for e in events:
        print(f"{e.at[:19]:<21}{e.slack_user_id:<14}{e.actor:<20}{_change(e)}", file=out)
    print(f"{len(events)} change(s)", file=out)
    return 0


# -- proposals (the only links command that needs Slack and MaxCare) -------------------------


class _Progress:
    """One status line on stderr: rewritten in place on a terminal, a line per step otherwise."""

    def __init__(self, err: TextIO) -> None:
        self.err = err
        self.tty = err.isatty()

    def __call__(self, text: str) -> None:
        if self.tty:
            self.err.write(f"\r\033[K{text}…")
        else:
            self.err.write(f"{text}…\n")
        self.err.flush()

    def done(self) -> None:
        if self.tty:
            self.err.write("\r\033[K")
            self.err.flush()


def links_suggest(
    path: Path | None, out: TextIO, err: TextIO | None = None, team: str | None = None
) -> int:
    """Print CSV proposals from Slack's people and MaxCare's providers; changes nothing."""
    err = err or sys.stderr
    try:
        settings = load_settings()
        return asyncio.run(_suggest_as(settings, team, path, out, err))
    except ConfigError as exc:  # a setting, or a stored token no key of the setting opens
        print(f"configuration error: {exc}", file=err)
        return 2


async def _suggest_as(
    settings: Settings, team: str | None, path: Path | None, out: TextIO, err: TextIO
) -> int:
    """Suggest for the workspace --team names (or the only one), asking as it."""
    store = open_store(settings)
    try:
        workspace = links_workspace(store, team)
        if workspace is None:
            return 2
        with tenancy.serving(workspace):
            links = store.list_links()
        found = await _asking_as(settings, store, workspace)
    finally:
        store.close()
    if isinstance(found, str):
        print(f"error: {found}", file=err)
        return 2
    token, organization_id = found
    return await _suggest(settings, token, organization_id, links, path, out, err)


async def _asking_as(
    settings: Settings, store: Store, workspace: Workspace
) -> tuple[str, str] | str:
    """The bot token and MaxCare organization to ask as (many workspaces: the installation's),
    or what stops it."""
    if settings.mode == "single":
        assert settings.slack_bot_token is not None and settings.maxcare_organization_id
        return settings.slack_bot_token.get_secret_value(), settings.maxcare_organization_id
    served = await as_installed(settings, store, workspace.key)
    if served is None:
        return f"workspace {workspace.key} is not installed now"
    if not served.organization_id:
        return (
            f"workspace {workspace.key} is not connected to MaxCare yet "
            f"(`python -m bot workspaces set-org {workspace.key} org_…`)"
        )
    return served.bot_token, served.organization_id


async def _suggest(
    settings: Settings,
    token: str,
    organization_id: str,
    links: list[Link],
    path: Path | None,
    out: TextIO,
    err: TextIO,
) -> int:
    progress = _Progress(err)
    slack = slack_client(settings, token=token)
    try:
        async with maxcare_as(settings, organization_id) as maxcare:
            members = await slack_people(slack, progress=progress)
            providers = []
            page = 1
            while True:
                result = await maxcare.list_providers(page=page)
                providers += result.providers
                progress(f"MaxCare: {len(providers)} providers read")
                if page >= result.pagination.total_pages or not result.providers:
                    break
                page += 1
    except SlackClientError as exc:
        progress.done()
        print(f"error: Slack: {getattr(exc, 'response', {}).get('error', exc)}", file=err)
        return 1
    except MaxCareError as exc:
        progress.done()
        print(f"error: {exc.user_message('the provider listing')}", file=err)
        return 1
    finally:
        await _close(slack)
    progress.done()
    proposals = suggest.propose(
        members, providers, {x.slack_user_id for x in links}, {x.provider_id for x in links}
    )
    text = suggest.to_csv(proposals)
    if path is None:
        out.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    counts = {c: sum(p.confidence == c for p in proposals) for c in ("high", "medium", "low")}
    people = len({p.person.user_id for p in proposals})
    print(
        f"{len(proposals)} proposal(s) for {people} person(s): {counts['high']} high, "
        f"{counts['medium']} medium, {counts['low']} low. Nothing was changed. Review them, keep "
        "one row per person, then `python -m bot links import FILE`.",
        file=err,
    )
    return 0


async def _close(slack: AsyncWebClient) -> None:
    if slack.session is not None and not slack.session.closed:
        await slack.session.close()
