"""SCIM /Groups over real HTTP against the dev server: the request sequences Okta's group
push and Microsoft Entra ID's group provisioning send, then concurrent member changes."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from tests.e2e.helpers import KNOWN_API_KEY, REQUEST_TIMEOUT_SECONDS, DevServer

pytestmark = pytest.mark.e2e

TOKENS = "/api/v1/scim/organization-access-tokens"
SCIM = "/api/v1/scim/v2"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Scim:
    """A SCIM client as an IdP is one: a bearer token and application/scim+json bodies."""

    def __init__(self, server: DevServer) -> None:
        answer = requests.post(
            server.url(TOKENS),
            json={"description": "IdP", "expiresAt": None},
            headers={"Authorization": f"ApiKey {KNOWN_API_KEY}"},
            timeout=REQUEST_TIMEOUT_SECONDS,
        )
        assert answer.status_code == 201, answer.text
        self.server = server
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Authorization": f"Bearer {answer.json()['results']['token']}",
                "Content-Type": "application/scim+json",
                "Accept": "application/scim+json",
            }
        )

    def request(self, method: str, path: str, body: Any = None, **params: str) -> requests.Response:
        return self.session.request(
            method, self.server.url(SCIM + path), json=body, params=params or None, timeout=REQUEST_TIMEOUT_SECONDS
        )

    def user(self, name: str) -> str:
        body = {"schemas": [USER_SCHEMA], "userName": f"{name}@groups.test", "displayName": name.title()}
        answer = self.request("POST", "/Users", body)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def patch(self, group_id: str, *operations: dict[str, Any], **params: str) -> requests.Response:
        return self.request(
            "PATCH", f"/Groups/{group_id}", {"schemas": [PATCH_OP], "Operations": list(operations)}, **params
        )

    def members(self, group_id: str) -> set[str]:
        answer = self.request("GET", f"/Groups/{group_id}")
        assert answer.status_code == 200, answer.text
        return {member["value"] for member in answer.json().get("members", [])}


@pytest.fixture(scope="module")
def scim(dev_server: DevServer) -> Scim:
    return Scim(dev_server)


def test_okta_group_push(scim: Scim) -> None:
    ada, bob, cyd = scim.user("okta-ada"), scim.user("okta-bob"), scim.user("okta-cyd")

    # Okta pushes the group with an empty member list, then its members as a list
    created = scim.request("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Okta Push", "members": []})
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]
    added = scim.patch(
        group_id,
        {"op": "add", "path": "members", "value": [{"value": ada, "display": "okta-ada@groups.test"}, {"value": bob}]},
    )
    assert added.status_code == 200, added.text

    # renames with a path-less replace carrying id and displayName
    renamed = scim.patch(group_id, {"op": "replace", "value": {"id": group_id, "displayName": "Okta Push 2"}})
    assert renamed.status_code == 200 and renamed.json()["displayName"] == "Okta Push 2"

    # removes one member by filter and adds one in the same request
    changed = scim.patch(
        group_id,
        {"op": "remove", "path": f'members[value eq "{ada}"]'},
        {"op": "add", "path": "members", "value": [{"value": cyd}]},
    )
    assert {member["value"] for member in changed.json()["members"]} == {bob, cyd}

    # replaces the whole member list, then PUTs the group with its full member list
    assert scim.patch(group_id, {"op": "replace", "path": "members", "value": [{"value": ada}]}).status_code == 200
    assert scim.members(group_id) == {ada}
    put = scim.request(
        "PUT",
        f"/Groups/{group_id}",
        {"schemas": [GROUP_SCHEMA], "id": group_id, "displayName": "Okta Push 2", "members": [{"value": bob}]},
    )
    assert put.status_code == 200, put.text
    assert scim.members(group_id) == {bob}

    # the user side shows the membership; a retried add changes nothing
    user = scim.request("GET", f"/Users/{bob}").json()
    assert [(group["value"], group["display"], group["type"]) for group in user["groups"]] == [
        (group_id, "Okta Push 2", "direct")
    ]
    for _ in range(2):
        assert scim.patch(group_id, {"op": "add", "path": "members", "value": [{"value": bob}]}).status_code == 200
    assert scim.members(group_id) == {bob}

    assert scim.request("DELETE", f"/Groups/{group_id}").status_code == 204
    assert scim.request("GET", f"/Groups/{group_id}").status_code == 404
    assert "groups" not in scim.request("GET", f"/Users/{bob}").json()


def test_entra_group_provisioning(scim: Scim) -> None:
    ada, bob, cyd = scim.user("entra-ada"), scim.user("entra-bob"), scim.user("entra-cyd")

    # Entra looks the group up by displayName without members, then creates it
    lookup = scim.request("GET", "/Groups", excludedAttributes="members", filter='displayName eq "Entra Group"')
    assert lookup.status_code == 200 and lookup.json()["totalResults"] == 0
    created = scim.request(
        "POST",
        "/Groups",
        {
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Entra Group",
            "schemas": [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "meta": {"resourceType": "Group"},
        },
    )
    assert created.status_code == 201, created.text
    group_id = created.json()["id"]

    # Add members with $ref null, one request per batch
    added = scim.patch(
        group_id,
        {
            "op": "Add",
            "path": "members",
            "value": [{"$ref": None, "value": ada}, {"$ref": None, "value": bob}, {"$ref": None, "value": cyd}],
        },
    )
    assert added.status_code == 200, added.text

    # Remove by filter path, then with path members and a value list
    assert scim.patch(group_id, {"op": "Remove", "path": f'members[value eq "{ada}"]'}).status_code == 200
    removed = scim.patch(group_id, {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": bob}]})
    assert removed.status_code == 200, removed.text
    assert scim.members(group_id) == {cyd}

    # Replace of displayName, answered without members when asked
    replaced = scim.patch(
        group_id, {"op": "Replace", "path": "displayName", "value": "Entra Group 2"}, excludedAttributes="members"
    )
    assert replaced.status_code == 200 and "members" not in replaced.json()

    # GET and lookups by displayName with excludedAttributes=members
    got = scim.request("GET", f"/Groups/{group_id}", excludedAttributes="members")
    assert got.json()["displayName"] == "Entra Group 2" and "members" not in got.json()
    found = scim.request("GET", "/Groups", excludedAttributes="members", filter='displayName eq "entra group 2"')
    assert [group["id"] for group in found.json()["Resources"]] == [group_id]
    assert "members" not in found.json()["Resources"][0]

    # an unknown member is a 400 the IdP can act on, not a 500 it retries for weeks
    unknown = scim.patch(
        group_id, {"op": "Add", "path": "members", "value": [{"$ref": None, "value": "not-a-user-of-this-org"}]}
    )
    assert unknown.status_code == 400 and unknown.json()["scimType"] == "invalidValue"
    assert scim.members(group_id) == {cyd}


def test_twenty_simultaneous_member_additions_all_land(scim: Scim) -> None:
    users = [scim.user(f"crowd-{index}") for index in range(20)]
    group_id = scim.request("POST", "/Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Crowd"}).json()["id"]
    statuses: list[int] = []
    barrier = threading.Barrier(len(users))

    def add(user_id: str) -> None:
        client = Scim(scim.server)
        barrier.wait()
        statuses.append(
            client.patch(group_id, {"op": "add", "path": "members", "value": [{"value": user_id}]}).status_code
        )

    threads = [threading.Thread(target=add, args=(user_id,)) for user_id in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert statuses == [200] * 20
    assert scim.members(group_id) == set(users)
