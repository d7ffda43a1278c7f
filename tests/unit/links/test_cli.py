"""`python -m bot links …`: the table, CSV import and export, the audit; in-process and real."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from bot.db.store import SQLiteStore
from bot.links.cli import actor
from tests.support.cli import run, run_process, table
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.ids import PRV_A, PRV_B, PRV_C

UUID = "3cc7aaaa-bbbb-cccc-dddd-eeeeffff0000"


# -- links add / remove / list ---------------------------------------------------------------


def test_links_add_relink_and_audit(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "links", "add", "UNURSE", PRV_A)
    assert code == 0
    assert "linked UNURSE" in out and PRV_A in out
    code, out, _ = run(capsys, "links", "add", "UNURSE", PRV_A)
    assert code == 0 and "already linked" in out
    code, out, _ = run(capsys, "links", "add", "UNURSE", UUID)
    assert code == 0 and "re-linked" in out
    assert table(db) == [("UNURSE", "prv_3cc7aaaabbbbccccddddeeeeffff0000")]
    store = SQLiteStore(db)
    try:
        events = store.link_events("UNURSE")
    finally:
        store.close()
    assert [(e.old_provider_id, e.new_provider_id) for e in events] == [
        (None, PRV_A), (PRV_A, "prv_3cc7aaaabbbbccccddddeeeeffff0000"),
    ]
    assert all(e.actor.startswith("cli:") for e in events)


@pytest.mark.parametrize(
    ("user", "provider", "named"),
    [
        ("nurse", PRV_A, "'nurse'"),
        ("C0CHANNEL", PRV_A, "'C0CHANNEL'"),
        ("UNURSE", "prv_123", "'prv_123'"),
        ("UNURSE", "nte_" + "a" * 32, "nte_"),
    ],
)
def test_links_add_rejects_bad_ids(
    db: Path, capsys: pytest.CaptureFixture[str], user: str, provider: str, named: str
) -> None:
    code, out, err = run(capsys, "links", "add", user, provider)
    assert code != 0
    assert named in err
    assert out == ""
    assert table(db) == []


def test_links_remove(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "links", "add", "UNURSE", PRV_A)
    code, out, _ = run(capsys, "links", "remove", "UNURSE")
    assert code == 0 and "unlinked UNURSE" in out
    assert table(db) == []
    code, out, err = run(capsys, "links", "remove", "UNURSE")
    assert code != 0
    assert "UNURSE" in err and "not linked" in err


def test_links_list_table_and_csv(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "links", "list")
    assert code == 0 and "no links" in out
    run(capsys, "links", "add", "UZED", PRV_B)
    run(capsys, "links", "add", "UABE", PRV_A)
    code, out, _ = run(capsys, "links", "list")
    assert code == 0
    lines = out.splitlines()
    assert "SLACK USER" in lines[0] and "PROVIDER" in lines[0]
    assert lines[1].split()[:2] == ["UABE", PRV_A]
    assert lines[2].split()[:2] == ["UZED", PRV_B]
    assert "2 link(s)" in lines[-1]
    code, out, _ = run(capsys, "links", "list", "--csv")
    assert code == 0
    rows = out.splitlines()
    assert rows[0].startswith("slack_user_id,provider_id")
    assert [r.split(",")[:2] for r in rows[1:]] == [["UABE", PRV_A], ["UZED", PRV_B]]


# -- import / export -----------------------------------------------------------------------


def test_links_import_good_file(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "people.csv"
    f.write_bytes(
        (
            "\ufeffslack_user_id,provider_id,comment\r\n"
            f"UNURSE,{PRV_A},day shift\r\n"
            "\r\n"
            f"UDOC,{UUID}\r\n"
        ).encode()
    )
    code, out, _ = run(capsys, "links", "import", str(f))
    assert code == 0
    assert "imported 2" in out
    assert table(db) == [("UDOC", "prv_3cc7aaaabbbbccccddddeeeeffff0000"), ("UNURSE", PRV_A)]


def test_links_import_bad_file_imports_nothing(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "links", "add", "UKEEP", PRV_C)
    f = tmp_path / "people.csv"
    f.write_text(
        "slack_user_id,provider_id\n"
        f"UNURSE,{PRV_A}\n"  # 2 good
        "UDOC,prv_nothex\n"  # 3
        f"bob,{PRV_B}\n"  # 4
        f"UNURSE,{PRV_B}\n"  # 5
        "UPA\n",  # 6
        encoding="utf-8",
    )
    code, out, err = run(capsys, "links", "import", str(f))
    assert code != 0
    for line in (3, 4, 5, 6):
        assert f"line {line}:" in err
    assert "line 2:" not in err
    assert "nothing imported" in err
    assert table(db) == [("UKEEP", PRV_C)]


def test_links_import_bad_header(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    f = tmp_path / "people.csv"
    f.write_text(f"user,provider\nUNURSE,{PRV_A}\n", encoding="utf-8")
    code, _, err = run(capsys, "links", "import", str(f))
    assert code != 0
    assert "line 1:" in err and "slack_user_id" in err
    assert table(db) == []


def test_links_import_missing_file(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "links", "import", str(tmp_path / "nope.csv"))
    assert code != 0
    assert "nope.csv" in err
    assert "Traceback" not in err


def test_export_to_stdout_and_file_and_reimport(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore(db)
    store.set_link("UNURSE", PRV_A, actor="UADMIN", provider_name="=HYPERLINK(\"http://x\")")
    store.set_link("UDOC", PRV_B, actor="UADMIN", provider_name="Wilson, James")
    store.set_link("UPA", PRV_C, actor="UADMIN", provider_name="-Pat")
    store.close()

    code, stdout_csv, _ = run(capsys, "links", "export")
    assert code == 0
    header = "slack_user_id,provider_id,provider_name,linked_by,linked_at"
    assert stdout_csv.splitlines()[0] == header
    assert "'=HYPERLINK" in stdout_csv
    assert "'-Pat" in stdout_csv
    assert '"Wilson, James"' in stdout_csv

    out_file = tmp_path / "backup.csv"
    code, out, err = run(capsys, "links", "export", str(out_file))
    assert code == 0
    assert out == ""  # the CSV went to the file, not to standard output
    assert "3" in err
    assert out_file.read_text(encoding="utf-8") == stdout_csv

    other = tmp_path / "other.db"
    monkeypatch.setenv("DATABASE_PATH", str(other))
    code, out, _ = run(capsys, "links", "import", str(out_file))
    assert code == 0
    assert table(other) == table(db)

    # Importing the export into the database it came from changes nothing.
    monkeypatch.setenv("DATABASE_PATH", str(db))
    code, _, _ = run(capsys, "links", "import", str(out_file))
    assert code == 0
    store = SQLiteStore(db)
    try:
        assert len(store.link_events()) == 3
        assert store.get_link("UDOC").provider_name == "Wilson, James"  # type: ignore[union-attr]
    finally:
        store.close()


def test_links_use_database_path_from_dotenv(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DATABASE_PATH")
    (tmp_path / ".env").write_text("DATABASE_PATH=from_env_file.db\n", encoding="utf-8")
    code, _, _ = run(capsys, "links", "add", "UNURSE", PRV_A)
    assert code == 0
    assert table(tmp_path / "from_env_file.db") == [("UNURSE", PRV_A)]


def test_links_need_no_secrets(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Nothing but DATABASE_PATH is set (see the fixture): admins can link before configuring.
    code, _, err = run(capsys, "links", "list")
    assert code == 0
    assert err == ""


# -- history -------------------------------------------------------------------------


def test_history_from_slack_and_cli(
    fakes: tuple[FakeSlack, FakeMaxCare, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, db = fakes
    store = SQLiteStore(db)
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


# -- the real process ------------------------------------------------------------------------


def test_links_as_a_real_process(tmp_path: Path) -> None:
    db = tmp_path / "proc.db"
    added = run_process(tmp_path, "links", "add", "UNURSE", PRV_A, DATABASE_PATH=str(db))
    assert added.returncode == 0, added.stderr
    assert "linked UNURSE" in added.stdout
    listed = run_process(tmp_path, "links", "list", "--csv", DATABASE_PATH=str(db))
    assert listed.returncode == 0
    assert f"UNURSE,{PRV_A}" in listed.stdout
    bad = run_process(tmp_path, "links", "remove", "UNOBODY", DATABASE_PATH=str(db))
    assert bad.returncode != 0
    assert "Traceback" not in bad.stderr
    assert table(db) == [("UNURSE", PRV_A)]
