"""bot.maxcare against httpx.MockTransport and a fake clock: no network, no real sleeps."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from bot import __version__, tenancy
from bot.maxcare import (
    BadRequest,
    Forbidden,
    MaxCareAmbiguous,
    MaxCareAPIError,
    MaxCareClient,
    MaxCareError,
    MaxCareUnavailable,
    NotFound,
    Provider,
    ProviderSummary,
    RateLimited,
    ServerError,
    Task,
    TaskPage,
    Unauthorized,
)
from tests.support.fakes import FakeMaxCare
from tests.support.ids import NOTE, PRV_A, TASK

KEY = "max_prd_ak_T0PS3CRETkey0123456789"
ORG = "org_7e2c8cfeb7a94deb986de7012589e72b"
PATIENT_TEXT = "Sarah Johnson, DOB 1985-03-15: biopsy result pending"

# Example bodies copied from openapi-v4.json (tests must not read files outside the repo).
TASK_EXAMPLE: dict[str, Any] = {
    "id": TASK,
    "status": "not_started",
    "syncStatus": "synced",
    "notes": "Review missing plan for Impression #3",
    "noteId": NOTE,
    "ehrType": "modmed",
    "assignedProviders": [
        {
            "id": PRV_A,
            "firstName": "James",
            "lastName": "Wilson",
            "displayFirstName": "Dr. James",
            "displayLastName": "Wilson, MD",
            "username": "jwilson",
            "roles": ["Physician"],
            "individualNpi": "1234567890",
            "canFinalize": True,
            "canCosign": False,
        }
    ],
    "createdAt": "2026-03-20 18:35:10.209452+00",
    "updatedAt": "2026-03-23 03:15:47.285+00",
}
PROVIDER_EXAMPLE: dict[str, Any] = {
    "id": PRV_A,
    "firstName": "James",
    "lastName": "Wilson",
    "displayFirstName": "Dr. James",
    "displayLastName": "Wilson, MD",
    "roles": ["Physician", "Surgeon"],
    "username": "jwilson",
    "individualNpi": "1234567890",
    "canFinalize": True,
    "canCosign": False,
    "createdAt": "2024-06-01T08:00:00.000Z",
    "updatedAt": "2025-02-10T16:45:00.000Z",
}
RATE_LIMIT_BODY = {
    "code": "rate_limit_exceeded",
    "message": "Rate limit exceeded. Maximum 1000 requests per 60 seconds.",
    "trace_id": "d4e5f6a7-b8c9-0123-defg-234567890123",
}

Reply = Callable[[], httpx.Response] | Exception


class FakeTime:
    """Injected clock + sleep: records sleeps and (optionally) moves the clock forward."""

    def __init__(self, advance: bool = True) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.advance = advance

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return 1_800_000_000.0 + self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.advance:
            self.now += seconds


class Server:
    """MockTransport handler: replays replies in order (the last one repeats), records requests."""

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        return reply()


def ok(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    return lambda: httpx.Response(status, json={"code": "success", "data": data}, headers=headers)


def fail(status: int, body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    if isinstance(body, str):
        return lambda: httpx.Response(status, text=body, headers=headers)
    return lambda: httpx.Response(status, json=body, headers=headers)


def page(key: str, items: list[Any], number: int, total_pages: int) -> Reply:
    pagination = {"page": number, "pageSize": 100, "totalCount": 0, "totalPages": total_pages}
    return ok({key: items, "pagination": pagination})


def client_for(server: Server, fake: FakeTime | None = None, **kwargs: Any) -> MaxCareClient:
    fake = fake or FakeTime()
    options: dict[str, Any] = {"base_url": "https://api.maxcare.test/v4", "api_key": KEY}
    options.update(kwargs)
    return MaxCareClient(
        organization_id=ORG,
        transport=httpx.MockTransport(server),
        clock=fake.clock,
        sleep=fake.sleep,
        wall_clock=fake.wall,
        **options,
    )


async def create(client: MaxCareClient) -> Task:
    return await client.create_task(
        note_id=NOTE, provider_id=PRV_A, notes=PATIENT_TEXT, assignee_ids=[PRV_A]
    )


# --- Requests: headers, paths, parameters, bodies


async def test_headers_on_every_request() -> None:
    server = Server(ok(TASK_EXAMPLE))
    async with client_for(server, api_key=SecretStr(KEY)) as client:
        await client.get_task(TASK)
        await create(client)
    for request in server.requests:
        assert request.headers["Authorization"] == f"Bearer {KEY}"
        assert request.headers["X-Organization-Id"] == ORG
        assert request.headers["Accept"] == "application/json"
        assert request.headers["User-Agent"] == f"maxcare-tasks-slack/{__version__} (+httpx)"


@pytest.mark.parametrize(
    "base_url", ["https://api.maxcare.test/v4", "https://api.maxcare.test/v4/"]
)
async def test_relative_paths_keep_the_version_prefix(base_url: str) -> None:
    server = Server(ok(TASK_EXAMPLE))
    async with client_for(server, base_url=base_url) as client:
        await client.get_task(TASK)
        await create(client)
    assert [r.url.path for r in server.requests] == [f"/v4/tasks/{TASK}", "/v4/tasks"]


async def test_create_task_body_and_any_2xx() -> None:
    server = Server(ok(TASK_EXAMPLE, status=201))
    async with client_for(server) as client:
        task = await create(client)
    assert task.id == TASK
    request = server.requests[0]
    assert request.method == "POST"
    assert json.loads(request.content) == {
        "noteId": NOTE,
        "providerId": PRV_A,
        "notes": PATIENT_TEXT,
        "assigneeIds": [PRV_A],
    }


async def test_list_tasks_query_parameters() -> None:
    server = Server(page("tasks", [TASK_EXAMPLE], 1, 1))
    async with client_for(server) as client:
        result = await client.list_tasks(
            note_id=NOTE, provider_id=PRV_A, status=["not_started", "in_progress"], page=2
        )
        await client.list_tasks(status="in_progress")
    assert isinstance(result, TaskPage) and result.tasks[0].id == TASK
    params = server.requests[0].url.params
    assert params["status"] == "not_started,in_progress"
    assert (params["noteId"], params["providerId"]) == (NOTE, PRV_A)
    assert (params["page"], params["pageSize"]) == ("2", "100")
    assert server.requests[1].url.params["status"] == "in_progress"


async def test_ping_is_one_cheap_get() -> None:
    server = Server(page("providers", [PROVIDER_EXAMPLE], 1, 1))
    async with client_for(server) as client:
        await client.ping()
    (request,) = server.requests
    assert (request.method, request.url.path, request.url.params["pageSize"]) == (
        "GET",
        "/v4/providers",
        "1",
    )


async def test_all_tasks_follows_pages() -> None:
    other = {**TASK_EXAMPLE, "id": "tsk_" + "b" * 32}
    server = Server(
        page("tasks", [TASK_EXAMPLE], 1, 3), page("tasks", [other], 2, 3), page("tasks", [], 3, 3)
    )
    async with client_for(server) as client:
        tasks = await client.all_tasks(note_id=NOTE)
    assert [t.id for t in tasks] == [TASK, other["id"]]
    assert [r.url.params["page"] for r in server.requests] == ["1", "2", "3"]
    assert all(r.url.params["noteId"] == NOTE for r in server.requests)


async def test_all_providers_follows_pages_up_to_max_pages() -> None:
    server = Server(page("providers", [PROVIDER_EXAMPLE], 1, 9))
    async with client_for(server) as client:
        providers = await client.all_providers(search="wil", max_pages=4)
    assert len(providers) == 4 and len(server.requests) == 4
    assert server.requests[0].url.params["search"] == "wil"


# --- Models


async def test_task_example_parses() -> None:
    async with client_for(Server(ok(TASK_EXAMPLE))) as client:
        task = await client.get_task(TASK)
    assert (task.status, task.sync_status, task.ehr_type, task.note_id) == (
        "not_started",
        "synced",
        "modmed",
        NOTE,
    )
    assert task.created_at == datetime(2026, 3, 20, 18, 35, 10, 209452, tzinfo=UTC)
    assert task.updated_at == datetime(2026, 3, 23, 3, 15, 47, 285000, tzinfo=UTC)
    (provider,) = task.assigned_providers
    assert provider.display_name == "Dr. James Wilson, MD"
    assert provider.individual_npi == "1234567890" and provider.can_finalize is True
    assert "Impression" not in repr(task)  # notes are patient data: not in reprs


async def test_provider_example_parses() -> None:
    async with client_for(Server(ok(PROVIDER_EXAMPLE))) as client:
        provider = await client.get_provider(PRV_A)
    assert isinstance(provider, Provider)
    assert provider.roles == ["Physician", "Surgeon"]
    assert provider.created_at == datetime(2024, 6, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-20 18:35:10.209452+00", datetime(2026, 3, 20, 18, 35, 10, 209452, tzinfo=UTC)),
        ("2026-03-20 18:30:00+00", datetime(2026, 3, 20, 18, 30, tzinfo=UTC)),
        ("2024-08-15T09:30:00.000Z", datetime(2024, 8, 15, 9, 30, tzinfo=UTC)),
        ("2024-08-15T09:30:00", datetime(2024, 8, 15, 9, 30, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        ({"at": 1}, None),
    ],
)
def test_lenient_timestamps(raw: Any, expected: datetime | None) -> None:
    assert Task.model_validate({"id": TASK, "createdAt": raw}).created_at == expected


def test_unknown_fields_and_statuses_are_kept_or_ignored() -> None:
    task = Task.model_validate(
        {
            "id": TASK,
            "status": "waiting_for_ehr",
            "syncStatus": "failed",
            "priority": "high",
            "assignedProviders": None,
            "patient": {"id": "pat_1"},
        }
    )
    assert (task.status, task.sync_status, task.assigned_providers) == (
        "waiting_for_ehr",
        "failed",
        [],
    )
    assert Task(id=TASK, sync_status="synced").sync_status == "synced"  # populate by name


def test_display_name_fallbacks() -> None:
    assert ProviderSummary(id=PRV_A, first_name="James", last_name="Wilson").display_name == (
        "James Wilson"
    )
    assert ProviderSummary(id=PRV_A, display_first_name=" ", username="jw").display_name == "jw"
    assert ProviderSummary(id=PRV_A).display_name == PRV_A


# --- Errors


@pytest.mark.parametrize(
    ("status", "code", "message", "cls"),
    [
        (400, "bad_request", "'noteId' must be a valid ID", BadRequest),
        (401, "unauthorized", "Invalid or missing API key", Unauthorized),
        (403, "forbidden", "Insufficient scope. Required: write:tasks", Forbidden),
        (404, "not_found", "Note not found", NotFound),
        (429, "rate_limit_exceeded", "Rate limit exceeded.", RateLimited),
        (500, "internal_error", "Internal server error", ServerError),
        (503, "unavailable", "Try later", ServerError),
        (409, "conflict", "Undocumented", ServerError),
    ],
)
async def test_error_classes(status: int, code: str, message: str, cls: type) -> None:
    trace = "d4e5f6a7-b8c9-0123-defg-234567890123"
    server = Server(fail(status, {"code": code, "message": message, "trace_id": trace}))
    async with client_for(server, max_attempts=1) as client:
        with pytest.raises(cls) as info:
            await client.get_task(TASK)
    err = info.value
    assert isinstance(err, MaxCareAPIError) and isinstance(err, MaxCareError)
    assert (err.status, err.code, err.message, err.trace_id) == (status, code, message, trace)
    assert err.may_have_been_applied is (cls is ServerError)
    assert trace in err.user_message() and trace in str(err)
    assert f"/v4/tasks/{TASK}" in str(err)


async def test_bad_request_user_message() -> None:
    body = {"code": "bad_request", "message": "'noteId' must be a valid ID", "trace_id": "1234"}
    async with client_for(Server(fail(400, body))) as client:
        with pytest.raises(BadRequest) as info:
            await create(client)
    assert info.value.user_message("the task") == (
        "MaxCare refused the task: 'noteId' must be a valid ID (trace 1234)"
    )


@pytest.mark.parametrize("body", ["<html>502 Bad Gateway</html>", "", ["x"], {"message": {"a": 1}}])
async def test_lenient_error_bodies(body: Any) -> None:
    async with client_for(Server(fail(502, body)), max_attempts=1) as client:
        with pytest.raises(ServerError) as info:
            await client.get_task(TASK)
    err = info.value
    assert (err.status, err.code, err.message, err.trace_id) == (502, None, None, None)
    assert "502" in str(err) and "html" not in str(err)


async def test_unparseable_success_body_is_ambiguous() -> None:
    server = Server(lambda: httpx.Response(201, text="created!"))
    async with client_for(server) as client:
        with pytest.raises(MaxCareAmbiguous) as info:
            await create(client)
    assert info.value.may_have_been_applied and len(server.requests) == 1
    assert info.value.__cause__ is None


# --- Retries


async def test_429_retried_after_retry_after() -> None:
    fake = FakeTime()
    server = Server(fail(429, RATE_LIMIT_BODY, {"Retry-After": "7"}), ok(TASK_EXAMPLE))
    async with client_for(server, fake) as client:
        task = await create(client)  # POST too: a 429 was not applied
    assert task.id == TASK and len(server.requests) == 2
    assert fake.sleeps == [7.0]


async def test_429_retry_after_from_reset_header() -> None:
    fake = FakeTime()
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(fake.wall()) + 12)}
    server = Server(fail(429, RATE_LIMIT_BODY, headers), ok(TASK_EXAMPLE))
    async with client_for(server, fake) as client:
        assert (await client.get_task(TASK)).id == TASK
    assert fake.sleeps == [12.0]
    async with client_for(Server(fail(429, RATE_LIMIT_BODY, headers)), max_attempts=1) as client:
        with pytest.raises(RateLimited) as info:
            await client.get_task(TASK)
    assert info.value.retry_after == 12.0


async def test_429_longer_than_max_wait_is_not_waited_for() -> None:
    fake = FakeTime()
    server = Server(fail(429, RATE_LIMIT_BODY, {"Retry-After": "120"}))
    async with client_for(server, fake, max_wait_seconds=30) as client:
        with pytest.raises(RateLimited) as info:
            await client.get_task(TASK)
    assert len(server.requests) == 1 and fake.sleeps == []
    assert "in 120 s" in info.value.user_message()


@pytest.mark.parametrize(
    ("reply", "cls"),
    [
        (fail(500, {"code": "internal_error"}), ServerError),
        (httpx.ReadTimeout("timed out"), MaxCareAmbiguous),
        (httpx.RemoteProtocolError("Server disconnected"), MaxCareAmbiguous),
    ],
)
async def test_post_never_retried_when_it_may_have_been_applied(
    reply: Reply, cls: type[MaxCareError]
) -> None:
    server = Server(reply, ok(TASK_EXAMPLE))
    async with client_for(server) as client:
        with pytest.raises(cls) as info:
            await create(client)
    assert len(server.requests) == 1
    assert info.value.may_have_been_applied is True


@pytest.mark.parametrize("reply", [fail(500, {}), httpx.ReadTimeout("timed out")])
async def test_get_retried_on_server_error_and_timeout(reply: Reply) -> None:
    fake = FakeTime()
    server = Server(reply, ok(TASK_EXAMPLE))
    async with client_for(server, fake) as client:
        assert (await client.get_task(TASK)).id == TASK
    assert len(server.requests) == 2 and len(fake.sleeps) == 1


async def test_connect_error_retried_then_succeeds_even_for_post() -> None:
    server = Server(httpx.ConnectError("connection refused"), ok(TASK_EXAMPLE, status=201))
    async with client_for(server) as client:
        assert (await create(client)).id == TASK
    assert len(server.requests) == 2


async def test_max_attempts_bound_and_backoff_cap() -> None:
    fake = FakeTime()
    server = Server(fail(503, {}))
    async with client_for(server, fake, max_attempts=3, max_wait_seconds=2) as client:
        with pytest.raises(ServerError):
            await client.list_tasks()
    assert len(server.requests) == 3
    assert len(fake.sleeps) == 2 and all(0 < s <= 2 for s in fake.sleeps)


async def test_unavailable_after_max_attempts() -> None:
    server = Server(httpx.ConnectError("Name or service not known"))
    async with client_for(server, max_attempts=2) as client:
        with pytest.raises(MaxCareUnavailable) as info:
            await create(client)
    assert len(server.requests) == 2
    assert info.value.may_have_been_applied is False
    assert "was not sent" in info.value.user_message()


# --- Rate budget


async def test_sliding_window_budget() -> None:
    fake = FakeTime()
    server = Server(ok(TASK_EXAMPLE))
    async with client_for(server, fake, rate_limit_per_minute=3) as client:
        for _ in range(3):
            await client.get_task(TASK)
            fake.now += 10  # sends at 1000, 1010, 1020
        assert client.budget_wait_seconds() == 30.0
        await client.get_task(TASK)  # waits until the send at 1000 leaves the window
        assert fake.sleeps == [30.0] and fake.now == 1060.0
        assert client.budget_wait_seconds() == 10.0  # next: the send at 1010 must leave
    assert len(server.requests) == 4


async def test_budget_holds_under_concurrency() -> None:
    fake = FakeTime()
    sent: list[float] = []
    reply = ok(TASK_EXAMPLE)

    def at_time() -> httpx.Response:
        sent.append(fake.now)
        return reply()

    server = Server(at_time)
    async with client_for(server, fake, rate_limit_per_minute=2) as client:
        await asyncio.gather(*(client.get_task(TASK) for _ in range(5)))
    assert len(sent) == 5
    for t in sent:  # never more than 2 in any 60-second window
        assert sum(1 for u in sent if t <= u < t + 60) <= 2
    assert max(sent) - min(sent) >= 120


class SharedTime(FakeTime):
    """One clock for every sleeper: a sleep ends at its own deadline (once the others due
    before it have run), instead of adding its length to the others' as FakeTime does."""

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        deadline = self.now + seconds
        await asyncio.sleep(0)  # the others asleep until then wake in the order they slept
        self.now = max(self.now, deadline)


