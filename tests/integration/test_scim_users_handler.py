"""SCIM /Users through its Lambda handler, with requests shaped as Okta and Entra ID send them."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from devserver.dispatch import Dispatcher
from scim_provisioning.repository.protocols import Stores, VersionConflict
from scim_provisioning.runtime import Runtime
from scim_provisioning.services import versioning
from tests.integration.helpers import (
    BASE,
    SCIM_JSON,
    AdminFixture,
    call,
    create,
    document,
    filter_query,
    listed,
    make_admin,
    patch,
    run_in_threads,
    scim_error,
    scim_token,
)
from tests.scim_samples import ENTERPRISE, LIST_RESPONSE, PATCH_OP, USER_SCHEMA, entra_user, okta_user

TOKEN_API = "/api/v1/scim/organization-access-tokens"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


# ---------------------------------------------------------------------- CRUD
def test_create_answers_201_with_location_etag_and_the_resource(api: Dispatcher, token: str):
    response = call(api, "POST", BASE, token, okta_user())

    assert response.status == 201, response.body
    user = document(response)
    assert user["schemas"] == [USER_SCHEMA]
    assert user["userName"] == "ada@acme.test"
    assert user["meta"]["resourceType"] == "User"
    assert user["meta"]["location"].endswith(f"127.0.0.1:3000/api/v1/scim/v2/Users/{user['id']}")
    assert response.header("Location") == user["meta"]["location"]
    assert response.header("ETag") == user["meta"]["version"] == 'W/"1"'
    assert "password" not in user and "groups" not in user


def test_get_returns_the_user_with_its_etag_and_304_when_unchanged(api: Dispatcher, token: str):
    user = create(api, token, okta_user())

    fetched = call(api, "GET", f"{BASE}/{user['id']}", token)
    not_modified = call(api, "GET", f"{BASE}/{user['id']}", token, headers={"If-None-Match": 'W/"1"'})
    modified = call(api, "GET", f"{BASE}/{user['id']}", token, headers={"If-None-Match": 'W/"0"'})

    assert fetched.status == 200
    assert document(fetched) == user
    assert fetched.header("ETag") == 'W/"1"'
    assert not_modified.status == 304
    assert not_modified.body == b""
    assert modified.status == 200


def test_put_replaces_the_whole_user_and_ignores_echoed_read_only_attributes(api: Dispatcher, token: str):
    user = create(api, token, okta_user())
    replacement = {
        **user,
        "id": "someone-else",
        "meta": {"version": 'W/"99"'},
        "groups": [{"value": "g1"}],
        "displayName": "Countess of Lovelace",
    }
    del replacement["name"]

    response = call(api, "PUT", f"{BASE}/{user['id']}", token, replacement)

    assert response.status == 200, response.body
    replaced = document(response)
    assert replaced["id"] == user["id"]
    assert replaced["displayName"] == "Countess of Lovelace"
    assert "name" not in replaced
    assert "groups" not in replaced
    assert replaced["meta"]["version"] == response.header("ETag") == 'W/"2"'
    assert document(call(api, "GET", f"{BASE}/{user['id']}", token)) == replaced


def test_if_match_with_a_stale_version_is_refused_with_412(api: Dispatcher, token: str):
    user = create(api, token, okta_user())
    assert patch(api, token, user["id"], {"op": "replace", "path": "displayName", "value": "A"}).status == 200
    stale = {"If-Match": 'W/"1"'}

    put = call(api, "PUT", f"{BASE}/{user['id']}", token, okta_user(), headers=stale)
    patched = call(
        api,
        "PATCH",
        f"{BASE}/{user['id']}",
        token,
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "B"}]},
        headers=stale,
    )
    deleted = call(api, "DELETE", f"{BASE}/{user['id']}", token, headers=stale)
    current = call(
        api,
        "PATCH",
        f"{BASE}/{user['id']}",
        token,
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "C"}]},
        headers={"If-Match": 'W/"2"'},
    )

    scim_error(put, 412)
    scim_error(patched, 412)
    scim_error(deleted, 412)
    assert current.status == 200
    assert document(current)["displayName"] == "C"


def test_delete_answers_204_then_404_and_the_user_name_can_be_reused(api: Dispatcher, token: str):
    user = create(api, token, okta_user())

    deleted = call(api, "DELETE", f"{BASE}/{user['id']}", token)

    assert deleted.status == 204
    assert deleted.body == b""
    scim_error(call(api, "GET", f"{BASE}/{user['id']}", token), 404)
    scim_error(call(api, "DELETE", f"{BASE}/{user['id']}", token), 404)
    assert create(api, token, okta_user())["id"] != user["id"]


def test_user_name_is_unique_case_insensitively(api: Dispatcher, token: str):
    create(api, token, okta_user("ada@acme.test"))

    scim_error(call(api, "POST", BASE, token, okta_user("ADA@Acme.Test")), 409, "uniqueness")


def test_missing_user_name_is_invalid_value(api: Dispatcher, token: str):
    body = okta_user()
    del body["userName"]

    scim_error(call(api, "POST", BASE, token, body), 400, "invalidValue")


def test_bodies_are_accepted_as_application_json_too(api: Dispatcher, token: str):
    response = call(api, "POST", BASE, token, okta_user(), content_type="application/json")

    assert response.status == 201
    assert response.header("Content-Type") == SCIM_JSON


def test_malformed_and_oversized_bodies_are_refused(api: Dispatcher, token: str):
    scim_error(call(api, "POST", BASE, token, '{"userName": '), 400, "invalidSyntax")
    scim_error(call(api, "POST", BASE, token, "[1, 2]"), 400, "invalidSyntax")
    huge = json.dumps({"userName": "x", "displayName": "y" * 1_100_000})
    scim_error(call(api, "POST", BASE, token, huge), 413)


NOT_UTF8 = b'{"userName": "caf\xe9@acme.test"}'  # Latin-1, as a misconfigured client sends it


@pytest.mark.parametrize(
    ("method", "target"),
    [("POST", BASE), ("POST", f"{BASE}/.search"), ("PUT", f"{BASE}/{{id}}"), ("PATCH", f"{BASE}/{{id}}")],
)
def test_a_body_that_is_not_utf8_is_400_invalid_syntax(api: Dispatcher, token: str, method: str, target: str):
    """Given a body in Latin-1 (API Gateway hands it base64-encoded), when it is sent to any route
    that reads a body, then 400 invalidSyntax naming the encoding, never a 500."""
    user = create(api, token, okta_user())

    response = api.handle(
        method, target.format(id=user["id"]), [("Content-Type", SCIM_JSON), ("Authorization", token)], NOT_UTF8
    )

    error = scim_error(response, 400, "invalidSyntax")
    assert "not UTF-8" in error["detail"]


def test_every_route_requires_a_valid_bearer_token(api: Dispatcher, token: str):
    for method, target in [
        ("GET", BASE),
        ("POST", BASE),
        ("POST", f"{BASE}/.search"),
        ("GET", f"{BASE}/{uuid.uuid4()}"),
        ("PATCH", f"{BASE}/{uuid.uuid4()}"),
        ("DELETE", f"{BASE}/{uuid.uuid4()}"),
    ]:
        for credential in (None, "Bearer scim_0123456789abcdef0123456789abcdef", "Basic abc"):
            response = call(api, method, target, credential, {})
            scim_error(response, 401)
            assert response.header("WWW-Authenticate") == 'Bearer realm="SCIM"'


ITEM_METHODS = "DELETE, GET, PATCH, PUT"


@pytest.mark.parametrize(
    ("method", "target", "allow"),
    [
        ("PUT", BASE, "GET, POST"),
        ("PATCH", BASE, "GET, POST"),
        ("DELETE", BASE, "GET, POST"),
        ("HEAD", BASE, "GET, POST"),
        ("OPTIONS", BASE, "GET, POST"),
        ("TRACE", BASE, "GET, POST"),
        ("PROPFIND", BASE, "GET, POST"),
        ("get", BASE, "GET, POST"),
        ("GET", f"{BASE}/.search", "POST"),
        ("PUT", f"{BASE}/.search", "POST"),
        ("DELETE", f"{BASE}/.search", "POST"),
        ("post", f"{BASE}/.search", "POST"),
        ("POST", f"{BASE}/{{id}}", ITEM_METHODS),
        ("HEAD", f"{BASE}/{{id}}", ITEM_METHODS),
        ("delete", f"{BASE}/{{id}}", ITEM_METHODS),
    ],
)
def test_methods_a_path_does_not_support_are_405_with_allow(
    api: Dispatcher, token: str, method: str, target: str, allow: str
):
    """Given a Users path, when a method it does not serve arrives (HEAD, TRACE, an unknown or a
    lower-case one: methods are case-sensitive), then a SCIM 405 whose Allow header lists the
    methods it does serve."""
    user = create(api, token, okta_user())
    path = target.format(id=user["id"])

    response = call(api, method, path, token, {})

    error = scim_error(response, 405)
    assert response.header("Allow") == allow
    assert error["detail"] == f"{method} is not supported on {path}; use {allow}"


def test_an_unserved_method_without_a_token_is_401(api: Dispatcher):
    """Given no bearer token, when a method /Users does not serve arrives, then 401, as for the
    served ones: a 405 is answered only to a client that may use the API."""
    scim_error(call(api, "DELETE", BASE, None), 401)


# ------------------------------------------------------- paths as clients build them
DOUBLED = "/api/v1/scim/v2//Users"  # the documented base URL ends with /, the client appends /Users


def test_a_doubled_slash_after_the_base_url_reaches_the_users_routes(api: Dispatcher, token: str):
    """Given a client that appends /Users to the base URL's trailing slash, when it runs an Okta
    sequence through the template's routes (the doubled slash matches only the greedy route),
    then every request is served as on the single-slash path, with locations without //."""
    created = call(api, "POST", DOUBLED, token, okta_user("doubled@acme.test"))
    assert created.status == 201, created.body
    user = document(created)
    assert user["meta"]["location"].endswith(f"127.0.0.1:3000/api/v1/scim/v2/Users/{user['id']}")
    assert created.header("Location") == user["meta"]["location"]

    lookup = 'userName eq "doubled@acme.test"'
    found = call(api, "GET", f"{DOUBLED}?{filter_query(lookup)}", token)
    searched = call(
        api,
        "POST",
        f"{DOUBLED}/.search",
        token,
        {"schemas": [SEARCH_REQUEST], "filter": lookup},
    )
    fetched = call(api, "GET", f"{DOUBLED}//{user['id']}", token)
    patched = call(
        api,
        "PATCH",
        f"{DOUBLED}/{user['id']}",
        token,
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "active", "value": False}]},
    )
    refused = call(api, "PUT", DOUBLED, token, {})
    deleted = call(api, "DELETE", f"{DOUBLED}/{user['id']}", token)

    assert [r["id"] for r in document(found)["Resources"]] == [user["id"]]
    assert [r["id"] for r in document(searched)["Resources"]] == [user["id"]]
    assert document(fetched)["id"] == user["id"]
    assert document(patched)["active"] is False
    scim_error(refused, 405)
    assert refused.header("Allow") == "GET, POST"
    assert deleted.status == 204
    scim_error(call(api, "GET", f"{DOUBLED}/{user['id']}", token), 404)
    scim_error(call(api, "GET", DOUBLED, None), 401)


