"""Issue 5, point 6: `python -m bot links suggest` proposes links and changes nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from bot.__main__ import main
from bot.db.store import SQLiteStore
from bot.links.suggest import HEADER, propose, words
from bot.maxcare import Provider
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import env_for


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def clinic(
    slack: FakeSlack, maxcare: FakeMaxCare, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """A workspace of 250+ people (two users.list pages) and 150+ providers (two pages)."""
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "s.db"
    for key, value in env_for(slack, maxcare, db).items():
        monkeypatch.setenv(key, value)
    for n in range(250):
        slack.add_user(f"UFILL{n:04d}", name=f"filler{n}", real_name=f"Filler{n} Person")
    for n in range(150):
        maxcare.add_provider(first_name=f"Doc{n}", last_name="Nomatch", username=f"doc{n}")
    p: dict[str, Any] = {"db": db}
    p["carol"] = maxcare.add_provider(
        first_name="Carol", last_name="Diaz", display_first_name="Dr. Carol",
        display_last_name="Diaz, MD", username="cdiaz",
    )
    slack.add_user("UCAROL", name="carol", real_name="Dr. Carol Díaz", email="cd@clinic.org")
    p["gomez"] = maxcare.add_provider(first_name="Maria", last_name="Gomez", username="mgomez")
    slack.add_user("UMARI", name="mari", real_name="Mari G", email="M.Gomez@clinic.org")
    p["lee"] = maxcare.add_provider(first_name="Robert", last_name="Lee", username="rlee")
    slack.add_user("UROB", name="rob", real_name="Rob Lee")
    p["park1"] = maxcare.add_provider(first_name="Ann", last_name="Park", username="apark")
    p["park2"] = maxcare.add_provider(first_name="Ann", last_name="Park", username="apark2")
    slack.add_user("UANN", name="ann", real_name="Ann Park")
    p["nina"] = maxcare.add_provider(first_name="Nina", last_name="Nurse", username="nnurse")
    # Skipped: a bot, a deactivated person and someone already linked, all with matching names.
    slack.add_user("UBOTCAROL", name="carolbot", real_name="Carol Diaz", is_bot=True)
    slack.add_user("UOLDCAROL", name="oldcarol", real_name="Carol Diaz", deleted=True)
    store = SQLiteStore(db)
    store.set_link("UNURSE", p["nina"]["id"], actor="t")
    store.close()
    return p


def test_suggest_prints_reviewable_csv_and_changes_nothing(
    clinic: dict[str, Any],
    slack: FakeSlack,
    maxcare: FakeMaxCare,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "links", "suggest")

    assert code == 0, err
    assert out.splitlines()[0] == ",".join(HEADER)
    found = [(r["slack_user_id"], r["provider_id"], r["confidence"]) for r in rows(out)]
    assert found == [
        ("UCAROL", clinic["carol"]["id"], "high"),
        ("UMARI", clinic["gomez"]["id"], "medium"),
        ("UANN", min(clinic["park1"]["id"], clinic["park2"]["id"]), "low"),
        ("UANN", max(clinic["park1"]["id"], clinic["park2"]["id"]), "low"),
        ("UROB", clinic["lee"]["id"], "low"),
    ]
    by_user = {r["slack_user_id"]: r for r in rows(out)}
    assert by_user["UCAROL"]["slack_name"] == "Dr. Carol Díaz"
    assert by_user["UCAROL"]["provider_name"] == "Dr. Carol Diaz, MD"
    assert by_user["UCAROL"]["reason"] == "same full name"
    assert "username mgomez = email name mgomez" in by_user["UMARI"]["reason"]
    assert "2 providers match" in by_user["UANN"]["reason"]
    assert by_user["UROB"]["reason"] == "same last name and first initial"

    # Every page was read, with progress on stderr.
    cursors = [c.params.get("cursor") for c in slack.calls("users.list")]
    assert len(cursors) == 2 and cursors[1]
    assert [r.query.get("page") for r in maxcare.requests("GET", "/providers")] == ["1", "2"]
    assert "Slack: 200 people read" in err and "MaxCare: 156 providers read" in err
    assert "Nothing was changed" in err

    store = SQLiteStore(clinic["db"])
    assert [link.slack_user_id for link in store.list_links()] == ["UNURSE"]
    assert len(store.link_events()) == 1
    store.close()

    # Reviewed (one row per person), the file imports as it is.
    reviewed = tmp_path / "reviewed.csv"
    keep = [line for line in out.splitlines() if ",low," not in line]
    reviewed.write_text("\n".join(keep) + "\n", encoding="utf-8")
    assert run(capsys, "links", "import", str(reviewed))[0] == 0
    store = SQLiteStore(clinic["db"])
    assert {link.slack_user_id for link in store.list_links()} == {"UNURSE", "UCAROL", "UMARI"}
    store.close()


def test_suggest_to_a_file(clinic: dict[str, Any], tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "proposals.csv"
    code, out, _ = run(capsys, "links", "suggest", str(target))
    assert code == 0 and out == ""
    assert rows(target.read_text(encoding="utf-8"))[0]["slack_user_id"] == "UCAROL"


def test_suggest_reports_a_maxcare_failure(
    clinic: dict[str, Any], maxcare: FakeMaxCare, capsys: pytest.CaptureFixture[str]
) -> None:
    maxcare.fail_next("GET", "/providers", 403, times=10)
    code, out, err = run(capsys, "links", "suggest")
    assert code == 1 and out == ""
    assert "error: MaxCare did not allow the provider listing" in err
    assert "Traceback" not in err


def provider(pid: str, first: str, last: str, username: str | None = None,
             **extra: str) -> Provider:
    return Provider.model_validate(
        {"id": pid, "firstName": first, "lastName": last, "username": username, **extra}
    )


def member(uid: str, real: str, **extra: Any) -> dict[str, Any]:
    return {"id": uid, "name": extra.pop("name", uid.lower()), "profile": {"real_name": real,
            **extra.pop("profile", {})}, **extra}


def test_matching_rules() -> None:
    assert words("Dr. José O'Neil-Smith, MD") == ["jose", "oneil", "smith"]
    assert words("Thanh Do") == ["thanh", "do"]  # a surname, not the DO credential
    providers = [
        provider("prv_1", "Jane", "Roe", "jroe"),
        provider("prv_2", "Tom", "Smith", "tsmith"),
        provider("prv_3", "Sam", "Stone", "sstone"),
        provider("prv_4", "Ida", "Linked", "ilinked"),
    ]
    members = [
        member("UJANE", "jane roe"),
        member("UTOM", "Tommy", profile={"email": "t.smith@x.org"}),
        member("USAM", "Samuel", name="sstone"),
        member("UIDA", "Ida Linked"),
        member("USLACKBOT", "Slackbot"),
        member("UAPP", "Jane Roe", is_app_user=True),
        member("UTWIN", "Jane Roe"),
    ]
    got = propose(members, providers, linked_users=set(), linked_providers={"prv_4"})
    summary = [(p.person.user_id, p.provider.id, p.confidence) for p in got]
    assert summary == [
        ("UTOM", "prv_2", "medium"),
        ("UJANE", "prv_1", "low"),  # two people named Jane Roe: a guess for each
        ("UTWIN", "prv_1", "low"),
        ("USAM", "prv_3", "low"),
    ]
    assert "also proposed for 1 other person" in got[1].reason
    assert got[3].reason == "MaxCare username sstone = Slack username"
