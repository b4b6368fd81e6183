"""Each SCIM token's health on moto, as admins read it through the token API: SCIM requests go
through the real handlers, their activity records through the activity ingest (in the
background, as on the dev server), and the health endpoint reads what the ingest counted. The
failing tokens are the field's two classics: an identity provider still sending a rotated
secret (401s) and one sending an attribute the service refuses (400s)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from benchmarks.harness import FixedClock
from benchmarks.request_counter import DynamoDBRequestCounter
from devserver.dispatch import Dispatcher, HttpResponse
from scim_provisioning.activity_annotation import Action
from scim_provisioning.activity_records import ActivityRecord, new_entry_id
from scim_provisioning.models import CredentialKind, ScimTokenMetadata
from scim_provisioning.runtime import Runtime
from scim_provisioning.services.authentication import AdminPrincipal
from tests.integration.helpers import AdminFixture, call, make_admin
from tests.polling import eventually
from tests.scim_samples import USER_SCHEMA

TOKENS = "/api/v1/scim/organization-access-tokens"
USERS = "/api/v1/scim/v2/Users"


def principal(admin: AdminFixture) -> AdminPrincipal:
    return AdminPrincipal(admin.organization_uuid, admin.user_uuid, "key")


def mint(
    app_runtime: Runtime, admin: AdminFixture, name: str, expires_in: timedelta | None = None
) -> tuple[ScimTokenMetadata, str]:
    expires_at = None if expires_in is None else app_runtime.clock.now() + expires_in
    token, secret = app_runtime.access_tokens.create(principal(admin), name, expires_at)
    return token, f"Bearer {secret}"


def health(api: Dispatcher, admin: AdminFixture, token_uuid: str) -> HttpResponse:
    return api.handle("GET", f"{TOKENS}/{token_uuid}/health", [("Authorization", admin.authorization)])


def health_of(api: Dispatcher, admin: AdminFixture, token_uuid: str) -> dict[str, Any]:
    response = health(api, admin, token_uuid)
    assert response.status == 200, response.body
    document = json.loads(response.body)
    assert document["status"] == "ok"
    return document["results"]


def counted(api: Dispatcher, admin: AdminFixture, token_uuid: str, requests: int) -> dict[str, Any]:
    """The token's health once the ingest has counted ``requests`` of its requests."""
    return eventually(lambda: health_of(api, admin, token_uuid), lambda found: found["requests24h"] >= requests)


def user(name: str, **attributes: Any) -> dict[str, Any]:
    return {"schemas": [USER_SCHEMA], "userName": name, "active": True, **attributes}


@pytest.mark.usefixtures("activity_ingest")
def test_a_token_used_without_failures_is_healthy(app_runtime: Runtime, api: Dispatcher, admin: AdminFixture) -> None:
    """Given a token whose identity provider created a user and looked it up, when the admin asks
    its health, then it is healthy, with 2 requests, no failure, its last success and no action."""
    token, bearer = mint(app_runtime, admin, "Okta", timedelta(days=90))
    assert call(api, "POST", USERS, bearer, user("ada@example.test")).status == 201
    assert call(api, "GET", f"{USERS}?count=1", bearer).status == 200

    found = counted(api, admin, token.uuid, 2)

    assert (found["status"], found["action"], found["requests24h"], found["failures24h"]) == ("healthy", None, 2, 0)
    assert found["lastSuccessAt"] is not None and found["lastError"] is None
    assert found["tokenUuid"] == token.uuid and found["description"] == "Okta"


@pytest.mark.usefixtures("activity_ingest")
def test_an_identity_provider_still_sending_a_rotated_secret_makes_the_token_fail(
    app_runtime: Runtime, api: Dispatcher, admin: AdminFixture, clock: FixedClock
) -> None:
    """Given a token used by Okta, then rotated without Okta being updated, when Okta's next three
    requests come with the old secret (401), then the token is failing: 3 failures of the identity
    provider's, the last error 401 "rotated or revoked", and the action says to paste the current
    secret into the identity provider, or to rotate again when it is lost."""
    token, old_bearer = mint(app_runtime, admin, "Okta", timedelta(days=30))
    assert call(api, "GET", f"{USERS}?count=1", old_bearer).status == 200
    clock.advance(hours=2)
    app_runtime.access_tokens.rotate(principal(admin), token.uuid, clock.now() + timedelta(days=90))
    for _ in range(3):
        clock.advance(minutes=5)
        assert call(api, "GET", f"{USERS}?count=1", old_bearer).status == 401

    found = counted(api, admin, token.uuid, 4)

    assert found["status"] == "failing"
    assert (found["failures24h"], found["failures24hByCause"]) == (3, {"identityProvider": 3, "service": 0})
    assert found["lastError"]["status"] == 401 and found["lastError"]["cause"] == "identity_provider"
    assert "rotated or revoked" in found["lastError"]["detail"]
    assert "Paste this token's current secret" in found["action"]
    assert "rotate the token (once an hour)" in found["action"]


