"""SCIM request bodies shaped as Okta and Microsoft Entra ID send them, shared by the
integration tests (handlers on moto) and the e2e tests (dev server over HTTP).

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