# ---------------------------------------------------------------------- Okta
def test_okta_provisioning_sequence(api: Dispatcher, token: str):
    # Okta first looks the user up ...
    lookup = listed(api, token, "filter=userName%20eq%20%22ada%40acme.test%22&startIndex=1&count=100")
    assert lookup["totalResults"] == 0 and lookup["Resources"] == []

    # ... creates it with an empty groups list and a password ...
    user = create(api, token, okta_user())
    assert "password" not in user
    assert user["locale"] == "en-US"
    assert user["active"] is True

    # ... and deactivates it with a path-less replace.
    deactivated = patch(api, token, user["id"], {"op": "replace", "value": {"active": False}})
    assert deactivated.status == 200, deactivated.body
    assert document(deactivated)["active"] is False

    fetched = document(call(api, "GET", f"{BASE}/{user['id']}", token))
    found = listed(api, token, "filter=userName%20eq%20%22ada%40acme.test%22&startIndex=1&count=100")
    assert fetched["active"] is False
    assert found["totalResults"] == 1
    assert found["Resources"][0]["id"] == user["id"]
    assert found["Resources"][0]["active"] is False
    assert "password" not in json.dumps(found)


# ---------------------------------------------------------------------- Entra
def test_entra_test_connection_filter_finds_nothing(api: Dispatcher, token: str):
    result = listed(api, token, filter_query(f'userName eq "{uuid.uuid4()}"'))

    assert result["totalResults"] == 0
    assert result["Resources"] == []