@pytest.mark.usefixtures("activity_ingest")
def test_an_identity_provider_sending_a_bad_attribute_makes_the_token_fail_with_the_attribute_named(
    app_runtime: Runtime, api: Dispatcher, admin: AdminFixture, clock: FixedClock
) -> None:
    """Given an identity provider whose mapping sends `active` as "maybe", when it creates two users
    (400 each) after a successful lookup, then the token is failing with the 400's scimType and
    detail, and the action says to fix the attribute mapping, naming what was refused."""
    token, bearer = mint(app_runtime, admin, "Entra ID", timedelta(days=90))
    assert call(api, "GET", f"{USERS}?count=1", bearer).status == 200
    for name in ("ada@example.test", "grace@example.test"):
        clock.advance(minutes=1)
        refused = call(api, "POST", USERS, bearer, user(name, active="maybe"))
        assert refused.status == 400, refused.body

    found = counted(api, admin, token.uuid, 3)

    assert found["status"] == "failing"
    assert found["failures24hByCause"] == {"identityProvider": 2, "service": 0}
    error = found["lastError"]
    assert (error["status"], error["scimType"]) == (400, "invalidValue")
    assert "active" in error["detail"]
    assert found["action"].startswith("Fix the attribute mapping in your identity provider")
    assert error["detail"] in found["action"]


def ingest(app_runtime: Runtime, token: ScimTokenMetadata, statuses: list[int], start: datetime) -> None:
    """The token's requests, one a minute from ``start``, as the activity ingest counts them."""
    records = []
    for minute, status in enumerate(statuses):
        at = start + timedelta(minutes=minute)
        records.append(
            ActivityRecord(
                new_entry_id(at),
                at,
                "GET",
                USERS,
                status,
                token.organization_uuid,
                CredentialKind.SCIM_TOKEN,
                token.uuid,
                authenticated=True,
                action=Action.LIST,
            )
        )
    app_runtime.activity_ingest.ingest(records)


def test_routine_refusals_and_a_few_failures_leave_a_token_healthy_a_tenth_makes_it_fail(
    app_runtime: Runtime, api: Dispatcher, admin: AdminFixture, clock: FixedClock
) -> None:
    """Given a sync that ended on a 404 (deleting someone already gone) after 19 successes, a sync
    of 30 with one 400 in the middle, and one of 10 with two 400s and a success last, then the
    first two are healthy (their failures counted and shown) and the third failing: a tenth of
    its requests failed, though its latest succeeded."""
    routine, _ = mint(app_runtime, admin, "Okta")
    one_bad_user, _ = mint(app_runtime, admin, "Entra ID")
    bad_share, _ = mint(app_runtime, admin, "Okta (HR)")
    ingest(app_runtime, routine, [200] * 19 + [404], clock.now())
    ingest(app_runtime, one_bad_user, [200] * 15 + [400] + [200] * 14, clock.now())
    ingest(app_runtime, bad_share, [200] * 4 + [400, 400] + [200] * 4, clock.now())
    clock.advance(minutes=30)

    found = {token.description: health_of(api, admin, token.uuid) for token in (routine, one_bad_user, bad_share)}

    assert {name: health["status"] for name, health in found.items()} == {
        "Okta": "healthy",
        "Entra ID": "healthy",
        "Okta (HR)": "failing",
    }
    assert (found["Okta"]["failures24h"], found["Okta"]["lastError"]["status"]) == (1, 404)
    assert (found["Entra ID"]["requests24h"], found["Entra ID"]["failures24h"]) == (30, 1)
    assert found["Okta (HR)"]["action"].startswith("Fix the attribute mapping")


def test_failures_of_the_service_are_told_apart_from_the_identity_providers(
    app_runtime: Runtime, api: Dispatcher, admin: AdminFixture, clock: FixedClock
) -> None:
    """Given a token whose last two requests got 503 (DynamoDB capacity) after 8 successes, as the
    ingest counts them, then the token is failing, both failures are the service's, and the action
    says so instead of asking the admin to change their configuration."""
    token, _ = mint(app_runtime, admin, "Okta")
    ingest(app_runtime, token, [200] * 8 + [503, 503], clock.now())
    clock.advance(minutes=10)

    found = health_of(api, admin, token.uuid)

    assert found["status"] == "failing"
    assert found["failures24hByCause"] == {"identityProvider": 0, "service": 2}
    assert found["lastError"]["cause"] == "service"
    assert "our side" in found["action"]


