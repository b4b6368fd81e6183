"""The SCIM activity log: recorded around the Users and Groups handlers, written by the activity
ingest from their records (delivered in the background, as on the dev server), read back
through GET /api/v1/scim/request-logs (ApiKey, newest first, organization-scoped, filtered,
paged). Entries arrive after the answers: the tests wait for them (``tests.polling.eventually``)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from benchmarks.harness import FixedClock
from devserver.dispatch import Dispatcher, HttpResponse
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, make_admin
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("activity_ingest")

USERS = "/api/v1/scim/v2/Users"
GROUPS = "/api/v1/scim/v2/Groups"
LOGS = "/api/v1/scim/request-logs"
TOKENS = "/api/v1/scim/organization-access-tokens"
SCIM_JSON = "application/scim+json"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# The SCIM requests' entries only: the token each test creates through the token API is an
# admin action of the same log (tests/integration/test_admin_actions_log.py).
SCIM_REQUESTS = "?category=scim"


def call(api: Dispatcher, method: str, target: str, authorization: str | None, body: Any = None) -> HttpResponse:
    headers = [("Content-Type", SCIM_JSON)]
    if authorization is not None:
        headers.append(("Authorization", authorization))
    return api.handle(method, target, headers, None if body is None else json.dumps(body))


def new_token(api: Dispatcher, admin: AdminFixture, expires_at: str | None = "2030-01-01T00:00:00.000Z") -> dict:
    response = call(api, "POST", TOKENS, admin.authorization, {"description": "Okta", "expiresAt": expires_at})
    assert response.status == 201, response.body
    return json.loads(response.body)["results"]


def logs(api: Dispatcher, admin: AdminFixture, query: str = "") -> dict[str, Any]:
    response = call(api, "GET", f"{LOGS}{query}", admin.authorization)
    assert response.status == 200, response.body
    document = json.loads(response.body)
    assert document["status"] == "ok"
    return document["results"]


def entries_once_written(api: Dispatcher, admin: AdminFixture, count: int, query: str = "") -> list[dict[str, Any]]:
    """The log's first page once it holds ``count`` entries (or the deadline passed)."""
    return eventually(lambda: logs(api, admin, query)["entries"], lambda entries: len(entries) >= count)


def test_each_users_request_is_one_entry_newest_first(api: Dispatcher, admin: AdminFixture, clock: FixedClock):
    token = new_token(api, admin)
    bearer = f"Bearer {token['token']}"
    created = call(api, "POST", USERS, bearer, {"userName": "jane@example.com", "password": "s3cret!"})
    user_id = json.loads(created.body)["id"]
    clock.advance(seconds=1)
    call(
        api,
        "PATCH",
        f"{USERS}/{user_id}",
        bearer,
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]},
    )
    clock.advance(seconds=1)
    call(
        api,
        "PATCH",
        f"{USERS}/{user_id}",
        bearer,
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": True}}]},
    )
    clock.advance(seconds=1)
    call(api, "PUT", f"{USERS}/{user_id}", bearer, {"userName": "jane@example.com", "displayName": "Jane"})
    clock.advance(seconds=1)
    call(api, "GET", f"{USERS}/{user_id}", bearer)
    clock.advance(seconds=1)
    call(api, "GET", f'{USERS}?filter=userName%20eq%20"jane@example.com"', bearer)
    clock.advance(seconds=1)
    call(api, "POST", USERS, bearer, {"userName": "JANE@example.com"})  # 409 uniqueness
    clock.advance(seconds=1)
    call(api, "DELETE", f"{USERS}/{user_id}", bearer)

    entries = entries_once_written(api, admin, 8, SCIM_REQUESTS)

    assert [(entry["action"], entry["status"]) for entry in entries] == [
        ("delete_user", 204),
        ("create_user", 409),
        ("list", 200),
        ("lookup", 200),
        ("update_user", 200),
        ("reactivate_user", 200),
        ("deactivate_user", 200),
        ("create_user", 201),
    ]
    assert {entry["tokenUuid"] for entry in entries} == {token["uuid"]}
    assert entries[0]["targetId"] == user_id and entries[0]["targetName"] == "jane@example.com"
    assert entries[-1]["targetId"] == user_id and entries[-1]["targetName"] == "jane@example.com"
    assert entries[1]["scimType"] == "uniqueness" and "already taken" in entries[1]["detail"]
    assert entries[2]["path"] == USERS  # no query string: filter values stay out of the log
    stored = json.dumps(entries)
    assert "s3cret" not in stored and token["token"] not in stored