def test_entra_create_and_patch_dialect(api: Dispatcher, token: str):
    user = create(api, token, entra_user())
    assert user["active"] is True
    assert "title" not in user
    assert user[ENTERPRISE] == {"employeeNumber": "42"}
    assert "roles" not in user  # roles: [] means the default role, member; nothing is invented

    response = patch(
        api,
        token,
        user["id"],
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": 'emails[type eq "home"].value', "value": "grace@home.test"},
        {"op": "Add", "value": {"name.givenName": "Amazing Grace", f"{ENTERPRISE}:department": "Navy"}},
        {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "boss-id"},
    )

    assert response.status == 200, response.body
    patched = document(response)
    assert patched["active"] is False
    assert {"type": "home", "value": "grace@home.test"} in patched["emails"]
    assert patched["name"]["givenName"] == "Amazing Grace"
    assert patched[ENTERPRISE]["department"] == "Navy"
    assert patched[ENTERPRISE]["manager"] == {"value": "boss-id"}
    assert document(call(api, "GET", f"{BASE}/{user['id']}", token)) == patched


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ([{"value": "admin", "display": "Administrator"}], [{"value": "admin", "display": "Administrator"}]),
        ([{"value": "Member", "primary": True}], [{"value": "member", "primary": True}]),
        ([{"value": "admin"}, {"value": "Admin "}], [{"value": "admin"}]),
    ],
)
def test_roles_read_back_as_sent_with_the_value_in_lower_case(api: Dispatcher, token: str, roles: list, expected: list):
    user = create(api, token, {**entra_user(), "roles": roles})

    assert user["roles"] == expected


