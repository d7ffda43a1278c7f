"""`python -m bot workspaces …` through the real command line, on both databases, MaxCare faked:
list, set-org (checked with MaxCare first), remove, rotate-key, new-key. Never a token shown."""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot import tenancy
from bot.db.interface import Store
from bot.db.store import SQLiteStore
from bot.workspaces.installations import DatabaseInstallationStore
from bot.workspaces.tokens import TokenCipher, new_key
from tests.support import payloads
from tests.support.cli import ALL_VARS, configure, run, run_process
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.tenants import workspace
from tests.unit.db.conftest import Backend
from tests.unit.db.test_installation_store import raw_bytes

TOKEN_A = "xoxb-1111-aaaa-cLiNiCaBoTtOkEn"
TOKEN_B = "xoxb-2222-bbbb-cLiNiCbBoTtOkEn"
REFRESH_B = "xoxe-1-cLiNiCbReFrEsH"
OLD_KEY, NEW_KEY = new_key(), new_key()


@pytest.fixture
def many(
    backend: Backend,
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Backend:
    """Many-workspace mode on the test's database, Slack and MaxCare faked."""
    for name in ALL_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    configure(monkeypatch, {
        **backend.env,
        "SLACK_CLIENT_ID": slack.client_id,
        "SLACK_CLIENT_SECRET": slack.client_secret,
        "SLACK_SIGNING_SECRET": payloads.SIGNING_SECRET,
        "TOKEN_ENCRYPTION_KEY": OLD_KEY,
        "MAXCARE_API_KEY": maxcare.api_key,
        "MAXCARE_API_URL": maxcare.url,
        "SLACK_API_URL": slack.api_url,
    })  # fmt: skip
    return backend


def installed(store: Store, key: str = OLD_KEY) -> None:
    """Two clinics installed through the OAuth store, and one org-wide grid, uninstalled."""
    installs = DatabaseInstallationStore(store, TokenCipher([key]))

    async def save() -> None:
        await installs.async_save(Installation(
            team_id="T0CLINICA", team_name="Clinic A", bot_token=TOKEN_A, bot_id="B1",
            bot_user_id="U0BOTA", user_id="U0ADMINA",
        ))
        await installs.async_save(Installation(
            team_id="T0CLINICB", team_name="Clinic B", bot_token=TOKEN_B, bot_id="B2",
            bot_user_id="U0BOTB", user_id="U0ADMINB", bot_refresh_token=REFRESH_B,
            bot_token_expires_in=43200,
        ))
        await installs.async_save(Installation(
            team_id=None, enterprise_id="E0GRID", enterprise_name="Grid Health",
            is_enterprise_install=True, bot_token="xoxb-grid", bot_id="B3", bot_user_id="U0BOTG",
            user_id="W0ADMIN",
        ))
        await installs.async_delete_all(enterprise_id="E0GRID", team_id=None)

    asyncio.run(save())


def lines(out: str) -> dict[str, str]:
    return {line.split()[0]: line for line in out.splitlines()[1:-1]}


def test_list_shows_each_workspace_never_a_token(
    many: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "workspaces", "list")
    assert code == 0, err
    assert "no workspace has installed the app yet" in out
    store = many.open()
    installed(store)
    with tenancy.serving(workspace("T0CLINICA")):
        store.set_link("UNURSE", "prv_" + "a" * 32, actor="test", team_id="T0CLINICA")
        store.set_link("UDOC", "prv_" + "b" * 32, actor="test", team_id="T0CLINICA")
    code, out, err = run(capsys, "workspaces", "list")
    assert code == 0, err
    header, *_ = out.splitlines()
    for column in ("TEAM", "NAME", "ENTERPRISE", "ORGANIZATION", "INSTALLED AT", "LINKS", "STATE"):
        assert column in header
    rows = lines(out)
    assert set(rows) == {"T0CLINICA", "T0CLINICB", "E0GRID"}
    assert "Clinic A" in rows["T0CLINICA"] and "not connected" in rows["T0CLINICA"]
    assert rows["T0CLINICA"].split()[-2:] == ["2", "installed"]
    assert rows["T0CLINICB"].split()[-2:] == ["0", "installed"]
    assert "E0GRID (org-wide)" in rows["E0GRID"] and "Grid Health" in rows["E0GRID"]
    assert "uninstalled" in rows["E0GRID"]
    assert out.rstrip().endswith("3 workspace(s)")
    for secret in (TOKEN_A, TOKEN_B, REFRESH_B, "xoxb-grid", "xoxb", "xoxe", OLD_KEY):
        assert secret not in out + err


def test_set_org_checks_with_maxcare_before_saving(
    many: Backend, maxcare: FakeMaxCare, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    installed(store)
    code, out, err = run(capsys, "workspaces", "set-org", "T0CLINICA", maxcare.organization_id)
    assert code == 0, err
    assert f"connected T0CLINICA to MaxCare organization {maxcare.organization_id}" in out
    (call,) = maxcare.requests()  # exactly one MaxCare call, as that organization
    assert call.headers["x-organization-id"] == maxcare.organization_id
    row = store.get_installation("T0CLINICA")
    assert row is not None and row["organization_id"] == maxcare.organization_id
    assert maxcare.organization_id in lines(run(capsys, "workspaces", "list")[1])["T0CLINICA"]

    # A second clinic, with its own organization that the app's key reaches too.
    clinic_b = "org_" + "b" * 32
    maxcare.organizations.add(clinic_b)
    maxcare.clear()
    code, out, err = run(capsys, "workspaces", "set-org", "T0CLINICB", clinic_b)
    assert code == 0, err
    (call,) = maxcare.requests()
    assert call.headers["x-organization-id"] == clinic_b
    orgs = {r["key"]: r["organization_id"] for r in store.list_installations()}
    assert orgs == {"T0CLINICA": maxcare.organization_id, "T0CLINICB": clinic_b, "E0GRID": None}

    # An organization the app's key cannot reach: refused with MaxCare's reason, nothing saved.
    maxcare.clear()
    other = "org_" + "f" * 32
    code, out, err = run(capsys, "workspaces", "set-org", "T0CLINICB", other)
    assert code == 1 and out == ""
    assert "not connected" in err and "Organization not accessible with this API key" in err
    assert "Traceback" not in err
    (call,) = maxcare.requests()
    assert call.headers["x-organization-id"] == other
    row = store.get_installation("T0CLINICB")
    assert row is not None and row["organization_id"] == clinic_b  # unchanged


def test_set_org_refuses_what_it_cannot_check(
    many: Backend, maxcare: FakeMaxCare, capsys: pytest.CaptureFixture[str]
) -> None:
    installed(many.open())
    code, _, err = run(capsys, "workspaces", "set-org", "T0NOBODY", maxcare.organization_id)
    assert code == 1 and "no workspace 'T0NOBODY'" in err
    code, _, err = run(capsys, "workspaces", "set-org", "T0CLINICA", "org with spaces")
    assert code == 2 and "not a MaxCare organization ID" in err
    maxcare.set_down()
    code, _, err = run(capsys, "workspaces", "set-org", "T0CLINICA", maxcare.organization_id)
    assert code == 1 and "not connected" in err and "Traceback" not in err
    assert len(maxcare.requests()) == 1  # once: a person is waiting (the bad ones sent none)
    row = many.open().get_installation("T0CLINICA")
    assert row is not None and row["organization_id"] is None


def test_remove_forgets_the_installation(
    many: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    installed(store)
    code, out, err = run(capsys, "workspaces", "remove", "T0CLINICB")
    assert code == 0, err
    assert "removed T0CLINICB" in out
    assert store.get_installation("T0CLINICB") is None
    assert set(lines(run(capsys, "workspaces", "list")[1])) == {"T0CLINICA", "E0GRID"}
    code, _, err = run(capsys, "workspaces", "remove", "T0CLINICB")
    assert code == 1 and "no workspace 'T0CLINICB'" in err


def test_rotate_key_re_encrypts_every_token_under_the_first_key(
    many: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    installed(store, OLD_KEY)
    before = {r["key"]: r for r in store.list_installations()}
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", f"{NEW_KEY},{OLD_KEY}")
    code, out, err = run(capsys, "workspaces", "rotate-key")
    assert code == 0, err
    assert "re-encrypted the tokens of 2 workspace(s)" in out  # the uninstalled grid has none
    assert "can now be removed" in out
    after = {r["key"]: r for r in store.list_installations()}
    only_new = TokenCipher([NEW_KEY])
    assert after["T0CLINICA"]["bot_token_enc"] != before["T0CLINICA"]["bot_token_enc"]
    assert only_new.decrypt(after["T0CLINICA"]["bot_token_enc"]) == TOKEN_A
    assert only_new.decrypt(after["T0CLINICB"]["bot_token_enc"]) == TOKEN_B
    assert only_new.decrypt(after["T0CLINICB"]["bot_refresh_token_enc"]) == REFRESH_B
    assert after["E0GRID"]["bot_token_enc"] is None
    # The old key is no longer needed: the app finds every token with the new key alone.
    installs = DatabaseInstallationStore(store, only_new)
    bot = asyncio.run(installs.async_find_bot(enterprise_id=None, team_id="T0CLINICB"))
    assert bot is not None and bot.bot_token == TOKEN_B
    if isinstance(store, SQLiteStore):
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = raw_bytes(many, store)
    for secret in (TOKEN_A, TOKEN_B, REFRESH_B):
        assert secret.encode() not in data
    assert "xoxb" not in out + err


def test_rotate_key_without_the_old_key_says_so_and_changes_nothing(
    many: Backend, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    installed(store, OLD_KEY)
    before = {r["key"]: r["bot_token_enc"] for r in store.list_installations()}
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", NEW_KEY)  # the old key dropped too early
    code, out, err = run(capsys, "workspaces", "rotate-key")
    assert code == 1
    assert "cannot be decrypted with TOKEN_ENCRYPTION_KEY" in err and "Traceback" not in err
    assert {r["key"]: r["bot_token_enc"] for r in store.list_installations()} == before
    for secret in (TOKEN_A, TOKEN_B, NEW_KEY, OLD_KEY):
        assert secret not in out + err
    monkeypatch.delenv("TOKEN_ENCRYPTION_KEY")
    code, _, err = run(capsys, "workspaces", "rotate-key")
    assert code == 2 and "TOKEN_ENCRYPTION_KEY is required" in err and "new-key" in err
    monkeypatch.setenv("TOKEN_ENCRYPTION_KEY", "not-a-key-SECRET")
    code, _, err = run(capsys, "workspaces", "list")
    assert code == 2 and "TOKEN_ENCRYPTION_KEY must be Fernet keys" in err
    assert "not-a-key-SECRET" not in err


def test_new_key_prints_a_fresh_key(many: Backend, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "workspaces", "new-key")
    assert code == 0
    key = out.strip()
    Fernet(key)
    assert "rotate-key" in err
    assert run(capsys, "workspaces", "new-key")[1].strip() != key


def test_every_workspaces_command_is_in_the_help_and_the_readme(tmp_path: Path) -> None:
    from tests.support import ROOT

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    done = run_process(tmp_path, "workspaces", "--help")
    assert done.returncode == 0
    for command in ("list", "set-org", "remove", "rotate-key", "new-key"):
        assert command in done.stdout, command
        assert f"python -m bot workspaces {command}" in readme, command


def test_set_org_takes_the_uuid_form_as_task_connect_does(
    many: Backend, maxcare: FakeMaxCare, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    installed(store)
    hex32 = maxcare.organization_id.removeprefix("org_")
    dashed = f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}".upper()
    code, out, err = run(capsys, "workspaces", "set-org", "T0CLINICA", dashed)
    assert code == 0, err
    row = store.get_installation("T0CLINICA")
    assert row is not None and row["organization_id"] == maxcare.organization_id


def test_check_reports_each_workspace_and_its_organization(
    many: Backend, maxcare: FakeMaxCare, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    installed(store)
    store.set_installation_org("T0CLINICA", maxcare.organization_id)
    store.set_installation_org("T0CLINICB", "org_" + "b" * 32)  # the key cannot reach it
    code, out, err = run(capsys, "check")
    assert code == 1 and "Traceback" not in out + err
    assert "many-workspace mode, 2 workspace(s) installed" in out  # the grid is uninstalled
    assert f"ok   Clinic A (T0CLINICA): MaxCare organization {maxcare.organization_id}" in out
    assert "FAIL Clinic B (T0CLINICB)" in out and out.rstrip().endswith("1 problem(s)")
    assert TOKEN_A not in out and TOKEN_B not in out
    store.set_installation_org("T0CLINICB", None)
    code, out, _ = run(capsys, "check")
    assert code == 0 and "Clinic B (T0CLINICB): not connected to MaxCare yet" in out


def test_links_commands_take_the_workspace_from_team(
    many: Backend, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = many.open()
    installed(store)
    prv_a, prv_b = "prv_" + "a" * 32, "prv_" + "b" * 32
    code, _, err = run(capsys, "links", "add", "UNURSE", prv_a)
    assert code == 2 and "--team" in err and "T0CLINICA, T0CLINICB" in err  # two installed
    code, _, err = run(capsys, "links", "list", "--team", "T0NOWHERE")
    assert code == 2 and "no workspace 'T0NOWHERE'" in err
    assert run(capsys, "links", "add", "UNURSE", prv_a, "--team", "T0CLINICA")[0] == 0
    assert run(capsys, "links", "add", "UDOC", prv_b, "--team", "T0CLINICB")[0] == 0
    code, out, _ = run(capsys, "links", "list", "--team", "T0CLINICB", "--csv")
    assert code == 0 and "UDOC" in out and "UNURSE" not in out
    exported = tmp_path / "a.csv"
    assert run(capsys, "links", "export", str(exported), "--team", "T0CLINICA")[0] == 0
    assert "UNURSE" in exported.read_text() and "UDOC" not in exported.read_text()
    assert run(capsys, "links", "import", str(exported), "--team", "T0CLINICB")[0] == 0
    code, out, _ = run(capsys, "links", "history", "--team", "T0CLINICB", "--csv")
    assert code == 0 and out.count("\n") == 3  # header, UDOC's link, UNURSE's import
    code, _, err = run(capsys, "links", "remove", "UDOC", "--team", "T0CLINICA")
    assert code == 1 and "not linked" in err  # Clinic B's person, not Clinic A's
    assert run(capsys, "links", "list", "--team", "E0GRID")[0] == 0  # an org-wide install
    assert store.count_links_by_workspace() == {"T0CLINICA": 1, "T0CLINICB": 2}


def test_with_one_workspace_installed_team_may_be_left_out(
    many: Backend, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    installs = DatabaseInstallationStore(store, TokenCipher([OLD_KEY]))
    asyncio.run(installs.async_save(Installation(
        team_id="T0CLINICA", team_name="Clinic A", bot_token=TOKEN_A, bot_id="B1",
        bot_user_id="U0BOTA", user_id="U0ADMINA",
    )))  # fmt: skip
    assert run(capsys, "links", "add", "UNURSE", "prv_" + "a" * 32)[0] == 0
    assert store.count_links_by_workspace() == {"T0CLINICA": 1}


def two_clinics_in_slack(store: Store, slack: FakeSlack, maxcare: FakeMaxCare) -> dict[str, str]:
    """North and South installed with live tokens, connected, each with its own people and
    providers; returns each clinic's organization."""
    installs = DatabaseInstallationStore(store, TokenCipher([OLD_KEY]))
    orgs = {"T0NORTH": maxcare.organization_id, "T0SOUTH": maxcare.add_organization()}
    for team, name in (("T0NORTH", "North"), ("T0SOUTH", "South")):
        slack.add_workspace(team, name)
        bot = slack.token_for(team)
        asyncio.run(installs.async_save(Installation(
            team_id=team, team_name=name, bot_token=bot, bot_id="B" + team,
            bot_user_id="UBOT" + team, user_id="UADMIN" + team,
        )))  # fmt: skip
        store.set_installation_org(team, orgs[team])
    return orgs


def test_check_looks_at_each_workspaces_links_as_that_workspace(
    many: Backend, slack: FakeSlack, maxcare: FakeMaxCare, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    orgs = two_clinics_in_slack(store, slack, maxcare)
    slack.add_user("UNURSENORTH", name="nina", team_id="T0NORTH")
    slack.add_user("UGONESOUTH", name="gone", team_id="T0SOUTH", deleted=True)
    north = maxcare.add_provider(first_name="Nina")
    south = maxcare.add_provider(first_name="Gus", organization_id=orgs["T0SOUTH"])
    with tenancy.serving(workspace("T0NORTH")):
        store.set_link("UNURSENORTH", north["id"], actor="test")
    with tenancy.serving(workspace("T0SOUTH")):
        store.set_link("UGONESOUTH", south["id"], actor="test")
    code, out, err = run(capsys, "check")
    assert code == 1 and "Traceback" not in out + err
    assert "ok   North (T0NORTH): links: all 1 usable" in out
    assert "FAIL South (T0SOUTH): links: 1 of 1 cannot be used" in out
    assert "UGONESOUTH" in out and "UNURSENORTH" not in out.split("South (T0SOUTH): links")[1]
    users_lists = slack.calls("users.list")
    assert {c.token for c in users_lists} == {
        slack.workspace("T0NORTH").token, slack.workspace("T0SOUTH").token
    }  # each workspace's people read with its own token
    for team in ("T0NORTH", "T0SOUTH"):
        assert str(slack.workspace(team).token) not in out + err


def test_suggest_proposes_a_workspaces_people_and_its_organizations_providers(
    many: Backend, slack: FakeSlack, maxcare: FakeMaxCare, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    orgs = two_clinics_in_slack(store, slack, maxcare)
    slack.add_user("UCAROL", name="carol", real_name="Carol Diaz", team_id="T0SOUTH")
    slack.add_user("UCARL", name="carl", real_name="Carl Diaz", team_id="T0NORTH")
    carol = maxcare.add_provider(first_name="Carol", last_name="Diaz",
                                 organization_id=orgs["T0SOUTH"])  # fmt: skip
    maxcare.add_provider(first_name="Carl", last_name="Diaz")  # North's organization
    code, _, err = run(capsys, "links", "suggest")
    assert code == 2 and "--team" in err
    code, out, err = run(capsys, "links", "suggest", "--team", "T0SOUTH")
    assert code == 0, err
    proposed = [(r["slack_user_id"], r["provider_id"]) for r in csv.DictReader(io.StringIO(out))]
    assert proposed == [("UCAROL", carol["id"])]


def test_check_refreshes_a_rotated_token_about_to_expire_first(
    many: Backend, slack: FakeSlack, maxcare: FakeMaxCare, capsys: pytest.CaptureFixture[str]
) -> None:
    store = many.open()
    slack.token_rotation = True
    slack.add_workspace("T0NORTH", "North")
    issued = slack.issue("T0NORTH")
    installs = DatabaseInstallationStore(store, TokenCipher([OLD_KEY]))
    asyncio.run(installs.async_save(Installation(
        team_id="T0NORTH", team_name="North", bot_token=issued["access_token"], bot_id="B1",
        bot_user_id="UBOT", user_id="UADMIN", bot_refresh_token=issued["refresh_token"],
        bot_token_expires_in=60,  # a minute left
    )))  # fmt: skip
    store.set_installation_org("T0NORTH", maxcare.organization_id)
    slack.expire_tokens("T0NORTH")  # and Slack already refuses it
    slack.add_user("UNURSE", name="nina", team_id="T0NORTH")
    with tenancy.serving(workspace("T0NORTH")):
        store.set_link("UNURSE", maxcare.add_provider(first_name="Nina")["id"], actor="test")

    code, out, err = run(capsys, "check")
    assert code == 0, out + err
    assert "ok   North (T0NORTH): links: all 1 usable" in out
    bot = installs.find_by_key("T0NORTH")
    assert bot is not None and bot.bot_token != issued["access_token"]
    assert slack.workspace_of(bot.bot_token) is not None  # the refreshed token, saved
