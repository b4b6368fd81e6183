"""The organization's first admin is a complete SCIM user: an identity provider that assigns
that person first (what every new customer does) finds and links them instead of failing.

Through the real /Users handler on moto; the admin comes from ``make_admin`` (the service
``scim-admin create-organization`` and the dev server use)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from devserver.dispatch import Dispatcher
from scim_provisioning.models import Organization, OrganizationRole, Person
from scim_provisioning.repository.protocols import Stores
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import BASE, AdminFixture, call, create, document, filter_query, listed, patch
from tests.scim_samples import USER_SCHEMA, entra_user, okta_user

ADMIN_EMAIL = "admin@acme.test"  # make_admin's


def the_admin(api: Dispatcher, token: str, expression: str) -> dict[str, Any]:
    found = listed(api, token, filter_query(expression))
    assert found["totalResults"] == 1, found
    (user,) = found["Resources"]
    return user


def test_the_admin_is_listed_as_a_complete_user(api: Dispatcher, token: str, admin: AdminFixture) -> None:
    # Given a new organization (its admin only)
    # When the identity provider lists its users
    page = listed(api, token, "count=10")

    # Then the admin carries everything a SCIM user has
    (user,) = page["Resources"]
    assert user["id"] == admin.user_uuid
    assert user["userName"] == ADMIN_EMAIL
    assert user["name"] == {"givenName": "Alex", "familyName": "Admin", "formatted": "Alex Admin"}
    assert user["displayName"] == "Alex Admin"
    assert user["active"] is True
    assert user["emails"] == [{"value": ADMIN_EMAIL, "type": "work", "primary": True}]
    assert [role["value"] for role in user["roles"]] == ["admin"]
    assert user["schemas"] == [USER_SCHEMA]


@pytest.mark.parametrize(
    "expression",
    [
        f'userName eq "{ADMIN_EMAIL}"',
        f'userName eq "{ADMIN_EMAIL.upper()}"',
        f'emails.value eq "{ADMIN_EMAIL}"',
        f'emails[type eq "work"].value eq "{ADMIN_EMAIL}"',
    ],
)
def test_every_lookup_an_identity_provider_makes_finds_the_admin(
    api: Dispatcher, token: str, admin: AdminFixture, expression: str
) -> None:
    assert the_admin(api, token, expression)["id"] == admin.user_uuid


def test_the_admin_is_found_by_id(api: Dispatcher, token: str, admin: AdminFixture) -> None:
    assert the_admin(api, token, f'id eq "{admin.user_uuid}"')["userName"] == ADMIN_EMAIL
    response = call(api, "GET", f"{BASE}/{admin.user_uuid}", token)
    assert response.status == 200
    assert document(response)["userName"] == ADMIN_EMAIL


def test_okta_links_the_admin_with_a_put_and_the_admin_keeps_the_role(
    api: Dispatcher, token: str, admin: AdminFixture, app_runtime: Runtime
) -> None:
    # Given Okta found the admin by userName
    found = the_admin(api, token, f'userName eq "{ADMIN_EMAIL}"')

    # When it links the person: a PUT of its own profile, with its externalId and no roles
    body = okta_user(ADMIN_EMAIL, externalId="00u-okta-admin", id=found["id"])
    body["name"] = {"givenName": "Alex", "familyName": "Admin"}
    response = call(api, "PUT", f"{BASE}/{found['id']}", token, body)

    # Then the person is linked, still the organization's admin, and their API key still works
    assert response.status == 200, response.body
    linked = document(response)
    assert linked["externalId"] == "00u-okta-admin"
    assert [role["value"] for role in linked["roles"]] == ["admin"]
    assert app_runtime.authenticator.authenticate_admin(admin.authorization).user_uuid == admin.user_uuid
    assert the_admin(api, token, 'externalId eq "00u-okta-admin"')["id"] == admin.user_uuid


def test_entra_links_the_admin_with_a_patch_and_the_admin_keeps_the_role(
    api: Dispatcher, token: str, admin: AdminFixture, app_runtime: Runtime
) -> None:
    # Given Entra found the admin by userName
    found = the_admin(api, token, f'userName eq "{ADMIN_EMAIL}"')

    # When it links the person: Replace operations with its externalId and attributes
    response = patch(
        api,
        token,
        found["id"],
        {"op": "Replace", "path": "externalId", "value": "entra-object-id"},
        {"op": "Replace", "path": "displayName", "value": "Alex A. Admin"},
        {"op": "Replace", "path": "active", "value": "True"},
    )

    # Then the link holds and the admin is still an admin
    assert response.status == 200, response.body
    assert document(response)["externalId"] == "entra-object-id"
    assert [role["value"] for role in document(response)["roles"]] == ["admin"]
    assert app_runtime.authenticator.authenticate_admin(admin.authorization).user_uuid == admin.user_uuid


def test_a_put_that_sends_roles_changes_them(api: Dispatcher, token: str, admin: AdminFixture) -> None:
    # Given an organization with a second admin (an IdP may demote one while another remains)
    second = create(api, token, okta_user("second@acme.test", roles=[{"value": "admin"}]))

    # When the IdP replaces the user with an explicit member role
    body = okta_user("second@acme.test", roles=[{"value": "member"}])
    response = call(api, "PUT", f"{BASE}/{second['id']}", token, body)

    # Then the role is what it sent
    assert response.status == 200, response.body
    assert [role["value"] for role in document(response)["roles"]] == ["member"]


def test_a_put_with_empty_roles_clears_them(api: Dispatcher, token: str) -> None:
    user = create(api, token, entra_user("grace@acme.test", roles=[{"value": "admin"}]))

    response = call(api, "PUT", f"{BASE}/{user['id']}", token, entra_user("grace@acme.test", roles=[]))

    assert response.status == 200, response.body
    assert "roles" not in document(response)


def test_creating_the_admin_again_is_a_uniqueness_conflict_that_the_lookup_explains(
    api: Dispatcher, token: str
) -> None:
    # An IdP that skipped the lookup gets 409; the lookup it should make finds the person.
    response = call(api, "POST", BASE, token, okta_user(ADMIN_EMAIL))
    assert response.status == 409
    assert json.loads(response.body)["scimType"] == "uniqueness"
    assert the_admin(api, token, f'userName eq "{ADMIN_EMAIL}"')


# ------------------------------------------------------- records of earlier releases
def store_old_shape_organization(stores: Stores, app_runtime: Runtime) -> Person:
    """An organization and admin exactly as releases before 2026-11-30 wrote them: the
    admin's SCIM resource held its emails and nothing else."""
    now = app_runtime.clock.now()
    organization = Organization(uuid="0b5e7c1e-0000-4000-8000-000000000001", name="Old Corp", created_at=now)
    admin = Person(
        uuid="0b5e7c1e-0000-4000-8000-0000000000a1",
        organization_uuid=organization.uuid,
        user_name="root@old.test",
        active=True,
        role=OrganizationRole.ADMIN,
        created_at=now,
        last_modified=now,
        resource={"emails": [{"value": "root@old.test", "type": "work", "primary": True}]},
    )
    stores.organizations.create_organization(organization, admin)
    return admin


