"""The token API through its Lambda handler, with events shaped as API Gateway sends them."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from benchmarks.harness import FixedClock
from devserver.dispatch import Dispatcher, HttpResponse
from scim_provisioning.models import OrganizationRole, Person
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture

BASE = "/api/v1/scim/organization-access-tokens"
ISO_MILLIS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
METADATA_FIELDS = {
    "uuid",
    "organizationUuid",
    "description",
    "createdAt",
    "expiresAt",
    "lastUsedAt",
    "rotatedAt",
    "createdBy",
}


def call(api: Dispatcher, method: str, path: str, admin: AdminFixture | str | None, body: Any = None) -> HttpResponse:
    authorization = admin.authorization if isinstance(admin, AdminFixture) else admin
    headers = [("Content-Type", "application/json")]
    if authorization is not None:
        headers.append(("Authorization", authorization))
    payload = body if isinstance(body, str | None) else json.dumps(body)
    return api.handle(method, path, headers, payload)


def results(response: HttpResponse) -> Any:
    document = json.loads(response.body)
    assert document["status"] == "ok", document
    return document["results"]


def error_of(response: HttpResponse) -> dict[str, Any]:
    document = json.loads(response.body)
    assert document["status"] == "error"
    assert document["error"]["statusCode"] == response.status
    assert set(document["error"]) == {"statusCode", "name", "message"}
    return document["error"]


def test_create_returns_metadata_and_the_token_once(api: Dispatcher, admin: AdminFixture):
    created = call(
        api, "POST", BASE, admin, {"description": "Okta SCIM token", "expiresAt": "2026-12-13T16:10:04.976Z"}
    )
    assert created.status == 201
    assert created.header("Content-Type") == "application/json"
    token = results(created)
    assert set(token) == METADATA_FIELDS | {"token"}
    assert re.fullmatch(r"scim_[0-9a-f]{32}", token["token"])
    assert token["expiresAt"] == "2026-12-13T16:10:04.976Z"
    assert ISO_MILLIS.match(token["createdAt"])
    assert token["lastUsedAt"] is None and token["rotatedAt"] is None
    assert token["organizationUuid"] == admin.organization_uuid
    assert token["createdBy"] == admin.user_uuid  # the admin whose API key minted it

    listed = results(call(api, "GET", BASE, admin))
    fetched = results(call(api, "GET", f"{BASE}/{token['uuid']}", admin))
    assert [set(item) for item in listed] == [METADATA_FIELDS]
    assert set(fetched) == METADATA_FIELDS
    assert fetched == {k: v for k, v in token.items() if k != "token"}


def test_token_without_expiry_is_allowed(api: Dispatcher, admin: AdminFixture):
    token = results(call(api, "POST", BASE, admin, {"description": "Entra", "expiresAt": None}))
    assert token["expiresAt"] is None


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (None, "Request body is required"),
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ({}, "description"),
        ({"description": ""}, "description"),
        ({"description": 42}, "description"),
        ({"description": "x", "expiresAt": "tomorrow"}, "expiresAt"),
        ({"description": "x", "expiresAt": "2030-01-01T00:00:00"}, "expiresAt"),
        ({"description": "x", "expiresAt": "2020-01-01T00:00:00Z"}, "Expire time must be in the future"),
    ],
)
def test_malformed_create_is_400_never_500(api: Dispatcher, admin: AdminFixture, body, fragment):
    response = call(api, "POST", BASE, admin, body)
    assert response.status == 400
    error = error_of(response)
    assert error["name"] == "ParameterError"
    assert fragment in error["message"]


@pytest.mark.parametrize("route", ["create", "rotate"])
def test_a_body_that_is_not_utf8_is_400_in_the_envelope(api: Dispatcher, admin: AdminFixture, route: str):
    """Given a body in Latin-1 (API Gateway hands it base64-encoded), when it is sent to the
    create or the rotate route, then 400 in the token API's envelope, never a 500."""
    token = results(call(api, "POST", BASE, admin, {"description": "Okta", "expiresAt": "2027-01-01T00:00:00Z"}))
    path = BASE if route == "create" else f"{BASE}/{token['uuid']}/rotate"
    body = b'{"description": "Caf\xe9", "expiresAt": "2027-02-01T00:00:00Z"}'

    response = api.handle(
        "POST" if route == "create" else "PATCH",
        path,
        [("Content-Type", "application/json"), ("Authorization", admin.authorization)],
        body,
    )

    assert response.status == 400
    error = error_of(response)
    assert error["name"] == "ParameterError" and "not UTF-8" in error["message"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", BASE, "GET, POST"),
        ("DELETE", BASE, "GET, POST"),
        ("HEAD", BASE, "GET, POST"),
        ("post", BASE, "GET, POST"),
        ("POST", f"{BASE}/5c3f", "DELETE, GET"),
        ("PATCH", f"{BASE}/5c3f", "DELETE, GET"),
        ("TRACE", f"{BASE}/5c3f", "DELETE, GET"),
        ("GET", f"{BASE}/5c3f/rotate", "PATCH"),
        ("POST", f"{BASE}/5c3f/rotate", "PATCH"),
        ("PROPFIND", f"{BASE}/5c3f/rotate", "PATCH"),
    ],
)
def test_a_method_a_path_does_not_serve_is_405_with_allow(
    api: Dispatcher, admin: AdminFixture, method: str, path: str, allow: str
):
    """Given a token API path, when a method it does not serve arrives (HEAD, TRACE, an unknown
    or a lower-case one), then 405 with the methods it serves in Allow, in the error envelope."""
    response = call(api, method, path, admin)

    assert response.status == 405
    assert response.header("Allow") == allow
    error = error_of(response)
    assert error["name"] == "MethodNotAllowedError"
    assert error["message"] == f"{method} is not supported on {path}; use {allow}"


