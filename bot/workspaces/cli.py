"""`python -m bot workspaces …`: the installed workspaces (many-workspace mode), their MaxCare
organizations, and the key their tokens are encrypted with. Never prints a token."""

from __future__ import annotations

import asyncio
import sys
from typing import Any, TextIO

from bot.db.interface import UNINSTALLED, Store
from bot.errors import ConfigError, MaxCareError, TokenKeyError
from bot.settings import NEW_KEY_COMMAND, EncryptionSettings, load_settings
from bot.workspaces.service import organization_id, verify_organization
from bot.workspaces.tokens import TokenCipher, new_key

_COLUMNS = (
    f"{'TEAM':<13}{'NAME':<24}{'ENTERPRISE':<24}{'ORGANIZATION':<38}"
    f"{'INSTALLED AT':<18}{'LINKS':>6}  STATE"
)


def _enterprise(row: dict[str, Any]) -> str:
    enterprise = row["enterprise_id"] or ""
    return f"{enterprise} (org-wide)" if row["is_enterprise_install"] else enterprise


def _state(row: dict[str, Any]) -> str:
    if row["state"] == UNINSTALLED:
        return f"uninstalled {(row['uninstalled_at'] or '')[:10]}".strip()
    return "installed"


def workspaces_list(store: Store, out: TextIO) -> int:
    """Print every installation: team, name, enterprise, organization, since, links, state."""
    rows = store.list_installations()
    if not rows:
        print("no workspace has installed the app yet (install it at /slack/install)", file=out)
        return 0
    links = store.count_links_by_workspace()
    print(_COLUMNS, file=out)
    for row in rows:
        name = (row["team_name"] or row["enterprise_name"] or "")[:22]
        org = row["organization_id"] or "not connected"
        since = (row["installed_at"] or "")[:16].replace("T", " ")
        print(
            f"{row['key']:<13}{name:<24}{_enterprise(row):<24}{org:<38}{since:<18}"
            f"{links.get(row['key'], 0):>6}  {_state(row)}",
            file=out,
        )
    print(f"{len(rows)} workspace(s)", file=out)
    return 0


def _installation(store: Store, team_id: str) -> dict[str, Any] | None:
    row = store.get_installation(team_id.strip())
    if row is None:
        print(
            f"error: no workspace {team_id.strip()!r} has installed the app "
            "(see `python -m bot workspaces list`)",
            file=sys.stderr,
        )
    return row


def workspaces_set_org(store: Store, team_id: str, org_text: str, out: TextIO) -> int:
    """Connect a workspace to its MaxCare organization, once MaxCare answers for it."""
    org = organization_id(org_text)
    if org is None:
        shown = org_text.strip()[:60]
        print(f"error: {shown!r} is not a MaxCare organization ID (org_…)", file=sys.stderr)
        return 2
    row = _installation(store, team_id)
    if row is None:
        return 1
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(verify_organization(settings, org))
    except MaxCareError as exc:
        print(
            f"error: not connected: {exc.user_message(f'a request for organization {org}')}",
            file=sys.stderr,
        )
        return 1
    store.set_installation_org(row["key"], org)
    was = f" (was {row['organization_id']})" if row["organization_id"] not in (None, org) else ""
    print(f"connected {row['key']} to MaxCare organization {org}{was}", file=out)
    return 0


def workspaces_remove(store: Store, team_id: str, out: TextIO) -> int:
    """Forget a workspace's installation (its tokens with it)."""
    row = _installation(store, team_id)
    if row is None:
        return 1
    store.delete_installation(row["key"])
    print(
        f"removed {row['key']}: its requests are refused until it installs the app again",
        file=out,
    )
    return 0


def workspaces_rotate_key(store: Store, settings: EncryptionSettings, out: TextIO) -> int:
    """Re-encrypt every stored token with the first key of TOKEN_ENCRYPTION_KEY."""
    if settings.token_encryption_key is None:
        print(
            "configuration error: TOKEN_ENCRYPTION_KEY is required: put the new key first, the "
            f"old one after it (a new key: `{NEW_KEY_COMMAND}`)",
            file=sys.stderr,
        )
        return 2
    cipher = TokenCipher.from_setting(settings.token_encryption_key)
    done = 0
    for row in store.list_installations():
        try:
            if _rotate_one(store, cipher, row):
                done += 1
        except TokenKeyError as exc:
            print(f"error: {row['key']}: {exc}; nothing more was re-encrypted", file=sys.stderr)
            return 1
    print(f"re-encrypted the tokens of {done} workspace(s) with the first key", file=out)
    if cipher.key_count > 1:
        print("the other keys can now be removed from TOKEN_ENCRYPTION_KEY", file=out)
    return 0


def _rotate_one(store: Store, cipher: TokenCipher, row: dict[str, Any] | None) -> bool:
    # The running app may save a refreshed token meanwhile: swap only what was read, else
    # read again (a refreshed token is already under the first key, but re-encrypting is cheap).
    for _ in range(5):
        if row is None or (row["bot_token_enc"] is None and row["bot_refresh_token_enc"] is None):
            return False
        old = (row["bot_token_enc"], row["bot_refresh_token_enc"])
        new = (
            cipher.rotate(old[0]) if old[0] else None,
            cipher.rotate(old[1]) if old[1] else None,
        )
        if store.replace_installation_tokens(row["key"], old, new):
            return True
        row = store.get_installation(row["key"])
    raise TokenKeyError(f"{row['key'] if row else 'an installation'} kept changing; run it again")


def workspaces_new_key(out: TextIO) -> int:
    """Print a fresh key for TOKEN_ENCRYPTION_KEY."""
    print(new_key(), file=out)
    print(
        "put it first in TOKEN_ENCRYPTION_KEY (comma-separated, the old key after it), restart, "
        "then run `python -m bot workspaces rotate-key`; keep keys as secret as the tokens",
        file=sys.stderr,
    )
    return 0