def test_upgrade_completes_an_old_shape_admin_once(stores: Stores, app_runtime: Runtime) -> None:
    # Given an admin stored the old way
    old = store_old_shape_organization(stores, app_runtime)

    # When the upgrade runs twice
    first = app_runtime.upgrades.upgrade_all().as_document()
    second = app_runtime.upgrades.upgrade_all().as_document()

    # Then the first run completes the record and the second changes nothing
    assert first == {
        "peopleScanned": 1,
        "peopleUpgraded": 1,
        "organizationsCounted": 0,
        "repairs": {"legacy admin record": 1},
        "scimTokenItemsIndexed": 0,
    }
    assert second == {
        "peopleScanned": 1,
        "peopleUpgraded": 0,
        "organizationsCounted": 0,
        "repairs": {},
        "scimTokenItemsIndexed": 0,
    }
    upgraded = stores.people.get_person(old.organization_uuid, old.uuid)
    assert upgraded is not None
    assert upgraded.resource["userName"] == "root@old.test"
    assert upgraded.resource["active"] is True
    assert upgraded.resource["roles"] == [{"value": "admin", "primary": True}]
    assert upgraded.role is OrganizationRole.ADMIN
    assert upgraded.version == old.version + 1


def test_an_upgraded_old_admin_is_found_by_userName(api: Dispatcher, stores: Stores, app_runtime: Runtime) -> None:
    # Given an old-shape admin, upgraded
    old = store_old_shape_organization(stores, app_runtime)
    app_runtime.upgrades.upgrade_all()
    _, key = app_runtime.organizations.create_api_key(old.organization_uuid, old.uuid, "key")
    principal = app_runtime.authenticator.authenticate_admin(f"ApiKey {key}")
    _, secret = app_runtime.access_tokens.create(principal, "Okta", None)

    # When the IdP looks the admin up
    user = the_admin(api, f"Bearer {secret}", 'userName eq "ROOT@old.test"')

    # Then it is found, complete
    assert (user["id"], user["userName"], user["active"]) == (old.uuid, "root@old.test", True)