async def test_a_workspace_waiting_for_the_budget_is_served_in_turn() -> None:
    """One clinic's backlog queued for a spent budget does not all go first: the other
    clinic's request waits for one request of each workspace ahead of it, not the backlog."""
    fake = SharedTime()
    served: list[tuple[str, float]] = []  # (workspace, when)

    def record() -> httpx.Response:
        served.append((tenancy.current().key, fake.now))  # type: ignore[union-attr]
        return ok(TASK_EXAMPLE)()

    async def get(key: str) -> None:
        with tenancy.serving(tenancy.Workspace(key, key, None, "xoxb-" + key, None, ORG)):
            await client.get_task(TASK)

    async with MaxCareClient(
        base_url="https://api.maxcare.test/v4", api_key=KEY, organization_id="",
        organization=lambda: ORG, workspace=lambda: (w.key if (w := tenancy.current()) else None),
        rate_limit_per_minute=2, transport=httpx.MockTransport(Server(record)),
        clock=fake.clock, sleep=fake.sleep, wall_clock=fake.wall,
    ) as client:  # fmt: skip
        backlog = [asyncio.create_task(get("TA")) for _ in range(10)]
        while len(served) < 2:  # A has spent the window's budget; its backlog waits
            await asyncio.sleep(0)
        await asyncio.gather(get("TB"), *backlog)
    assert [k for k, _ in served].count("TA") == 10 and served[-1] == ("TA", 1300.0)
    # A's backlog takes five windows more; B's request goes in the next window but one (the
    # one after the request holding the turn when it came, and A's next, whose turn was first).
    assert ("TB", 1120.0) in served, served


