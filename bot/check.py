"""`python -m bot check`: configuration, database, Slack, MaxCare and stale links."""

from __future__ import annotations

import asyncio
from typing import Any, TextIO

from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot import tenancy
from bot.db import describe_database, open_store
from bot.db.interface import INSTALLED, Store
from bot.errors import ConfigError, TokenKeyError
from bot.links.stale import find_stale
from bot.links.views import stale_label
from bot.maxcare import MaxCareClient, MaxCareError
from bot.settings import Settings, load_settings
from bot.slack.client import slack_client
from bot.workspaces.service import as_installed, maxcare_as, verify_organization


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
    if settings.mode == "many":
        return await _check_workspaces(settings, out)
    failures = 0
    db_ok = slack_ok = False
    where = describe_database(settings)  # the SQLite file, or PostgreSQL's host/db
    try:
        store = open_store(settings)
        version, links = store.schema_version(), store.count_links()
        print(f"ok   database {where}, schema version {version} ({links} links)", file=out)
        store.close()
        db_ok = True
    except Exception as exc:  # any failure to open is the message
        failures += 1
        print(f"FAIL database {where}: {exc}", file=out)
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
    maxcare = maxcare_as(settings, settings.maxcare_organization_id, max_attempts=1)
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


async def _check_workspaces(settings: Settings, out: TextIO) -> int:
    """Many-workspace mode: the database, then each installation's token and organization."""
    where = describe_database(settings)
    try:
        store = open_store(settings)
    except Exception as exc:  # any failure to open is the message
        print(f"FAIL database {where}: {exc}", file=out)
        print("1 problem(s)", file=out)
        return 1
    try:
        version, rows = store.schema_version(), store.list_installations()
        print(f"ok   database {where}, schema version {version}", file=out)
        installed = [r for r in rows if r["state"] == INSTALLED]
        print(f"ok   Slack: many-workspace mode, {len(installed)} workspace(s) installed",
              file=out)  # fmt: skip
        failures = 0
        for row in installed:
            failures += await _check_workspace(settings, store, row, out)
    finally:
        store.close()
    print("all good" if not failures else f"{failures} problem(s)", file=out)
    return 1 if failures else 0


async def _check_workspace(
    settings: Settings, store: Store, row: dict[str, Any], out: TextIO
) -> int:
    """One installed workspace: its MaxCare organization, then its links as it; problems."""
    name = f"{row['team_name'] or row['enterprise_name'] or ''} ({row['key']})".strip()
    org = row["organization_id"]
    if org is None:
        print(f"note {name}: not connected to MaxCare yet (`/task connect org_…`)", file=out)
        return 0
    try:
        await verify_organization(settings, org)
        print(f"ok   {name}: MaxCare organization {org}", file=out)
    except MaxCareError as exc:
        print(f"FAIL {name}: MaxCare organization {org}: {exc.user_message('the check')}",
              file=out)  # fmt: skip
        return 1
    try:
        served = await as_installed(settings, store, row["key"])
    except TokenKeyError as exc:
        print(f"FAIL {name}: {exc}", file=out)
        return 1
    if served is None:
        return 0  # uninstalled since it was listed
    slack = slack_client(settings, token=served.bot_token)
    try:
        async with maxcare_as(settings, org, max_attempts=1) as maxcare:
            with tenancy.serving(served):
                return await check_links(settings, slack, maxcare, out, what=f"{name}: links")
    finally:
        if slack.session is not None and not slack.session.closed:
            await slack.session.close()


async def check_links(
    settings: Settings,
    slack: AsyncWebClient,
    maxcare: MaxCareClient,
    out: TextIO,
    what: str = "links",
) -> int:
    """The `check` lines about stale links (of the workspace served); problems (0 or 1)."""
    store = open_store(settings)
    try:
        stale = await find_stale(store, slack, maxcare)
        total = store.count_links()
    except (SlackClientError, MaxCareError) as exc:
        print(f"FAIL {what}: could not check them ({type(exc).__name__})", file=out)
        return 1
    finally:
        store.close()
    if not stale:
        print(f"ok   {what}: all {total} usable", file=out)
        return 0
    print(f"FAIL {what}: {len(stale)} of {total} cannot be used (nobody can assign them):",
          file=out)  # fmt: skip
    for s in stale:
        why = ", ".join(stale_label(r) for r in s.reasons)
        name = f" {s.link.provider_name}" if s.link.provider_name else ""
        print(f"     {s.link.slack_user_id} → {s.link.provider_id}{name}: {why}", file=out)
    print("     fix with `/task link`, `python -m bot links add` or `links remove`", file=out)
    return 1
