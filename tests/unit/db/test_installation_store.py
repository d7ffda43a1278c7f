"""slack_sdk's installation and state stores over the app's database, on both backends: tokens
encrypted at rest, found decrypted, removed at once on uninstall; states used once."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.db.interface import Store
from bot.db.postgres import PostgresStore
from bot.db.store import SQLiteStore
from bot.errors import TokenKeyError
from bot.workspaces.installations import DatabaseInstallationStore, DatabaseOAuthStateStore
from bot.workspaces.tokens import TokenCipher, new_key
from tests.unit.db.conftest import Backend, Clock

BOT_TOKEN = "xoxb-1111-2222-cLiNiCaBoTtOkEn"
REFRESH = "xoxe-1-cLiNiCaReFrEsHtOkEn"
GRID_TOKEN = "xoxb-3333-4444-gRiDbOtToKeN"


def installation(**changes: object) -> Installation:
    data: dict[str, object] = {
        "app_id": "A0APP",
        "team_id": "T0CLINICA",
        "team_name": "Clinic A",
        "bot_token": BOT_TOKEN,
        "bot_id": "B0BOT",
        "bot_user_id": "U0BOT",
        "bot_scopes": ["commands", "chat:write"],
        "user_id": "U0ADMIN",
        "token_type": "bot",
    }
    data.update(changes)
    return Installation(**data)  # type: ignore[arg-type]


@pytest.fixture
def cipher() -> TokenCipher:
    return TokenCipher([new_key()])


@pytest.fixture
def installs(store: Store, cipher: TokenCipher) -> DatabaseInstallationStore:
    return DatabaseInstallationStore(store, cipher)


def raw_bytes(backend: Backend, store: Store) -> bytes:
    """Everything a copy of the database holds: the SQLite files, or PostgreSQL's rows."""
    if isinstance(store, SQLiteStore):
        return b"".join(p.read_bytes() for p in Path(store.path).parent.iterdir() if p.is_file())
    assert isinstance(store, PostgresStore)
    with store.pool.connection() as conn:
        rows = conn.execute(
            "SELECT i::text FROM installations i UNION ALL SELECT s::text FROM oauth_states s"
        ).fetchall()
    return "\n".join(r[0] for r in rows).encode()


async def test_a_saved_installation_is_found_with_its_tokens_decrypted(
    installs: DatabaseInstallationStore, store: Store, clock: Clock
) -> None:
    expires = int(time.time()) + 43200
    await installs.async_save(
        installation(bot_refresh_token=REFRESH, bot_token_expires_at=expires)
    )
    found = await installs.async_find_installation(enterprise_id=None, team_id="T0CLINICA")
    assert found is not None
    assert (found.bot_token, found.bot_refresh_token) == (BOT_TOKEN, REFRESH)
    assert found.bot_token_expires_at == expires
    assert found.bot_scopes == ["commands", "chat:write"]
    assert (found.team_id, found.team_name, found.bot_user_id, found.user_id) == (
        "T0CLINICA", "Clinic A", "U0BOT", "U0ADMIN",
    )  # fmt: skip
    assert found.user_token is None and found.installed_at == clock().timestamp()
    bot = await installs.async_find_bot(enterprise_id=None, team_id="T0CLINICA")
    assert bot is not None and bot.bot_token == BOT_TOKEN and bot.bot_refresh_token == REFRESH
    assert bot.custom_values == {"organization_id": None, "key": "T0CLINICA"}
    # No user tokens are kept: a person's own installation is never there.
    mine = await installs.async_find_installation(
        enterprise_id=None, team_id="T0CLINICA", user_id="U0ADMIN"
    )
    assert mine is None
    assert await installs.async_find_bot(enterprise_id=None, team_id="T0OTHER") is None
    row = store.get_installation("T0CLINICA")
    assert row is not None and row["installer_user_id"] == "U0ADMIN"


async def test_a_copy_of_the_database_holds_no_token(
    backend: Backend, installs: DatabaseInstallationStore, store: Store
) -> None:
    await installs.async_save(installation(bot_refresh_token=REFRESH))
    await installs.async_save(
        installation(
            team_id=None, team_name=None, enterprise_id="E0GRID", enterprise_name="Grid",
            is_enterprise_install=True, bot_token=GRID_TOKEN,
        )
    )  # fmt: skip
    if isinstance(store, SQLiteStore):
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # and in the WAL before it, too
    data = raw_bytes(backend, store)
    assert b"T0CLINICA" in data and b"E0GRID" in data  # the rows are there
    for secret in (BOT_TOKEN, REFRESH, GRID_TOKEN):
        assert secret.encode() not in data
        assert secret.split("-")[-1].encode() not in data


async def test_an_org_wide_install_serves_every_workspace_of_the_organization(
    installs: DatabaseInstallationStore,
) -> None:
    await installs.async_save(
        installation(
            team_id=None, team_name=None, enterprise_id="E0GRID", enterprise_name="Grid",
            is_enterprise_install=True, bot_token=GRID_TOKEN,
        )
    )  # fmt: skip
    for team in ("T0WS1", "T0WS2", None):
        found = await installs.async_find_installation(
            enterprise_id="E0GRID", team_id=team, is_enterprise_install=True
        )
        assert found is not None and found.bot_token == GRID_TOKEN
        assert found.is_enterprise_install is True and found.enterprise_name == "Grid"
    # A workspace of the grid asking as a workspace (not org-wide) has no install of its own.
    alone = await installs.async_find_installation(
        enterprise_id="E0GRID", team_id="T0WS1", is_enterprise_install=False
    )
    assert alone is None


