"""First contact, over HTTP against a fresh ``make dev``: what a new customer's identity
provider does first is assign the organization's own admin, so the admin must be a complete
SCIM user that Okta and Entra find and link, and the rest of the lifecycle must follow."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
import requests

from devserver.bootstrap import LOCAL_ADMIN_EMAIL
from tests.e2e.helpers import (
    REQUEST_TIMEOUT_SECONDS,
    SCIM_BASE_PATH,
    DevServer,
    Scim,
    assert_scim_error,
    mint_scim_token,
    unique_name,
)
from tests.scim_samples import entra_user, okta_user, patch_op

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def scim(dev_server: DevServer) -> Scim:
    return Scim(dev_server, mint_scim_token(dev_server, "First contact"))


GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


def lookup(user_name: str) -> str:
    """Okta's and Entra's lookup query, encoded as they send it."""
    return f"filter=userName%20eq%20%22{quote(user_name)}%22&startIndex=1&count=100"


def test_a_fresh_organization_lists_its_admin_complete(scim: Scim) -> None:
    page = scim.listed("startIndex=1&count=100")

    admins = [user for user in page["Resources"] if user["userName"] == LOCAL_ADMIN_EMAIL]
    assert len(admins) == 1, page
    (admin,) = admins
    assert admin["id"]
    assert admin["name"]["givenName"] and admin["name"]["familyName"]
    assert admin["active"] is True
    assert admin["emails"][0]["value"] == LOCAL_ADMIN_EMAIL
    assert [role["value"] for role in admin["roles"]] == ["admin"]


@pytest.mark.parametrize("spelling", [LOCAL_ADMIN_EMAIL, LOCAL_ADMIN_EMAIL.upper(), "Admin@LocalHost.test"])
def test_the_admin_is_found_by_userName_in_any_case(scim: Scim, spelling: str) -> None:
    found = scim.listed(lookup(spelling))
    assert found["totalResults"] == 1
    assert found["Resources"][0]["userName"] == LOCAL_ADMIN_EMAIL


def test_okta_lifecycle_that_starts_by_assigning_the_admin(scim: Scim) -> None:
    # Given Okta assigns the admin first: its lookup finds them, so it links instead of creating
    found = scim.listed(lookup(LOCAL_ADMIN_EMAIL))
    assert found["totalResults"] == 1
    admin = found["Resources"][0]

    # When Okta pushes its profile for the admin (a PUT echoing id and meta, no roles)
    profile = {**okta_user(LOCAL_ADMIN_EMAIL), "id": admin["id"], "meta": admin["meta"], "externalId": "00u-admin"}
    linked = scim.ok("PUT", f"/Users/{admin['id']}", profile)

    # Then the admin is linked and still the organization's admin
    assert (linked["externalId"], linked["userName"]) == ("00u-admin", LOCAL_ADMIN_EMAIL)
    assert [role["value"] for role in linked["roles"]] == ["admin"]

    # And the rest of the assignment goes on as usual: a new person is looked up, created,
    # updated and deactivated
    user_name = unique_name("okta-first")
    assert scim.listed(lookup(user_name))["totalResults"] == 0
    created = scim.ok("POST", "/Users", okta_user(user_name), status=201)
    scim.ok("PUT", f"/Users/{created['id']}", {**created, "title": "Engineer"})
    deactivated = scim.ok("PATCH", f"/Users/{created['id']}", patch_op({"op": "replace", "value": {"active": False}}))
    assert deactivated["active"] is False


def test_entra_lifecycle_that_starts_by_assigning_the_admin(scim: Scim) -> None:
    # Given Entra assigns the admin first: its matching query finds them
    found = scim.listed(lookup(LOCAL_ADMIN_EMAIL))
    assert found["totalResults"] == 1
    admin = found["Resources"][0]

    # When Entra links them with Replace operations (capitalised, "True" as a string)
    linked = scim.ok(
        "PATCH",
        f"/Users/{admin['id']}",
        patch_op(
            {"op": "Replace", "path": "externalId", "value": "entra-admin-object-id"},
            {"op": "Replace", "path": "active", "value": "True"},
            {"op": "Add", "path": "title", "value": "Founder"},
        ),
    )

    # Then the admin is linked and keeps the admin role
    assert (linked["externalId"], linked["title"]) == ("entra-admin-object-id", "Founder")
    assert [role["value"] for role in linked["roles"]] == ["admin"]

    # And the usual provisioning of a new person follows
    user_name = unique_name("entra-first")
    assert scim.listed(lookup(user_name))["totalResults"] == 0
    created = scim.ok("POST", "/Users", entra_user(user_name), status=201)
    disabled = scim.ok(
        "PATCH", f"/Users/{created['id']}", patch_op({"op": "Replace", "path": "active", "value": "False"})
    )
    assert disabled["active"] is False


# ------------------------------------------------------------------ rough edges (issue 9)
LATIN1_USER = '{"userName": "café@acme.test"}'.encode("latin-1")  # a client that forgot UTF-8


@pytest.mark.parametrize("path", ["/Users", "/Groups", "/Users/.search"])
def test_a_body_that_is_not_utf8_is_a_scim_400(scim: Scim, path: str) -> None:
    """Given a body in Latin-1, when it is posted to a SCIM route, then 400 invalidSyntax, never 500."""
    response = scim.request("POST", path, data=LATIN1_USER)

    error = assert_scim_error(response, 400, "invalidSyntax")
    assert "not UTF-8" in error["detail"]


def test_a_client_appending_paths_to_the_documented_base_url_is_served(dev_server: DevServer, scim: Scim) -> None:
    """Given the SCIM base URL as documented and printed (ending with /) and a client that
    appends /Users and /Groups to it (so every path has a doubled slash), when it runs Okta's
    first steps over HTTP, then each request is served as with one slash, and the locations it
    is handed back have no doubled slash."""
    base = dev_server.url(SCIM_BASE_PATH + "/")
    client = requests.Session()
    client.headers.update(scim.headers)
    user_name = unique_name("trailing-slash")

    looked_up = client.get(f"{base}/Users?{lookup(user_name)}", timeout=REQUEST_TIMEOUT_SECONDS)
    created = client.post(f"{base}/Users", json=okta_user(user_name), timeout=REQUEST_TIMEOUT_SECONDS)
    user = created.json()
    fetched = client.get(f"{base}/Users/{user['id']}", timeout=REQUEST_TIMEOUT_SECONDS)
    group = client.post(
        f"{base}/Groups",
        json={"schemas": [GROUP_SCHEMA], "displayName": unique_name("group"), "members": [{"value": user["id"]}]},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    unauthenticated = requests.get(f"{base}/Users", timeout=REQUEST_TIMEOUT_SECONDS)

    assert "//Users" in created.request.url
    assert (looked_up.status_code, looked_up.json()["totalResults"]) == (200, 0)
    assert created.status_code == 201, created.text
    assert created.headers["Location"] == user["meta"]["location"]
    assert urlsplit(user["meta"]["location"]).path == f"{SCIM_BASE_PATH}/Users/{user['id']}"
    assert fetched.status_code == 200 and fetched.json()["userName"] == user_name
    assert group.status_code == 201, group.text
    assert [member["value"] for member in group.json()["members"]] == [user["id"]]
    assert_scim_error(unauthenticated, 401)  # the SCIM route's answer, not API Gateway's 403


def test_a_method_a_scim_path_does_not_serve_is_a_405_with_allow(scim: Scim) -> None:
    response = scim.request("PUT", "/Users", {})

    assert_scim_error(response, 405)
    assert response.headers["Allow"] == "GET, POST"


def test_every_single_resource_answer_locates_it_on_the_dev_servers_own_url(dev_server: DevServer, scim: Scim) -> None:
    # Given a client whose Host and X-Forwarded-Proto claim another site
    forged = {"Host": "evil.example", "X-Forwarded-Proto": "https"}
    base = f"http://127.0.0.1:{dev_server.port}{SCIM_BASE_PATH}"

    # When it creates, reads, replaces and patches a user and a group over HTTP
    created = scim.request("POST", "/Users", okta_user(unique_name("located")), headers=forged)
    user_id = created.json()["id"]
    group = scim.request(
        "POST", "/Groups", {"displayName": unique_name("g"), "members": [{"value": user_id}]}, headers=forged
    )
    group_id = group.json()["id"]
    rename = patch_op({"op": "replace", "path": "displayName", "value": unique_name("renamed")})
    answers = {
        "POST /Users": created,
        "GET /Users": scim.request("GET", f"/Users/{user_id}", headers=forged),
        "PUT /Users": scim.request("PUT", f"/Users/{user_id}", created.json(), headers=forged),
        "PATCH /Users": scim.request(
            "PATCH", f"/Users/{user_id}", patch_op({"op": "replace", "path": "title", "value": "x"}), headers=forged
        ),
        "POST /Groups": group,
        "GET /Groups": scim.request("GET", f"/Groups/{group_id}", headers=forged),
        "PATCH /Groups": scim.request("PATCH", f"/Groups/{group_id}", rename, headers=forged),
    }

    # Then each has a Location equal to meta.location, with the dev server's real scheme and host
    for name, response in answers.items():
        assert response.status_code in (200, 201), (name, response.text)
        document = response.json()
        kind = "Users" if "Users" in name else "Groups"
        assert document["meta"]["location"] == f"{base}/{kind}/{document['id']}", name
        assert response.headers["Location"] == document["meta"]["location"], name
    assert answers["GET /Groups"].json()["members"][0]["$ref"] == f"{base}/Users/{user_id}"
