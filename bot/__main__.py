"""Command line entry: `python -m bot [serve | links … | workspaces … | check | migrate]` (also
`maxcare-bot`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from pathlib import Path

from pydantic import ValidationError

from bot import tenancy
from bot.check import check
from bot.db import describe_database, open_store
from bot.db.interface import Store
from bot.errors import ConfigError
from bot.links import cli
from bot.logs import setup_logging
from bot.settings import DatabaseSettings, EncryptionSettings, describe_errors, load_settings
from bot.workspaces import cli as workspaces_cli


def parser() -> argparse.ArgumentParser:
    """The command line, as the README documents it."""
    p = argparse.ArgumentParser(prog="python -m bot", description="MaxCare Tasks for Slack")
    sub = p.add_subparsers(dest="command")
    serve = sub.add_parser(
        "serve", help="run the app (Socket Mode if SLACK_APP_TOKEN is set, else HTTP)"
    )
    serve.add_argument(
        "--mode",
        choices=("auto", "http", "socket"),
        default="auto",
        help="force a transport (default: auto)",
    )
    sub.add_parser("check", help="check configuration, database, Slack and MaxCare")
    sub.add_parser("migrate", help="bring the database's schema up to date (also done at start-up)")
    links = sub.add_parser("links", help="manage the Slack user → MaxCare provider table")
    lsub = links.add_subparsers(dest="links_command", required=True)
    team = argparse.ArgumentParser(add_help=False)  # every links command takes it
    team.add_argument(
        "--team",
        metavar="TEAM_ID",
        help="whose links (many-workspace mode; required when several workspaces are installed)",
    )
    add = lsub.add_parser("add", help="link (or re-link) one person", parents=[team])
    add.add_argument("slack_user_id")
    add.add_argument("provider_id")
    remove = lsub.add_parser("remove", help="unlink one person", parents=[team])
    remove.add_argument("slack_user_id")
    lst = lsub.add_parser("list", help="print the table", parents=[team])
    lst.add_argument("--csv", action="store_true", help="as CSV")
    imp = lsub.add_parser(
        "import", help="import a CSV (slack_user_id,provider_id): all or nothing", parents=[team]
    )
    imp.add_argument("file", type=Path)
    exp = lsub.add_parser(
        "export", help="write the table as CSV (to FILE or standard output)", parents=[team]
    )
    exp.add_argument("file", type=Path, nargs="?")
    hist = lsub.add_parser(
        "history", help="print the audit of link changes (who, when, old, new)", parents=[team]
    )
    hist.add_argument("slack_user_id", nargs="?", help="only this person's changes")
    hist.add_argument("--csv", action="store_true", help="as CSV")
    sug = lsub.add_parser(
        "suggest",
        help="propose links from Slack's people and MaxCare's providers (CSV to review)",
        parents=[team],
    )
    sug.add_argument("file", type=Path, nargs="?", help="write the CSV here (default: stdout)")
    ws = sub.add_parser(
        "workspaces", help="installed workspaces and their MaxCare organizations (many-workspace)"
    )
    wsub = ws.add_subparsers(dest="workspaces_command", required=True)
    wsub.add_parser("list", help="every installed workspace: organization, links, state")
    org = wsub.add_parser(
        "set-org", help="connect a workspace to its MaxCare organization (checked with MaxCare)"
    )
    org.add_argument("team_id", help="the team ID (or enterprise ID of an org-wide install)")
    org.add_argument("organization_id")
    wremove = wsub.add_parser("remove", help="forget a workspace's installation and its tokens")
    wremove.add_argument("team_id")
    wsub.add_parser("rotate-key", help="re-encrypt every token with the first key")
    wsub.add_parser("new-key", help="print a new key for TOKEN_ENCRYPTION_KEY")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status."""
    args = parser().parse_args(argv)
    if args.command == "links":
        return _links(args)
    if args.command == "workspaces":
        return _workspaces(args)
    if args.command == "check":
        return check(sys.stdout)
    if args.command == "migrate":
        return _migrate()
    try:
        settings = load_settings()
        mode = getattr(args, "mode", "auto")
        if mode == "http":
            settings = settings.model_copy(update={"slack_app_token": None})
            if settings.slack_signing_secret is None:
                raise ConfigError("SLACK_SIGNING_SECRET is required in HTTP mode")
        elif mode == "socket" and not settings.socket_mode:
            raise ConfigError("SLACK_APP_TOKEN is required in Socket Mode")
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    setup_logging(settings.log_level, settings.log_format)
    from bot.runtime.server import serve

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(serve(settings))  # non-zero when a service refused the app
    return 0


def _database_settings() -> DatabaseSettings | None:
    """DATABASE_URL or DATABASE_PATH only (no Slack or MaxCare secrets required)."""
    try:
        return DatabaseSettings()
    except ValidationError as exc:
        print(f"configuration error: {describe_errors(exc)}", file=sys.stderr)
        return None


def _open(settings: DatabaseSettings) -> Store | None:
    """The store (migrated: opening applies what is missing, under a lock), or None, said why."""
    try:
        return open_store(settings)
    except Exception as exc:  # any failure to open or migrate is the message (never the URL)
        print(f"error: {describe_database(settings)}: {exc}", file=sys.stderr)
        return None


def _migrate() -> int:
    settings = _database_settings()
    if settings is None:
        return 2
    store = _open(settings)
    if store is None:
        return 1
    try:
        print(f"{describe_database(settings)}: schema version {store.schema_version()}")
    finally:
        store.close()
    return 0


def _links(args: argparse.Namespace) -> int:
    if args.links_command == "suggest":  # needs Slack and MaxCare, not only the database
        return cli.links_suggest(args.file, sys.stdout, team=args.team)
    settings = _database_settings()
    if settings is None:
        return 2
    store = _open(settings)
    if store is None:
        return 1
    try:
        workspace = cli.links_workspace(store, args.team)
        if workspace is None:
            return 2
        with tenancy.serving(workspace):
            return _links_command(store, args)
    finally:
        store.close()


def _links_command(store: Store, args: argparse.Namespace) -> int:
    out = sys.stdout
    match args.links_command:
        case "add":
            return cli.links_add(store, args.slack_user_id, args.provider_id, out)
        case "remove":
            return cli.links_remove(store, args.slack_user_id, out)
        case "list":
            return cli.links_list(store, args.csv, out)
        case "import":
            return cli.links_import(store, args.file, out)
        case "history":
            return cli.links_history(store, args.slack_user_id, args.csv, out)
        case _:
            return cli.links_export(store, args.file, out)


def _workspaces(args: argparse.Namespace) -> int:
    if args.workspaces_command == "new-key":
        return workspaces_cli.workspaces_new_key(sys.stdout)
    try:
        settings = EncryptionSettings()  # the key only matters to rotate-key, but is checked
    except ValidationError as exc:
        print(f"configuration error: {describe_errors(exc)}", file=sys.stderr)
        return 2
    store = _open(settings)
    if store is None:
        return 1
    try:
        out = sys.stdout
        match args.workspaces_command:
            case "list":
                return workspaces_cli.workspaces_list(store, out)
            case "set-org":
                return workspaces_cli.workspaces_set_org(
                    store, args.team_id, args.organization_id, out
                )
            case "remove":
                return workspaces_cli.workspaces_remove(store, args.team_id, out)
            case _:
                return workspaces_cli.workspaces_rotate_key(store, settings, out)
    finally:
        store.close()


if __name__ == "__main__":
    sys.exit(main())
