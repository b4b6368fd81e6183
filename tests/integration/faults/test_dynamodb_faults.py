"""What clients are told when DynamoDB fails the way the network and the service do, injected by
the fault proxy (devserver/dynamodb_proxy.py) between the service's own client (its retries
and timeouts) and the embedded DynamoDB: a committed write is a success even when its answer
was lost, and every refusal that outlasts botocore's retries is a 503 with Retry-After, in the
SCIM dialect and in the admin APIs' envelope, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devserver.dispatch import Dispatcher
from devserver.dynamodb_proxy import DynamoDBProxy, Fault
from scim_provisioning.repository.items import deserialize
from scim_provisioning.runtime import Runtime
from tests.integration.faults.helpers import ATTEMPTS, NextRequests
from tests.integration.helpers import AdminFixture, call, document, scim_error
from tests.scim_samples import okta_user

USERS = "/api/v1/scim/v2/Users"
TOKENS = "/api/v1/scim/organization-access-tokens"


def users_named(direct: Any, table_name: str, user_name: str) -> int:
    items = [deserialize(item) for item in direct.scan(TableName=table_name)["Items"]]
    return sum(1 for item in items if item.get("entity") == "User" and item["userName"] == user_name)


def test_a_create_whose_answer_was_lost_is_answered_201_once(
    direct: Any, table_name: str, proxy: DynamoDBProxy, served: Runtime, token: str
):
    # given a connection dropped after DynamoDB applied the user's transaction
    proxy.faults = NextRequests("TransactWriteItems", Fault.DROP_AFTER, 1)

    # when the IdP creates a user
    response = call(Dispatcher(), "POST", USERS, token, okta_user("ada@acme.test"))

    # then botocore's retry carried the same ClientRequestToken, DynamoDB answered it as the
    # first success, and the IdP hears 201 (not a 409 for a name its own request took)
    assert response.status == 201, response.body
    assert users_named(direct, table_name, "ada@acme.test") == 1
    replays = [exchange for exchange in proxy.exchanges() if exchange.replayed]
    assert len(replays) == 1 and replays[0].operation == "TransactWriteItems"


@pytest.mark.parametrize(
    "fault",
    [Fault.THROTTLED, Fault.THROTTLING, Fault.INTERNAL_ERROR, Fault.DROP_BEFORE],
    ids=lambda fault: fault.name.lower(),
)
def test_a_scim_read_refused_past_the_retries_is_503_with_retry_after(
    proxy: DynamoDBProxy, served: Runtime, token: str, fault: Fault
):
    # given a user, then DynamoDB refusing every attempt of the next read
    created = document(call(Dispatcher(), "POST", USERS, token, okta_user("ada@acme.test")))
    proxy.faults = NextRequests("GetItem", fault, 2 * ATTEMPTS)  # the bearer's and the user's

    # when the IdP reads the user, then it is told to come back later, in a SCIM body
    response = call(Dispatcher(), "GET", f"{USERS}/{created['id']}?excludedAttributes=groups", token)
    error = scim_error(response, 503)
    assert response.header("Retry-After") == "5" and "scimType" not in error


@pytest.mark.parametrize("fault", [Fault.THROTTLED, Fault.INTERNAL_ERROR, Fault.DROP_BEFORE], ids=str)
def test_an_admin_request_refused_past_the_retries_is_503_in_its_envelope(
    proxy: DynamoDBProxy, served: Runtime, admin: AdminFixture, fault: Fault
):
    # given the admin's key, then DynamoDB refusing every attempt of the token list's query
    proxy.faults = NextRequests("Query", fault, ATTEMPTS)

    # when the settings page lists the tokens
    response = call(Dispatcher(), "GET", TOKENS, admin.authorization, content_type="application/json")

    # then it is a 503 with Retry-After in the token API's envelope
    assert response.status == 503, response.body
    assert response.header("Retry-After") == "5"
    assert json.loads(response.body)["status"] == "error"


def test_a_patched_user_whose_groups_names_are_lost_after_the_commit_is_a_success(
    proxy: DynamoDBProxy, served: Runtime, token: str
):
    # given a user in a group, and every read of groups by key refused from now on
    api = Dispatcher()
    user = document(call(api, "POST", USERS, token, okta_user("ada@acme.test")))["id"]
    group = document(
        call(api, "POST", "/api/v1/scim/v2/Groups", token, {"displayName": "Eng", "members": [{"value": user}]})
    )
    proxy.faults = NextRequests("BatchGetItem", Fault.INTERNAL_ERROR, 100)

    # when the user is deactivated
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    response = call(api, "PATCH", f"{USERS}/{user}", token, body)

    # then the committed write is answered 200, its group named by id
    assert response.status == 200, response.body
    answered = document(response)
    assert answered["active"] is False and [g["value"] for g in answered["groups"]] == [group["id"]]
