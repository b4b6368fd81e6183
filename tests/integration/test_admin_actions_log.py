"""Admin actions in the activity log: the token API's create, rotate and revoke, each recorded
(through ``@recorded_admin`` and the activity ingest, delivered in the background as on the dev
server) with its actor (the admin's user uuid and the API key's uuid, never the key), the token's
uuid and description, and its outcome, refusals included; read back with the request-log API's
``category`` filter. scim-admin's API-key actions are tested end to end in
``tests/e2e/test_admin_cli.py``; the operator it names is tested here."""

from __future__ import annotations

import getpass
import json
import socket
import uuid
from datetime import timedelta
from typing import Any

import pytest

from admincli.audit import operator_identity
from benchmarks.harness import FixedClock
from benchmarks.request_counter import DynamoDBRequestCounter
from devserver.dispatch import Dispatcher, HttpResponse
from scim_provisioning.activity_annotation import Action
from scim_provisioning.activity_records import new_entry_id
from scim_provisioning.models import ActivityEntry, OrganizationRole, Person
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, make_admin
from tests.polling import eventually

pytestmark = pytest.mark.usefixtures("activity_ingest")

TOKENS = "/api/v1/scim/organization-access-tokens"
LOGS = "/api/v1/scim/request-logs"
USERS = "/api/v1/scim/v2/Users"
ADMIN_ACTIONS = "?category=admin"


def call(api: Dispatcher, method: str, target: str, authorization: str, body: Any = None) -> HttpResponse:
    headers = [("Authorization", authorization), ("Content-Type", "application/json")]
    return api.handle(method, target, headers, None if body is None else json.dumps(body))


def results(response: HttpResponse) -> Any:
    document = json.loads(response.body)
    assert document["status"] == "ok", document
    return document["results"]