async def test_a_refreshed_token_replaces_the_old_one(
    installs: DatabaseInstallationStore, store: Store
) -> None:
    await installs.async_save(installation(bot_refresh_token=REFRESH))
    store.set_installation_org("T0CLINICA", "org_" + "1" * 32)
    found = await installs.async_find_installation(enterprise_id=None, team_id="T0CLINICA")
    assert found is not None
    found.bot_token, found.bot_refresh_token = "xoxb-new-token", "xoxe-1-new-refresh"
    await installs.async_save(found)  # as Bolt's token rotation saves it
    bot = await installs.async_find_bot(enterprise_id=None, team_id="T0CLINICA")
    assert bot is not None
    assert (bot.bot_token, bot.bot_refresh_token) == ("xoxb-new-token", "xoxe-1-new-refresh")
    assert bot.custom_values["organization_id"] == "org_" + "1" * 32  # still connected
    refreshed = await installs.async_find_bot(enterprise_id=None, team_id="T0CLINICA")
    assert refreshed is not None
    refreshed.bot_token = "xoxb-newer"
    await installs.async_save_bot(refreshed)  # bot-only rotation keeps the installer
    row = store.get_installation("T0CLINICA")
    assert row is not None and row["installer_user_id"] == "U0ADMIN"


@pytest.mark.parametrize("how", ["app_uninstalled", "tokens_revoked"])
async def test_uninstall_removes_the_tokens_at_once_and_keeps_the_row(
    backend: Backend, installs: DatabaseInstallationStore, store: Store, how: str
) -> None:
    await installs.async_save(installation(bot_refresh_token=REFRESH))
    if how == "app_uninstalled":  # what Bolt's listeners call
        await installs.async_delete_all(enterprise_id=None, team_id="T0CLINICA")
    else:
        await installs.async_delete_bot(enterprise_id=None, team_id="T0CLINICA")
    assert await installs.async_find_bot(enterprise_id=None, team_id="T0CLINICA") is None
    assert await installs.async_find_installation(enterprise_id=None, team_id="T0CLINICA") is None
    row = store.get_installation("T0CLINICA")
    assert row is not None and row["state"] == "uninstalled"
    assert row["bot_token_enc"] is None and row["bot_refresh_token_enc"] is None
    # Installed again: found again.
    await installs.async_save(installation(bot_token="xoxb-again"))
    again = await installs.async_find_bot(enterprise_id=None, team_id="T0CLINICA")
    assert again is not None and again.bot_token == "xoxb-again"


async def test_a_revoked_user_token_leaves_the_bot_installed(
    installs: DatabaseInstallationStore,
) -> None:
    await installs.async_save(installation())
    await installs.async_delete_installation(
        enterprise_id=None, team_id="T0CLINICA", user_id="U0SOMEONE"
    )
    assert await installs.async_find_bot(enterprise_id=None, team_id="T0CLINICA") is not None


async def test_uninstalling_an_org_wide_install_from_one_of_its_workspaces(
    installs: DatabaseInstallationStore, store: Store
) -> None:
    await installs.async_save(
        installation(team_id=None, enterprise_id="E0GRID", is_enterprise_install=True)
    )
    await installs.async_save(installation(team_id="T0ELSEWHERE"))
    # app_uninstalled's context names the enterprise and a workspace, not that it is org-wide.
    await installs.async_delete_all(enterprise_id="E0GRID", team_id="T0WS1")
    grid = store.get_installation("E0GRID")
    assert grid is not None and grid["state"] == "uninstalled"
    other = store.get_installation("T0ELSEWHERE")
    assert other is not None and other["state"] == "active"
    await installs.async_delete_all(enterprise_id=None, team_id="T0NEVER")  # nothing, no error


async def test_a_wrong_key_is_a_clear_error(
    store: Store, installs: DatabaseInstallationStore
) -> None:
    await installs.async_save(installation())
    wrong = DatabaseInstallationStore(store, TokenCipher([new_key()]))
    with pytest.raises(TokenKeyError, match="TOKEN_ENCRYPTION_KEY") as info:
        await wrong.async_find_bot(enterprise_id=None, team_id="T0CLINICA")
    assert BOT_TOKEN not in str(info.value)


async def test_states_are_random_and_accepted_once(
    backend: Backend, store: Store, clock: Clock
) -> None:
    states = DatabaseOAuthStateStore(store)
    one, two = await states.async_issue(), await states.async_issue()
    assert one != two and len(one) >= 32
    other = DatabaseOAuthStateStore(backend.open(clock=clock))  # another instance
    assert await other.async_consume(one)
    assert not await states.async_consume(one)
    assert not await states.async_consume("forged")
    clock.tick(timedelta(minutes=10).total_seconds())
    assert not await states.async_consume(two)  # expired: 10 minutes
