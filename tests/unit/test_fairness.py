"""The fairness benchmark (benchmarks/fairness.py): its counting, its targets, the fakes'
many-workspace routes it drives, and a --quick run."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks import fairness
from benchmarks.fakes import LatentMaxCare, LatentSlack
from benchmarks.load import Sample
from benchmarks.procs import ROOT, clean_env
from benchmarks.traffic import note_for

A_ORG, B_ORG = "org_" + "a" * 32, "org_" + "b" * 32


def test_a_wait_is_told_in_seconds_and_windows() -> None:
    assert fairness.wait_in_windows(10.0, 13.0, 6.0) == {"seconds": 3.0, "windows": 0.5}
    assert fairness.wait_in_windows(10.0, None, 6.0) == {"seconds": None, "windows": None}


def test_the_posts_around_bs_are_counted_by_note() -> None:
    posts = [
        [1.0, "nte_a1", A_ORG, 201],
        [2.0, "nte_a2", A_ORG, 201],
        [3.0, "nte_a3", A_ORG, 201],
        [4.0, "nte_b", B_ORG, 429],  # refused, then sent again
        [5.0, "nte_b", B_ORG, 201],
        [6.0, "nte_a4", A_ORG, 201],
    ]
    assert fairness.first_post(posts, "nte_b") == 4.0
    assert fairness.first_post(posts, "nte_x") is None
    got = fairness.overtaken(posts, "nte_b", 1.5)
    assert got == {"before_submission": 1, "went_first": 2, "after_b": 1}
    never = fairness.overtaken(posts[:3], "nte_b", 1.5)
    assert never == {"before_submission": 1, "went_first": 2, "after_b": 0}


def test_every_post_is_checked_against_its_clinics_organization() -> None:
    posts = [
        [1.0, "nte_a1", A_ORG, 201],
        [2.0, "nte_a2", B_ORG, 201],  # A's note sent as B's organization
        [3.0, "nte_b", B_ORG, 201],
        [4.0, "nte_x", A_ORG, 201],  # nobody submitted it
        [5.0, "nte_a3", "", 403],  # sent for no organization
    ]
    got = fairness.organizations_checked(
        posts, {"nte_a1": A_ORG, "nte_a2": A_ORG, "nte_a3": A_ORG, "nte_b": B_ORG}
    )
    assert got["posts"] == 5 and got["posts_by_organization"] == {A_ORG: 2, B_ORG: 2, "": 1}
    assert got["wrong_organization"] == 2 and got["wrong_examples"] == ["nte_a2", "nte_a3"]
    assert got["unknown_notes"] == 1


def test_a_probe_times_one_of_bs_submissions() -> None:
    body = b'{"response_action": "update"}'
    sample = Sample("CB1", due=100.0, acked=100.02, status=200, body=body, sent=100.0)
    posts = [[101.0, "nte_a", A_ORG, 201], [103.0, note_for("CB1"), B_ORG, 201]]
    got = fairness.probe(posts, "CB1", sample, 103.1, started=99.0, window=6.0)
    assert got["sent_after_a_seconds"] == 1.0 and got["accepted"]
    assert got["to_post"] == {"seconds": 3.0, "windows": 0.5}
    assert got["to_card"]["seconds"] == pytest.approx(3.1)
    assert got["post_status"] == 201 and got["posts"]["went_first"] == 1
    missing = fairness.probe(posts, "CB2", None, None, started=99.0, window=6.0)
    assert missing["to_post"]["windows"] is None and not missing["accepted"]


@pytest.fixture
def results() -> dict[str, Any]:
    """Figures of a run that meets every target."""

    def b(windows: float) -> dict[str, Any]:
        return {
            "sent_after_a_seconds": 1.0,
            "accepted": True,
            "ack_ms": 20.0,
            "to_post": {"seconds": windows * 6, "windows": windows},
            "to_card": {"seconds": windows * 6 + 0.1, "windows": windows + 0.02},
            "post_status": 201,
            "posts": {"before_submission": 0, "went_first": 16, "after_b": 900},
        }

    return {
        "burst": {
            "budget": "100 per 6 s",
            "a_submissions": 1000,
            "a_accepted": 1000,
            "a_send_seconds": 1.3,
            "a_ack_ms": {"p50": 60.0, "p99": 110.0},
            "a_burst_windows": 10.1,
            "b_after": 1.0,
            "b_first": b(0.1),
            "b_again": b(0.9),
            "b_again_after_posts": 300,
            "drain_seconds": 62.0,
            "ideal_drain_seconds": 60.0,
            "first_to_last_post_seconds": 60.6,
            "tasks_created": 1002,
            "fraction_of_budget": 0.99,
            "maxcare_requests_by_kind": {"POST /v4/tasks": 1002},
            "provoked_429": 0,
            "lost": 0,
            "duplicated_notes": 0,
            "posts": 1002,
            "posts_by_organization": {A_ORG: 1000, B_ORG: 2},
            "wrong_organization": 0,
            "unknown_notes": 0,
            "not_accepted": 0,
            "cards_missing": 0,
            "duplicate_cards": 0,
            "requests_per_window": [100] * 10 + [2],
        },
        "log_check": {"tracebacks": 0, "errors": 0},
    }


def _missed(r: dict[str, Any]) -> list[str]:
    return [t["target"] for t in fairness.targets(r) if t["result"] == "MISS"]


def test_every_target_passes_on_good_figures(results: dict[str, Any]) -> None:
    assert _missed(results) == []
    results["targets"] = fairness.targets(results)
    text = fairness.report(results)
    assert "PASS" in text and "MISS" not in text


FIRST = "B's task 1 s into A's 1,000: to its POST"
AGAIN = "B's task once A's POSTs reach 300: to its POST"
BREAKS: dict[str, tuple[str, Any]] = {
    FIRST: ("b_first", {"seconds": 60.0, "windows": 10.0}),  # the whole burst
    AGAIN: ("b_again", {"seconds": 9.6, "windows": 1.6}),
    "drain of A's burst and B's tasks at 100 per 6 s": ("fraction_of_budget", 0.94),
    "429s the fake MaxCare answered": ("provoked_429", 1),
    "lost (accepted, no task)": ("lost", 1),
    "duplicates (note IDs with > 1 task)": ("duplicated_notes", 1),
    "POSTs with another clinic's X-Organization-Id": ("wrong_organization", 1),
    "not accepted; cards missing; second cards": ("cards_missing", 1),
}


@pytest.mark.parametrize("target", list(BREAKS))
def test_each_target_reads_its_own_figure(results: dict[str, Any], target: str) -> None:
    r = copy.deepcopy(results)
    key, value = BREAKS[target]
    if key.startswith("b_"):
        r["burst"][key]["to_post"] = value
    else:
        r["burst"][key] = value
    assert _missed(r) == [target]


def test_a_task_that_never_reached_maxcare_misses(results: dict[str, Any]) -> None:
    results["burst"]["b_again"]["to_post"] = {"seconds": None, "windows": None}
    assert _missed(results) == [AGAIN]
    results["burst"]["unknown_notes"] = 1  # a POST no clinic submitted
    assert "POSTs with another clinic's X-Organization-Id" in _missed(results)


def test_the_fakes_install_workspaces_and_keep_each_posts_organization() -> None:
    """The routes benchmarks.procs.Fakes drives in the fakes' own process."""
    with LatentSlack() as slack, LatentMaxCare() as maxcare, httpx.Client(timeout=10) as http:
        bench = f"{slack.base}/_bench"
        assert http.post(f"{bench}/workspace", json={"team_id": "T0X", "name": "X"}).is_success
        user = {"user_id": "UXADMIN", "team_id": "T0X", "is_admin": True}
        assert http.post(f"{bench}/user", json=user).is_success
        url = (f"https://slack.com/oauth/v2/authorize?client_id={slack.client_id}"
               "&scope=commands&state=s1")  # fmt: skip
        approved = http.post(f"{bench}/approve", json={"url": url, "team_id": "T0X",
                                                       "user_id": "UXADMIN"}).json()  # fmt: skip
        assert approved["state"] == "s1"
        bad = {"url": url.replace(slack.client_id, "other"), "team_id": "T0X", "user_id": "U"}
        assert http.post(f"{bench}/approve", json=bad).status_code == 400
        token = http.post(f"{slack.api_url}oauth.v2.access", data={
            "code": approved["code"], "client_id": slack.client_id,
            "client_secret": slack.client_secret,
        }).json()["access_token"]  # fmt: skip
        seen = http.post(f"{slack.api_url}users.info", data={"user": "UXADMIN"},
                         headers={"Authorization": f"Bearer {token}"}).json()  # fmt: skip
        assert seen["ok"] and seen["user"]["is_admin"]
        hook = http.post(f"{bench}/response_url", json={"name": "h1"}).json()["url"]
        assert http.post(hook, json={"text": "Linked"}).status_code == 200
        calls = http.get(f"{bench}/calls", params={"method": "response_url:h1"}).json()["items"]
        assert [c["params"]["text"] for c in calls] == ["Linked"]

        mbench = f"{maxcare.base}/_bench"
        org = http.post(f"{mbench}/organizations", json={}).json()["id"]
        provider = http.post(
            f"{mbench}/providers", json={"count": 1, "organization_id": org}
        ).json()["ids"][0]
        assert maxcare.organization_of(provider) == org
        note = note_for("CX")
        body = {"noteId": note, "providerId": provider, "notes": "n", "assigneeIds": [provider]}
        key = {"Authorization": f"Bearer {maxcare.api_key}"}
        for as_org in (org, maxcare.organization_id):  # the second: not that one's provider
            http.post(f"{maxcare.url}/tasks", json=body, headers={**key,
                                                                   "X-Organization-Id": as_org})
        posts = http.get(f"{mbench}/task_posts").json()["items"]
    assert [p[1:] for p in posts] == [[note, org, 201], [note, maxcare.organization_id, 404]]


def test_a_quick_run_is_fair_and_loses_nothing(tmp_path: Path) -> None:
    """The whole benchmark, small: a real many-workspace app, two clinics installed through
    OAuth, A's burst and B's two tasks."""
    out = tmp_path / "fairness.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.fairness", "--quick", "--json", str(out)],
        cwd=ROOT,
        env=clean_env({}),
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a target missed
    d = json.loads(out.read_text(encoding="utf-8"))["burst"]
    assert d["a_accepted"] == d["a_submissions"] == 200 and d["not_accepted"] == 0
    assert (d["lost"], d["duplicated_notes"], d["provoked_429"]) == (0, 0, 0)
    assert d["wrong_organization"] == d["unknown_notes"] == 0
    assert sorted(d["posts_by_organization"].values()) == [2, 200]
    assert d["tasks_created"] == 202 and d["cards_missing"] == 0
    for b in (d["b_first"], d["b_again"]):
        assert b["accepted"] and b["post_status"] == 201
        assert b["posts"]["after_b"] > 0, "B waited for the whole burst"
    assert "Traceback" not in done.stdout + done.stderr
    assert "target" in done.stdout and str(out) in done.stdout