def test_unknown_role_is_invalid_value(api: Dispatcher, token: str):
    scim_error(call(api, "POST", BASE, token, {**entra_user(), "roles": [{"value": "owner"}]}), 400, "invalidValue")
    user = create(api, token, entra_user())
    scim_error(patch(api, token, user["id"], {"op": "add", "path": "roles", "value": [{"value": "x"}]}), 400)


def test_entra_sets_the_role_through_the_primary_role_filter(api: Dispatcher, token: str):
    # given a user created with roles: [] (member), as Entra creates them
    user = create(api, token, entra_user())

    # when Entra maps its app role with its expression path, twice (a retry)
    for _ in range(2):
        response = patch(
            api, token, user["id"], {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "Admin"}
        )
        assert response.status == 200, response.body

    # then there is one primary admin role, not two
    assert document(response)["roles"] == [{"value": "admin", "primary": True}]


# ---------------------------------------------------------------------- filters
def test_filters_with_plus_and_percent_encoded_spaces(api: Dispatcher, token: str):
    user = create(api, token, okta_user())

    plus = listed(api, token, "filter=userName+eq+%22ada%40acme.test%22")
    percent = listed(api, token, "filter=userName%20eq%20%22ADA%40acme.test%22")

    assert [item["id"] for item in plus["Resources"]] == [user["id"]]
    assert [item["id"] for item in percent["Resources"]] == [user["id"]]


