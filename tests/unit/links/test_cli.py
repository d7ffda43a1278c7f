"""Issue 5 on the command line: `links history`, `links suggest`, stale links in `check`."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.db.store import STALE_PROVIDER, STALE_SLACK, Store
from bot.links.cli import actor
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import env_for

PRV_A = "prv_" + "a" * 32
PRV_B = "prv_" + "b" * 32


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def fakes(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[FakeSlack, FakeMaxCare, Path]:
    """The environment pointing the CLI at the fakes and an empty database."""
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "cli.db"
    for key, value in env_for(slack, maxcare, db).items():
        monkeypatch.setenv(key, value)
    return slack, maxcare, db


def open_store(db: Path) -> Store:
    return Store(db)


# -- 5. the audit -------------------------------------------------------------------------


def test_history_from_slack_and_cli(
    fakes: tuple[FakeSlack, FakeMaxCare, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, db = fakes
    store = open_store(db)
    store.set_link("UCAROL", PRV_A, actor="UADMIN")  # as `/task link` records it
    store.close()
    assert run(capsys, "links", "add", "UCAROL", PRV_B)[0] == 0
    assert run(capsys, "links", "add", "UNURSE", PRV_A)[0] == 0
    assert run(capsys, "links", "remove", "UCAROL")[0] == 0

    code, out, _ = run(capsys, "links", "history", "UCAROL")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["WHEN", "(UTC)", "SLACK", "USER", "BY", "CHANGE"]
    assert "UADMIN" in lines[1] and f"linked to {PRV_A}" in lines[1]
    assert actor() in lines[2] and f"re-linked {PRV_A} → {PRV_B}" in lines[2]
    assert actor() in lines[3] and f"unlinked (was {PRV_B})" in lines[3]
    assert lines[-1] == "3 change(s)"
    assert "UNURSE" not in out

    code, out, _ = run(capsys, "links", "history", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["slack_user_id"], r["actor"], r["old_provider_id"], r["new_provider_id"])
            for r in rows] == [
        ("UCAROL", "UADMIN", "", PRV_A),
        ("UCAROL", actor(), PRV_A, PRV_B),
        ("UNURSE", actor(), "", PRV_A),
        ("UCAROL", actor(), PRV_B, ""),
    ]
    assert all(r["at"] for r in rows)
    assert actor().startswith("cli:")

    code, out, _ = run(capsys, "links", "history", "UNOBODY")
    assert code == 0 and out.strip() == "no link changes recorded for UNOBODY"


def test_history_needs_only_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith(("SLACK_", "MAXCARE_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "only.db"))
    code, out, _ = run(capsys, "links", "history")
    assert code == 0 and out.strip() == "no link changes recorded"


# -- 7. stale links in `check` ------------------------------------------------------------


def test_check_lists_stale_links_and_flags_them(
    fakes: tuple[FakeSlack, FakeMaxCare, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    slack, maxcare, db = fakes
    kept = maxcare.add_provider(first_name="Kim", last_name="Kept")
    slack.add_user("UOK", real_name="Ok Person")
    slack.add_user("ULEFT", real_name="Left Person", deleted=True)
    slack.add_user("UMOVED", real_name="Moved Provider")
    store = open_store(db)
    store.set_link("UOK", kept["id"], actor="t", provider_name="Kim Kept")
    store.set_link("ULEFT", kept["id"], actor="t")
    store.set_link("UMOVED", PRV_A, actor="t", provider_name="Gone Doc")
    store.set_link("UNOWHERE", PRV_B, actor="t")  # unknown to Slack and to MaxCare
    store.mark_stale("UOK", STALE_SLACK)  # flagged before, healthy now
    store.close()

    code, out, _ = run(capsys, "check")
    assert code == 1
    assert "FAIL links: 3 of 4 cannot be used" in out
    assert f"ULEFT → {kept['id']}: left Slack" in out
    assert f"UMOVED → {PRV_A} Gone Doc: provider unknown to MaxCare" in out
    assert f"UNOWHERE → {PRV_B}: left Slack, provider unknown to MaxCare" in out
    assert "UOK" not in out
    store = open_store(db)
    flags = {link.slack_user_id: link.stale_reason for link in store.list_links()}
    store.close()
    assert flags == {
        "UOK": None, "ULEFT": STALE_SLACK, "UMOVED": STALE_PROVIDER, "UNOWHERE": STALE_SLACK,
    }
    # Listed once, then asked one by one only for what the listing did not show.
    gets = [r.path for r in maxcare.requests("GET") if r.path.startswith("/providers/")]
    assert sorted(gets) == sorted([f"/providers/{PRV_A}", f"/providers/{PRV_B}"])

    for user in ("ULEFT", "UMOVED", "UNOWHERE"):
        assert run(capsys, "links", "remove", user)[0] == 0
    code, out, _ = run(capsys, "check")
    assert code == 0 and "ok   links: all 1 usable" in out


def test_relinking_to_a_known_provider_clears_the_provider_flag(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    store.set_link("UA", PRV_A, actor="t")
    store.mark_stale("UA", STALE_PROVIDER)
    store.set_link("UA", PRV_A, actor="t")  # same provider: still unknown
    assert (link := store.get_link("UA")) is not None and link.stale_reason == STALE_PROVIDER
    store.set_link("UA", PRV_B, actor="t")
    assert (link := store.get_link("UA")) is not None and link.stale_reason is None
    store.set_link("UB", PRV_A, actor="t")
    store.mark_stale("UB", STALE_SLACK)
    store.set_link("UB", PRV_B, actor="t")  # a new provider does not bring the person back
    assert (link := store.get_link("UB")) is not None and link.stale_reason == STALE_SLACK
    store.close()


def test_v2_migration_upgrades_a_v1_database(tmp_path: Path) -> None:
    import sqlite_utils

    from bot.db.schema import _v1

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    _v1(db)
    db.execute("PRAGMA user_version = 1")
    db["links"].insert({"slack_user_id": "UOLD", "provider_id": PRV_A})
    db.close()
    store = Store(path)
    link = store.get_link("UOLD")
    assert link is not None and link.stale_reason is None
    assert store.mark_stale("UOLD", STALE_SLACK) and not store.mark_stale("UOLD", STALE_SLACK)
    assert store.clear_stale("UOLD", STALE_PROVIDER) is False
    assert store.clear_stale("UOLD") is True
    store.close()
