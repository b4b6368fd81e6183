"""Bearer and ApiKey authentication on the real stores (moto)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from datetime import timedelta

import pytest

from scim_provisioning.errors import Forbidden, Unauthenticated
from scim_provisioning.models import OrganizationRole, Person
from scim_provisioning.repository.protocols import UserNameTaken
from scim_provisioning.runtime import Runtime
from scim_provisioning.services.authentication import AdminPrincipal
from tests.integration.helpers import AdminFixture


def add_person(app_runtime: Runtime, admin: AdminFixture, user_name: str, role: OrganizationRole) -> Person:
    now = app_runtime.clock.now()
    person = Person(str(uuid.uuid4()), admin.organization_uuid, user_name, True, role, now, now)
    app_runtime.stores.people.create_person(person)
    return person


def set_active(app_runtime: Runtime, person: Person, active: bool) -> Person:
    """Stands in for a SCIM deactivation: the stored person with ``active`` changed."""
    updated = replace(person, active=active, version=person.version + 1)
    app_runtime.stores.people.replace_person(person, updated)
    return updated


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "scim_0123456789abcdef0123456789abcdef",
        "Bearer scim_0123456789ABCDEF0123456789ABCDEF",
        "Bearer scim_short",
        "Bearer scim_0123456789abcdef0123456789abcdef",
    ],
)
def test_bearer_refuses_missing_malformed_and_unknown_tokens(app_runtime: Runtime, header):
    with pytest.raises(Unauthenticated):
        app_runtime.authenticator.authenticate_scim(header)


def test_bearer_scheme_is_case_insensitive(app_runtime: Runtime, admin: AdminFixture):
    principal = AdminPrincipal(admin.organization_uuid, admin.user_uuid, "k")
    _, secret = app_runtime.access_tokens.create(principal, "Okta", None)
    assert app_runtime.authenticator.authenticate_scim(f"bearer {secret}").organization_uuid == admin.organization_uuid


def test_api_key_is_not_a_scim_token_and_vice_versa(app_runtime: Runtime, admin: AdminFixture):
    principal = AdminPrincipal(admin.organization_uuid, admin.user_uuid, "k")
    _, secret = app_runtime.access_tokens.create(principal, "Okta", None)
    with pytest.raises(Unauthenticated):
        app_runtime.authenticator.authenticate_admin(f"ApiKey {secret}")
    with pytest.raises(Unauthenticated):
        app_runtime.authenticator.authenticate_scim(f"Bearer {admin.api_key}")


def test_admin_api_key_authenticates(app_runtime: Runtime, admin: AdminFixture):
    principal = app_runtime.authenticator.authenticate_admin(admin.authorization)
    assert (principal.organization_uuid, principal.user_uuid) == (admin.organization_uuid, admin.user_uuid)


def test_member_api_key_is_forbidden(app_runtime: Runtime, admin: AdminFixture):
    member = add_person(app_runtime, admin, "member@acme.test", OrganizationRole.MEMBER)
    _, key = app_runtime.organizations.create_api_key(admin.organization_uuid, member.uuid, "member key")
    with pytest.raises(Forbidden):
        app_runtime.authenticator.authenticate_admin(f"ApiKey {key}")


def test_deactivated_admin_api_key_stops_working(app_runtime: Runtime, admin: AdminFixture):
    # A second admin, so that the organization keeps an active one (the last may not go)
    add_person(app_runtime, admin, "second-admin@acme.test", OrganizationRole.ADMIN)
    person = app_runtime.stores.people.get_person(admin.organization_uuid, admin.user_uuid)
    assert person is not None
    deactivated = set_active(app_runtime, person, False)
    with pytest.raises(Unauthenticated):
        app_runtime.authenticator.authenticate_admin(admin.authorization)
    set_active(app_runtime, deactivated, True)
    app_runtime.authenticator.authenticate_admin(admin.authorization)


def test_expired_and_revoked_api_keys_fail(app_runtime: Runtime, admin: AdminFixture, clock):
    key, secret = app_runtime.organizations.create_api_key(
        admin.organization_uuid, admin.user_uuid, "short-lived", expires_at=clock.now() + timedelta(hours=1)
    )
    app_runtime.authenticator.authenticate_admin(f"ApiKey {secret}")
    clock.advance(hours=1)
    with pytest.raises(Unauthenticated, match="expired"):
        app_runtime.authenticator.authenticate_admin(f"ApiKey {secret}")
    app_runtime.organizations.revoke_api_key(admin.organization_uuid, admin_key_uuid(app_runtime, admin))
    with pytest.raises(Unauthenticated):
        app_runtime.authenticator.authenticate_admin(admin.authorization)
    assert [k.uuid for k in app_runtime.organizations.list_api_keys(admin.organization_uuid)] == [key.uuid]


def admin_key_uuid(app_runtime: Runtime, admin: AdminFixture) -> str:
    digest = hashlib.sha256(admin.api_key.encode()).hexdigest()
    (key,) = [
        k for k in app_runtime.organizations.list_api_keys(admin.organization_uuid) if k.credential_digest == digest
    ]
    return key.uuid


def test_user_name_is_unique_case_insensitively_per_organization(app_runtime: Runtime, admin: AdminFixture):
    add_person(app_runtime, admin, "Jane.Doe@acme.test", OrganizationRole.MEMBER)
    with pytest.raises(UserNameTaken):
        add_person(app_runtime, admin, "jane.doe@ACME.test", OrganizationRole.MEMBER)


def test_authentication_costs_one_read_and_writes_nothing(app_runtime: Runtime, admin: AdminFixture, dynamodb_client):
    """Given a token never used, when it authenticates twice, then each is one GetItem: its
    lastUsedAt is stamped by the activity ingest, off the response path, not here."""
    principal = AdminPrincipal(admin.organization_uuid, admin.user_uuid, "k")
    _, secret = app_runtime.access_tokens.create(principal, "Okta", None)
    calls: list[str] = []
    dynamodb_client.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))

    app_runtime.authenticator.authenticate_scim(f"Bearer {secret}")
    app_runtime.authenticator.authenticate_scim(f"Bearer {secret}")

    assert calls == ["GetItem", "GetItem"]