def test_invalid_filter_is_400_invalid_filter_never_a_list(api: Dispatcher, token: str):
    create(api, token, okta_user())
    for expression in ["userName eq", 'userName xx "a"', 'nosuch eq "a"', "(", 'userName eq "a" and']:
        scim_error(call(api, "GET", f"{BASE}?{filter_query(expression)}", token), 400, "invalidFilter")


def test_lookups_by_external_id_id_and_email(api: Dispatcher, token: str):
    ada = create(api, token, okta_user())
    grace = create(api, token, entra_user())

    by_external = listed(api, token, filter_query(f'externalId eq "{grace["externalId"]}"'))
    by_id = listed(api, token, filter_query(f'id eq "{ada["id"]}"'))
    by_email = listed(api, token, filter_query('emails.value eq "grace@acme.test"'))
    by_other = listed(api, token, filter_query('displayName sw "Ada"'))

    assert [item["id"] for item in by_external["Resources"]] == [grace["id"]]
    assert [item["id"] for item in by_id["Resources"]] == [ada["id"]]
    assert [item["id"] for item in by_email["Resources"]] == [grace["id"]]
    assert [item["id"] for item in by_other["Resources"]] == [ada["id"]]


def test_attributes_and_excluded_attributes(api: Dispatcher, token: str):
    user = create(api, token, okta_user())

    only = document(call(api, "GET", f"{BASE}/{user['id']}?attributes=userName,name.givenName", token))
    without = document(call(api, "GET", f"{BASE}/{user['id']}?excludedAttributes=emails,name", token))
    in_list = listed(api, token, filter_query('userName eq "ada@acme.test"') + "&attributes=displayName")
    patched = patch(api, token, user["id"], {"op": "replace", "path": "displayName", "value": "A. L."})
    patched_projection = call(
        api,
        "PATCH",
        f"{BASE}/{user['id']}?attributes=displayName",
        token,
        {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "Countess"}]},
    )

    assert set(only) == {"schemas", "id", "userName", "name"}
    assert only["name"] == {"givenName": "Ada"}
    assert "emails" not in without and "name" not in without and without["userName"] == "ada@acme.test"
    assert set(in_list["Resources"][0]) == {"schemas", "id", "displayName"}
    assert patched.status == 200
    assert set(document(patched_projection)) == {"schemas", "id", "displayName"}


# ---------------------------------------------------------------------- pagination
def test_index_pagination_and_count_zero(api: Dispatcher, token: str):
    before = listed(api, token, "count=0")["totalResults"]  # the organization's admin is a user too
    for index in range(5):
        create(api, token, okta_user(f"user{index}@acme.test"))
    total = before + 5

    first = listed(api, token, "startIndex=1&count=2")
    second = listed(api, token, "startIndex=3&count=2")
    last = listed(api, token, f"startIndex={total}&count=10")
    beyond = listed(api, token, f"startIndex={total + 1}&count=10")
    only_total = listed(api, token, "count=0")

    assert (first["totalResults"], first["itemsPerPage"], first["startIndex"]) == (total, 2, 1)
    assert (second["itemsPerPage"], second["startIndex"]) == (2, 3)
    assert last["itemsPerPage"] == 1 and len(last["Resources"]) == 1
    assert beyond["itemsPerPage"] == 0 and beyond["Resources"] == []
    assert only_total["totalResults"] == total and only_total["Resources"] == []
    ids = [item["id"] for page in (first, second) for item in page["Resources"]]
    assert len(set(ids)) == 4


def test_cursor_pagination_walks_every_user_once(api: Dispatcher, token: str):
    before = listed(api, token, "count=0")["totalResults"]
    created = {create(api, token, okta_user(f"user{index}@acme.test"))["id"] for index in range(6 - before)}
    assert before + len(created) == 6

    pages = [listed(api, token, "cursor=&count=2")]
    while "nextCursor" in pages[-1]:
        pages.append(listed(api, token, f"cursor={pages[-1]['nextCursor']}&count=2"))

    assert len(pages) == 3
    seen = [item["id"] for page in pages for item in page["Resources"]]
    assert len(seen) == len(set(seen)) == 6
    assert created <= set(seen)
    assert all(page["totalResults"] == 6 for page in pages)
    scim_error(call(api, "GET", f"{BASE}?cursor=a&count=2", token), 400, "invalidCursor")
    scim_error(call(api, "GET", f"{BASE}?cursor=not%20a%20cursor!&count=2", token), 400, "invalidCursor")


