"""The SCIM access-token API over real HTTP, through the dev server, on its embedded DynamoDB:
what an admin's script or curl sees, including the concurrency and the secrecy guarantees."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from scim_provisioning.clock import SystemClock
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.services.organizations import OrganizationService
from tests.e2e.helpers import REQUEST_TIMEOUT_SECONDS, DevServer

pytestmark = pytest.mark.e2e

TOKENS = "/api/v1/scim/organization-access-tokens"
SCIM_USERS = "/api/v1/scim/v2/Users"
TOKEN_PATTERN = re.compile(r"^scim_[0-9a-f]{32}$")
TIMESTAMP_PATTERN = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
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
SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def in_days(days: int) -> str:
    """A moment ``days`` from now in the service's own format (UTC, milliseconds, Z)."""
    moment = datetime.now(UTC) + timedelta(days=days)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


class TokenApi:
    """The token API as one admin calls it; every secret it is handed is remembered, so the last
    test can prove that none of them was stored or logged."""

    def __init__(self, server: DevServer, api_key: str, seen_secrets: list[str]) -> None:
        self.server = server
        self.api_key = api_key
        self.seen_secrets = seen_secrets
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"ApiKey {api_key}"

    def _remember(self, response: requests.Response) -> requests.Response:
        results = response.json().get("results") if response.content else None
        if isinstance(results, dict) and "token" in results:
            self.seen_secrets.append(results["token"])
        return response

    def create(self, description: str = "Okta SCIM token", expires_at: str | None = None) -> requests.Response:
        body = {"description": description, "expiresAt": expires_at}
        return self._remember(self.session.post(self.server.url(TOKENS), json=body, timeout=REQUEST_TIMEOUT_SECONDS))

    def create_ok(self, expires_at: str | None = None) -> dict[str, Any]:
        response = self.create(expires_at=expires_at)
        assert response.status_code == 201, response.text
        return response.json()["results"]

    def list(self) -> requests.Response:
        return self.session.get(self.server.url(TOKENS), timeout=REQUEST_TIMEOUT_SECONDS)

    def get(self, token_uuid: str) -> requests.Response:
        return self.session.get(self.server.url(f"{TOKENS}/{token_uuid}"), timeout=REQUEST_TIMEOUT_SECONDS)

    def rotate(self, token_uuid: str, body: Any, session: requests.Session | None = None) -> requests.Response:
        url = self.server.url(f"{TOKENS}/{token_uuid}/rotate")
        return self._remember((session or self.session).patch(url, json=body, timeout=REQUEST_TIMEOUT_SECONDS))

    def revoke(self, token_uuid: str) -> requests.Response:
        return self.session.delete(self.server.url(f"{TOKENS}/{token_uuid}"), timeout=REQUEST_TIMEOUT_SECONDS)

    def scim_users(self, token: str) -> requests.Response:
        """What an identity provider gets from a SCIM route with this bearer token."""
        return requests.get(
            self.server.url(SCIM_USERS),
            headers={"Authorization": f"Bearer {token}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )


@pytest.fixture(scope="module")
def seen_secrets() -> list[str]:
    return []


@pytest.fixture(scope="module")
def admin(dev_server: DevServer, seen_secrets: list[str]) -> TokenApi:
    """The local organization's admin, with the API key the dev server was started with."""
    return TokenApi(dev_server, dev_server.api_key, seen_secrets)


@pytest.fixture(scope="module")
def other_admin(dev_server: DevServer, seen_secrets: list[str]) -> TokenApi:
    """The admin of a second organization, written straight into the dev server's table with
    the service itself (there is no HTTP route that creates organizations)."""
    client = boto3.client("dynamodb", endpoint_url=dev_server.dynamodb_endpoint, region_name="us-east-1")
    stores = dynamodb_stores(client, dev_server.table_name)
    organizations = OrganizationService(stores.organizations, stores.people, stores.api_keys, SystemClock())
    organization, person = organizations.create_organization("Other organization", "admin@other.test", "Otto", "Other")
    _, api_key = organizations.create_api_key(organization.uuid, person.uuid, "e2e key")
    seen_secrets.append(api_key)
    return TokenApi(dev_server, api_key, seen_secrets)


def assert_error(response: requests.Response, status: int, message: str | None = None) -> None:
    """The token API's error envelope, with the expected status (and message)."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == "error"
    assert body["error"]["statusCode"] == status
    if message is not None:
        assert body["error"]["message"] == message


def assert_scim_unauthorized(response: requests.Response, detail: str | None = None) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["schemas"] == [SCIM_ERROR_SCHEMA]
    assert body["status"] == "401"
    if detail is None:
        assert body["detail"]
    else:
        assert body["detail"] == detail


# ------------------------------------------------------------------------------- create
def test_create_returns_the_token_once_with_its_metadata(admin: TokenApi) -> None:
    """Given an admin, when they create a token without expiry, then the 201 answer holds a
    scim_ token and the metadata, every timestamp in ISO 8601 with milliseconds and Z."""
    response = admin.create(description="Okta SCIM token", expires_at=None)

    assert response.status_code == 201, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["status"] == "ok"
    token = body["results"]
    assert set(token) == METADATA_FIELDS | {"token"}
    assert TOKEN_PATTERN.match(token["token"])
    assert token["description"] == "Okta SCIM token"
    assert TIMESTAMP_PATTERN.match(token["createdAt"])
    assert token["expiresAt"] is None and token["lastUsedAt"] is None and token["rotatedAt"] is None


def test_create_keeps_the_expiry_to_the_millisecond(admin: TokenApi) -> None:
    """Given an expiry with microseconds, when a token is created with it, then it comes back
    truncated to milliseconds, in UTC with Z."""
    token = admin.create_ok(expires_at="2031-05-06T07:08:09.123456+02:00")

    assert token["expiresAt"] == "2031-05-06T05:08:09.123Z"


@pytest.mark.parametrize("raw_body", ['{"description": "Okta"', "[]", '{"expiresAt": null}', "not json at all"])
def test_create_with_a_malformed_body_is_400(dev_server: DevServer, raw_body: str) -> None:
    """Given a body that is not JSON, not an object or lacks the description, when it is posted,
    then the answer is 400 in the error envelope, never a 500."""
    response = requests.post(
        dev_server.url(TOKENS),
        data=raw_body,
        headers={**dev_server.admin_headers, "Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )

    assert_error(response, 400)


@pytest.mark.parametrize("route", ["create", "rotate"])
def test_a_body_that_is_not_utf8_is_400(dev_server: DevServer, admin: TokenApi, route: str) -> None:
    """Given a body in Latin-1, when it is sent to the create or the rotate route, then 400 in
    the error envelope, never a 500."""
    created = admin.create_ok(expires_at=in_days(30))
    url = dev_server.url(TOKENS if route == "create" else f"{TOKENS}/{created['uuid']}/rotate")
    body = f'{{"description": "Café", "expiresAt": "{in_days(60)}"}}'.encode("latin-1")

    response = requests.request(
        "POST" if route == "create" else "PATCH",
        url,
        data=body,
        headers={**dev_server.admin_headers, "Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )

    assert_error(response, 400)
    assert "not UTF-8" in response.json()["error"]["message"]


# ------------------------------------------------------------------------- list and get
def test_list_and_get_show_metadata_but_never_a_secret(admin: TokenApi) -> None:
    """Given a token, when the admin lists and gets tokens, then its metadata is there and
    neither the secret nor anything like its digest is."""
    created = admin.create_ok(expires_at=in_days(30))

    listed = admin.list()
    fetched = admin.get(created["uuid"])

    assert listed.status_code == 200 and fetched.status_code == 200
    listed_token = next(token for token in listed.json()["results"] if token["uuid"] == created["uuid"])
    for document in (listed_token, fetched.json()["results"]):
        assert set(document) == METADATA_FIELDS
        assert document["expiresAt"] == created["expiresAt"]
    for response in (listed, fetched):
        assert created["token"] not in response.text
        assert "digest" not in response.text.lower() and "hash" not in response.text.lower()


def test_get_of_an_unknown_token_is_404(admin: TokenApi) -> None:
    """Given no such token, when it is fetched, then the answer is the 404 envelope."""
    response = admin.get("00000000-0000-4000-8000-000000000000")

    assert_error(response, 404)
    assert response.json()["error"]["name"] == "NotFoundError"


# ----------------------------------------------------------------------------- rotation
def test_rotation_replaces_the_secret_at_once(admin: TokenApi) -> None:
    """Given a token with an expiry, when it is rotated, then a new secret comes back, the old
    one is refused on SCIM routes (SCIM 401 with WWW-Authenticate) and the new one is accepted."""
    created = admin.create_ok(expires_at=in_days(30))
    new_expiry = in_days(60)

    response = admin.rotate(created["uuid"], {"expiresAt": new_expiry})

    assert response.status_code == 200, response.text
    rotated = response.json()["results"]
    assert TOKEN_PATTERN.match(rotated["token"]) and rotated["token"] != created["token"]
    assert rotated["uuid"] == created["uuid"]
    assert TIMESTAMP_PATTERN.match(rotated["rotatedAt"])
    assert rotated["expiresAt"] == new_expiry
    assert_scim_unauthorized(admin.scim_users(created["token"]))
    assert admin.scim_users(rotated["token"]).status_code != 401


def test_a_second_rotation_within_the_hour_is_refused_saying_when_it_is_possible(admin: TokenApi) -> None:
    """Given a token rotated a moment ago, when it is rotated again, then 400 that names the
    moment an hour after the first rotation, and Retry-After with the seconds until then."""
    created = admin.create_ok(expires_at=in_days(30))
    first = admin.rotate(created["uuid"], {"expiresAt": in_days(60)})
    assert first.status_code == 200
    rotated_at = datetime.fromisoformat(first.json()["results"]["rotatedAt"])

    response = admin.rotate(created["uuid"], {"expiresAt": in_days(90)})

    possible_at = rotated_at + timedelta(hours=1)
    assert_error(
        response,
        400,
        "Token can only be rotated once per hour; next rotation possible after "
        f"{possible_at:%Y-%m-%dT%H:%M:%S}.{possible_at.microsecond // 1000:03d}Z",
    )
    assert 3500 < int(response.headers["Retry-After"]) <= 3600


@pytest.mark.parametrize(
    ("route", "body"),
    [("create", {"description": "Okta", "expires_at": "2031-01-01T00:00:00Z"}), ("rotate", {"expires_at": None})],
)
def test_a_misspelled_field_is_400_naming_it(dev_server: DevServer, admin: TokenApi, route: str, body: dict) -> None:
    """Given a body with expires_at instead of expiresAt, when it is sent, then 400 naming the
    field: never a token that silently has no expiry (and so can never be rotated)."""
    created = admin.create_ok(expires_at=in_days(30))
    before = {token["uuid"] for token in admin.list().json()["results"]}

    if route == "create":
        response = admin.session.post(dev_server.url(TOKENS), json=body, timeout=REQUEST_TIMEOUT_SECONDS)
    else:
        response = admin.rotate(created["uuid"], body)

    assert_error(response, 400)
    assert "unknown field 'expires_at'" in response.json()["error"]["message"]
    assert {token["uuid"] for token in admin.list().json()["results"]} == before


def test_a_token_without_expiry_cannot_be_rotated(admin: TokenApi) -> None:
    """Given a token that never expires, when it is rotated, then 400."""
    created = admin.create_ok(expires_at=None)

    response = admin.rotate(created["uuid"], {"expiresAt": in_days(30)})

    assert_error(response, 400, "Token with no expiration date cannot be rotated")


@pytest.mark.parametrize(
    "body",
    [{"expiresAt": "2020-01-01T00:00:00.000Z"}, {}, {"expiresAt": None}, {"expiresAt": "tomorrow"}],
    ids=["past-expiry", "no-expiry", "null-expiry", "not-a-date"],
)
def test_rotation_needs_a_future_expiry(admin: TokenApi, body: dict[str, Any]) -> None:
    """Given a rotatable token, when the rotation's expiry is past, missing or no date, then 400
    and the token is unchanged."""
    created = admin.create_ok(expires_at=in_days(30))

    response = admin.rotate(created["uuid"], body)

    assert_error(response, 400)
    assert admin.get(created["uuid"]).json()["results"]["rotatedAt"] is None


def test_rotation_with_a_malformed_body_is_400(dev_server: DevServer, admin: TokenApi) -> None:
    """Given a rotatable token, when the rotation body is not JSON, then 400, never a 500."""
    created = admin.create_ok(expires_at=in_days(30))

    response = requests.patch(
        dev_server.url(f"{TOKENS}/{created['uuid']}/rotate"),
        data='{"expiresAt": ',
        headers={**dev_server.admin_headers, "Content-Type": "application/json"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )

    assert_error(response, 400)


def test_of_eight_concurrent_rotations_exactly_one_wins(admin: TokenApi) -> None:
    """Given one token, when 8 clients rotate it at the same instant, then exactly one gets 200
    and a working secret, the seven others get 400, and the original secret is dead."""
    created = admin.create_ok(expires_at=in_days(30))
    start_together = threading.Barrier(8)
    responses: list[requests.Response] = []

    def rotate() -> None:
        with requests.Session() as session:
            session.headers.update(admin.session.headers)
            start_together.wait()
            responses.append(admin.rotate(created["uuid"], {"expiresAt": in_days(60)}, session=session))

    clients = [threading.Thread(target=rotate) for _ in range(8)]
    for client in clients:
        client.start()
    for client in clients:
        client.join()

    assert sorted(response.status_code for response in responses) == [200] + [400] * 7
    (winner,) = (response for response in responses if response.status_code == 200)
    for loser in (response for response in responses if response.status_code == 400):
        assert loser.json()["error"]["message"].startswith("Token can only be rotated once per hour; next rotation")
    assert admin.scim_users(winner.json()["results"]["token"]).status_code != 401
    assert_scim_unauthorized(admin.scim_users(created["token"]))


# --------------------------------------------------------------------- expiry, revocation
def test_an_expired_token_is_refused(dev_server: DevServer, admin: TokenApi) -> None:
    """Given a token whose credential expired (its expiresAt rewritten into the past in the
    table, rather than waiting), when it is used, then SCIM 401 "SCIM token has expired"."""
    created = admin.create_ok(expires_at=in_days(30))
    digest = hashlib.sha256(created["token"].encode()).hexdigest()
    dev_server.dynamodb().update_item(
        TableName=dev_server.table_name,
        Key={"PK": {"S": f"CREDENTIAL#{digest}"}, "SK": {"S": "CREDENTIAL"}},
        UpdateExpression="SET expiresAt = :past",
        ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeValues={":past": {"S": "2020-01-01T00:00:00.000Z"}},
    )

    response = admin.scim_users(created["token"])

    assert_scim_unauthorized(response, "SCIM token has expired")


def test_a_revoked_token_is_gone(admin: TokenApi) -> None:
    """Given a token in use, when it is revoked, then SCIM routes refuse it, the API no longer
    knows it, and revoking it again is 404."""
    created = admin.create_ok(expires_at=in_days(30))
    assert admin.scim_users(created["token"]).status_code != 401

    response = admin.revoke(created["uuid"])

    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "results": None}
    assert_scim_unauthorized(admin.scim_users(created["token"]))
    assert_error(admin.get(created["uuid"]), 404)
    assert_error(admin.revoke(created["uuid"]), 404)


# ------------------------------------------------------------------------ who may do what
@pytest.mark.parametrize(
    "authorization",
    [None, "ApiKey scimadm_00000000000000000000000000000000", f"Bearer {'x' * 10}", "ApiKey ", "ApiKey"],
    ids=["missing", "unknown-key", "wrong-scheme", "empty-key", "scheme-only"],
)
def test_the_api_needs_a_valid_api_key(dev_server: DevServer, authorization: str | None) -> None:
    """Given no or a wrong API key, when the token API is called, then 401 with
    WWW-Authenticate: ApiKey."""
    headers = {} if authorization is None else {"Authorization": authorization}

    response = requests.get(dev_server.url(TOKENS), headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"] == "ApiKey"


def test_tokens_of_another_organization_do_not_exist_for_its_admin(admin: TokenApi, other_admin: TokenApi) -> None:
    """Given a token of the local organization, when the admin of another organization gets,
    rotates or revokes it, then 404 each time (its existence is not revealed), it is absent from
    their list, and it still works."""
    created = admin.create_ok(expires_at=in_days(30))

    assert_error(other_admin.get(created["uuid"]), 404)
    assert_error(other_admin.rotate(created["uuid"], {"expiresAt": in_days(60)}), 404)
    assert_error(other_admin.revoke(created["uuid"]), 404)
    assert created["uuid"] not in other_admin.list().text
    assert admin.scim_users(created["token"]).status_code != 401


# ----------------------------------------------------------------------------- secrecy
def test_no_secret_is_stored_or_logged(
    dev_server: DevServer, admin: TokenApi, other_admin: TokenApi, seen_secrets: list[str]
) -> None:
    """Given tokens minted and rotated by two admins (and, as this test runs last, every token
    and API key handed out in this module), when the whole table is scanned and the dev server's
    output read, then no secret appears in any stored item, no SCIM token appears in the output,
    and no API key appears after the startup banner (which prints the local admin's key)."""
    for token_api in (admin, other_admin):
        created = token_api.create_ok(expires_at=in_days(30))
        assert token_api.rotate(created["uuid"], {"expiresAt": in_days(60)}).status_code == 200
        assert token_api.scim_users(token_api.seen_secrets[-1]).status_code != 401
    scim_tokens = [secret for secret in seen_secrets if secret.startswith("scim_")]
    api_keys = [admin.api_key, other_admin.api_key]

    stored = json.dumps(dev_server.scan())
    output = dev_server.log()
    after_banner = output.split("Ready on", 1)[1]

    for secret in scim_tokens + api_keys:
        assert secret not in stored
    for token in scim_tokens:
        assert token not in output
    for api_key in api_keys:
        assert api_key not in after_banner
    assert "Authorization" not in after_banner
