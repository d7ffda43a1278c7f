"""Each workspace's rows, on both databases: links, their audit, tasks, message keys and
preferences are read and written as the workspace being served, and never another's."""

from __future__ import annotations

import pytest

from bot import tenancy
from bot.db.interface import Store
from tests.support.ids import NOTE, PRV_A, PRV_B, TASK
from tests.support.tenants import workspace
from tests.unit.db.conftest import Backend
from tests.unit.db.test_store import submission

NORTH, SOUTH = workspace("T0NORTH"), workspace("T0SOUTH")
GRID = workspace("E0GRID", enterprise=True)


def test_a_person_is_linked_once_per_workspace(store: Store) -> None:
    with tenancy.serving(NORTH):
        store.set_link("UNURSE", PRV_A, actor="UADMIN")
        store.set_link("UDOC", PRV_B, actor="UADMIN")
    with tenancy.serving(SOUTH):
        assert store.get_link("UNURSE") is None
        assert store.get_links(["UNURSE", "UDOC"]) == {}
        assert store.list_links() == [] and store.count_links() == 0
        assert store.link_events() == [] and store.users_for_providers([PRV_A]) == {}
        store.set_link("UNURSE", PRV_B, actor="USOUTHADMIN")  # the same ID, another workspace
        assert store.remove_link("UDOC", actor="USOUTHADMIN") is None  # not South's to remove
        assert not store.mark_stale("UDOC", "slack_deleted")
    with tenancy.serving(NORTH):
        assert [(x.slack_user_id, x.provider_id) for x in store.list_links()] == [
            ("UDOC", PRV_B), ("UNURSE", PRV_A),
        ]  # fmt: skip
        assert [e.actor for e in store.link_events()] == ["UADMIN", "UADMIN"]
        assert store.users_for_providers([PRV_A]) == {PRV_A: "UNURSE"}
        assert store.get_link("UDOC") is not None and store.get_link("UDOC").stale_reason is None  # type: ignore[union-attr]
    with tenancy.serving(SOUTH):
        assert store.get_link("UNURSE").provider_id == PRV_B  # type: ignore[union-attr]
    assert store.count_links_by_workspace() == {"T0NORTH": 2, "T0SOUTH": 1}


def test_memory_of_links_is_kept_per_workspace(store: Store) -> None:
    with tenancy.serving(NORTH):
        assert store.get_links(["UNURSE"]) == {}  # remembered as not linked, in North
    with tenancy.serving(SOUTH):
        store.set_link("UNURSE", PRV_B, actor="USOUTHADMIN")
    with tenancy.serving(NORTH):
        assert store.get_links(["UNURSE"]) == {}
    with tenancy.serving(SOUTH):
        assert set(store.get_links(["UNURSE"])) == {"UNURSE"}


def test_an_import_reads_and_writes_one_workspace(store: Store) -> None:
    with tenancy.serving(NORTH):
        store.set_link("UNURSE", PRV_A, actor="UADMIN")
    with tenancy.serving(SOUTH):
        assert store.import_links([("UNURSE", PRV_A), ("UDOC", PRV_B)], actor="cli") == 2
        events = store.link_events()
        assert [(e.slack_user_id, e.old_provider_id) for e in events] == [
            ("UNURSE", None),
            ("UDOC", None),
        ]  # fmt: skip: North's link is not South's previous value
    with tenancy.serving(NORTH):
        assert [x.slack_user_id for x in store.list_links()] == ["UNURSE"]
        assert len(store.link_events()) == 1


def test_tasks_and_message_keys_belong_to_their_workspace(store: Store) -> None:
    with tenancy.serving(NORTH):
        sub, inserted = store.add_submission(submission("VNORTH", message_key="C1:1.0"))
        assert inserted and sub.workspace == "T0NORTH"
        store.update_submission("VNORTH", task_id=TASK, state="created")
        store.record_task(task_id=TASK, view_id="VNORTH", note_id=NOTE, created_by="UNURSE")
        assert store.task_for_message("C1:1.0") == TASK
        assert [t["task_id"] for t in store.recent_tasks("UNURSE")] == [TASK]
    with tenancy.serving(SOUTH):
        assert store.get_task(TASK) is None  # a task ID typed in another workspace
        assert store.recent_tasks("UNURSE") == []
        assert store.task_for_message("C1:1.0") is None
        store.record_task(task_id=TASK, status="done")  # cannot move North's task to South
    with tenancy.serving(NORTH):
        task = store.get_task(TASK)
        assert task is not None and task["workspace"] == "T0NORTH"
    stored = store.get_submission("VNORTH")  # the outbox reads its rows by Slack's view ID
    assert stored is not None and stored.workspace == "T0NORTH"


def test_preferences_are_per_workspace(store: Store) -> None:
    with tenancy.serving(NORTH):
        store.set_notify_assigned("UDOC", False)
        assert store.notify_assigned(["UDOC"]) == {"UDOC": False}
    with tenancy.serving(SOUTH):
        assert store.notify_assigned(["UDOC"]) == {"UDOC": True}


def test_an_org_wide_install_is_one_workspace_for_every_team(store: Store) -> None:
    with tenancy.serving(GRID):
        store.set_link("W0NURSE", PRV_A, actor="W0ADMIN")
    assert store.count_links_by_workspace() == {"E0GRID": 1}


def test_rows_of_one_workspace_stay_single_workspace_modes(store: Store) -> None:
    store.set_link("UNURSE", PRV_A, actor="UADMIN")
    assert store.count_links_by_workspace() == {tenancy.SINGLE: 1}
    with tenancy.serving(NORTH):
        assert store.get_link("UNURSE") is None


def test_a_strict_store_refuses_to_answer_for_no_workspace(backend: Backend) -> None:
    strict = backend.open(scope=tenancy.served_key)
    with pytest.raises(tenancy.NotServing):
        strict.get_links(["UNURSE"])
    with pytest.raises(tenancy.NotServing):
        strict.add_submission(submission("VNOWHERE"))
    assert strict.get_submission("VNOWHERE") is None  # nothing was written
    with tenancy.serving(NORTH):
        strict.set_link("UNURSE", PRV_A, actor="UADMIN")
        assert strict.get_link("UNURSE") is not None


def test_an_uninstalled_workspaces_work_ends_and_its_drafts_are_cleared(
    store: Store, clock: object
) -> None:
    with tenancy.serving(NORTH):
        store.add_submission(submission("VOPEN"))
        store.add_submission(submission("VFAILED"))
        store.update_submission("VFAILED", state="failed")
        store.add_submission(submission("VDONE"))
        store.update_submission("VDONE", state="confirmed", confirmed_at="2026-03-20", notes="")
        store.record_task(task_id=TASK, view_id="VDONE", note_id=NOTE, created_by="UNURSE")
        store.update_task(TASK, follow_until="2026-03-21T00:00:00", watch_next_at="2026-03-21")
    with tenancy.serving(SOUTH):
        store.add_submission(submission("VSOUTH"))
    assert store.end_workspace_work("T0NORTH") == 2
    opened = store.get_submission("VOPEN")
    failed = store.get_submission("VFAILED")
    assert opened is not None and (opened.state, opened.notes) == ("uninstalled", "")
    assert failed is not None and (failed.state, failed.notes) == ("expired", "")
    assert store.claim_due_submissions("me", 30) == ["VSOUTH"]  # North's work is not taken up
    assert store.next_follow_at() is None and store.next_watch_at() is None
    south = store.get_submission("VSOUTH")
    assert south is not None and south.notes == "Review missing plan"