async def test_remaining_zero_pauses_until_reset_bounded() -> None:
    fake = FakeTime()
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(fake.wall()) + 5)}
    server = Server(ok(TASK_EXAMPLE, headers=headers), ok(TASK_EXAMPLE))
    async with client_for(server, fake) as client:
        await client.get_task(TASK)
        assert client.budget_wait_seconds() == 5.0
        await client.get_task(TASK)
        assert fake.sleeps == [5.0]
    far = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(fake.wall()) + 500)}
    async with client_for(Server(ok(TASK_EXAMPLE, headers=far)), fake) as client:
        await client.get_task(TASK)
        assert client.budget_wait_seconds() == 30.0


# --- Secrets and patient data stay out of errors and logs


async def test_secrets_absent_from_errors_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = {"code": "unauthorized", "message": f"Invalid API key {KEY}", "trace_id": "t-1"}
    server = Server(
        ok(TASK_EXAMPLE),
        fail(401, echo),
        fail(400, {"code": "bad_request", "message": "bad", "trace_id": "t-2"}),
        httpx.ReadTimeout("timed out"),
        lambda: httpx.Response(201, text=f"oops {PATIENT_TEXT}"),
    )
    errors: list[MaxCareError] = []
    async with client_for(server) as client:
        await create(client)
        for _ in range(4):
            try:
                await create(client)
            except MaxCareError as err:
                errors.append(err)
    expected = [Unauthorized, BadRequest, MaxCareAmbiguous, MaxCareAmbiguous]
    assert [type(e) for e in errors] == expected
    for error in errors:
        for text in (str(error), repr(error), error.user_message()):
            assert KEY not in text and PATIENT_TEXT not in text
    assert caplog.records, "the client should log its requests"
    assert any(getattr(r, "maxcare_status", None) == 401 for r in caplog.records)
    assert "t-2" in caplog.text
    for record in caplog.records:
        dump = record.getMessage() + repr(record.__dict__)
        assert KEY not in dump and PATIENT_TEXT not in dump


async def test_a_real_request_tries_no_failing_import(
    maxcare: FakeMaxCare, monkeypatch: pytest.MonkeyPatch
) -> None:
    """httpcore and anyio look up the event loop library on every lock and event; a missing
    module would be searched for on sys.path each time (sniffio is a dependency for this)."""
    import builtins

    failed: list[str] = []
    real_import = builtins.__import__

    def counting_import(name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return real_import(name, *args, **kwargs)
        except ImportError:
            failed.append(name)
            raise

    provider = maxcare.add_provider()["id"]
    async with MaxCareClient(
        base_url=maxcare.url, api_key=maxcare.api_key, organization_id=maxcare.organization_id
    ) as client:
        await client.get_provider(provider)  # the first request may import modules for good
        monkeypatch.setattr(builtins, "__import__", counting_import)
        await client.get_provider(provider)
        monkeypatch.setattr(builtins, "__import__", real_import)
    assert failed == []
