"""The membership janitor on moto: fed the table's real stream records (moto's DynamoDB Streams,
in Lambda's event shape), it removes memberships that point to nothing, whether left by an
interrupted delete or by a delete racing an add, and completes a large change left unfinished.
Time is the test's clock: the janitor's waits move it instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from benchmarks.harness import FixedClock
from devserver.dispatch import Dispatcher
from scim_provisioning.errors import ServiceUnavailable
from scim_provisioning.models import Deletion, MemberChange
from scim_provisioning.repository.items import deserialize
from scim_provisioning.repository.stream import item_changes
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from scim_provisioning.services.janitor import GSI_CATCH_UP, MembershipJanitor, NotYet
from scim_provisioning.services.memberships import STALE_AFTER
from scim_provisioning.timestamps import truncate_to_millis
from tests.integration.helpers import TableStream, call, new_group, new_user, run_in_threads
from tests.scim_samples import PATCH_OP

GROUPS = "/api/v1/scim/v2/Groups"
USERS = "/api/v1/scim/v2/Users"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


# ----------------------------------------------------------------------------- the stream
@pytest.fixture
def stream(dynamodb_client: Any, table_name: str) -> TableStream:
    return TableStream(dynamodb_client, table_name)


@pytest.fixture
def now(clock: FixedClock) -> FixedClock:
    """The test's clock set to the present, so that it agrees with the stream's record times."""
    clock.current = truncate_to_millis(datetime.now(UTC))
    return clock


@pytest.fixture
def janitor(app_runtime: Runtime, now: FixedClock) -> MembershipJanitor:
    """The janitor the function runs, waiting on the test's clock."""
    stores = app_runtime.stores

    def sleep(seconds: float) -> None:
        now.advance(seconds=seconds)

    writer = app_runtime.membership_writer
    return MembershipJanitor(stores.groups, stores.memberships, stores.people, writer, now, sleep)


# ----------------------------------------------------------------------------- helpers
def add(api: Dispatcher, token: str, group_id: str, *users: str) -> Any:
    operation = {"op": "add", "path": "members", "value": [{"value": user} for user in users]}
    return call(api, "PATCH", f"{GROUPS}/{group_id}", token, {"schemas": [PATCH_OP], "Operations": [operation]})


def scanned(table: Table) -> list[dict[str, Any]]:
    return [deserialize(item) for item in table.client.scan(TableName=table.name)["Items"]]


def orphans(table: Table) -> list[tuple[str, str]]:
    """Memberships whose user or group does not exist: (group, user)."""
    items = scanned(table)
    users = {item["uuid"] for item in items if item.get("entity") == "User"}
    groups = {item["uuid"] for item in items if item.get("entity") == "Group"}
    return [
        (item["groupUuid"], item["userUuid"])
        for item in items
        if item.get("entity") == "Membership" and (item["userUuid"] not in users or item["groupUuid"] not in groups)
    ]


def members_of(table: Table, group_id: str) -> set[str]:
    return {
        item["userUuid"]
        for item in scanned(table)
        if item.get("entity") == "Membership" and item["groupUuid"] == group_id
    }


def group_item(table: Table, group_id: str) -> dict[str, Any] | None:
    found = [item for item in scanned(table) if item.get("entity") == "Group" and item["uuid"] == group_id]
    return found[0] if found else None


