"""SCIM request bodies shaped as Okta and Microsoft Entra ID send them, shared by the
integration tests (handlers on moto) and the e2e tests (dev server over HTTP), and stored
users in canonical form for the filter and PATCH unit tests and their scim2-models oracles.

The shapes follow Okta's "SCIM 2.0 Test App (Header Auth)" requests (developer.okta.com,
"Okta and SCIM Version 2.0") and Microsoft's "Known issues and request examples" for the
Entra provisioning service: their quirks (``groups: []``, a password, ``"active": "True"``,
``null`` values, ``roles: []``, ``meta``) are the point, so keep them."""

from __future__ import annotations

from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def okta_user(user_name: str = "ada@acme.test", **extra: Any) -> dict[str, Any]:
    """Okta's Create User body: primary work email, locale, an empty ``groups`` list and a password."""
    return {
        "schemas": [USER_SCHEMA],
        "userName": user_name,
        "name": {"givenName": "Ada", "familyName": "Lovelace"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Ada Lovelace",
        "locale": "en-US",
        "externalId": "00u1ab2cd3EF4gh5i6j7",
        "groups": [],
        "password": "Secret-1234!",
        "active": True,
        **extra,
    }


def entra_user(user_name: str = "grace@acme.test", **extra: Any) -> dict[str, Any]:
    """Entra's Create User body: ``"active": "True"``, nulls for unmapped attributes,
    ``roles: []``, a ``meta`` it has no business sending, and the enterprise extension."""
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "externalId": "c5d1f5e4-1c5a-4b07-9a3f-3f6f6c1b2a10",
        "userName": user_name,
        "active": "True",
        "displayName": "Grace Hopper",
        "title": None,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
        "roles": [],
        ENTERPRISE: {"department": None, "employeeNumber": "42"},
        **extra,
    }


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


# Stored users in canonical form (as the users service keeps them), shared by the filter and
# PATCH unit tests and by their scim2-models oracle tests, so each pair exercises the same data.
def stored_barbara() -> dict[str, Any]:
    """RFC 7643 §8.2's Barbara Jensen as Entra provisions her and the service stores her,
    with ``meta``: what filters run against."""
    return {
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "Bjensen-701984",
        "userName": "BJensen@Example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen", "formatted": "Ms. Barbara J Jensen III"},
        "displayName": "Babs Jensen",
        "title": "Tour Guide",
        "userType": "Employee",
        "active": True,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "phoneNumbers": [{"value": "555-555-8377", "type": "work"}],
        "ims": [{"value": "someaimhandle", "type": "aim"}],
        "roles": [{"value": "member", "primary": True}],
        ENTERPRISE: {
            "employeeNumber": "701984",
            "department": "Tour Operations",
            "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"},
        },
        "meta": {
            "resourceType": "User",
            "created": "2010-01-23T04:56:22.000Z",
            "lastModified": "2011-05-13T04:42:34.000Z",
            "version": 'W/"3694e05e9dff591"',
        },
    }


def patchable_barbara() -> dict[str, Any]:
    """A stored user as the users service hands it to PATCH (no ``id``/``meta``): work email,
    work phone, department, manager."""
    return {
        "userName": "bjensen@contoso.com",
        "externalId": "701984",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "displayName": "Barbara Jensen",
        "active": True,
        "emails": [{"value": "bjensen@contoso.com", "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+1 555 0100", "type": "work"}],
        ENTERPRISE: {"department": "Marketing", "manager": {"value": "m-26"}},
    }