def test_rotate_answers_new_token_and_old_one_fails(api: Dispatcher, admin: AdminFixture):
    token = results(call(api, "POST", BASE, admin, {"description": "Okta", "expiresAt": "2027-01-01T00:00:00.000Z"}))
    rotated = call(api, "PATCH", f"{BASE}/{token['uuid']}/rotate", admin, {"expiresAt": "2027-02-01T00:00:00.000Z"})
    assert rotated.status == 200
    fresh = results(rotated)
    assert set(fresh) == METADATA_FIELDS | {"token"}
    assert fresh["token"] != token["token"] and fresh["rotatedAt"] is not None
    assert fresh["expiresAt"] == "2027-02-01T00:00:00.000Z"
    old = api.handle("GET", "/api/v1/scim/v2/Users", [("Authorization", f"Bearer {token['token']}")])
    assert old.status == 401
    assert json.loads(old.body)["status"] == "401"
    assert old.header("WWW-Authenticate").startswith("Bearer")
    again = call(api, "PATCH", f"{BASE}/{token['uuid']}/rotate", admin, {"expiresAt": "2027-03-01T00:00:00.000Z"})
    assert again.status == 400
    assert error_of(again)["message"].startswith("Token can only be rotated once per hour")


def test_a_second_rotation_within_the_hour_says_when_the_next_is_possible(
    api: Dispatcher, admin: AdminFixture, clock: FixedClock
):
    """Given a token rotated 15 minutes ago, when it is rotated again, then 400 naming the moment
    the next rotation is possible and a Retry-After header with the seconds until then."""
    token = results(call(api, "POST", BASE, admin, {"description": "Okta", "expiresAt": "2027-01-01T00:00:00.000Z"}))
    rotated = results(
        call(api, "PATCH", f"{BASE}/{token['uuid']}/rotate", admin, {"expiresAt": "2027-02-01T00:00:00Z"})
    )
    clock.advance(minutes=15)

    again = call(api, "PATCH", f"{BASE}/{token['uuid']}/rotate", admin, {"expiresAt": "2027-03-01T00:00:00Z"})

    assert again.status == 400
    assert rotated["rotatedAt"] == "2026-11-28T12:00:00.000Z"
    assert error_of(again)["message"] == (
        "Token can only be rotated once per hour; next rotation possible after 2026-11-28T13:00:00.000Z"
    )
    assert again.header("Retry-After") == str(45 * 60)


@pytest.mark.parametrize(
    ("route", "body", "field"),
    [
        ("create", {"description": "Okta", "expires_at": "2027-01-01T00:00:00Z"}, "expires_at"),
        ("create", {"description": "Okta", "expiresAt": None, "scopes": ["users"]}, "scopes"),
        ("rotate", {"expires_at": "2027-02-01T00:00:00Z"}, "expires_at"),
        ("rotate", {"expiresAt": "2027-02-01T00:00:00Z", "ExpiresAt": "2027-03-01T00:00:00Z"}, "ExpiresAt"),
    ],
)
def test_an_unknown_field_is_400_naming_it(api: Dispatcher, admin: AdminFixture, route: str, body: dict, field: str):
    """Given a body with a field the route does not take (a typo such as expires_at would mint a
    token that can never be rotated), when it is sent, then 400 naming the field and the accepted
    ones, and nothing is created or rotated."""
    token = results(call(api, "POST", BASE, admin, {"description": "Okta", "expiresAt": "2027-01-01T00:00:00Z"}))
    method, path = ("POST", BASE) if route == "create" else ("PATCH", f"{BASE}/{token['uuid']}/rotate")

    response = call(api, method, path, admin, body)

    assert response.status == 400
    accepted = "description, expiresAt" if route == "create" else "expiresAt"
    assert f"unknown field '{field}' (accepted: {accepted})" in error_of(response)["message"]
    assert [listed["uuid"] for listed in results(call(api, "GET", BASE, admin))] == [token["uuid"]]
    assert results(call(api, "GET", f"{BASE}/{token['uuid']}", admin))["rotatedAt"] is None


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "expiresAt is required: a rotated token must have a new expiration date"),
        ({"expiresAt": None}, 400, "expiresAt is required: a rotated token must have a new expiration date"),
        ({"expiresAt": "2000-01-01T00:00:00Z"}, 400, "Expire time must be in the future"),
        ("nope", 400, None),
    ],
)
def test_rotate_input_rules(api: Dispatcher, admin: AdminFixture, body, status, message):
    token = results(call(api, "POST", BASE, admin, {"description": "Okta", "expiresAt": "2027-01-01T00:00:00Z"}))
    response = call(api, "PATCH", f"{BASE}/{token['uuid']}/rotate", admin, body)
    assert response.status == status
    if message:
        assert error_of(response)["message"] == message


