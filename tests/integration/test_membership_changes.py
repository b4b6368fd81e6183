"""Membership changes through the Groups and Users handlers on moto: one transaction with its
change record for a small change, a recorded intent completed idempotently for a large one,
the group's ETag moving with its members, members' display as the client sent it, and
answers built from what was written."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.harness import FixedClock, bulk_load_people, member_people
from benchmarks.request_counter import DynamoDBRequestCounter
from devserver.dispatch import Dispatcher
from scim_provisioning.errors import ServiceUnavailable
from scim_provisioning.repository import memberships as memberships_module
from scim_provisioning.repository.items import deserialize
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from scim_provisioning.services import versioning
from scim_provisioning.services.memberships import STALE_AFTER
from tests.integration.helpers import AdminFixture, call, document, new_group, new_user, scim_error
from tests.scim_samples import PATCH_OP

GROUPS = "/api/v1/scim/v2/Groups"
USERS = "/api/v1/scim/v2/Users"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
MISSING_USER = "7f5b1f43-0000-4000-8000-000000000000"


# ----------------------------------------------------------------------------- helpers
def add(*user_ids: str, display: str | None = None) -> dict[str, Any]:
    members = [{"value": user} if display is None else {"value": user, "display": display} for user in user_ids]
    return {"op": "add", "path": "members", "value": members}


def patch(api: Dispatcher, token: str, group_id: str, *operations: dict[str, Any], query: str = "") -> Any:
    return call(
        api, "PATCH", f"{GROUPS}/{group_id}{query}", token, {"schemas": [PATCH_OP], "Operations": list(operations)}
    )


def read_group(api: Dispatcher, token: str, group_id: str) -> dict[str, Any]:
    response = call(api, "GET", f"{GROUPS}/{group_id}", token)
    assert response.status == 200, response.body
    return document(response)


def items(table: Table, prefix: str) -> list[dict[str, Any]]:
    """Every item of the table whose sort key starts with ``prefix``."""
    return [
        deserialize(item)
        for item in table.client.scan(TableName=table.name)["Items"]
        if item["SK"]["S"].startswith(prefix)
    ]


def change_records(table: Table, group_id: str) -> list[dict[str, Any]]:
    return sorted(
        (record for record in items(table, "CHANGE#") if record["groupUuid"] == group_id),
        key=lambda record: (record.get("version") or 0, record["part"]),
    )


def memberships(table: Table, group_id: str) -> dict[str, Any]:
    return {item["userUuid"]: item.get("display") for item in items(table, "MEMBER#") if item["groupUuid"] == group_id}


def many_users(app_runtime: Runtime, table: Table, organization: str, count: int) -> list[str]:
    """``count`` users stored as a POST stores them, loaded in bulk; their ids in order."""
    people = member_people(
        organization, (f"bulk{number}@acme.test" for number in range(count)), app_runtime.clock.now()
    )
    bulk_load_people(table, organization, people)
    return [person.uuid for person in people]


def unavailable(*_: Any, **__: Any) -> Any:
    raise ServiceUnavailable("injected by the test")


@pytest.fixture
def token_uuid(app_runtime: Runtime, token: str) -> str:
    return app_runtime.authenticator.authenticate_scim(token).token_uuid


# ----------------------------------------------------------------------------- small changes
def test_a_small_change_is_one_transaction_with_its_change_record(
    api: Dispatcher, token: str, token_uuid: str, table: Table
):
    # given a group and two users
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    group = new_group(api, token, "Eng")
    counter = DynamoDBRequestCounter(table.client)

    # when one PATCH adds both
    with counter.measure() as tally:
        response = patch(api, token, group["id"], add(ada, bob), query="?excludedAttributes=members")

    # then one transaction wrote the memberships, the version and the change record
    assert response.status == 200, response.body
    assert document(response)["meta"]["version"] == 'W/"2"'
    assert tally.requests["TransactWriteItems"] == 1, tally.by_operation()
    assert tally.requests["BatchWriteItem"] == tally.requests["UpdateItem"] == 0, tally.by_operation()
    (record,) = change_records(table, group["id"])
    assert record["status"] == "done" and record["version"] == 2
    assert (record["added"], record["removed"]) == ([ada, bob], [])
    assert record["tokenUuid"] == token_uuid and record["organizationUuid"] == group_organization(table, group)
    assert record["expiresAtEpoch"] > 0 and record["changedAt"] == "2026-11-28T12:00:00.000Z"


def group_organization(table: Table, group: dict[str, Any]) -> str:
    (item,) = [item for item in items(table, "GROUP#") if item["uuid"] == group["id"]]
    return str(item["organizationUuid"])


def test_an_unknown_member_writes_nothing(api: Dispatcher, token: str, table: Table):
    # given a group and one real user
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng")

    # when a PATCH adds the user and an id no user has
    response = patch(api, token, group["id"], add(ada, MISSING_USER))

    # then it is a 400 naming the unknown id, and nothing was written
    error = scim_error(response, 400, "invalidValue")
    assert MISSING_USER in error["detail"] and ada not in error["detail"]
    assert memberships(table, group["id"]) == {} and change_records(table, group["id"]) == []
    assert read_group(api, token, group["id"])["meta"]["version"] == 'W/"1"'


def test_the_etag_moves_with_every_change_of_members_and_only_then(api: Dispatcher, token: str):
    # given a group and a user
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng")

    # when the user is added, removed, added again, and the list replaced by itself
    versions = [
        document(patch(api, token, group["id"], add(ada)))["meta"]["version"],
        document(patch(api, token, group["id"], {"op": "remove", "path": f'members[value eq "{ada}"]'}))["meta"][
            "version"
        ],
        document(patch(api, token, group["id"], add(ada)))["meta"]["version"],
        document(patch(api, token, group["id"], {"op": "replace", "path": "members", "value": [{"value": ada}]}))[
            "meta"
        ]["version"],
    ]

    # then each change moved the version, and the replacement that changed nothing did not
    assert versions == ['W/"2"', 'W/"3"', 'W/"4"', 'W/"4"']


def test_creating_a_group_reads_no_members(api: Dispatcher, token: str, table: Table):
    # given a counter on the table, and a token whose last use is already stamped
    counter = DynamoDBRequestCounter(table.client)
    call(api, "GET", f"{GROUPS}?count=1", token)

    # when a group without members is created
    with counter.measure() as tally:
        response = call(api, "POST", GROUPS, token, {"schemas": [GROUP_SCHEMA], "displayName": "Fresh"})

    # then the bearer's read and the group's transaction are all it cost (and the activity
    # entry, which moves off the request path): no Query of the members of a group just
    # created empty
    assert response.status == 201, response.body
    assert {operation: tally.requests[operation] for operation in ("GetItem", "TransactWriteItems", "Query")} == {
        "GetItem": 1,
        "TransactWriteItems": 1,
        "Query": 0,
    }


# ----------------------------------------------------------------------------- large changes
def test_a_large_change_records_its_intent_then_finishes(
    api: Dispatcher,
    token: str,
    admin: AdminFixture,
    app_runtime: Runtime,
    table: Table,
    monkeypatch: pytest.MonkeyPatch,
):
    # given 50 users (more than one transaction holds) and change records of 20 ids a part
    monkeypatch.setattr(memberships_module, "IDS_PER_CHANGE_RECORD", 20)
    users = many_users(app_runtime, table, admin.organization_uuid, 50)
    group = new_group(api, token, "Everyone")
    counter = DynamoDBRequestCounter(table.client)

    # when one PATCH adds them all
    with counter.measure() as tally:
        response = patch(api, token, group["id"], add(*users), query="?excludedAttributes=members")

    # then: their existence read beside the group, the intent, the memberships in two
    # batches, the finish; three records, all done at the version the change made
    assert response.status == 200, response.body
    assert document(response)["meta"]["version"] == 'W/"2"'
    assert (tally.requests["TransactWriteItems"], tally.requests["BatchWriteItem"]) == (2, 2)
    assert set(memberships(table, group["id"])) == set(users)
    records = change_records(table, group["id"])
    assert [(r["part"], r["parts"], r["status"], r["version"]) for r in records] == [
        (0, 3, "done", 2),
        (1, 3, "done", 2),
        (2, 3, "done", 2),
    ]
    assert [user for record in records for user in record["added"]] == users
    assert "pendingChange" not in next(item for item in items(table, "GROUP#") if item["uuid"] == group["id"])


def test_a_large_change_cut_short_is_a_success_and_the_next_writer_completes_it(
    api: Dispatcher,
    token: str,
    admin: AdminFixture,
    app_runtime: Runtime,
    table: Table,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
):
    # given 50 users, a group, and memberships that cannot be written (the writer stops
    # after recording its intent, as a crash or a throttled table would leave it)
    users = many_users(app_runtime, table, admin.organization_uuid, 50)
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Everyone")
    monkeypatch.setattr(versioning, "RETRY_PAUSE_SECONDS", 0)
    store = app_runtime.stores.memberships
    monkeypatch.setattr(store, "apply_change", unavailable)

    # when the 50 are added
    cut_short = patch(api, token, group["id"], add(*users), query="?excludedAttributes=members")

    # then the intent is committed, so the client is told it succeeded
    assert cut_short.status == 200, cut_short.body
    assert memberships(table, group["id"]) == {}
    assert [record["status"] for record in change_records(table, group["id"])] == ["pending"]
    monkeypatch.undo()
    monkeypatch.setattr(versioning, "RETRY_PAUSE_SECONDS", 0)

    # when another writer comes while the change may still be finishing, then it is held off
    held_off = patch(api, token, group["id"], add(ada))
    assert held_off.status == 409, held_off.body
    assert memberships(table, group["id"]) == {}

    # when it comes once the change is stale, then it completes it first, then writes its own
    clock.advance(seconds=STALE_AFTER.total_seconds() + 1)
    later = patch(api, token, group["id"], add(ada), query="?excludedAttributes=members")
    assert later.status == 200, later.body
    assert set(memberships(table, group["id"])) == {*users, ada}
    assert [(r["status"], r["version"]) for r in change_records(table, group["id"])] == [("done", 2), ("done", 3)]
    assert document(later)["meta"]["version"] == 'W/"3"'


# ----------------------------------------------------------------------------- display (issue 9.3)
def test_a_members_display_is_returned_as_the_client_sent_it(api: Dispatcher, token: str, table: Table):
    # given Okta creating a group with its member's login as display
    ada, bob = new_user(api, token, "ada", "Ada Lovelace"), new_user(api, token, "bob", "Bob Builder")
    created = new_group(api, token, "Eng", [{"value": ada, "display": "ada@okta.example"}])

    # when Entra adds another without a display
    patch(api, token, created["id"], add(bob))

    # then each reads back as it was written: the display sent, or the user's displayName
    assert created["members"] == [member_entry(created, ada, "ada@okta.example")]
    shown = {member["value"]: member["display"] for member in read_group(api, token, created["id"])["members"]}
    assert shown == {ada: "ada@okta.example", bob: "Bob Builder"}
    assert memberships(table, created["id"]) == {ada: "ada@okta.example", bob: None}

    # when a PUT lists the first member again without a display, then its display is derived again
    put = {"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{"value": ada}, {"value": bob}]}
    replaced = call(api, "PUT", f"{GROUPS}/{created['id']}", token, put)
    assert {member["value"]: member["display"] for member in document(replaced)["members"]} == {
        ada: "Ada Lovelace",
        bob: "Bob Builder",
    }


def member_entry(group: dict[str, Any], user_id: str, display: str) -> dict[str, Any]:
    base = group["meta"]["location"].rsplit("/Groups/", 1)[0]
    return {"value": user_id, "$ref": f"{base}/Users/{user_id}", "display": display, "type": "User"}


# ----------------------------------------------------------------------------- truthful answers
def test_a_group_write_is_answered_from_what_it_wrote_when_its_members_cannot_be_read(
    api: Dispatcher, token: str, app_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    # given a group, a user, and people that can no longer be read
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng")
    monkeypatch.setattr(app_runtime.stores.people, "get_people", unavailable)

    # when the user is added, with the members in the answer
    response = patch(api, token, group["id"], add(ada, display="ada@okta.example"))

    # then the committed change is a success, answered with the members as written
    assert response.status == 200, response.body
    answered = document(response)
    assert answered["meta"]["version"] == 'W/"2"'
    assert [(m["value"], m.get("display")) for m in answered["members"]] == [(ada, "ada@okta.example")]


def test_a_patched_user_is_answered_when_its_groups_names_cannot_be_read_after_the_commit(
    api: Dispatcher, token: str, app_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    # given a user in a group, and groups that can no longer be read by id
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng", [{"value": ada}])
    monkeypatch.setattr(app_runtime.stores.groups, "get_groups", unavailable)

    # when the user is deactivated
    body = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    response = call(api, "PATCH", f"{USERS}/{ada}", token, body)

    # then the committed write is a success; its groups are named by id only
    assert response.status == 200, response.body
    answered = document(response)
    assert answered["active"] is False and answered["meta"]["version"] == 'W/"2"'
    assert [(g["value"], "display" in g) for g in answered["groups"]] == [(group["id"], False)]


def test_deleting_a_user_removes_its_memberships_and_moves_its_groups_versions(
    api: Dispatcher, token: str, token_uuid: str, table: Table
):
    # given a user in two groups
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    first = new_group(api, token, "First", [{"value": ada}, {"value": bob}])
    second = new_group(api, token, "Second", [{"value": ada}])

    # when the user is deleted
    response = call(api, "DELETE", f"{USERS}/{ada}", token)

    # then no membership of it is left, and each group's version moved with a change record
    assert response.status == 204, response.body
    assert set(memberships(table, first["id"])) == {bob} and memberships(table, second["id"]) == {}
    for group in (first, second):
        assert read_group(api, token, group["id"])["meta"]["version"] == 'W/"2"'
        departure = change_records(table, group["id"])[-1]
        assert (departure["removed"], departure["added"], departure["version"]) == ([ada], [], 2)
        assert departure["tokenUuid"] == token_uuid


def test_a_deleted_user_is_answered_204_when_leaving_its_groups_fails(
    api: Dispatcher, token: str, app_runtime: Runtime, table: Table, monkeypatch: pytest.MonkeyPatch
):
    # given a user in a group, and memberships that cannot be written any more
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng", [{"value": ada}])
    monkeypatch.setattr(app_runtime.stores.memberships, "leave_group", unavailable)

    # when the user is deleted
    response = call(api, "DELETE", f"{USERS}/{ada}", token)

    # then the committed delete is a success (the janitor removes what is left), and the
    # group shows no member whose user is gone
    assert response.status == 204, response.body
    assert call(api, "GET", f"{USERS}/{ada}", token).status == 404
    assert set(memberships(table, group["id"])) == {ada}
    assert "members" not in read_group(api, token, group["id"])
