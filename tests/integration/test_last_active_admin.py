"""The organization cannot be locked out through SCIM (issue 14.8): its last active admin
cannot be demoted, deactivated or deleted by SCIM. Enforced by a condition on the organization's
``activeAdminCount``, in the same transaction as the person's write; races run in real threads."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devserver.bootstrap import ensure_local_admin
from devserver.dispatch import Dispatcher, HttpResponse
from devserver.log_subscription import LocalLogSubscription
from scim_provisioning.repository.protocols import Stores
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import (
    BASE,
    AdminFixture,
    call,
    create,
    document,
    patch,
    run_in_threads,
    scim_error,
)
from tests.polling import eventually

LOGS = "/api/v1/scim/request-logs"
ADMIN_ROLE = [{"value": "admin", "primary": True}]


def replace_op(path: str, value: Any) -> dict[str, Any]:
    return {"op": "replace", "path": path, "value": value}


def active_admins(stores: Stores, admin: AdminFixture) -> int | None:
    return stores.organizations.active_admin_count(admin.organization_uuid)


def refused_as_last_admin(response: HttpResponse, change: str) -> str:
    error = scim_error(response, 400, "mutability")
    assert "admin@acme.test is the organization's last active admin" in error["detail"]
    assert f"cannot be {change} through SCIM" in error["detail"]
    return str(error["detail"])


def the_person(api: Dispatcher, token: str, user_id: str) -> dict[str, Any]:
    response = call(api, "GET", f"{BASE}/{user_id}", token)
    assert response.status == 200, response.body
    return document(response)


def remove_count(table: Table, admin: AdminFixture) -> None:
    """The organization as releases before 2026-12-01 stored it: no activeAdminCount."""
    table.update_item(f"ORG#{admin.organization_uuid}", "ORGANIZATION", UpdateExpression="REMOVE activeAdminCount")


# ------------------------------------------------------------------ the rule
@pytest.mark.parametrize(
    ("change", "request_args"),
    [
        ("deactivated", ("PATCH", {"Operations": [replace_op("active", False)]})),
        ("deactivated", ("PATCH", {"Operations": [{"op": "Replace", "path": "active", "value": "False"}]})),
        ("demoted", ("PATCH", {"Operations": [replace_op("roles", [{"value": "member"}])]})),
        ("demoted", ("PATCH", {"Operations": [{"op": "remove", "path": "roles"}]})),
        ("demoted", ("PUT", {"userName": "admin@acme.test", "roles": []})),
        ("deactivated", ("PUT", {"userName": "admin@acme.test", "active": False})),
        ("deleted", ("DELETE", None)),
    ],
)
def test_the_last_active_admin_cannot_be_taken_away_by_scim(
    api: Dispatcher, token: str, admin: AdminFixture, stores: Stores, change: str, request_args: tuple[str, Any]
) -> None:
    # Given an organization whose only active admin is its first admin
    assert active_admins(stores, admin) == 1
    method, body = request_args
    if method == "PATCH":
        body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], **body}

    # When the identity provider deactivates, demotes or deletes them
    response = call(api, method, f"{BASE}/{admin.user_uuid}", token, body)

    # Then it is a 400 mutability that says why and what to do, and nothing changed
    detail = refused_as_last_admin(response, change)
    assert "Make another user an active admin first" in detail
    kept = the_person(api, token, admin.user_uuid)
    assert kept["active"] is True
    assert [role["value"] for role in kept["roles"]] == ["admin"]
    assert active_admins(stores, admin) == 1


def test_the_refusal_is_in_the_activity_log_with_its_detail(
    api: Dispatcher, token: str, admin: AdminFixture, activity_ingest: LocalLogSubscription
) -> None:
    # Given a refused deactivation of the last admin
    refused = patch(api, token, admin.user_uuid, replace_op("active", False))
    detail = refused_as_last_admin(refused, "deactivated")

    # When the admin reads the activity log (what the settings page shows), once it arrived
    def patches() -> list[dict[str, Any]]:
        entries = json.loads(call(api, "GET", LOGS, admin.authorization).body)["results"]["entries"]
        return [entry for entry in entries if entry["method"] == "PATCH"]

    entries = eventually(patches, lambda found: len(found) == 1)

    # Then the entry carries the status, scimType and detail the identity provider got
    assert len(entries) == 1, entries
    entry = entries[0]
    assert (entry["status"], entry["scimType"], entry["detail"]) == (400, "mutability", detail)
    assert entry["action"] == "deactivate_user"


def test_with_a_second_active_admin_one_may_go_but_not_both(
    api: Dispatcher, token: str, admin: AdminFixture, stores: Stores
) -> None:
    # Given a second active admin created by SCIM
    second = create(api, token, {"userName": "second@acme.test", "roles": ADMIN_ROLE})
    assert active_admins(stores, admin) == 2

    # When the first admin is deactivated
    deactivated = patch(api, token, admin.user_uuid, replace_op("active", False))

    # Then that works, and the second, now the last, cannot be demoted
    assert deactivated.status == 200, deactivated.body
    assert active_admins(stores, admin) == 1
    refused = patch(api, token, second["id"], replace_op("roles", [{"value": "member"}]))
    error = scim_error(refused, 400, "mutability")
    assert "second@acme.test is the organization's last active admin" in error["detail"]

    # And reactivating the first makes the second free to go
    assert patch(api, token, admin.user_uuid, replace_op("active", True)).status == 200
    assert active_admins(stores, admin) == 2
    assert call(api, "DELETE", f"{BASE}/{second['id']}", token).status == 204
    assert active_admins(stores, admin) == 1


def test_inactive_admins_and_members_do_not_count(
    api: Dispatcher, token: str, admin: AdminFixture, stores: Stores
) -> None:
    # Given an inactive admin and an active member
    inactive = create(api, token, {"userName": "dormant@acme.test", "roles": ADMIN_ROLE, "active": False})
    member = create(api, token, {"userName": "member@acme.test"})

    # Then neither counts, and either may be deleted
    assert active_admins(stores, admin) == 1
    refused_as_last_admin(patch(api, token, admin.user_uuid, replace_op("active", False)), "deactivated")
    assert call(api, "DELETE", f"{BASE}/{inactive['id']}", token).status == 204
    assert call(api, "DELETE", f"{BASE}/{member['id']}", token).status == 204

    # And a member promoted to admin counts
    promoted = create(api, token, {"userName": "promoted@acme.test"})
    assert patch(api, token, promoted["id"], replace_op("roles", ADMIN_ROLE)).status == 200
    assert active_admins(stores, admin) == 2


def test_changes_that_keep_the_admin_an_active_admin_are_not_refused(
    api: Dispatcher, token: str, admin: AdminFixture, stores: Stores
) -> None:
    # When the IdP links the last admin and changes their profile
    linked = patch(api, token, admin.user_uuid, replace_op("externalId", "00u-admin"), replace_op("title", "CEO"))

    # Then it is served as for anyone, and the count does not move
    assert linked.status == 200, linked.body
    assert active_admins(stores, admin) == 1


@pytest.mark.parametrize("round_number", range(3))
def test_two_admins_demoted_at_once_one_must_fail(
    api: Dispatcher, token: str, admin: AdminFixture, stores: Stores, round_number: int
) -> None:
    # Given two active admins
    second = create(api, token, {"userName": f"second-{round_number}@acme.test", "roles": ADMIN_ROLE})

    # When both are demoted at the same moment, in real threads
    results = run_in_threads(
        [
            lambda: patch(api, token, admin.user_uuid, replace_op("roles", [{"value": "member"}])),
            lambda: patch(api, token, second["id"], replace_op("roles", [{"value": "member"}])),
        ]
    )

    # Then exactly one succeeds, the other is refused as the last admin, and one admin remains
    statuses = sorted(response.status for response in results)
    assert statuses == [200, 400], [response.body for response in results]
    refusal = next(response for response in results if response.status == 400)
    assert "last active admin" in scim_error(refusal, 400, "mutability")["detail"]
    assert active_admins(stores, admin) == 1
    remaining = [the_person(api, token, user_id) for user_id in (admin.user_uuid, second["id"])]
    assert sum(1 for person in remaining if [role["value"] for role in person.get("roles", [])] == ["admin"]) == 1


def test_two_admins_deactivated_and_deleted_at_once_one_must_fail(
    api: Dispatcher, token: str, admin: AdminFixture, stores: Stores
) -> None:
    # Given two active admins
    second = create(api, token, {"userName": "second@acme.test", "roles": ADMIN_ROLE})

    # When one is deactivated while the other is deleted
    results = run_in_threads(
        [
            lambda: patch(api, token, admin.user_uuid, replace_op("active", False)),
            lambda: call(api, "DELETE", f"{BASE}/{second['id']}", token),
        ]
    )

    # Then exactly one of them happened
    assert sorted(response.status for response in results) in ([200, 400], [204, 400])
    assert active_admins(stores, admin) == 1


# ------------------------------------------------------- organizations of earlier releases
def test_an_organization_without_the_count_refuses_until_upgraded(
    api: Dispatcher, token: str, admin: AdminFixture, stores: Stores, app_runtime: Runtime, table: Table
) -> None:
    # Given two active admins in an organization written before the count existed
    second = create(api, token, {"userName": "second@acme.test", "roles": ADMIN_ROLE})
    remove_count(table, admin)

    # When the IdP demotes one of them
    refused = patch(api, token, second["id"], replace_op("active", False))

    # Then it is refused with what an operator must do (never a lock-out)
    error = scim_error(refused, 400, "mutability")
    assert "scim-admin upgrade" in error["detail"]

    # And after the upgrade counts the admins, the demotion is served
    report = app_runtime.upgrades.upgrade_all().as_document()
    assert report["organizationsCounted"] == 1
    assert report["repairs"] == {"active admin count": 1}
    assert active_admins(stores, admin) == 2
    assert patch(api, token, second["id"], replace_op("active", False)).status == 200
    assert app_runtime.upgrades.upgrade_all().as_document()["organizationsCounted"] == 0


def test_counting_counts_again_when_a_write_moves_the_count_meanwhile(
    api: Dispatcher, token: str, admin: AdminFixture, stores: Stores, app_runtime: Runtime, table: Table
) -> None:
    # Given an organization without the count, and a promotion that lands while the upgrade
    # counts: after it read the people (the member still a member), before it writes its count
    remove_count(table, admin)
    member = create(api, token, {"userName": "member@acme.test"})
    people = stores.people
    original = people.list_people
    pages: list[int] = []

    def read_then_promote(organization_uuid: str, limit: int, after: str | None = None) -> Any:
        page = original(organization_uuid, limit, after)
        pages.append(len(page.items))
        if len(pages) == 1:
            assert patch(api, token, member["id"], replace_op("roles", ADMIN_ROLE)).status == 200
        return page

    people.list_people = read_then_promote  # type: ignore[method-assign]
    try:
        # When the upgrade counts the organization's admins
        wrote = app_runtime.upgrades.count_active_admins(admin.organization_uuid)
    finally:
        del people.list_people  # type: ignore[attr-defined]

    # Then its first count (1) was not kept over the promotion: it counted again, and the
    # count is the true one
    assert wrote is True
    assert pages == [2, 2]
    assert active_admins(stores, admin) == 2


def test_the_dev_servers_bootstrap_counts_an_earlier_releases_organization(
    app_runtime: Runtime, stores: Stores, tmp_path: Any, table: Table
) -> None:
    # Given the local organization of an earlier release's state directory, without the count
    record = tmp_path / "local-admin.json"
    local = ensure_local_admin(app_runtime, record, None)
    fixture = AdminFixture(local.organization_uuid, local.admin_uuid, local.api_key)
    remove_count(table, fixture)

    # When make dev starts again on it
    again = ensure_local_admin(app_runtime, record, None)

    # Then the same organization is used, its active admins counted
    assert again.organization_uuid == local.organization_uuid
    assert active_admins(stores, fixture) == 1