def test_groups_actions_come_from_method_path_and_patch_operations(
    api: Dispatcher, admin: AdminFixture, clock: FixedClock
):
    """The groups handler is not edited beyond its decorator: the recorder derives the action."""
    bearer = f"Bearer {new_token(api, admin)['token']}"
    members = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": "x"}]}]}
    by_value = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"members": []}}]}
    rename = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "B"}]}
    for method, path, body in [
        ("POST", GROUPS, {"displayName": "A"}),
        ("PATCH", f"{GROUPS}/g1", members),
        ("PATCH", f"{GROUPS}/g1", by_value),
        ("PATCH", f"{GROUPS}/g1", rename),
        ("PUT", f"{GROUPS}/g1", {"displayName": "A"}),
        ("DELETE", f"{GROUPS}/g1", None),
        ("GET", f"{GROUPS}/g1", None),
        ("POST", f"{GROUPS}/.search", {}),
    ]:
        clock.advance(seconds=1)  # entries of one millisecond have no defined order
        call(api, method, path, bearer, body)

    actions = [entry["action"] for entry in reversed(entries_once_written(api, admin, 8, SCIM_REQUESTS))]

    assert actions == [
        "create_group",
        "membership_change",
        "membership_change",
        "update_group",
        "update_group",
        "delete_group",
        "lookup",
        "list",
    ]


def test_rotated_and_revoked_tokens_fail_as_auth_failure_of_their_organization(
    api: Dispatcher, admin: AdminFixture, clock: FixedClock
):
    rotated = new_token(api, admin)
    revoked = new_token(api, admin)
    response = call(
        api,
        "PATCH",
        f"{TOKENS}/{rotated['uuid']}/rotate",
        admin.authorization,
        {"expiresAt": "2031-01-01T00:00:00.000Z"},
    )
    assert response.status == 200, response.body
    assert call(api, "DELETE", f"{TOKENS}/{revoked['uuid']}", admin.authorization).status == 200

    for old in (rotated, revoked):
        clock.advance(seconds=1)
        refused = call(api, "GET", USERS, f"Bearer {old['token']}")
        assert refused.status == 401
        assert json.loads(refused.body)["detail"] == "Invalid SCIM token"  # says no more than before
    unknown = call(api, "GET", USERS, "Bearer scim_" + "0" * 32)
    assert unknown.status == 401

    entries = entries_once_written(api, admin, 2, "?status=failure")

    assert [(entry["action"], entry["tokenUuid"], entry["status"]) for entry in entries] == [
        ("auth_failure", revoked["uuid"], 401),
        ("auth_failure", rotated["uuid"], 401),
    ]
    assert entries[0]["detail"] == "The token was rotated or revoked"


def test_a_tombstone_never_authenticates_and_expires_with_the_log(
    api: Dispatcher, admin: AdminFixture, dynamodb_client: Any, table_name: str, clock: FixedClock
):
    token = new_token(api, admin)
    call(api, "DELETE", f"{TOKENS}/{token['uuid']}", admin.authorization)
    items = dynamodb_client.scan(TableName=table_name)["Items"]
    (tombstone,) = [item for item in items if item.get("kind", {}).get("S") == "retired"]
    expected = int((clock.now() + timedelta(days=30)).timestamp())
    assert int(tombstone["expiresAtEpoch"]["N"]) == expected
    assert "lastUsedAt" not in tombstone
    assert call(api, "GET", USERS, f"Bearer {token['token']}").status == 401


def test_the_log_is_organization_scoped_and_admin_only(api: Dispatcher, admin: AdminFixture, app_runtime: Runtime):
    other = make_admin(app_runtime, "Globex", "admin@globex.test")
    call(api, "GET", USERS, f"Bearer {new_token(api, admin)['token']}")

    assert len(entries_once_written(api, admin, 1, SCIM_REQUESTS)) == 1
    assert logs(api, other)["entries"] == []
    refused = call(api, "GET", LOGS, None)
    assert refused.status == 401
    assert json.loads(refused.body)["status"] == "error"


