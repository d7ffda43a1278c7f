"""The command line on both databases: migrate, links import/export/history/list, suggest, check."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support.cli import ALL_VARS, configure, run
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import NURSE, env_for
from tests.support.ids import PRV_A, PRV_B, PRV_C
from tests.unit.db.conftest import Backend


@pytest.fixture
def cli_env(backend: Backend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """Nothing configured but the test's database (DATABASE_PATH or DATABASE_URL)."""
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    configure(monkeypatch, backend.env)
    return backend


def with_password(url: str, password: str) -> str:
    """The URL with a password in it (the test server trusts local logins, so it is ignored)."""
    parts = urlsplit(url)
    netloc = f"{parts.username or 'postgres'}:{password}@{parts.hostname}:{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_migrate_says_which_database_and_its_version(
    cli_env: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if cli_env.name == "postgres":
        monkeypatch.setenv("DATABASE_URL", with_password(cli_env.env["DATABASE_URL"], "s3cr3t"))
    code, out, err = run(capsys, "migrate")
    assert code == 0, err
    name = "PostgreSQL" if cli_env.name == "postgres" else "SQLite"
    assert out.startswith(name) and f"schema version {cli_env.latest}" in out
    assert "s3cr3t" not in out + err
    code, again, _ = run(capsys, "migrate")  # nothing left to do: same answer
    assert (code, again) == (0, out)


def test_links_import_export_history_on_each_database(
    cli_env: Backend, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "links.csv"
    source.write_text(
        f"slack_user_id,provider_id\nUNURSE,{PRV_A}\nUDOC,{PRV_B}\nUPA,{PRV_C}\n", encoding="utf-8"
    )
    code, out, err = run(capsys, "links", "import", str(source))
    assert code == 0, err
    assert "imported 3 link(s)" in out
    assert run(capsys, "links", "add", "UDOC", PRV_C)[0] == 0
    assert run(capsys, "links", "remove", "UPA")[0] == 0

    code, exported, _ = run(capsys, "links", "export")
    assert code == 0
    table = [(r["slack_user_id"], r["provider_id"]) for r in csv.DictReader(io.StringIO(exported))]
    assert table == [("UDOC", PRV_C), ("UNURSE", PRV_A)]  # ordered by Slack user ID

    code, history, _ = run(capsys, "links", "history", "--csv")
    assert code == 0
    changes = [
        (r["slack_user_id"], r["old_provider_id"], r["new_provider_id"])
        for r in csv.DictReader(io.StringIO(history))
    ]
    assert changes == [
        ("UNURSE", "", PRV_A), ("UDOC", "", PRV_B), ("UPA", "", PRV_C),
        ("UDOC", PRV_B, PRV_C), ("UPA", PRV_C, ""),
    ]  # fmt: skip

    # The export imports back into the database it came from without changing anything.
    backup = tmp_path / "backup.csv"
    backup.write_text(exported, encoding="utf-8")
    assert run(capsys, "links", "import", str(backup))[0] == 0
    code, again, _ = run(capsys, "links", "history", "--csv")
    assert again == history
    code, listed, _ = run(capsys, "links", "list")
    assert code == 0 and "UDOC" in listed and "UPA" not in listed


def test_suggest_leaves_out_people_linked_in_each_database(
    backend: Backend,
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    configure(monkeypatch, {**env_for(slack, maxcare, tmp_path / "unused.db"), **backend.env})
    nina = maxcare.add_provider(first_name="Nina", last_name="Nurse")
    carol = maxcare.add_provider(first_name="Carol", last_name="Diaz")
    slack.add_user("UCAROL", name="carol", real_name="Carol Diaz")
    backend.open().set_link(NURSE, nina["id"], actor="t")  # Nina Nurse is linked already

    code, out, err = run(capsys, "links", "suggest")
    assert code == 0, err
    proposed = [(r["slack_user_id"], r["provider_id"]) for r in csv.DictReader(io.StringIO(out))]
    assert proposed == [("UCAROL", carol["id"])]


def test_check_names_the_database_and_its_version_never_the_password(
    backend: Backend,
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {**env_for(slack, maxcare, tmp_path / "check.db"), **backend.env}
    if backend.name == "postgres":
        env["DATABASE_URL"] = with_password(env["DATABASE_URL"], "s3cr3t")
    configure(monkeypatch, env)
    code, out, err = run(capsys, "check")
    assert code == 0, out
    line = next(x for x in out.splitlines() if x.startswith("ok   database"))
    if backend.name == "postgres":
        parts = urlsplit(backend.env["DATABASE_URL"])
        assert f"PostgreSQL {parts.hostname}:{parts.port}{parts.path}," in line
    else:
        assert f"SQLite {backend.env['DATABASE_PATH']}," in line
    assert f"schema version {backend.latest}" in line
    assert "s3cr3t" not in out + err


def test_migrate_is_in_the_help_and_the_readme() -> None:
    from bot.__main__ import parser
    from tests.support import ROOT

    assert "migrate" in parser().format_help()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "`python -m bot migrate`" in readme and "`DATABASE_URL`" in readme


def test_an_unreachable_server_is_one_line_naming_it_never_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    # Port 1 on the loopback: nothing listens there, so the connection is refused at once.
    monkeypatch.setenv("DATABASE_URL", "postgres://bot:s3cr3t@127.0.0.1:1/tasks")
    code, out, err = run(capsys, "migrate")
    assert code == 1 and out == ""
    assert err.startswith("error: PostgreSQL 127.0.0.1:1/tasks: ")
    assert "Traceback" not in err and "s3cr3t" not in err
