"""FakeMaxCare, driven by httpx: what it records and answers, its faults, and what it refuses."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.fakes import FakeMaxCare
from tests.support.harness import ManualClock
from tests.support.ids import NOTE


@pytest.fixture
def maxcare() -> Iterator[FakeMaxCare]:
    with FakeMaxCare() as fake:
        yield fake


@pytest.fixture
def api(maxcare: FakeMaxCare) -> Iterator[httpx.Client]:
    headers = {
        "Authorization": f"Bearer {maxcare.api_key}",
        "X-Organization-Id": maxcare.organization_id,
    }
    with httpx.Client(base_url=maxcare.url + "/", headers=headers, timeout=10) as client:
        yield client


def _task_body(maxcare: FakeMaxCare, **overrides: Any) -> dict[str, Any]:
    maxcare.add_note(NOTE)
    creator = maxcare.add_provider(first_name="Nora", last_name="Nurse")
    doctor = maxcare.add_provider()
    return {
        "noteId": NOTE,
        "providerId": creator["id"],
        "notes": "Review missing plan for Impression #3",
        "assigneeIds": [doctor["id"]],
        **overrides,
    }


def test_maxcare_auth_and_org(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    anonymous = httpx.get(maxcare.url + "/tasks")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "unauthorized"
    assert anonymous.json()["trace_id"]
    wrong_org = api.get("tasks", headers={"X-Organization-Id": "org_" + "0" * 32})
    assert wrong_org.status_code == 403
    assert wrong_org.json()["code"] == "forbidden"
    assert [r.path for r in maxcare.requests("GET")] == ["/tasks", "/tasks"]
    assert maxcare.requests()[1].headers["x-organization-id"] == "org_" + "0" * 32


def test_each_organization_sees_only_its_own_records(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    other = maxcare.add_organization()
    body = _task_body(maxcare)  # the first organization's note and providers
    theirs = {"X-Organization-Id": other}
    refused = api.post("tasks", json=body, headers=theirs)
    assert refused.status_code == 404  # the other organization knows neither
    made = api.post("tasks", json=body).json()["data"]
    assert maxcare.organization_of(made["id"]) == maxcare.organization_id
    assert api.get(f"tasks/{made['id']}", headers=theirs).status_code == 404
    assert api.get("tasks", headers=theirs).json()["data"]["tasks"] == []
    assert api.get("providers", headers=theirs).json()["data"]["providers"] == []
    doctor = maxcare.add_provider(first_name="Olga", organization_id=other)
    note = maxcare.add_note(organization_id=other)["id"]
    own = {**body, "noteId": note, "providerId": doctor["id"], "assigneeIds": [doctor["id"]]}
    task = api.post("tasks", json=own, headers=theirs).json()["data"]
    assert maxcare.organization_of(task["id"]) == other
    assert [t["id"] for t in api.get("tasks", headers=theirs).json()["data"]["tasks"]] == [
        task["id"]
    ]
    assert api.get(f"tasks/{task['id']}").status_code == 404  # and the first sees none of it


def test_maxcare_create_task(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    body = _task_body(maxcare)
    answer = api.post("tasks", json=body)
    assert answer.status_code == 201
    task = answer.json()["data"]
    assert task["id"].startswith("tsk_") and len(task["id"]) == 36
    assert task["status"] == "not_started" and task["syncStatus"] == "synced"
    assert task["assignedProviders"][0]["id"] == body["assigneeIds"][0]
    assert "hidden" not in task["assignedProviders"][0]
    assert " " in task["createdAt"] and task["createdAt"].endswith("+00")
    datetime.fromisoformat(task["createdAt"])
    assert "providerId" not in task
    assert maxcare.created_by[task["id"]] == body["providerId"]
    assert api.get(f"tasks/{task['id']}").json()["data"] == task
    assert maxcare.requests("POST", "/tasks")[0].json == body


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        ({"providerId": None}, 400, "'providerId' is required"),
        ({"noteId": "3cc7"}, 400, "'noteId' must be a valid ID"),
        ({"notes": "  "}, 400, "'notes' must be a non-empty string"),
        ({"assigneeIds": []}, 400, "'assigneeIds' must contain at least 1 element"),
        ({"assigneeIds": ["prv_" + "f" * 32]}, 404, "Provider not found"),
        ({"noteId": "nte_" + "e" * 32}, 404, "Note not found"),
    ],
)
def test_maxcare_create_task_validation(
    maxcare: FakeMaxCare, api: httpx.Client, change: dict[str, Any], status: int, message: str
) -> None:
    maxcare.missing_notes.add("nte_" + "e" * 32)
    answer = api.post("tasks", json=_task_body(maxcare, **change))
    assert (answer.status_code, answer.json()["message"]) == (status, message)
    assert not maxcare.tasks


def test_maxcare_get_errors(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    assert api.get("tasks/nope").json()["message"] == "'id' must be a valid ID"
    assert api.get("providers/prv_" + "a" * 32).status_code == 404
    maxcare.add_note(NOTE)
    assert api.get(f"notes/{NOTE}").json()["data"]["id"] == NOTE


def test_maxcare_fail_after_apply_creates_the_task(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    maxcare.fail_next("POST", "/tasks", 502, after_apply=True)
    failed = api.post("tasks", json=_task_body(maxcare))
    assert failed.status_code == 502
    assert failed.json()["code"] == "internal_error"
    found = api.get("tasks", params={"noteId": NOTE}).json()["data"]["tasks"]
    assert [t["id"] for t in found] == list(maxcare.tasks)


def test_maxcare_fail_before_apply_and_429(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    maxcare.fail_next("POST", "tasks", 429)
    maxcare.fail_next("POST", "/v4/tasks", 500)
    limited = api.post("tasks", json=_task_body(maxcare))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "1"
    assert limited.json()["code"] == "rate_limit_exceeded"
    assert api.post("tasks", json=_task_body(maxcare)).status_code == 500
    assert not maxcare.tasks
    assert api.post("tasks", json=_task_body(maxcare)).status_code == 201


def _eventually(predicate: Callable[[], bool], what: str) -> None:
    """Wait (generously: the fake answers from its own thread) until `predicate` holds."""
    deadline = time.monotonic() + 10
    while not predicate():
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.01)


def test_maxcare_delay_after_apply_times_out_with_task_created(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    maxcare.delay_next("POST", "/tasks", 30.0)
    with pytest.raises(httpx.ReadTimeout):
        api.post("tasks", json=_task_body(maxcare), timeout=0.1)
    # The client gave up first; the fake may take its time to get to the request.
    _eventually(lambda: len(maxcare.all_tasks()) == 1, "the delayed POST being carried out")
    assert len(maxcare.requests("POST", "/tasks")) == 1


def test_maxcare_hold_keeps_the_answer_until_released(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    hold = maxcare.hold_next("POST", "/tasks")
    answers: list[int] = []
    body = _task_body(maxcare)
    waiting = threading.Thread(
        target=lambda: answers.append(api.post("tasks", json=body).status_code)
    )
    waiting.start()
    _eventually(lambda: hold.holding == 1, "the held request arriving")
    assert len(maxcare.all_tasks()) == 1  # carried out before the hold (after_apply)
    assert answers == [] and not hold.released
    hold.release()
    waiting.join(10)
    assert answers == [201] and hold.holding == 0
    refused = maxcare.hold_next("POST", "/tasks", after_apply=False)
    refused.release()  # released before it catches anything: answered at once
    assert api.post("tasks", json=_task_body(maxcare)).status_code == 201


def test_maxcare_drop(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    maxcare.drop_next("POST", "/tasks")
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("tasks", json=_task_body(maxcare))
    assert not maxcare.tasks
    maxcare.drop_next("POST", "/tasks", after_apply=True)
    with pytest.raises(httpx.RemoteProtocolError):
        api.post("tasks", json=_task_body(maxcare))
    assert len(maxcare.tasks) == 1


def test_maxcare_down(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    maxcare.set_down(True)
    assert api.get("providers").status_code == 503
    maxcare.set_down(False)
    assert api.get("providers").status_code == 200


def test_maxcare_providers_search_and_pagination(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    for last in ("Adams", "Baker", "Clark", "Davis", "Evans"):
        maxcare.add_provider(first_name="Pat", last_name=last)
    maxcare.add_provider(first_name="Ann", last_name="Lee", display_first_name="Dr. Annie")
    page = api.get("providers", params={"page": 3, "pageSize": 2}).json()["data"]
    assert page["pagination"] == {"page": 3, "pageSize": 2, "totalCount": 6, "totalPages": 3}
    assert [p["lastName"] for p in page["providers"]] == ["Evans", "Lee"]
    found = api.get("providers", params={"search": "ANNIE"}).json()["data"]["providers"]
    assert [p["lastName"] for p in found] == ["Lee"]
    assert api.get("providers", params={"pageSize": 101}).status_code == 400


def test_maxcare_list_tasks_filters_newest_first(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    first = api.post("tasks", json=_task_body(maxcare)).json()["data"]
    second = api.post("tasks", json=_task_body(maxcare)).json()["data"]
    maxcare.set_task(first["id"], status="in_progress", syncStatus="failed")
    listed = api.get("tasks").json()["data"]["tasks"]
    assert [t["id"] for t in listed] == [second["id"], first["id"]]
    busy = api.get("tasks", params={"status": "in_progress,completed"}).json()["data"]["tasks"]
    assert [(t["id"], t["syncStatus"]) for t in busy] == [(first["id"], "failed")]
    mine = api.get("tasks", params={"providerId": second["assignedProviders"][0]["id"]})
    assert [t["id"] for t in mine.json()["data"]["tasks"]] == [second["id"]]


def test_maxcare_rate_limit_sliding_window() -> None:
    clock = ManualClock()
    with FakeMaxCare(rate_limit=2, rate_window=0.3, clock=clock) as maxcare:
        headers = {
            "Authorization": f"Bearer {maxcare.api_key}",
            "X-Organization-Id": maxcare.organization_id,
        }
        with httpx.Client(base_url=maxcare.url + "/", headers=headers) as api:
            ok = api.get("tasks")
            assert ok.headers["X-RateLimit-Limit"] == "2"
            assert ok.headers["X-RateLimit-Remaining"] == "1"
            clock.advance(0.2)
            assert api.get("tasks").status_code == 200
            limited = api.get("tasks")
            assert limited.status_code == 429
            assert limited.headers["Retry-After"] == "1"
            assert limited.headers["X-RateLimit-Remaining"] == "0"
            assert int(limited.headers["X-RateLimit-Reset"]) >= int(time.time())
            assert limited.json()["code"] == "rate_limit_exceeded"
            assert maxcare.rate_limited_count == 1
            clock.advance(0.1)  # the first request leaves the window, the second is still in it
            assert api.get("tasks").status_code == 200
            assert api.get("tasks").status_code == 429
            assert maxcare.rate_limited_count == 2


async def test_maxcare_from_async_client(maxcare: FakeMaxCare) -> None:
    headers = {
        "Authorization": f"Bearer {maxcare.api_key}",
        "X-Organization-Id": maxcare.organization_id,
    }
    async with httpx.AsyncClient(base_url=maxcare.url + "/", headers=headers) as api:
        answer = await api.post("tasks", json=_task_body(maxcare))
    assert answer.status_code == 201


def test_maxcare_reachable_from_a_subprocess(maxcare: FakeMaxCare) -> None:
    script = (
        "import sys, urllib.request, urllib.error\n"
        "try: urllib.request.urlopen(sys.argv[1])\n"
        "except urllib.error.HTTPError as e: print(e.code)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, maxcare.url + "/tasks"],
        capture_output=True, text=True, timeout=10, check=True,
    )
    assert out.stdout.strip() == "401"
    assert maxcare.requests("GET", "tasks")


# --- FakeMaxCare refuses what MaxCare refuses ------------------------------------------------


def test_maxcare_notes_exist_only_once_registered(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    body = _task_body(maxcare, noteId="nte_" + "b" * 32)
    assert api.get(f"notes/{body['noteId']}").status_code == 404
    refused = api.post("tasks", json=body)
    assert (refused.status_code, refused.json()["message"]) == (404, "Note not found")
    assert not maxcare.tasks
    note = maxcare.add_note(body["noteId"])
    assert api.get(f"notes/{note['id']}").json()["data"]["patient"] == note["patient"]
    assert api.post("tasks", json=body).status_code == 201
    fresh = maxcare.add_note()["id"]
    assert fresh.startswith("nte_") and api.post("tasks", json={**body, "noteId": fresh}).is_success
    with FakeMaxCare(any_note=True) as lenient:
        lenient_body = _task_body(lenient, noteId="nte_" + "c" * 32)
        lenient.notes.clear()
        headers = {
            "Authorization": f"Bearer {lenient.api_key}",
            "X-Organization-Id": lenient.organization_id,
        }
        answer = httpx.post(f"{lenient.url}/tasks", json=lenient_body, headers=headers)
        assert answer.status_code == 201


@pytest.mark.parametrize(
    "send",
    [
        {"content_type": "text/plain"},
        {"content_type": "application/x-www-form-urlencoded"},
        {"content_type": None},
    ],
)
def test_maxcare_json_bodies_need_the_json_content_type(
    maxcare: FakeMaxCare, api: httpx.Client, send: dict[str, str | None]
) -> None:
    body = json.dumps(_task_body(maxcare))
    headers = {"Content-Type": send["content_type"]} if send["content_type"] else {}
    refused = api.post("tasks", content=body, headers=headers)
    assert refused.request.headers.get("Content-Type") == send["content_type"]
    assert refused.status_code == 400 and "Content-Type" in refused.json()["message"]
    assert not maxcare.tasks
    charset = {"Content-Type": "application/json; charset=utf-8"}
    assert api.post("tasks", content=body, headers=charset).status_code == 201


def test_maxcare_rate_limit_headers_on_every_answer(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    answers = [
        api.get("providers"),
        api.post("tasks", json=_task_body(maxcare)),
        api.get("tasks/nope"),
        api.get("notes/nte_" + "d" * 32),
        httpx.get(maxcare.url + "/tasks"),
        api.get("tasks", headers={"X-Organization-Id": "org_" + "0" * 32}),
    ]
    maxcare.set_down(True)
    answers.append(api.get("tasks"))
    assert [a.status_code for a in answers] == [200, 201, 400, 404, 401, 403, 503]
    remaining = [int(a.headers["X-RateLimit-Remaining"]) for a in answers]
    assert remaining == list(range(999, 992, -1))
    assert {a.headers["X-RateLimit-Limit"] for a in answers} == {"1000"}
    assert all(int(a.headers["X-RateLimit-Reset"]) >= int(time.time()) for a in answers)
    with FakeMaxCare(rate_limit=None) as unlimited:
        assert "X-RateLimit-Limit" not in httpx.get(unlimited.url + "/tasks").headers


def test_maxcare_normalise_notes_mode(maxcare: FakeMaxCare, api: httpx.Client) -> None:
    untidy = "  Review the plan\r\nfor Impression #3\r \n"
    exact = api.post("tasks", json=_task_body(maxcare, notes=untidy)).json()["data"]
    assert exact["notes"] == untidy
    maxcare.normalise_notes = True
    tidied = api.post("tasks", json=_task_body(maxcare, notes=untidy)).json()["data"]
    assert tidied["notes"] == "Review the plan\nfor Impression #3"
    assert api.get(f"tasks/{tidied['id']}").json()["data"]["notes"] == tidied["notes"]


def test_maxcare_stall_holds_the_post_then_drops_it_unapplied(
    maxcare: FakeMaxCare, api: httpx.Client
) -> None:
    maxcare.stall_next("POST", "/tasks", 30.0)
    with pytest.raises(httpx.ReadTimeout):  # held past the client's timeout
        api.post("tasks", json=_task_body(maxcare), timeout=0.2)
    maxcare.stall_next("POST", "/tasks", 0.2)
    with pytest.raises(httpx.RemoteProtocolError):  # the end of the stall: dropped, not done
        api.post("tasks", json=_task_body(maxcare), timeout=10)
    assert not maxcare.tasks
    assert len(maxcare.requests("POST", "/tasks")) == 2
    assert api.post("tasks", json=_task_body(maxcare)).status_code == 201  # faults used up
