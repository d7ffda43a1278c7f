"""`python -m bot check`: configuration, Slack, MaxCare and stale links, against the fakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.db.store import STALE_PROVIDER, STALE_SLACK, SQLiteStore
from tests.support.cli import configure, run
from tests.support.fakes import FakeMaxCare, FakeSlack
from tests.support.harness import env_for
from tests.support.ids import PRV_A, PRV_B


def test_check_all_good(
    db: Path, slack: FakeSlack, maxcare: FakeMaxCare, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, env_for(slack, maxcare, db))
    code, out, _ = run(capsys, "check")
    assert code == 0, out
    assert "all good" in out
    assert "FAIL" not in out
    assert [c.method for c in slack.calls()] == ["auth.test"]
    assert len(maxcare.requests("GET")) == 1
    assert maxcare.requests("POST") == []


def test_check_wrong_maxcare_key(
    db: Path, slack: FakeSlack, maxcare: FakeMaxCare, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(monkeypatch, env_for(slack, maxcare, db, MAXCARE_API_KEY="max_dev_ak_WRONGKEY"))
    code, out, err = run(capsys, "check")
    assert code == 1
    assert "FAIL MaxCare" in out
    assert "ok   Slack" in out
    assert "all good" not in out
    assert "WRONGKEY" not in out + err


def test_check_slack_refuses_the_token(
    db: Path, maxcare: FakeMaxCare, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeSlack() as other:
        other.token = "xoxb-another-workspace"  # answers invalid_auth to our token
        env = env_for(other, maxcare, db, SLACK_BOT_TOKEN="xoxb-ours-SECRET")
        configure(monkeypatch, env)
        code, out, err = run(capsys, "check")
    assert code == 1
    assert "FAIL Slack" in out
    assert "invalid_auth" in out
    assert "ok   MaxCare" in out
    assert "xoxb-ours-SECRET" not in out + err


def test_check_missing_variable(
    db: Path, slack: FakeSlack, maxcare: FakeMaxCare, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    env = env_for(slack, maxcare, db)
    del env["MAXCARE_ORGANIZATION_ID"]
    configure(monkeypatch, env)
    code, out, err = run(capsys, "check")
    assert code == 1
    fail = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert len(fail) == 1
    assert fail[0].startswith("FAIL configuration")
    assert "MAXCARE_ORGANIZATION_ID" in fail[0]
    assert "Traceback" not in out + err
    assert slack.calls() == []


# -- stale links ----------------------------------------------------------------------------


def test_check_lists_stale_links_and_flags_them(
    fakes: tuple[FakeSlack, FakeMaxCare, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    slack, maxcare, db = fakes
    kept = maxcare.add_provider(first_name="Kim", last_name="Kept")
    slack.add_user("UOK", real_name="Ok Person")
    slack.add_user("ULEFT", real_name="Left Person", deleted=True)
    slack.add_user("UMOVED", real_name="Moved Provider")
    store = SQLiteStore(db)
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
    store = SQLiteStore(db)
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