def test_filtered_cursor_pagination(api: Dispatcher, token: str):
    for index in range(5):
        create(api, token, okta_user(f"user{index}@acme.test", title="Engineer"))

    engineers = filter_query('title eq "Engineer"')
    pages = [listed(api, token, f"{engineers}&cursor=&count=2")]
    while "nextCursor" in pages[-1]:
        pages.append(listed(api, token, f"{engineers}&cursor={pages[-1]['nextCursor']}&count=2"))

    assert [len(page["Resources"]) for page in pages] == [2, 2, 1]
    assert len({item["id"] for page in pages for item in page["Resources"]}) == 5


def test_search_posts_a_search_request(api: Dispatcher, token: str):
    ada = create(api, token, okta_user())
    create(api, token, entra_user())

    response = call(
        api,
        "POST",
        f"{BASE}/.search",
        token,
        {
            "schemas": [SEARCH_REQUEST],
            "filter": 'userName eq "ada@acme.test"',
            "startIndex": 1,
            "count": 10,
            "attributes": ["userName", "emails"],
        },
    )

    assert response.status == 200, response.body
    result = document(response)
    assert result["schemas"] == [LIST_RESPONSE]
    assert result["totalResults"] == 1
    assert set(result["Resources"][0]) == {"schemas", "id", "userName", "emails"}
    assert result["Resources"][0]["id"] == ada["id"]

    excluded = document(
        call(
            api,
            "POST",
            f"{BASE}/.search",
            token,
            {"filter": 'userName eq "ada@acme.test"', "excludedAttributes": ["emails"]},
        )
    )
    assert "emails" not in excluded["Resources"][0] and "userName" in excluded["Resources"][0]
    scim_error(call(api, "POST", f"{BASE}/.search", token, {"filter": "userName eq"}), 400, "invalidFilter")


# ---------------------------------------------------------------------- isolation and access
def test_another_organization_cannot_see_the_user(api: Dispatcher, app_runtime: Runtime, token: str):
    user = create(api, token, okta_user())
    other = scim_token(app_runtime, make_admin(app_runtime, "Globex", "admin@globex.test"))

    scim_error(call(api, "GET", f"{BASE}/{user['id']}", other), 404)
    scim_error(patch(api, other, user["id"], {"op": "replace", "path": "active", "value": False}), 404)
    scim_error(call(api, "DELETE", f"{BASE}/{user['id']}", other), 404)
    assert listed(api, other, filter_query('userName eq "ada@acme.test"'))["totalResults"] == 0
    assert user["id"] not in json.dumps(listed(api, other, "count=100"))
    # The same userName is free in the other organization.
    assert create(api, other, okta_user())["id"] != user["id"]


def test_demoted_or_deactivated_admin_loses_the_token_api(
    api: Dispatcher, app_runtime: Runtime, token: str, admin: AdminFixture
):
    user = create(api, token, {**okta_user("boss@acme.test"), "roles": [{"value": "admin"}]})
    _, secret = app_runtime.organizations.create_api_key(admin.organization_uuid, user["id"], "boss key")
    key = [("Authorization", f"ApiKey {secret}")]
    assert api.handle("GET", TOKEN_API, key).status == 200

    assert (
        patch(api, token, user["id"], {"op": "replace", "path": "roles", "value": [{"value": "member"}]}).status == 200
    )
    assert api.handle("GET", TOKEN_API, key).status == 403

    assert (
        patch(api, token, user["id"], {"op": "replace", "path": "roles", "value": [{"value": "admin"}]}).status == 200
    )
    assert api.handle("GET", TOKEN_API, key).status == 200

    # removing every role leaves the default one, member
    assert patch(api, token, user["id"], {"op": "remove", "path": "roles"}).status == 200
    assert api.handle("GET", TOKEN_API, key).status == 403
    assert patch(api, token, user["id"], {"op": "add", "path": "roles", "value": [{"value": "admin"}]}).status == 200

    assert patch(api, token, user["id"], {"op": "replace", "value": {"active": False}}).status == 200
    assert api.handle("GET", TOKEN_API, key).status == 401


