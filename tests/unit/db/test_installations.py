"""Installations (many-workspace mode) and OAuth states, on both databases."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot import tenancy
from bot.db.interface import INSTALLATION_COLUMNS, Store, installation_key
from bot.db.postgres import PostgresStore
from bot.db.store import SQLiteStore
from tests.support.tenants import workspace
from tests.unit.db.conftest import Backend, Clock

ORG_A = "org_0123456789abcdef0123456789abcdef"
ORG_B = "org_fedcba9876543210fedcba9876543210"


def install(team_id: str | None = "T0CLINICA", **changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "team_id": team_id,
        "enterprise_id": None,
        "is_enterprise_install": False,
        "team_name": "Clinic A",
        "app_id": "A0APP",
        "bot_user_id": "U0BOT",
        "bot_id": "B0BOT",
        "bot_token_enc": "enc:bot-1",
        "bot_refresh_token_enc": None,
        "bot_scopes": "commands,chat:write",
        "installer_user_id": "U0ADMIN",
    }
    row.update(changes)
    return row


def columns(backend: Backend, store: Store, table: str) -> set[str]:
    if isinstance(store, SQLiteStore):
        return {c.name for c in store.db.table(table).columns}
    assert isinstance(store, PostgresStore)
    with store.pool.connection() as conn:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s", [table]
        ).fetchall()
    return {r[0] for r in rows}


def test_the_tables_have_the_same_columns_on_both(backend: Backend, store: Store) -> None:
    assert columns(backend, store, "installations") == set(INSTALLATION_COLUMNS)
    assert columns(backend, store, "oauth_states") == {"state", "expires_at"}


def test_the_key_is_the_team_or_the_enterprise_when_org_wide() -> None:
    assert installation_key("E0GRID", "T0CLINICA", False) == "T0CLINICA"
    assert installation_key("E0GRID", None, True) == "E0GRID"
    assert installation_key("E0GRID", "T0CLINICA", True) == "E0GRID"
    with pytest.raises(ValueError):
        installation_key(None, None, True)
    with pytest.raises(ValueError):
        installation_key("E0GRID", None, False)


def test_save_find_and_list(store: Store, clock: Clock) -> None:
    saved = store.save_installation(install())
    assert saved["key"] == "T0CLINICA" and saved["state"] == "active"
    assert saved["installed_at"] == saved["updated_at"] == clock().isoformat()
    assert saved["is_enterprise_install"] is False and saved["organization_id"] is None
    clock.tick()
    grid = store.save_installation(
        install(None, enterprise_id="E0GRID", enterprise_name="Grid", is_enterprise_install=True)
    )
    assert grid["key"] == "E0GRID" and grid["is_enterprise_install"] is True
    assert store.find_installation(None, "T0CLINICA", False) == saved
    assert store.find_installation("E0GRID", "T0SOMEWS", True) == grid  # any workspace of it
    assert store.find_installation("E0GRID", None, False) == grid  # no team: the enterprise's
    assert store.find_installation(None, "T0OTHER", False) is None
    assert store.find_installation(None, None, False) is None
    assert store.get_installation("E0GRID") == grid
    assert [r["key"] for r in store.list_installations()] == ["T0CLINICA", "E0GRID"]
    with pytest.raises(ValueError, match="not installation columns"):
        store.save_installation({**install(), "user_token": "xoxp-1"})


def test_a_newer_install_of_a_key_replaces_tokens_and_keeps_its_organization(
    store: Store, clock: Clock
) -> None:
    first = store.save_installation(install())
    assert store.set_installation_org("T0CLINICA", ORG_A)
    clock.tick(60)
    again = store.save_installation(
        install(bot_token_enc="enc:bot-2", team_name="Clinic A (renamed)", bot_scopes="commands")
    )
    assert again["bot_token_enc"] == "enc:bot-2" and again["team_name"] == "Clinic A (renamed)"
    assert again["organization_id"] == ORG_A
    assert again["installed_at"] == first["installed_at"]  # still installed since then
    assert again["updated_at"] == clock().isoformat()
    assert len(store.list_installations()) == 1


def test_uninstall_removes_tokens_at_once_and_keeps_the_row(store: Store, clock: Clock) -> None:
    store.save_installation(install(bot_refresh_token_enc="enc:refresh", bot_token_expires_at="x"))
    store.set_installation_org("T0CLINICA", ORG_A)
    clock.tick()
    assert store.mark_uninstalled("T0CLINICA")
    gone = store.get_installation("T0CLINICA")
    assert gone is not None and gone["state"] == "uninstalled"
    assert gone["bot_token_enc"] is None and gone["bot_refresh_token_enc"] is None
    assert gone["bot_token_expires_at"] is None
    assert gone["uninstalled_at"] == clock().isoformat() and gone["organization_id"] == ORG_A
    assert not store.mark_uninstalled("T0CLINICA")  # already
    assert not store.mark_uninstalled("T0NOBODY")
    # Installed again later: active, new tokens, installed from now, organization kept.
    clock.tick(3600)
    back = store.save_installation(install(bot_token_enc="enc:bot-3"))
    assert back["state"] == "active" and back["uninstalled_at"] is None
    assert back["installed_at"] == clock().isoformat() and back["organization_id"] == ORG_A


def test_set_org_and_delete(store: Store) -> None:
    assert not store.set_installation_org("T0CLINICA", ORG_A)  # nothing installed
    store.save_installation(install())
    store.save_installation(install("T0CLINICB", team_name="Clinic B"))
    assert store.set_installation_org("T0CLINICB", ORG_B)
    orgs = {r["key"]: r["organization_id"] for r in store.list_installations()}
    assert orgs == {"T0CLINICA": None, "T0CLINICB": ORG_B}
    assert store.set_installation_org("T0CLINICB", None)  # disconnected
    assert store.delete_installation("T0CLINICA")
    assert not store.delete_installation("T0CLINICA")
    assert [r["key"] for r in store.list_installations()] == ["T0CLINICB"]


def test_tokens_are_replaced_only_if_unchanged_meanwhile(store: Store) -> None:
    store.save_installation(install(bot_refresh_token_enc="enc:r1"))
    assert store.replace_installation_tokens(
        "T0CLINICA", ("enc:bot-1", "enc:r1"), ("new:bot-1", "new:r1")
    )
    # A refresh saved meanwhile is never undone by an older text re-encrypted.
    assert not store.replace_installation_tokens(
        "T0CLINICA", ("enc:bot-1", "enc:r1"), ("stale", "stale")
    )
    row = store.get_installation("T0CLINICA")
    assert row is not None and (row["bot_token_enc"], row["bot_refresh_token_enc"]) == (
        "new:bot-1", "new:r1",
    )  # fmt: skip
    store.save_installation(install("T0CLINICB"))  # no refresh token: NULL compares as equal
    assert store.replace_installation_tokens("T0CLINICB", ("enc:bot-1", None), ("n", None))


def test_links_counted_by_workspace(store: Store) -> None:
    with tenancy.serving(workspace("T0CLINICA")):
        store.set_link("UNURSE", "prv_" + "a" * 32, actor="test", team_id="T0CLINICA")
        store.set_link("UDOC", "prv_" + "b" * 32, actor="test", team_id="T0CLINICA")
    store.set_link("UPA", "prv_" + "c" * 32, actor="test")
    assert store.count_links_by_workspace() == {"T0CLINICA": 2, tenancy.SINGLE: 1}


def test_an_oauth_state_is_used_once_and_not_after_it_expires(
    backend: Backend, store: Store, clock: Clock
) -> None:
    expires = clock() + timedelta(minutes=10)
    store.issue_oauth_state("state-1", expires)
    store.issue_oauth_state("state-2", expires)
    assert not store.consume_oauth_state("never-issued", clock())
    other = backend.open(clock=clock)  # another process of the same app
    assert other.consume_oauth_state("state-1", clock())
    assert not store.consume_oauth_state("state-1", clock())  # once
    assert not store.consume_oauth_state("state-2", expires)  # expired at that instant
    clock.now = expires + timedelta(seconds=1)
    store.issue_oauth_state("state-3", clock() + timedelta(minutes=10))
    assert backend.count(store, "oauth_states") == 1  # the expired one was cleared
    assert store.consume_oauth_state("state-3", clock())