def test_rotate_without_expiry_token_is_refused(api: Dispatcher, admin: AdminFixture):
    token = results(call(api, "POST", BASE, admin, {"description": "Okta"}))
    response = call(api, "PATCH", f"{BASE}/{token['uuid']}/rotate", admin, {"expiresAt": "2027-01-01T00:00:00Z"})
    assert response.status == 400
    assert error_of(response)["message"] == "Token with no expiration date cannot be rotated"


def test_unknown_token_is_404_for_get_rotate_and_delete(api: Dispatcher, admin: AdminFixture):
    unknown = str(uuid.uuid4())
    for method, path, body in [
        ("GET", f"{BASE}/{unknown}", None),
        ("DELETE", f"{BASE}/{unknown}", None),
        ("PATCH", f"{BASE}/{unknown}/rotate", {"expiresAt": "2027-01-01T00:00:00Z"}),
    ]:
        response = call(api, method, path, admin, body)
        assert response.status == 404, (method, response.body)
        assert error_of(response)["name"] == "NotFoundError"


def test_revoke_then_token_fails_and_is_gone(api: Dispatcher, admin: AdminFixture):
    token = results(call(api, "POST", BASE, admin, {"description": "Okta"}))
    assert call(api, "DELETE", f"{BASE}/{token['uuid']}", admin).status == 200
    assert api.handle("GET", "/api/v1/scim/v2/Users", [("Authorization", f"Bearer {token['token']}")]).status == 401
    assert results(call(api, "GET", BASE, admin)) == []


@pytest.mark.parametrize(
    "authorization", [None, "ApiKey", "ApiKey nope", "Bearer scim_0123456789abcdef0123456789abcdef"]
)
def test_token_api_needs_a_valid_api_key(api: Dispatcher, authorization):
    response = call(api, "GET", BASE, authorization)
    assert response.status == 401
    assert error_of(response)["name"] == "AuthorizationError"


def test_token_api_is_for_admins_only(api: Dispatcher, app_runtime: Runtime, admin: AdminFixture):
    now = app_runtime.clock.now()
    member = Person(str(uuid.uuid4()), admin.organization_uuid, "m@acme.test", True, OrganizationRole.MEMBER, now, now)
    app_runtime.stores.people.create_person(member)
    _, key = app_runtime.organizations.create_api_key(admin.organization_uuid, member.uuid, "member key")
    response = call(api, "GET", BASE, f"ApiKey {key}")
    assert response.status == 403
    assert error_of(response)["name"] == "ForbiddenError"


def test_secrets_never_stored_nor_logged(
    api: Dispatcher, admin: AdminFixture, dynamodb_client, table_name, capsys, caplog
):
    # Given every operation of the token API, including a rotation and a SCIM request
    first = results(call(api, "POST", BASE, admin, {"description": "Okta", "expiresAt": "2027-01-01T00:00:00Z"}))
    api.handle("GET", "/api/v1/scim/v2/Users", [("Authorization", f"Bearer {first['token']}")])
    rotated = results(
        call(api, "PATCH", f"{BASE}/{first['uuid']}/rotate", admin, {"expiresAt": "2027-02-01T00:00:00Z"})
    )
    call(api, "GET", BASE, admin)
    call(api, "DELETE", f"{BASE}/{first['uuid']}", admin)
    secrets = [first["token"], rotated["token"], admin.api_key]
    # Then no stored item and no log line holds a raw secret
    items = dynamodb_client.scan(TableName=table_name)["Items"]
    stored = json.dumps(items)
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    for secret in secrets:
        assert secret not in stored
        assert secret not in logs


def test_a_throttled_table_is_503_with_retry_after_in_the_token_api_envelope(
    api: Dispatcher, admin: AdminFixture, table: Table, monkeypatch: pytest.MonkeyPatch
):
    # given an admin, and a table whose reads are throttled beyond botocore's retries
    authorization = admin.authorization

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "GetItem")

    monkeypatch.setattr(table.client, "get_item", throttled)

    # when the admin lists their tokens
    response = call(api, "GET", BASE, authorization)

    # then they are told to come back later, in the token API's envelope, not a 500
    assert response.status == 503
    assert error_of(response)["name"] == "ServiceUnavailableError"
    assert response.header("Retry-After") == "5"
