"""`python -m bot links history | suggest` and the stale-link part of `check`."""

from __future__ import annotations

import asyncio
import csv
import sys
from pathlib import Path
from typing import TextIO

from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.db.store import LinkEvent, Store
from bot.links import suggest
from bot.links.stale import find_stale, slack_people
from bot.links.views import stale_label
from bot.maxcare import MaxCareClient, MaxCareError
from bot.settings import ConfigError, Settings, load_settings
from bot.slack.client import slack_client


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


def _maxcare(settings: Settings) -> MaxCareClient:
    return MaxCareClient(
        base_url=settings.maxcare_api_url,
        api_key=settings.maxcare_api_key,
        organization_id=settings.maxcare_organization_id,
        timeout=settings.maxcare_timeout_seconds,
        rate_limit_per_minute=settings.maxcare_rate_limit_per_minute,
    )


def links_suggest(path: Path | None, out: TextIO, err: TextIO | None = None) -> int:
    """Print CSV proposals from Slack's people and MaxCare's providers; changes nothing."""
    err = err or sys.stderr
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=err)
        return 2
    return asyncio.run(_suggest(settings, path, out, err))


async def _suggest(settings: Settings, path: Path | None, out: TextIO, err: TextIO) -> int:
    store = Store(settings.database_path)
    links = store.list_links()
    store.close()
    progress = _Progress(err)
    slack = slack_client(settings)
    try:
        async with _maxcare(settings) as maxcare:
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


async def check_links(
    settings: Settings, slack: AsyncWebClient, maxcare: MaxCareClient, out: TextIO
) -> int:
    """The `check` lines about stale links; returns the number of problems (0 or 1)."""
    store = Store(settings.database_path)
    try:
        stale = await find_stale(store, slack, maxcare)
        total = store.count_links()
    except (SlackClientError, MaxCareError) as exc:
        print(f"FAIL links: could not check them ({type(exc).__name__})", file=out)
        return 1
    finally:
        store.close()
    if not stale:
        print(f"ok   links: all {total} usable", file=out)
        return 0
    print(f"FAIL links: {len(stale)} of {total} cannot be used (nobody can assign them):", file=out)
    for s in stale:
        why = ", ".join(stale_label(r) for r in s.reasons)
        name = f" {s.link.provider_name}" if s.link.provider_name else ""
        print(f"     {s.link.slack_user_id} → {s.link.provider_id}{name}: {why}", file=out)
    print("     fix with `/task link`, `python -m bot links add` or `links remove`", file=out)
    return 1


async def _close(slack: AsyncWebClient) -> None:
    if slack.session is not None and not slack.session.closed:
        await slack.session.close()