# ----------------------------------------------------------------------------- interrupted deletes
def test_orphans_left_by_an_interrupted_user_delete_leave_their_groups(
    api: Dispatcher,
    token: str,
    app_runtime: Runtime,
    table: Table,
    stream: TableStream,
    janitor: MembershipJanitor,
    now: FixedClock,
):
    # given a user in two groups, deleted by a request that stopped after its own transaction
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    first = new_group(api, token, "First", [ada, bob])
    second = new_group(api, token, "Second", [ada])
    person = app_runtime.stores.people.get_person(first_org(table, first), ada)
    assert person is not None
    app_runtime.stores.people.delete_person(person, Deletion(None, app_runtime.clock.now()))
    assert sorted(orphans(table)) == sorted([(first["id"], ada), (second["id"], ada)])

    # when the janitor reads the stream
    started = now.now()
    janitor.handle(item_changes(stream.event()))

    # then, once GSI1 had time to catch up, the user left both groups as a deletion through the
    # API leaves them: each group's version moved with a change record
    assert orphans(table) == []
    assert members_of(table, first["id"]) == {bob}
    assert now.now() >= started + GSI_CATCH_UP - timedelta(seconds=1)  # waited on the clock, not in time
    for group in (first, second):
        item = group_item(table, group["id"])
        assert item is not None and item["version"] == 2
        (record,) = [
            r
            for r in scanned(table)
            if r.get("entity") == "MembershipChange" and r["removed"] == [ada] and r["groupUuid"] == group["id"]
        ]
        assert record["status"] == "done" and record["version"] == 2


def first_org(table: Table, group: dict[str, Any]) -> str:
    item = group_item(table, group["id"])
    assert item is not None
    return str(item["organizationUuid"])


def test_orphans_left_by_an_interrupted_group_delete_are_deleted(
    api: Dispatcher, token: str, app_runtime: Runtime, table: Table, stream: TableStream, janitor: MembershipJanitor
):
    # given a group of three, deleted by a request that stopped after the group's transaction
    users = [new_user(api, token, name) for name in ("ada", "bob", "cyd")]
    group = new_group(api, token, "Doomed", users)
    stored = app_runtime.stores.groups.get_group(first_org(table, group), group["id"])
    assert stored is not None
    app_runtime.stores.groups.delete_group(stored, Deletion(None, app_runtime.clock.now()))
    assert len(orphans(table)) == 3

    # when the janitor reads the stream, then no membership of the group is left
    janitor.handle(item_changes(stream.event()))
    assert orphans(table) == []


def test_a_membership_written_after_its_user_was_deleted_is_removed(
    api: Dispatcher, token: str, app_runtime: Runtime, table: Table, stream: TableStream, janitor: MembershipJanitor
):
    # given a group, and a membership written straight after its user's deletion (what a large
    # change's batches do when the user is deleted between its check and its write)
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    group = new_group(api, token, "Eng", [bob])
    organization = first_org(table, group)
    person = app_runtime.stores.people.get_person(organization, ada)
    assert person is not None
    call(api, "DELETE", f"{USERS}/{ada}", token)
    stored = app_runtime.stores.groups.get_group(organization, group["id"])
    assert stored is not None
    app_runtime.stores.memberships.apply_change(stored, MemberChange("c", {ada: None}, [], None, stored.created_at))
    assert orphans(table) == [(group["id"], ada)]

    # when the janitor reads the stream, then the membership is gone and the group keeps bob
    janitor.handle(item_changes(stream.event()))
    assert orphans(table) == [] and members_of(table, group["id"]) == {bob}


# ----------------------------------------------------------------------------- races
@pytest.mark.parametrize("deleted", ["user", "group"])
def test_deletes_racing_adds_leave_no_orphan_once_the_janitor_ran(
    api: Dispatcher, token: str, table: Table, stream: TableStream, janitor: MembershipJanitor, deleted: str
):
    # given ten pairs of a user and a group
    pairs = [(new_user(api, token, f"user{n}"), new_group(api, token, f"Group {n}")["id"]) for n in range(10)]

    # when, for each pair on real threads, the user is added to the group while one of them is deleted
    calls = []
    for user, group in pairs:
        calls.append(lambda user=user, group=group: add(api, token, group, user))
        target = f"{USERS}/{user}" if deleted == "user" else f"{GROUPS}/{group}"
        calls.append(lambda target=target: call(api, "DELETE", target, token))
    answers = run_in_threads(calls)

    # then every answer is a clean one, and once the janitor has read the stream no membership
    # points to nothing
    assert {answer.status for answer in answers} <= {200, 204, 400, 404}
    janitor.handle(item_changes(stream.event()))
    assert orphans(table) == []