def test_expiry_never_used_and_idle_statuses(
    app_runtime: Runtime, api: Dispatcher, admin: AdminFixture, clock: FixedClock
) -> None:
    """Given a token expiring in 10 days and one without expiry, both used, and a third never
    used, then the first is expiring (rotate before its date), the second healthy, the third
    never_used; 15 days later, the second used again, the first is expired, the second healthy,
    the third still never_used; 15 more days without a request, the second is idle, and with no
    other token in use the action says that may be normal."""
    expiring, _ = mint(app_runtime, admin, "Okta (expiring)", timedelta(days=10))
    steady, _ = mint(app_runtime, admin, "Entra ID")
    unused, _ = mint(app_runtime, admin, "Never set up")
    stamp = app_runtime.stores.credentials.stamp_last_used
    for token in (expiring, steady):
        stamp(admin.organization_uuid, CredentialKind.SCIM_TOKEN, token.uuid, clock.now(), clock.now())

    first = {token.uuid: health_of(api, admin, token.uuid) for token in (expiring, steady, unused)}
    clock.advance(days=15)
    stamp(admin.organization_uuid, CredentialKind.SCIM_TOKEN, steady.uuid, clock.now(), clock.now())
    later = {token.uuid: health_of(api, admin, token.uuid)["status"] for token in (expiring, steady, unused)}
    clock.advance(days=15)
    idle = health_of(api, admin, steady.uuid)

    assert first[expiring.uuid]["status"] == "expiring"
    assert first[expiring.uuid]["action"].startswith(f"Rotate this token before {expiring.expires_at:%Y-%m-%d}")
    assert (first[steady.uuid]["status"], first[unused.uuid]["status"]) == ("healthy", "never_used")
    assert later == {expiring.uuid: "expired", steady.uuid: "healthy", unused.uuid: "never_used"}
    assert idle["status"] == "idle"
    assert idle["action"].startswith("No request for 15 days: nothing to do if nobody joined or left")


def test_the_health_endpoint_answers_in_the_token_apis_envelope_and_costs_two_queries(
    app_runtime: Runtime, api: Dispatcher, admin: AdminFixture, dynamodb_client: Any
) -> None:
    """Given a token, when its health is asked with the admin's key, then the answer is the token
    API's envelope and costs the ApiKey authentication (2 GetItem) and 2 Queries (the
    organization's tokens, the token's hours) whatever the traffic; another organization's admin
    gets 404, a caller without a key 401, both in the envelope."""
    token, _ = mint(app_runtime, admin, "Okta")
    stranger = make_admin(app_runtime, "Globex", "admin@globex.test")
    counter = DynamoDBRequestCounter(dynamodb_client)

    with counter.measure() as tally:
        found = health(api, admin, token.uuid)
    foreign = health(api, stranger, token.uuid)
    anonymous = api.handle("GET", f"{TOKENS}/{token.uuid}/health")

    assert found.status == 200 and found.header("Cache-Control") == "no-store"
    assert dict(tally.requests) == {"GetItem": 2, "Query": 2}
    assert foreign.status == 404 and json.loads(foreign.body)["error"]["name"] == "NotFoundError"
    assert anonymous.status == 401 and json.loads(anonymous.body)["status"] == "error"


def test_the_health_route_answers_other_methods_with_405(api: Dispatcher, admin: AdminFixture) -> None:
    """Given the health route, when it is called with DELETE, then it is a 405 naming GET."""
    response = api.handle("DELETE", f"{TOKENS}/any/health", [("Authorization", admin.authorization)])

    assert response.status == 405 and response.header("Allow") == "GET"


def test_a_token_quiet_beside_a_busy_one_is_idle_with_the_busy_one_named(
    app_runtime: Runtime, api: Dispatcher, admin: AdminFixture, clock: FixedClock
) -> None:
    """Given an old token last used 20 days ago and a new one used today, when the admin asks the
    old one's health, then it is idle and the action names the token in use and says to revoke
    this one if its identity provider was replaced."""
    old, _ = mint(app_runtime, admin, "Okta (old tenant)")
    new, _ = mint(app_runtime, admin, "Okta")
    stamp = app_runtime.stores.credentials.stamp_last_used
    stamp(admin.organization_uuid, CredentialKind.SCIM_TOKEN, old.uuid, clock.now(), clock.now())
    clock.advance(days=20)
    stamp(admin.organization_uuid, CredentialKind.SCIM_TOKEN, new.uuid, clock.now(), clock.now())

    found = health_of(api, admin, old.uuid)

    assert found["status"] == "idle"
    assert found["action"].startswith('No request for 20 days while "Okta" is in use')
    assert "revoke this token" in found["action"]