def log_page(api: Dispatcher, admin: AdminFixture, query: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = results(call(api, "GET", f"{LOGS}{query}", admin.authorization))["entries"]
    return entries


def entries_once_written(api: Dispatcher, admin: AdminFixture, count: int, query: str) -> list[dict[str, Any]]:
    return eventually(lambda: log_page(api, admin, query), lambda entries: len(entries) >= count)


def api_key_uuid(app_runtime: Runtime, admin: AdminFixture) -> str:
    (key,) = app_runtime.organizations.list_api_keys(admin.organization_uuid)
    return key.uuid


def outcome(entry: dict[str, Any]) -> tuple[Any, ...]:
    return entry["action"], entry["status"], entry["targetId"], entry["targetName"]


def test_create_rotate_and_revoke_name_the_admin_the_api_key_and_the_token(
    api: Dispatcher, admin: AdminFixture, app_runtime: Runtime, clock: FixedClock
):
    # given an admin who creates a token, rotates it and revokes it
    created = call(api, "POST", TOKENS, admin.authorization, {"description": "Okta SCIM token", "expiresAt": None})
    token = results(created)
    clock.advance(seconds=1)
    entra = results(
        call(api, "POST", TOKENS, admin.authorization, {"description": "Entra", "expiresAt": "2027-01-01T00:00:00Z"})
    )
    clock.advance(seconds=1)
    rotated = call(
        api, "PATCH", f"{TOKENS}/{entra['uuid']}/rotate", admin.authorization, {"expiresAt": "2027-02-01T00:00:00Z"}
    )
    clock.advance(seconds=1)
    revoked = call(api, "DELETE", f"{TOKENS}/{token['uuid']}", admin.authorization)
    assert (created.status, rotated.status, revoked.status) == (201, 200, 200)

    # when the admin actions are read back
    entries = entries_once_written(api, admin, 4, ADMIN_ACTIONS)

    # then each names its outcome and token, and the admin with the API key they acted with
    assert [outcome(entry) for entry in entries] == [
        ("revoke_token", 200, token["uuid"], "Okta SCIM token"),
        ("rotate_token", 200, entra["uuid"], "Entra"),
        ("create_token", 201, entra["uuid"], "Entra"),
        ("create_token", 201, token["uuid"], "Okta SCIM token"),
    ]
    key_uuid = api_key_uuid(app_runtime, admin)
    assert {(entry["actorUserUuid"], entry["apiKeyUuid"]) for entry in entries} == {(admin.user_uuid, key_uuid)}
    assert {entry["tokenUuid"] for entry in entries} == {None}  # no SCIM token made these requests
    assert [(entry["method"], entry["path"]) for entry in entries[:2]] == [
        ("DELETE", f"{TOKENS}/{token['uuid']}"),
        ("PATCH", f"{TOKENS}/{entra['uuid']}/rotate"),
    ]
    written = json.dumps(entries)
    for secret in (admin.api_key, token["token"], entra["token"], results(rotated)["token"]):
        assert secret not in written


def test_refusals_are_logged_with_their_status_and_reason(
    api: Dispatcher, admin: AdminFixture, app_runtime: Runtime, clock: FixedClock
):
    # given a token rotated once, a member with an API key, and an admin whose key expired
    token = results(
        call(api, "POST", TOKENS, admin.authorization, {"description": "Okta", "expiresAt": "2027-01-01T00:00:00Z"})
    )
    call(api, "PATCH", f"{TOKENS}/{token['uuid']}/rotate", admin.authorization, {"expiresAt": "2027-02-01T00:00:00Z"})
    now = clock.now()
    member = Person(str(uuid.uuid4()), admin.organization_uuid, "m@acme.test", True, OrganizationRole.MEMBER, now, now)
    app_runtime.stores.people.create_person(member)
    _, member_key = app_runtime.organizations.create_api_key(admin.organization_uuid, member.uuid, "member key")
    _, expiring_key = app_runtime.organizations.create_api_key(
        admin.organization_uuid, admin.user_uuid, "expiring", now.replace(minute=5)
    )
    unknown = str(uuid.uuid4())

    # when each kind of refusal happens, a second apart
    refusals = [
        ("PATCH", f"{TOKENS}/{token['uuid']}/rotate", admin.authorization, {"expiresAt": "2027-03-01T00:00:00Z"}),
        ("POST", TOKENS, f"ApiKey {member_key}", {"description": "Mine"}),
        ("DELETE", f"{TOKENS}/{unknown}", admin.authorization, None),
        ("POST", TOKENS, admin.authorization, {"description": "", "expiresAt": None}),
        ("DELETE", f"{TOKENS}/{token['uuid']}", f"ApiKey {expiring_key}", None),
    ]
    clock.advance(minutes=10)  # the expiring key is past its expiry now, the rotation still within its hour
    statuses = []
    for method, path, authorization, body in refusals:
        clock.advance(seconds=1)
        statuses.append(call(api, method, path, authorization, body).status)
    assert statuses == [400, 403, 404, 400, 401]

    # then the failures among the admin actions are exactly these, newest first, each with why
    entries = entries_once_written(api, admin, 5, f"{ADMIN_ACTIONS}&status=failure")
    assert [outcome(entry) for entry in entries] == [
        ("revoke_token", 401, token["uuid"], None),
        ("create_token", 400, None, None),
        ("revoke_token", 404, unknown, None),
        ("create_token", 403, None, None),  # refused before the body is read
        ("rotate_token", 400, token["uuid"], "Okta"),
    ]
    expired, malformed, missing, forbidden, too_soon = entries
    assert too_soon["detail"] == (
        "Token can only be rotated once per hour; next rotation possible after 2026-11-28T13:00:00.000Z"
    )
    assert forbidden["actorUserUuid"] == member.uuid and forbidden["detail"].startswith("Only organization admins")
    assert missing["detail"] == "SCIM access token not found"
    assert "description" in malformed["detail"]
    assert expired["actorUserUuid"] == admin.user_uuid and expired["detail"] == "API key has expired"
    assert forbidden["apiKeyUuid"] != expired["apiKeyUuid"]
    # and the token was neither rotated again nor revoked
    assert results(call(api, "GET", f"{TOKENS}/{token['uuid']}", admin.authorization))["expiresAt"].startswith(
        "2027-02"
    )


def test_reads_are_not_admin_actions_and_the_categories_split_the_log(
    api: Dispatcher, admin: AdminFixture, clock: FixedClock
):
    # given reads of the token API and of the log, a SCIM request, then a token created
    bootstrap = results(call(api, "POST", TOKENS, admin.authorization, {"description": "Okta"}))
    call(api, "GET", TOKENS, admin.authorization)
    call(api, "GET", f"{TOKENS}/{bootstrap['uuid']}", admin.authorization)
    call(api, "GET", LOGS, admin.authorization)
    clock.advance(seconds=1)
    assert api.handle("GET", USERS, [("Authorization", f"Bearer {bootstrap['token']}")]).status == 200
    clock.advance(seconds=1)
    call(api, "POST", TOKENS, admin.authorization, {"description": "Entra"})

    # when the whole log is there (the last action's entry is written after the others')
    everything = entries_once_written(api, admin, 3, "")

    # then it holds the two creations and the SCIM request, and each category only its own
    assert [entry["action"] for entry in everything] == ["create_token", "list", "create_token"]
    assert [entry["action"] for entry in log_page(api, admin, ADMIN_ACTIONS)] == ["create_token", "create_token"]
    assert [entry["action"] for entry in log_page(api, admin, "?category=scim")] == ["list"]
    assert [entry["targetName"] for entry in log_page(api, admin, "?action=create_token")] == ["Entra", "Okta"]


def test_admin_actions_are_read_from_their_index_one_query_a_page_whatever_the_scim_traffic(
    api: Dispatcher, admin: AdminFixture, app_runtime: Runtime, table: Table, clock: FixedClock
):
    # given a log of 600 SCIM requests, among which three admin actions happened long ago
    def entry(index: int, action: Action, status: int = 200) -> tuple[ActivityEntry, Any]:
        moment = clock.now() - timedelta(minutes=index)
        logged = ActivityEntry(
            new_entry_id(moment), admin.organization_uuid, moment, None, "GET", USERS, action, status
        )
        return logged, moment + timedelta(days=30)

    admin_actions = [(590, Action.REVOKE_TOKEN, 404), (595, Action.ROTATE_TOKEN, 200), (599, Action.CREATE_TOKEN, 201)]
    traffic = [entry(index, Action.LIST) for index in range(600) if index not in {590, 595, 599}]
    app_runtime.stores.activity.put_activity_entries(traffic + [entry(*action) for action in admin_actions])
    counter = DynamoDBRequestCounter(table.client)

    # when the admin actions are read two at a time, and the rotations alone
    with counter.measure() as tally:
        first = results(call(api, "GET", f"{LOGS}?category=admin&limit=2", admin.authorization))
        second = results(
            call(api, "GET", f"{LOGS}?category=admin&limit=2&cursor={first['nextCursor']}", admin.authorization)
        )
    rotations = log_page(api, admin, "?action=rotate_token")

    # then each page is one Query of the index (beside the API key's two reads), never of the SCIM traffic
    assert [entry["action"] for entry in first["entries"] + second["entries"]] == [
        "revoke_token",
        "rotate_token",
        "create_token",
    ]
    assert second["nextCursor"] is None
    assert dict(tally.requests) == {"GetItem": 4, "Query": 2}
    assert [(entry["action"], entry["status"]) for entry in rotations] == [("rotate_token", 200)]


def test_another_organizations_admin_acts_in_their_own_log_only(
    api: Dispatcher, admin: AdminFixture, app_runtime: Runtime
):
    # given a token of the admin's organization, and another organization's admin
    token = results(call(api, "POST", TOKENS, admin.authorization, {"description": "Okta"}))
    other = make_admin(app_runtime, "Globex", "admin@globex.test")

    # when the other admin tries to revoke it
    assert call(api, "DELETE", f"{TOKENS}/{token['uuid']}", other.authorization).status == 404

    # then the attempt is in the other organization's log, as a 404 naming no description
    (attempt,) = entries_once_written(api, other, 1, ADMIN_ACTIONS)
    assert outcome(attempt) == ("revoke_token", 404, token["uuid"], None)
    assert attempt["actorUserUuid"] == other.user_uuid
    assert [entry["action"] for entry in log_page(api, admin, ADMIN_ACTIONS)] == ["create_token"]


def test_an_operator_is_named_by_their_aws_identity_or_their_local_account(aws_mock: None):
    """scim-admin's entries name who ran it: the ARN of the AWS credentials (moto's STS answers
    here as AWS does), or the local account and host against a local endpoint."""
    local = f"{getpass.getuser()}@{socket.gethostname()}"

    assert operator_identity(None, "us-east-1") == "arn:aws:sts::123456789012:user/moto"
    assert operator_identity("http://127.0.0.1:8000", "us-east-1") == local