def test_a_refused_method_is_one_entry_like_any_request(api: Dispatcher, admin: AdminFixture):
    """Given a token, when a method /Users/{id} does not serve arrives, then its 405 is logged for
    the organization, with the method as sent."""
    bearer = f"Bearer {new_token(api, admin)['token']}"

    assert call(api, "TRACE", f"{USERS}/2819c223", bearer).status == 405

    (entry,) = entries_once_written(api, admin, 1, SCIM_REQUESTS)
    assert (entry["method"], entry["path"], entry["status"]) == ("TRACE", f"{USERS}/2819c223", 405)


def test_a_request_with_a_doubled_slash_is_logged_under_its_collapsed_path(api: Dispatcher, admin: AdminFixture):
    bearer = f"Bearer {new_token(api, admin)['token']}"

    assert call(api, "GET", USERS.replace("/Users", "//Users"), bearer).status == 200

    (entry,) = entries_once_written(api, admin, 1, SCIM_REQUESTS)
    assert (entry["action"], entry["path"]) == ("list", USERS)


@pytest.mark.parametrize(("method", "allow"), [("POST", "GET"), ("DELETE", "GET"), ("HEAD", "GET"), ("get", "GET")])
def test_a_method_the_log_does_not_serve_is_405_in_its_envelope(
    api: Dispatcher, admin: AdminFixture, method: str, allow: str
):
    """Given the request-logs path, when a method other than GET arrives, then 405 with Allow in
    the admin API's envelope."""
    response = call(api, method, LOGS, admin.authorization)

    assert response.status == 405
    assert response.header("Allow") == allow
    document = json.loads(response.body)
    assert document["status"] == "error"
    assert document["error"] == {
        "statusCode": 405,
        "name": "MethodNotAllowedError",
        "message": f"{method} is not supported on {LOGS}; use GET",
    }


def test_filters_and_cursor_pages(api: Dispatcher, admin: AdminFixture, clock: FixedClock):
    bearer = f"Bearer {new_token(api, admin)['token']}"
    for index in range(7):
        clock.advance(seconds=1)
        call(api, "GET", f"{USERS}/missing-{index}", bearer)  # 404 lookups
        clock.advance(seconds=1)
        call(api, "GET", USERS, bearer)  # 200 lists
    entries_once_written(api, admin, 14, "?limit=200")

    seen: list[str] = []
    cursor = ""
    while True:
        page = logs(api, admin, f"?limit=3&status=failure&cursor={cursor}")
        assert all(entry["status"] == 404 for entry in page["entries"])
        seen.extend(entry["targetId"] for entry in page["entries"])
        if page["nextCursor"] is None:
            break
        cursor = page["nextCursor"]

    assert seen == [f"missing-{index}" for index in reversed(range(7))]
    assert len(logs(api, admin, "?action=list&limit=200")["entries"]) == 7
    assert [entry["status"] for entry in logs(api, admin, "?status=200")["entries"]] == [200] * 7


@pytest.mark.parametrize(
    "query",
    [
        "?limit=0",
        "?limit=201",
        "?limit=x",
        "?status=bad",
        "?action=nope",
        "?cursor=***",
        "?category=tokens",
        "?category=admin&action=create_token",
    ],
)
def test_bad_parameters_are_400(api: Dispatcher, admin: AdminFixture, query: str):
    response = call(api, "GET", f"{LOGS}{query}", admin.authorization)
    assert response.status == 400, response.body
    assert json.loads(response.body)["status"] == "error"


def test_a_groups_target_is_named_without_reading_the_answer_back(
    api: Dispatcher, admin: AdminFixture, clock: FixedClock
):
    # given a group created and then read
    bearer = f"Bearer {new_token(api, admin)['token']}"
    created = json.loads(call(api, "POST", GROUPS, bearer, {"displayName": "Engineering"}).body)
    clock.advance(seconds=1)
    call(api, "GET", f"{GROUPS}/{created['id']}", bearer)

    # when the log is read
    entries = entries_once_written(api, admin, 2, SCIM_REQUESTS)

    # then both entries name the group, from what the groups service annotated
    assert [(entry["action"], entry["targetId"], entry["targetName"]) for entry in entries] == [
        ("lookup", created["id"], "Engineering"),
        ("create_group", created["id"], "Engineering"),
    ]
