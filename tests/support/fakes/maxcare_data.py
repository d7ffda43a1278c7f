"""FakeMaxCare's records (providers, notes, tasks) and the endpoints that read and write them.

Longer than 300 lines on purpose: each endpoint sits next to the records it reads, and validates
its input as openapi-v4.json says, so the fake refuses what MaxCare refuses.
"""

from __future__ import annotations

import copy
import math
import re
import secrets
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    429: "rate_limit_exceeded",
}
_ERROR_MESSAGES = {
    400: "Missing or invalid request parameter",
    401: "Invalid or missing API key",
    403: "Insufficient scope",
    404: "Resource not found",
    429: "Rate limit exceeded",
}


def error_response(
    status: int, message: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    """An error as MaxCare answers one: code, message, trace ID."""
    code = _ERROR_CODES.get(status, "internal_error" if status >= 500 else "error")
    body = {
        "code": code,
        "message": message or _ERROR_MESSAGES.get(status, "Internal server error"),
        "trace_id": str(uuid.uuid4()),
    }
    return web.json_response(body, status=status, headers=headers)


def prefixed_id(prefix: str) -> str:
    """A fresh MaxCare ID: the prefix, `_`, 32 hex digits."""
    return f"{prefix}_{uuid.uuid4().hex}"


def _valid_id(prefix: str, value: object) -> bool:
    """A well-formed MaxCare ID with this prefix."""
    return isinstance(value, str) and re.fullmatch(rf"{prefix}_[0-9a-f]{{32}}", value) is not None


def _iso_now() -> str:
    """Now as ISO 8601 with `Z`, the style of provider timestamps."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _pg_now() -> str:
    """Now in MaxCare's Postgres text style, e.g. `2026-03-20 18:35:10.209452+00`."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00"


class _ApiError(Exception):
    """Raised inside handlers to answer a MaxCare error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_SUMMARY_KEYS = (
    "id", "firstName", "lastName", "displayFirstName", "displayLastName", "username", "roles",
    "individualNpi", "canFinalize", "canCosign",
)
_CREATE_FIELDS = ("noteId", "providerId", "notes", "assigneeIds")


class MaxCareData:
    """The data part of FakeMaxCare (a mixin: FakeMaxCare holds the state).

    Several organizations: each provider, note and task belongs to one (`org_of`; anything
    not in it belongs to `organization_id`, the first), and a request sees only its own
    organization's, as MaxCare scopes everything to X-Organization-Id."""

    organization_id: str
    organizations: set[str]
    org_of: dict[str, str]  # provider, note or task ID -> its organization
    any_note: bool
    normalise_notes: bool
    default_sync_status: str
    providers: dict[str, dict[str, Any]]
    tasks: dict[str, dict[str, Any]]
    created_by: dict[str, str]  # task ID -> providerId; MaxCare does not return it
    notes: dict[str, dict[str, Any]]
    missing_notes: set[str]
    _lock: threading.Lock

    def add_provider(
        self,
        *,
        id: str | None = None,
        first_name: str = "James",
        last_name: str = "Wilson",
        display_first_name: str | None = None,
        display_last_name: str | None = None,
        username: str | None = None,
        roles: Iterable[str] = ("Physician",),
        organization_id: str | None = None,
    ) -> dict[str, Any]:
        """Register a provider (ProviderV3 shape) and return a copy."""
        now = _iso_now()
        provider_id = id or prefixed_id("prv")
        provider: dict[str, Any] = {
            "id": provider_id,
            "firstName": first_name,
            "lastName": last_name,
            "displayFirstName": display_first_name,
            "displayLastName": display_last_name,
            "username": username if username is not None else (first_name[:1] + last_name).lower(),
            "roles": list(roles),
            "individualNpi": "".join(secrets.choice("0123456789") for _ in range(10)),
            "canFinalize": True,
            "canCosign": False,
            "hidden": False,
            "createdAt": now,
            "updatedAt": now,
        }
        with self._lock:
            self.providers[provider_id] = provider
            self._belongs(provider_id, organization_id)
        return copy.deepcopy(provider)

    def add_organization(self, organization_id: str | None = None) -> str:
        """Another organization the app's API key may reach; returns its ID."""
        org = organization_id or prefixed_id("org")
        with self._lock:
            self.organizations.add(org)
        return org

    def organization_of(self, record_id: str) -> str:
        """The organization a provider, note or task belongs to."""
        with self._lock:
            return self.org_of.get(record_id, self.organization_id)

    def _belongs(self, record_id: str, organization_id: str | None) -> None:
        """Record which organization a record is in (lock held)."""
        if organization_id is not None and organization_id != self.organization_id:
            assert organization_id in self.organizations, f"unknown organization {organization_id}"
            self.org_of[record_id] = organization_id

    def _in(self, org: str, record_id: str) -> bool:
        """Whether a record is visible to a request for `org` (lock held)."""
        return self.org_of.get(record_id, self.organization_id) == org

    def add_note(
        self, note_id: str | None = None, *, organization_id: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        """Register a note (a fresh ID unless given): tasks can be made on it, GET /notes lists
        it; `fields` override the generated ones."""
        note = {**self._make_note(note_id or prefixed_id("nte")), **fields}
        with self._lock:
            self.notes[note["id"]] = note
            self._belongs(note["id"], organization_id)
        return copy.deepcopy(note)

    def add_task(
        self,
        *,
        assignee_ids: Iterable[str],
        status: str = "not_started",
        organization_id: str | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """Store a task as if made outside the app (the EHR, the Max AI UI); returns a copy."""
        now = _pg_now()
        with self._lock:
            task = {
                "id": prefixed_id("tsk"),
                "status": status,
                "syncStatus": "synced",
                "notes": "Task made outside Slack",
                "noteId": prefixed_id("nte"),
                "ehrType": "modmed",
                "assignedProviders": [
                    {k: self.providers[a].get(k) for k in _SUMMARY_KEYS} for a in assignee_ids
                ],
                "createdAt": now,
                "updatedAt": now,
                **fields,
            }
            self.tasks[task["id"]] = task
            self._belongs(task["id"], organization_id)
            return copy.deepcopy(task)

    def set_task(self, task_id: str, **fields: Any) -> dict[str, Any]:
        """Change a task as the EHR would (status, syncStatus, updatedAt…); returns a copy."""
        with self._lock:
            task = self.tasks[task_id]
            fields.setdefault("updatedAt", _pg_now())
            task.update(fields)
            return copy.deepcopy(task)

    def _make_note(self, note_id: str) -> dict[str, Any]:
        return {
            "id": note_id,
            "version": 1,
            "visitDate": _pg_now(),
            "status": "awaiting_sign",
            "aiStatus": "issues_found",
            "aiIssueCount": 1,
            "patient": {
                "id": "pat_8de030393a9e417ab2b3a8b8df183631",
                "mrn": "MRN-10042",
                "firstName": "Sarah",
                "lastName": "Johnson",
                "middleName": None,
                "gender": None,
                "dateOfBirth": "1985-03-15",
                "email": None,
                "phone": None,
                "avatar": None,
                "createdAt": "2024-08-15T09:30:00.000Z",
                "updatedAt": "2025-01-20T14:22:00.000Z",
            },
            "facility": {
                "id": "fac_b2c3d4e5f6a74b8c9d0e1f2a3b4c5d6e",
                "name": "West LA Dermatology",
                "timezone": "America/Los_Angeles",
            },
            "ehrType": "modmed",
            "assignedProviders": [],
        }

    def _route(
        self, method: str, path: str, query: Any, body: Any, org: str
    ) -> web.Response:
        """Dispatch one authorised request (for organization `org`) to its endpoint."""
        parts = [p for p in path.split("/") if p]
        try:
            if method == "POST" and parts == ["tasks"]:
                return web.json_response(
                    {"code": "success", "data": self._create_task(body, org)}, status=201
                )
            if method != "GET" or not parts or len(parts) > 2:
                raise _ApiError(404, f"Cannot {method} {path}")
            resource = parts[0]
            if len(parts) == 2:
                data = self._get_one(resource, parts[1], org)
            else:
                data = self._list(resource, query, org)
            return web.json_response({"code": "success", "data": data})
        except _ApiError as exc:
            return error_response(exc.status, exc.message)

    def _get_one(self, resource: str, item_id: str, org: str) -> dict[str, Any]:
        prefixes = {"tasks": ("tsk", "Task"), "providers": ("prv", "Provider"),
                    "notes": ("nte", "Note")}
        if resource not in prefixes:
            raise _ApiError(404, f"Cannot GET /{resource}/{item_id}")
        prefix, label = prefixes[resource]
        if not _valid_id(prefix, item_id):
            raise _ApiError(400, "'id' must be a valid ID")
        found: dict[str, Any] | None
        with self._lock:
            if resource == "notes":
                found = self.notes.get(item_id)
                if found is None and self._note_exists(item_id, org):
                    found = self._make_note(item_id)
                if found is None or item_id in self.missing_notes or not self._in(org, item_id):
                    raise _ApiError(404, "Note not found")
            else:
                found = (self.tasks if resource == "tasks" else self.providers).get(item_id)
            if found is None or not self._in(org, item_id):
                raise _ApiError(404, f"{label} not found")
            return copy.deepcopy(found)

    def _list(self, resource: str, query: Any, org: str) -> dict[str, Any]:
        page = _int_param(query, "page", 1, 1, None)
        page_size = _int_param(query, "pageSize", 100, 1, 100)
        with self._lock:
            if resource == "tasks":
                items = self._filter_tasks(query, org)
            elif resource == "providers":
                items = self._filter_providers(query, org)
            elif resource == "notes":
                items = [
                    n for n in self.notes.values()
                    if n["id"] not in self.missing_notes and self._in(org, n["id"])
                    and query.get("patientId") in (None, n["patient"]["id"])
                    and (query.get("providerId") is None
                         or any(p["id"] == query["providerId"] for p in n["assignedProviders"]))
                ]
            else:
                raise _ApiError(404, f"Cannot GET /{resource}")
            total = len(items)
            chunk = copy.deepcopy(items[(page - 1) * page_size : page * page_size])
        pagination = {
            "page": page,
            "pageSize": page_size,
            "totalCount": total,
            "totalPages": math.ceil(total / page_size),
        }
        return {resource: chunk, "pagination": pagination}

    def _filter_tasks(self, query: Any, org: str) -> list[dict[str, Any]]:
        statuses = set(filter(None, query.get("status", "").split(",")))
        tasks = list(reversed(self.tasks.values()))  # newest first
        return [
            t for t in tasks
            if self._in(org, t["id"]) and (not statuses or t["status"] in statuses)
            and query.get("noteId") in (None, t["noteId"])
            and (query.get("providerId") is None
                 or any(p["id"] == query["providerId"] for p in t["assignedProviders"]))
        ]

    def _filter_providers(self, query: Any, org: str) -> list[dict[str, Any]]:
        search = query.get("search", "").lower()
        hidden = query.get("hidden")
        found = []
        for p in self.providers.values():
            if not self._in(org, p["id"]):
                continue
            names = (p["firstName"], p["lastName"], p["displayFirstName"],
                     p["displayLastName"], p["username"])
            if search and not any(search in (n or "").lower() for n in names):
                continue
            if hidden is not None and p["hidden"] != (hidden == "true"):
                continue
            found.append(p)
        return found

    def _note_exists(self, note_id: str, org: str) -> bool:
        """A registered note of `org` (or any, with any_note) not made missing (lock held)."""
        known = (note_id in self.notes and self._in(org, note_id)) or (
            self.any_note and note_id not in self.notes
        )
        return known and note_id not in self.missing_notes

    def _create_task(self, body: Any, org: str) -> dict[str, Any]:
        """Validate a CreateTaskRequest and store the new task."""
        if not isinstance(body, dict):
            raise _ApiError(400, "Request body must be a JSON object")
        for name in _CREATE_FIELDS:
            if name not in body or body[name] is None:
                raise _ApiError(400, f"'{name}' is required")
        for name in body:
            if name not in _CREATE_FIELDS:
                raise _ApiError(400, f"'{name}' is not allowed")
        if not _valid_id("nte", body["noteId"]):
            raise _ApiError(400, "'noteId' must be a valid ID")
        if not _valid_id("prv", body["providerId"]):
            raise _ApiError(400, "'providerId' must be a valid ID")
        if not isinstance(body["notes"], str) or not body["notes"].strip():
            raise _ApiError(400, "'notes' must be a non-empty string")
        assignees = body["assigneeIds"]
        if not isinstance(assignees, list) or not assignees:
            raise _ApiError(400, "'assigneeIds' must contain at least 1 element")
        if not all(_valid_id("prv", a) for a in assignees):
            raise _ApiError(400, "'assigneeIds' must contain valid IDs")
        with self._lock:
            def known(provider_id: str) -> bool:
                return provider_id in self.providers and self._in(org, provider_id)

            if not known(body["providerId"]) or not all(known(a) for a in assignees):
                raise _ApiError(404, "Provider not found")
            if not self._note_exists(body["noteId"], org):
                raise _ApiError(404, "Note not found")
            now = _pg_now()
            task = {
                "id": prefixed_id("tsk"),
                "status": "not_started",
                "syncStatus": self.default_sync_status,
                "notes": _normalised(body["notes"]) if self.normalise_notes else body["notes"],
                "noteId": body["noteId"],
                "ehrType": "modmed",
                "assignedProviders": [
                    {k: self.providers[a].get(k) for k in _SUMMARY_KEYS}
                    for a in dict.fromkeys(assignees)
                ],
                "createdAt": now,
                "updatedAt": now,
            }
            self.tasks[task["id"]] = task
            self._belongs(task["id"], org)
            self.created_by[task["id"]] = body["providerId"]
            return copy.deepcopy(task)


def _normalised(notes: str) -> str:
    """Task notes as a service that tidies text stores them: `\n` line endings, trimmed."""
    return notes.replace("\r\n", "\n").replace("\r", "\n").strip()


def _int_param(query: Any, name: str, default: int, low: int, high: int | None) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _ApiError(400, f"'{name}' must be an integer") from None
    if value < low or (high is not None and value > high):
        limit = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise _ApiError(400, f"'{name}' must be {limit}")
    return value