# ----------------------------------------------------------------------------- unfinished changes
def test_a_large_change_left_unfinished_is_completed_once_stale(
    api: Dispatcher,
    token: str,
    app_runtime: Runtime,
    table: Table,
    stream: TableStream,
    janitor: MembershipJanitor,
    now: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
):
    # given 50 users added by a PATCH whose writer stopped after recording its intent
    users = [new_user(api, token, f"user{n}") for n in range(50)]
    group = new_group(api, token, "Everyone")
    monkeypatch.setattr(app_runtime.stores.memberships, "apply_change", unavailable)
    assert add(api, token, group["id"], *users).status == 200
    monkeypatch.undo()
    assert members_of(table, group["id"]) == set()
    started = now.now()

    # when the janitor reads the stream
    janitor.handle(item_changes(stream.event()))

    # then it waited (on the clock) until the change was stale, and completed it
    assert now.now() >= started + STALE_AFTER
    assert members_of(table, group["id"]) == set(users)
    item = group_item(table, group["id"])
    assert item is not None and "pendingChange" not in item and item["version"] == 2
    records = [r for r in scanned(table) if r.get("entity") == "MembershipChange" and r["groupUuid"] == group["id"]]
    assert [(r["status"], r["version"]) for r in records] == [("done", 2)]


def test_a_repair_due_after_the_invocation_ends_is_left_for_a_retry(
    api: Dispatcher, token: str, app_runtime: Runtime, table: Table, stream: TableStream, janitor: MembershipJanitor
):
    # given a user in a group, deleted by a request that stopped after its own transaction
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng", [ada])
    person = app_runtime.stores.people.get_person(first_org(table, group), ada)
    assert person is not None
    app_runtime.stores.people.delete_person(person, Deletion(None, app_runtime.clock.now()))
    removal = [change for change in item_changes(stream.event()) if change.event == "REMOVE"]

    # when the janitor gets the removal with less time left than the wait for GSI1 needs
    with pytest.raises(NotYet):
        janitor.handle(removal, seconds_left=lambda: 1.0)

    # then nothing was repaired yet (Lambda retries the batch), and the retry repairs it
    assert orphans(table) == [(group["id"], ada)]
    janitor.handle(removal, seconds_left=lambda: 120.0)
    assert orphans(table) == []


def unavailable(*_: Any, **__: Any) -> Any:
    raise ServiceUnavailable("injected by the test")


def test_orphans_left_before_the_janitor_existed_are_removed_by_the_upgrade(
    api: Dispatcher, token: str, app_runtime: Runtime, table: Table
):
    # given, as an earlier release left them (no stream for the janitor to read), a deleted
    # user's membership in a group that exists, and the memberships of a deleted group
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    kept = new_group(api, token, "Kept", [ada, bob])
    gone = new_group(api, token, "Gone", [bob])
    organization = first_org(table, kept)
    person = app_runtime.stores.people.get_person(organization, ada)
    stored = app_runtime.stores.groups.get_group(organization, gone["id"])
    assert person is not None and stored is not None
    app_runtime.stores.people.delete_person(person, Deletion(None, app_runtime.clock.now()))
    app_runtime.stores.groups.delete_group(stored, Deletion(None, app_runtime.clock.now()))
    assert len(orphans(table)) == 2

    # when scim-admin upgrade runs, twice
    first = app_runtime.upgrades.upgrade_all().as_document()
    second = app_runtime.upgrades.upgrade_all().as_document()

    # then both were removed the first time (the user's with its group's version moved), and
    # the second run found nothing to do
    assert orphans(table) == [] and members_of(table, kept["id"]) == {bob}
    assert first["repairs"].get("orphaned membership") == 2
    assert "orphaned membership" not in second["repairs"]
    item = group_item(table, kept["id"])
    assert item is not None and item["version"] == 2