# ---------------------------------------------------------------------- concurrency
def test_concurrent_patches_all_land(api: Dispatcher, token: str):
    user = create(api, token, okta_user())
    emails = [f"alias{index}@acme.test" for index in range(10)]

    responses = run_in_threads(
        [
            (
                lambda email=email: patch(
                    api, token, user["id"], {"op": "add", "path": "emails", "value": [{"value": email}]}
                )
            )
            for email in emails
        ]
    )

    assert [response.status for response in responses] == [200] * 10, [r.body for r in responses]
    final = document(call(api, "GET", f"{BASE}/{user['id']}", token))
    assert set(emails) <= {email["value"] for email in final["emails"]}
    assert final["meta"]["version"] == 'W/"11"'


def test_concurrent_creates_of_one_user_name_yield_one_user(api: Dispatcher, token: str):
    names = [("ada@acme.test" if index % 2 else "ADA@ACME.test") for index in range(20)]

    responses = run_in_threads([(lambda name=name: call(api, "POST", BASE, token, okta_user(name))) for name in names])

    statuses = sorted(response.status for response in responses)
    assert statuses == [201] + [409] * 19
    for response in responses:
        if response.status == 409:
            scim_error(response, 409, "uniqueness")
    assert listed(api, token, filter_query('userName eq "ada@acme.test"'))["totalResults"] == 1


def test_concurrent_patches_of_different_attributes_all_land(api: Dispatcher, token: str):
    user = create(api, token, okta_user())
    changes = [
        (f"{ENTERPRISE}:employeeNumber", "42"),
        (f"{ENTERPRISE}:costCenter", "CC-7"),
        (f"{ENTERPRISE}:organization", "Acme"),
        (f"{ENTERPRISE}:division", "R&D"),
        (f"{ENTERPRISE}:department", "Engines"),
        (f"{ENTERPRISE}:manager", "boss-id"),
        ("title", "Countess"),
        ("nickName", "Ada"),
        ("name.middleName", "King"),
        ("preferredLanguage", "en"),
    ]

    responses = run_in_threads(
        [
            (lambda path=path, value=value: patch(api, token, user["id"], {"op": "add", "path": path, "value": value}))
            for path, value in changes
        ]
    )

    assert [response.status for response in responses] == [200] * len(changes)
    final = document(call(api, "GET", f"{BASE}/{user['id']}", token))
    assert final[ENTERPRISE] == {
        "employeeNumber": "42",
        "costCenter": "CC-7",
        "organization": "Acme",
        "division": "R&D",
        "department": "Engines",
        "manager": {"value": "boss-id"},
    }
    assert (final["title"], final["nickName"], final["name"]["middleName"]) == ("Countess", "Ada", "King")
    assert final["preferredLanguage"] == "en"
    assert final["meta"]["version"] == f'W/"{1 + len(changes)}"'


def test_a_write_that_keeps_losing_races_is_409_without_uniqueness(
    api: Dispatcher, token: str, stores: Stores, monkeypatch: pytest.MonkeyPatch
):
    user = create(api, token, okta_user())
    attempts: list[int] = []

    def always_outrun(previous: Any, updated: Any) -> None:
        attempts.append(updated.version)
        raise VersionConflict(previous.uuid)

    monkeypatch.setattr(versioning, "RETRY_PAUSE_SECONDS", 0.0)
    monkeypatch.setattr(stores.people, "replace_person", always_outrun)

    response = patch(api, token, user["id"], {"op": "replace", "path": "title", "value": "Countess"})

    # a 409 that does not tell the IdP its data clashes with another user's
    error = scim_error(response, 409)
    assert "scimType" not in error
    assert len(attempts) == versioning.WRITE_ATTEMPTS
