"""The change events on the real dev server, over HTTP: an Okta-shaped and an Entra-shaped
lifecycle produce exactly the expected events (the dev server's stream feeds the same publisher
as Lambda does in AWS, onto its local bus), each as an EventBridge rule's target gets it, a line
each in the server's output, and a deactivation is visible within a second of its answer."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from devserver.dev_only import EVENTS_PATH
from tests.e2e.helpers import REQUEST_TIMEOUT_SECONDS, DevServer, Scim, mint_scim_token, unique_name
from tests.polling import eventually
from tests.scim_samples import ENTERPRISE, entra_user, okta_user, patch_op

pytestmark = pytest.mark.e2e

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
# The promise: a deactivation is visible to a consumer within a second of its answer.
DEACTIVATION_VISIBLE_SECONDS = 1.0
ENVELOPE = {"version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"}


@pytest.fixture(scope="module")
def scim(dev_server: DevServer) -> Scim:
    return Scim(dev_server, mint_scim_token(dev_server, "Identity provider (events)"))


def published(server: DevServer) -> list[dict[str, Any]]:
    response = requests.get(server.url(EVENTS_PATH), timeout=REQUEST_TIMEOUT_SECONDS)
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def events_about(server: DevServer, scim: Scim, *resource_ids: str) -> list[tuple[str, str]]:
    """The (detail-type, resource id) of every published event about ``resource_ids``, once all
    that came before a fence were published: a user created last, whose event the publisher
    (reading the stream in order) publishes after every earlier one."""
    fence = scim.ok("POST", "/Users", okta_user(unique_name("fence"), externalId=None), status=201)["id"]

    def fenced() -> list[dict[str, Any]]:
        return published(server)

    events = eventually(fenced, lambda found: any(event["detail"]["resourceId"] == fence for event in found))
    assert any(event["detail"]["resourceId"] == fence for event in events), "the fence was never published"
    return [
        (event["detail-type"], event["detail"]["resourceId"])
        for event in events
        if event["detail"]["resourceId"] in resource_ids
    ]


# ------------------------------------------------------------------------------ Okta
def test_an_okta_lifecycle_gives_exactly_its_events_in_order(dev_server: DevServer, scim: Scim) -> None:
    user_name = unique_name("okta")

    # Given a person assigned to the app: Okta looks them up (no event), creates them, and
    # pushes a profile change with PUT
    scim.listed(f"filter=userName%20eq%20%22{user_name}%22&startIndex=1&count=100")
    user = scim.ok("POST", "/Users", okta_user(user_name), status=201)
    scim.ok("PUT", f"/Users/{user['id']}", {**user, "displayName": "Ada King", "groups": []})

    # When Okta pushes a group with them, renames it, removes them from it, deactivates them
    # (a path-less replace) and deletes the group
    group = scim.ok(
        "POST",
        "/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": f"okta-{uuid.uuid4().hex[:6]}", "members": [{"value": user["id"]}]},
        status=201,
    )
    scim.ok("PATCH", f"/Groups/{group['id']}", patch_op({"op": "replace", "value": {"displayName": "Okta Eng"}}))
    scim.ok("PATCH", f"/Groups/{group['id']}", patch_op({"op": "remove", "path": f'members[value eq "{user["id"]}"]'}))
    scim.ok("PATCH", f"/Users/{user['id']}", patch_op({"op": "replace", "value": {"active": False}}))
    assert scim.request("DELETE", f"/Groups/{group['id']}").status_code == 204

    # Then exactly these events were published, in this order
    assert events_about(dev_server, scim, user["id"], group["id"]) == [
        ("ScimUserCreated", user["id"]),
        ("ScimUserUpdated", user["id"]),
        ("ScimGroupCreated", group["id"]),
        ("ScimGroupMembersAdded", group["id"]),
        ("ScimGroupUpdated", group["id"]),
        ("ScimGroupMembersRemoved", group["id"]),
        ("ScimUserDeactivated", user["id"]),
        ("ScimGroupDeleted", group["id"]),
    ]


# ------------------------------------------------------------------------------ Entra
def test_an_entra_lifecycle_gives_exactly_its_events_in_order(dev_server: DevServer, scim: Scim) -> None:
    user_name = unique_name("entra")

    # Given Entra's connection test (no event), then its create and attribute update in its
    # own PATCH dialect
    scim.listed(f"filter=userName%20eq%20%22{uuid.uuid4()}%22")
    user = scim.ok("POST", "/Users", entra_user(user_name, externalId=str(uuid.uuid4())), status=201)
    scim.ok(
        "PATCH",
        f"/Users/{user['id']}",
        patch_op(
            {"op": "Replace", "path": "displayName", "value": "Amazing Grace"},
            {"op": "Add", "value": {f"{ENTERPRISE}:department": "Navy"}},
        ),
    )

    # When Entra creates a group, adds the user, deactivates them ("False"), removes them from
    # the group, then deletes the user and the group
    group = scim.ok(
        "POST",
        "/Groups",
        {"schemas": [GROUP_SCHEMA], "displayName": f"entra-{uuid.uuid4().hex[:6]}", "externalId": str(uuid.uuid4())},
        status=201,
    )
    group_path = f"/Groups/{group['id']}"
    assert scim.request(
        "PATCH", group_path, patch_op({"op": "Add", "path": "members", "value": [{"value": user["id"]}]})
    ).ok
    scim.ok("PATCH", f"/Users/{user['id']}", patch_op({"op": "Replace", "path": "active", "value": "False"}))
    assert scim.request(
        "PATCH", group_path, patch_op({"op": "Remove", "path": "members", "value": [{"value": user["id"]}]})
    ).ok
    assert scim.request("DELETE", f"/Users/{user['id']}").status_code == 204
    assert scim.request("DELETE", group_path).status_code == 204

    # Then exactly these events were published, in this order
    assert events_about(dev_server, scim, user["id"], group["id"]) == [
        ("ScimUserCreated", user["id"]),
        ("ScimUserUpdated", user["id"]),
        ("ScimGroupCreated", group["id"]),
        ("ScimGroupMembersAdded", group["id"]),
        ("ScimUserDeactivated", user["id"]),
        ("ScimGroupMembersRemoved", group["id"]),
        ("ScimUserDeleted", user["id"]),
        ("ScimGroupDeleted", group["id"]),
    ]


# ------------------------------------------------------------------------------ latency
def test_a_deactivation_is_visible_within_a_second_of_its_answer_as_a_rule_target_gets_it(
    dev_server: DevServer, scim: Scim
) -> None:
    # given a user
    user = scim.ok("POST", "/Users", okta_user(unique_name("leaver"), externalId=None), status=201)

    # when Okta deactivates them
    scim.ok("PATCH", f"/Users/{user['id']}", patch_op({"op": "replace", "value": {"active": False}}))
    answered = time.monotonic()

    # then the event is on the local bus within a second of the answer
    def deactivations() -> list[dict[str, Any]]:
        return [
            event
            for event in published(dev_server)
            if event["detail-type"] == "ScimUserDeactivated" and event["detail"]["resourceId"] == user["id"]
        ]

    found = eventually(deactivations, bool, timeout=DEACTIVATION_VISIBLE_SECONDS)
    waited = time.monotonic() - answered
    assert found, f"no deactivation event {waited:.2f} s after the answer"
    assert waited < DEACTIVATION_VISIBLE_SECONDS

    # and it is what an EventBridge rule's target receives, and a line of the server's output
    (event,) = found
    assert set(event) == ENVELOPE
    assert (event["source"], event["version"], event["resources"]) == ("scim-provisioning", "0", [])
    assert event["detail"]["version"] == 2 and event["detail"]["active"] is False
    assert event["detail"]["attributes"] == ["active"]
    line = f"event ScimUserDeactivated User {user['id']} version 2"
    assert eventually(lambda: line in dev_server.log(), bool), dev_server.log()
