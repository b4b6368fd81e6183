"""SCIM /Groups through its Lambda handler, with requests shaped as Okta and Entra ID send them."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from benchmarks.request_counter import DynamoDBRequestCounter
from devserver.dispatch import Dispatcher, HttpResponse
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from scim_provisioning.scim import representation
from scim_provisioning.services import groups as groups_service
from tests.integration.helpers import (
    call,
    document,
    filter_query,
    make_admin,
    new_group,
    new_user,
    run_in_threads,
    scim_error,
    scim_token,
)
from tests.scim_samples import LIST_RESPONSE, PATCH_OP

GROUPS = "/api/v1/scim/v2/Groups"
USERS = "/api/v1/scim/v2/Users"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTRA_GROUP_SCHEMA = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
MISSING_USER = "7f5b1f43-0000-4000-8000-000000000000"


def patch_group(
    api: Dispatcher, token: str, group_id: str, *operations: dict[str, Any], query: str = "", **headers: str
) -> HttpResponse:
    body = {"schemas": [PATCH_OP], "Operations": list(operations)}
    return call(api, "PATCH", f"{GROUPS}/{group_id}{query}", token, body, headers or None)


def get_group(api: Dispatcher, token: str, group_id: str, query: str = "") -> dict[str, Any]:
    response = call(api, "GET", f"{GROUPS}/{group_id}{query}", token)
    assert response.status == 200, response.body
    return document(response)


def eq(attribute: str, value: str) -> str:
    """The query string of ``filter=<attribute> eq "<value>"``."""
    return filter_query(f'{attribute} eq "{value}"')


def member_ids(group: dict[str, Any]) -> set[str]:
    return {member["value"] for member in group.get("members", [])}


def membership_items(table: Table) -> list[dict[str, Any]]:
    items = table.client.scan(TableName=table.name)["Items"]
    return [item for item in items if item["SK"]["S"].startswith("MEMBER#")]


@pytest.fixture
def counter(app_runtime: Runtime, table: Table) -> DynamoDBRequestCounter:
    return DynamoDBRequestCounter(table.client)


# ---------------------------------------------------------------------- CRUD
def test_create_answers_201_with_members_location_and_etag(api: Dispatcher, token: str):
    ada, bob = new_user(api, token, "ada", "Ada Lovelace"), new_user(api, token, "bob")

    response = call(
        api,
        "POST",
        GROUPS,
        token,
        {"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": [{"value": ada}, {"value": bob}]},
    )

    assert response.status == 201, response.body
    group = document(response)
    assert group["schemas"] == [GROUP_SCHEMA]
    assert group["meta"]["resourceType"] == "Group"
    assert response.header("Location") == group["meta"]["location"]
    assert response.header("ETag") == group["meta"]["version"]
    displays = {member["value"]: member for member in group["members"]}
    assert displays[ada]["display"] == "Ada Lovelace"
    assert displays[bob]["display"] == "Bob"
    assert displays[ada]["type"] == "User" and displays[ada]["$ref"].endswith(f"/Users/{ada}")


def test_display_name_is_unique_case_insensitively(api: Dispatcher, token: str):
    new_group(api, token, "Engineering")

    response = call(api, "POST", GROUPS, token, {"schemas": [GROUP_SCHEMA], "displayName": "ENGINEERING"})

    scim_error(response, 409, "uniqueness")


def test_rename_to_a_taken_name_is_409_and_frees_nothing(api: Dispatcher, token: str):
    new_group(api, token, "Sales")
    group = new_group(api, token, "Eng")

    response = patch_group(api, token, group["id"], {"op": "replace", "path": "displayName", "value": "sales"})

    scim_error(response, 409, "uniqueness")
    renamed = patch_group(api, token, group["id"], {"op": "replace", "path": "displayName", "value": "Platform"})
    assert renamed.status == 200
    # the old name is free again, the new one is taken
    assert call(api, "POST", GROUPS, token, {"schemas": [GROUP_SCHEMA], "displayName": "eng"}).status == 201
    scim_error(call(api, "POST", GROUPS, token, {"schemas": [GROUP_SCHEMA], "displayName": "PLATFORM"}), 409)


def test_display_name_is_required(api: Dispatcher, token: str):
    scim_error(call(api, "POST", GROUPS, token, {"schemas": [GROUP_SCHEMA]}), 400, "invalidValue")


def test_entra_create_with_extra_schema_and_external_id(api: Dispatcher, token: str):
    # Entra's create-group request, with its extra schema URN
    body = {
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "Group1DisplayName",
        "schemas": [GROUP_SCHEMA, ENTRA_GROUP_SCHEMA],
        "meta": {"resourceType": "Group"},
    }

    response = call(api, "POST", GROUPS, token, body)

    assert response.status == 201, response.body
    group = document(response)
    assert group["schemas"] == [GROUP_SCHEMA]
    assert group["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    assert "members" not in group


def test_unknown_member_is_400_and_nothing_is_written(api: Dispatcher, token: str, app_runtime: Runtime, table: Table):
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng")

    response = patch_group(
        api, token, group["id"], {"op": "add", "path": "members", "value": [{"value": ada}, {"value": MISSING_USER}]}
    )

    error = scim_error(response, 400, "invalidValue")
    assert MISSING_USER in error["detail"]
    assert membership_items(table) == []
    assert get_group(api, token, group["id"])["meta"]["version"] == group["meta"]["version"]
    scim_error(call(api, "POST", GROUPS, token, {"displayName": "X", "members": [{"value": MISSING_USER}]}), 400)
    assert call(api, "GET", f"{GROUPS}?{eq('displayName', 'X')}", token).status == 200
    assert document(call(api, "GET", f"{GROUPS}?{eq('displayName', 'X')}", token))["totalResults"] == 0


def test_a_member_of_another_organization_is_unknown(api: Dispatcher, token: str, app_runtime: Runtime):
    other = make_admin(app_runtime, "Other", "admin@other.test")
    stranger = new_user(api, scim_token(app_runtime, other), "stranger")
    group = new_group(api, token, "Eng")

    response = patch_group(api, token, group["id"], {"op": "add", "path": "members", "value": [{"value": stranger}]})

    scim_error(response, 400, "invalidValue")


def test_a_group_cannot_be_a_member(api: Dispatcher, token: str):
    inner = new_group(api, token, "Inner")
    group = new_group(api, token, "Outer")

    response = patch_group(
        api, token, group["id"], {"op": "add", "path": "members", "value": [{"value": inner["id"], "type": "Group"}]}
    )

    scim_error(response, 400, "invalidValue")


def test_get_unknown_group_is_404(api: Dispatcher, token: str):
    scim_error(call(api, "GET", f"{GROUPS}/{MISSING_USER}", token), 404)


def test_delete_removes_the_group_and_its_memberships(api: Dispatcher, token: str, app_runtime: Runtime, table: Table):
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng", [ada])
    assert len(membership_items(table)) == 1

    assert call(api, "DELETE", f"{GROUPS}/{group['id']}", token).status == 204

    assert membership_items(table) == []
    scim_error(call(api, "GET", f"{GROUPS}/{group['id']}", token), 404)
    assert "groups" not in document(call(api, "GET", f"{USERS}/{ada}", token))
    assert new_group(api, token, "eng")["displayName"] == "eng"


def test_delete_with_a_stale_if_match_is_412(api: Dispatcher, token: str):
    group = new_group(api, token, "Eng")
    patch_group(api, token, group["id"], {"op": "replace", "path": "displayName", "value": "Eng2"})

    response = call(api, "DELETE", f"{GROUPS}/{group['id']}", token, headers={"If-Match": group["meta"]["version"]})

    scim_error(response, 412)


# ---------------------------------------------------------------------- users' side
def test_user_shows_its_groups_and_is_filterable_by_them(api: Dispatcher, token: str):
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    eng = new_group(api, token, "Engineering", [ada, bob])
    ops = new_group(api, token, "Ops", [ada])

    user = document(call(api, "GET", f"{USERS}/{ada}", token))

    assert {(g["value"], g["display"], g["type"]) for g in user["groups"]} == {
        (eng["id"], "Engineering", "direct"),
        (ops["id"], "Ops", "direct"),
    }
    assert "groups" not in document(call(api, "GET", f"{USERS}/{ada}?excludedAttributes=groups", token))
    found = document(call(api, "GET", f"{USERS}?{eq('groups.value', ops['id'])}", token))
    assert [user["id"] for user in found["Resources"]] == [ada]
    both = document(call(api, "GET", f"{USERS}?{eq('groups.value', eng['id'])}", token))
    assert {user["id"] for user in both["Resources"]} == {ada, bob}


def test_a_list_page_reads_each_users_groups_once_and_their_names_together(
    api: Dispatcher, token: str, counter: DynamoDBRequestCounter
):
    # given four users, three of them in one or both of two groups
    ada, bob, cy, dee = (new_user(api, token, name) for name in ("ada", "bob", "cy", "dee"))
    eng = new_group(api, token, "Engineering", [ada, bob])
    ops = new_group(api, token, "Ops", [ada, cy])

    # when the users are listed with their groups
    with counter.measure() as tally:
        listed = document(call(api, "GET", f"{USERS}?count=10", token))

    # then each user carries exactly its groups, with their names
    groups = {user["id"]: {(g["value"], g["display"]) for g in user.get("groups", [])} for user in listed["Resources"]}
    assert groups[ada] == {(eng["id"], "Engineering"), (ops["id"], "Ops")}
    assert groups[bob] == {(eng["id"], "Engineering")}
    assert groups[cy] == {(ops["id"], "Ops")}
    assert groups[dee] == set()
    # and the page cost one membership query per user (the admin too) but one BatchGetItem
    # for all the groups' names, not one per user
    assert tally.requests["BatchGetItem"] == 1
    assert tally.requests["Query"] == 1 + len(listed["Resources"])  # the page, then one per user


def test_users_of_a_group_page_by_cursor_and_index(api: Dispatcher, token: str, counter: DynamoDBRequestCounter):
    users = sorted(new_user(api, token, f"u{index}") for index in range(3))
    group = new_group(api, token, "Eng", users)
    query = eq("groups.value", group["id"])

    with counter.measure() as tally:
        first = document(call(api, "GET", f"{USERS}?{query}&cursor=&count=2&excludedAttributes=groups", token))
    second = document(call(api, "GET", f"{USERS}?{query}&cursor={first['nextCursor']}&count=2", token))
    indexed = document(call(api, "GET", f"{USERS}?{query}&startIndex=3&count=2", token))

    assert [user["id"] for user in first["Resources"]] == users[:2] and first["totalResults"] == 3
    assert [user["id"] for user in second["Resources"]] == users[2:] and "nextCursor" not in second
    assert [user["id"] for user in indexed["Resources"]] == users[2:]
    assert tally.requests["BatchGetItem"] == 1  # only the page's people are read


def test_groups_filterable_by_member(api: Dispatcher, token: str):
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    eng = new_group(api, token, "Engineering", [ada, bob])
    new_group(api, token, "Ops", [bob])

    found = document(call(api, "GET", f"{GROUPS}?{eq('members.value', ada)}", token))

    assert [group["id"] for group in found["Resources"]] == [eng["id"]]
    scim_error(call(api, "GET", GROUPS + "?" + filter_query('members.display co "a"'), token), 400, "invalidFilter")


def test_deleting_a_user_removes_their_memberships_and_bumps_the_group(
    api: Dispatcher, token: str, app_runtime: Runtime, table: Table
):
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    group = new_group(api, token, "Eng", [ada, bob])

    assert call(api, "DELETE", f"{USERS}/{ada}", token).status == 204

    after = get_group(api, token, group["id"])
    assert member_ids(after) == {bob}
    assert after["meta"]["version"] != group["meta"]["version"]
    assert len(membership_items(table)) == 1


def test_a_deactivated_user_stays_a_member(api: Dispatcher, token: str):
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng", [ada])

    response = call(
        api,
        "PATCH",
        f"{USERS}/{ada}",
        token,
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]},
    )

    assert response.status == 200, response.body
    assert member_ids(get_group(api, token, group["id"])) == {ada}


# ---------------------------------------------------------------------- Okta
def test_okta_group_push_sequence(api: Dispatcher, token: str):
    ada, bob, cyd = (new_user(api, token, name) for name in ("ada", "bob", "cyd"))
    # Okta creates the pushed group with an empty member list
    created = call(api, "POST", GROUPS, token, {"schemas": [GROUP_SCHEMA], "displayName": "Test SCIMv2", "members": []})
    assert created.status == 201, created.body
    group_id = document(created)["id"]

    # adds members as a list
    added = patch_group(
        api,
        token,
        group_id,
        {
            "op": "add",
            "path": "members",
            "value": [{"value": ada, "display": "ada@acme.test"}, {"value": bob, "display": "bob@acme.test"}],
        },
    )
    assert added.status == 200, added.body
    assert member_ids(document(added)) == {ada, bob}

    # renames with a path-less replace carrying the id and displayName
    renamed = patch_group(
        api, token, group_id, {"op": "replace", "value": {"id": group_id, "displayName": "Test SCIMv2 renamed"}}
    )
    assert renamed.status == 200, renamed.body
    assert document(renamed)["displayName"] == "Test SCIMv2 renamed"

    # removes one member by filter and adds another in one request
    changed = patch_group(
        api,
        token,
        group_id,
        {"op": "remove", "path": f'members[value eq "{ada}"]'},
        {"op": "add", "path": "members", "value": [{"value": cyd, "display": "cyd@acme.test"}]},
    )
    assert member_ids(document(changed)) == {bob, cyd}

    # replaces the whole member list
    replaced = patch_group(api, token, group_id, {"op": "replace", "path": "members", "value": [{"value": ada}]})
    assert member_ids(document(replaced)) == {ada}

    # PUT with the full member list
    put = call(
        api,
        "PUT",
        f"{GROUPS}/{group_id}",
        token,
        {
            "schemas": [GROUP_SCHEMA],
            "id": group_id,
            "displayName": "Test SCIMv2 renamed",
            "members": [{"value": bob}, {"value": cyd}],
        },
    )
    assert put.status == 200, put.body
    assert member_ids(get_group(api, token, group_id)) == {bob, cyd}

    # lists groups with index paging
    listed = document(call(api, "GET", f"{GROUPS}?startIndex=1&count=100", token))
    assert listed["schemas"] == [LIST_RESPONSE] and listed["totalResults"] == 1
    assert member_ids(listed["Resources"][0]) == {bob, cyd}

    assert call(api, "DELETE", f"{GROUPS}/{group_id}", token).status == 204


# ---------------------------------------------------------------------- Entra
def test_entra_group_sequence(api: Dispatcher, token: str, counter: DynamoDBRequestCounter):
    ada, bob, cyd = (new_user(api, token, name) for name in ("ada", "bob", "cyd"))
    created = call(
        api,
        "POST",
        GROUPS,
        token,
        {
            "externalId": "8aa1a0c0",
            "displayName": "Group1",
            "schemas": [GROUP_SCHEMA, ENTRA_GROUP_SCHEMA],
            "meta": {"resourceType": "Group"},
        },
    )
    group_id = document(created)["id"]

    # looks the group up by displayName, without members
    with counter.measure() as lookup:
        found = call(api, "GET", f"{GROUPS}?excludedAttributes=members&{eq('displayName', 'Group1')}", token)
    assert [group["id"] for group in document(found)["Resources"]] == [group_id]
    assert lookup.requests["Query"] == 0  # a key lookup: claim + group, no membership query

    # Add members with $ref null
    add = patch_group(
        api,
        token,
        group_id,
        {
            "op": "Add",
            "path": "members",
            "value": [{"$ref": None, "value": ada}, {"$ref": None, "value": bob}, {"$ref": None, "value": cyd}],
        },
    )
    assert add.status == 200, add.body

    # Remove by filter path
    assert patch_group(api, token, group_id, {"op": "Remove", "path": f'members[value eq "{ada}"]'}).status == 200
    # Remove with path members and a value list: only the listed members leave
    remove = patch_group(
        api, token, group_id, {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": bob}]}
    )
    assert remove.status == 200, remove.body

    # Replace of displayName
    replace = patch_group(api, token, group_id, {"op": "Replace", "path": "displayName", "value": "Group1 renamed"})
    assert replace.status == 200, replace.body

    # GET without members
    with counter.measure() as read:
        group = get_group(api, token, group_id, "?excludedAttributes=members")
    assert group["displayName"] == "Group1 renamed" and "members" not in group
    assert read.requests["Query"] == 0 and read.requests["BatchGetItem"] == 0
    assert member_ids(get_group(api, token, group_id)) == {cyd}


# ---------------------------------------------------------------------- PATCH rules
def test_add_existing_and_remove_absent_members_converge(api: Dispatcher, token: str):
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    group = new_group(api, token, "Eng", [ada])
    add_ada = {"op": "add", "path": "members", "value": [{"value": ada}]}
    remove_bob = {"op": "remove", "path": f'members[value eq "{bob}"]'}

    for _ in range(2):
        assert patch_group(api, token, group["id"], add_ada, remove_bob).status == 200

    assert member_ids(get_group(api, token, group["id"])) == {ada}


def test_patch_answer_omits_members_when_asked(api: Dispatcher, token: str, counter: DynamoDBRequestCounter):
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng")

    with counter.measure() as tally:
        response = patch_group(
            api,
            token,
            group["id"],
            {"op": "add", "path": "members", "value": [{"value": ada}]},
            query="?excludedAttributes=members",
        )

    assert response.status == 200 and "members" not in document(response)
    assert tally.requests["Query"] == 0


def test_patch_answer_omits_members_of_a_large_group(api: Dispatcher, token: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(groups_service, "MAX_MEMBERS_IN_WRITE_ANSWER", 2)
    users = [new_user(api, token, f"u{index}") for index in range(3)]
    group = new_group(api, token, "Eng", users[:2])
    assert member_ids(group) == set(users[:2])

    response = patch_group(api, token, group["id"], {"op": "add", "path": "members", "value": [{"value": users[2]}]})

    assert response.status == 200 and "members" not in document(response)
    assert member_ids(get_group(api, token, group["id"])) == set(users)


def test_membership_change_bumps_version_and_last_modified(api: Dispatcher, token: str, app_runtime: Runtime):
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng")
    app_runtime.clock.advance(seconds=5)  # type: ignore[attr-defined]

    response = patch_group(api, token, group["id"], {"op": "add", "path": "members", "value": [{"value": ada}]})

    patched = document(response)
    assert response.header("ETag") == patched["meta"]["version"] != group["meta"]["version"]
    assert patched["meta"]["lastModified"] > group["meta"]["lastModified"]
    stale = patch_group(
        api, token, group["id"], {"op": "remove", "path": "members"}, **{"If-Match": group["meta"]["version"]}
    )
    scim_error(stale, 412)
    assert member_ids(get_group(api, token, group["id"])) == {ada}
    fresh = patch_group(
        api, token, group["id"], {"op": "remove", "path": "members"}, **{"If-Match": patched["meta"]["version"]}
    )
    assert fresh.status == 200 and "members" not in document(fresh)


def test_members_filter_other_than_value_eq_is_refused(api: Dispatcher, token: str):
    group = new_group(api, token, "Eng")

    response = patch_group(api, token, group["id"], {"op": "remove", "path": 'members[display eq "Ada"]'})

    scim_error(response, 400, "invalidFilter")


def test_get_beyond_the_member_limit_is_a_clear_error(api: Dispatcher, token: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(groups_service, "MAX_MEMBERS_RETURNED", 2)
    users = [new_user(api, token, f"u{index}") for index in range(3)]
    group = new_group(api, token, "Eng", users)

    error = scim_error(call(api, "GET", f"{GROUPS}/{group['id']}", token), 400, "tooMany")

    assert "excludedAttributes=members" in error["detail"]
    assert "members" not in get_group(api, token, group["id"], "?excludedAttributes=members")


def test_an_answer_over_lambdas_response_limit_is_a_clear_error(
    api: Dispatcher, token: str, monkeypatch: pytest.MonkeyPatch
):
    # Long display names, not the member count, would push this answer over the limit.
    users = [new_user(api, token, f"u{index}", "D" * 200) for index in range(3)]
    group = new_group(api, token, "Eng", users)
    monkeypatch.setattr(representation, "MAX_RESPONSE_BYTES", 600)

    error = scim_error(call(api, "GET", f"{GROUPS}/{group['id']}", token), 400, "tooMany")
    listed = scim_error(call(api, "GET", GROUPS, token), 400, "tooMany")

    assert "excludedAttributes=members" in error["detail"] and "excludedAttributes=members" in listed["detail"]
    assert "members" not in get_group(api, token, group["id"], "?excludedAttributes=members")


def test_a_list_page_shares_the_member_limit(api: Dispatcher, token: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(groups_service, "MAX_MEMBERS_RETURNED", 3)
    users = [new_user(api, token, f"u{index}") for index in range(2)]
    new_group(api, token, "A", users)
    new_group(api, token, "B", users)

    error = scim_error(call(api, "GET", GROUPS, token), 400, "tooMany")

    assert "excludedAttributes=members" in error["detail"]
    assert document(call(api, "GET", f"{GROUPS}?count=1", token))["itemsPerPage"] == 1


def test_list_without_members_reads_no_membership(api: Dispatcher, token: str, counter: DynamoDBRequestCounter):
    ada = new_user(api, token, "ada")
    for name in ("A", "B", "C"):
        new_group(api, token, name, [ada])

    with counter.measure() as tally:
        listed = document(call(api, "GET", f"{GROUPS}?excludedAttributes=members", token))
    with counter.measure() as names_only:
        named = document(call(api, "GET", f"{GROUPS}?attributes=displayName", token))

    assert listed["totalResults"] == 3 and all("members" not in group for group in listed["Resources"])
    assert tally.requests["BatchGetItem"] == 0 and tally.requests["Query"] == 1  # the page itself
    assert names_only.requests["Query"] == 1 and all("members" not in group for group in named["Resources"])


def test_search_and_key_lookups(api: Dispatcher, token: str):
    eng = new_group(api, token, "Engineering")
    call(
        api,
        "PATCH",
        f"{GROUPS}/{eng['id']}",
        token,
        {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "externalId", "value": "ext-1"}]},
    )
    new_group(api, token, "Ops")

    by_external = document(call(api, "GET", f"{GROUPS}?{eq('externalId', 'ext-1')}", token))
    by_id = document(call(api, "GET", f"{GROUPS}?{eq('id', eng['id'])}", token))
    by_name = document(call(api, "GET", f"{GROUPS}?{eq('displayName', 'engineering')}", token))
    scanned = document(call(api, "POST", f"{GROUPS}/.search", token, {"filter": 'displayName sw "O"', "count": 10}))

    assert [g["id"] for g in by_external["Resources"]] == [eng["id"]]
    assert [g["id"] for g in by_id["Resources"]] == [eng["id"]]
    assert [g["id"] for g in by_name["Resources"]] == [eng["id"]]
    assert [g["displayName"] for g in scanned["Resources"]] == ["Ops"]
    scim_error(call(api, "GET", f"{GROUPS}?{filter_query('displayName eq')}", token), 400, "invalidFilter")


def test_cursor_paging(api: Dispatcher, token: str):
    for name in ("A", "B", "C"):
        new_group(api, token, name)

    first = document(call(api, "GET", f"{GROUPS}?cursor=&count=2", token))
    second = document(call(api, "GET", f"{GROUPS}?cursor={first['nextCursor']}&count=2", token))

    assert len(first["Resources"]) == 2 and len(second["Resources"]) == 1 and "nextCursor" not in second
    scim_error(call(api, "GET", f"{GROUPS}?cursor=%%%&count=2", token), 400, "invalidCursor")


def test_a_doubled_slash_after_the_base_url_reaches_the_groups_routes(api: Dispatcher, token: str):
    """Given a client that appends /Groups to the base URL's trailing slash, when it creates,
    reads and patches a group, then each is served as on the single-slash path."""
    doubled = GROUPS.replace("/Groups", "//Groups")
    member = new_user(api, token, "member")
    created = call(api, "POST", doubled, token, {"schemas": [GROUP_SCHEMA], "displayName": "Doubled"})
    assert created.status == 201, created.body
    group = document(created)
    operation = {"op": "add", "path": "members", "value": [{"value": member}]}

    patched = call(api, "PATCH", f"{doubled}/{group['id']}", token, {"schemas": [PATCH_OP], "Operations": [operation]})
    fetched = call(api, "GET", f"{doubled}/{group['id']}", token)

    assert created.header("Location") == group["meta"]["location"]
    assert "//Groups" not in group["meta"]["location"]
    assert patched.status == 200, patched.body
    assert member_ids(document(fetched)) == {member}


def test_a_group_body_that_is_not_utf8_is_400_invalid_syntax(api: Dispatcher, token: str):
    """Given a group and a PATCH body in Latin-1, when it is sent, then 400 invalidSyntax."""
    group = new_group(api, token)
    body = b'{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", '
    body += b'"value": {"displayName": "Caf\xe9"}}]}'

    response = api.handle("PATCH", f"{GROUPS}/{group['id']}", [("Authorization", token)], body)

    scim_error(response, 400, "invalidSyntax")


def test_unsupported_methods_are_405_with_allow(api: Dispatcher, token: str):
    group = new_group(api, token)
    for method, path, allow in [
        ("DELETE", GROUPS, "GET, POST"),
        ("HEAD", GROUPS, "GET, POST"),
        ("GET", f"{GROUPS}/.search", "POST"),
        ("POST", f"{GROUPS}/{group['id']}", "DELETE, GET, PATCH, PUT"),
        ("patch", f"{GROUPS}/{group['id']}", "DELETE, GET, PATCH, PUT"),
    ]:
        response = call(api, method, path, token)
        scim_error(response, 405)
        assert response.header("Allow") == allow, (method, path)


# ---------------------------------------------------------------------- concurrency
def test_twenty_concurrent_patches_each_adding_a_member_all_land(api: Dispatcher, token: str):
    users = [new_user(api, token, f"u{index}") for index in range(20)]
    group = new_group(api, token, "Eng")

    responses = run_in_threads(
        [
            (
                lambda user=user: patch_group(
                    api, token, group["id"], {"op": "add", "path": "members", "value": [{"value": user}]}
                )
            )
            for user in users
        ]
    )

    assert [response.status for response in responses] == [200] * 20
    final = get_group(api, token, group["id"])
    assert member_ids(final) == set(users)
    assert final["meta"]["version"] == 'W/"21"'


def test_concurrent_add_and_remove_of_different_members_both_land(api: Dispatcher, token: str):
    ada, bob = new_user(api, token, "ada"), new_user(api, token, "bob")
    group = new_group(api, token, "Eng", [ada])

    for _ in range(5):
        responses = run_in_threads(
            [
                lambda: patch_group(
                    api, token, group["id"], {"op": "add", "path": "members", "value": [{"value": bob}]}
                ),
                lambda: patch_group(api, token, group["id"], {"op": "remove", "path": f'members[value eq "{ada}"]'}),
            ]
        )
        assert [response.status for response in responses] == [200, 200]
        assert member_ids(get_group(api, token, group["id"])) == {bob}
        patch_group(
            api,
            token,
            group["id"],
            {"op": "replace", "path": "members", "value": [{"value": ada}]},
        )


def test_concurrent_rename_and_member_add_both_land(api: Dispatcher, token: str):
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng")

    responses = run_in_threads(
        [
            lambda: patch_group(api, token, group["id"], {"op": "add", "path": "members", "value": [{"value": ada}]}),
            lambda: patch_group(api, token, group["id"], {"op": "replace", "path": "displayName", "value": "Platform"}),
        ]
    )

    assert [response.status for response in responses] == [200, 200]
    final = get_group(api, token, group["id"])
    assert final["displayName"] == "Platform" and member_ids(final) == {ada}


# ---------------------------------------------------------------------- capacity refusals
def test_membership_writes_dynamodb_keeps_refusing_are_503_with_retry_after(
    api: Dispatcher, token: str, table: Table, monkeypatch: pytest.MonkeyPatch
):
    # given a group, and a table that throttles every transaction beyond botocore's retries
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Engineering")

    def throttled(**_: Any) -> Any:
        raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "TransactWriteItems")

    monkeypatch.setattr(table.client, "transact_write_items", throttled)

    # when a member is added
    response = patch_group(api, token, group["id"], {"op": "add", "path": "members", "value": [{"value": ada}]})

    # then the IdP is told to come back later, in a SCIM body, not a 500, and nothing changed
    error = scim_error(response, 503)
    assert "scimType" not in error
    assert response.header("Retry-After") == "5"
    monkeypatch.undo()
    assert member_ids(get_group(api, token, group["id"])) == set()


def test_a_throttled_dynamodb_call_is_503_with_retry_after(
    api: Dispatcher, token: str, table: Table, monkeypatch: pytest.MonkeyPatch
):
    # given a group, then a table whose reads are throttled beyond botocore's retries
    group = new_group(api, token, "Engineering")

    def throttled(**_: Any) -> Any:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}, "GetItem"
        )

    monkeypatch.setattr(table.client, "get_item", throttled)
    monkeypatch.setattr(table.client, "transact_write_items", throttled)

    # when the group is read
    response = call(api, "GET", f"{GROUPS}/{group['id']}", token)

    # then the IdP is told to come back later, in a SCIM body, not a 500
    scim_error(response, 503)
    assert response.header("Retry-After") == "5"
