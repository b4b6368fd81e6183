"""Sample users in canonical form (as the users service stores them), shared by the filter and
PATCH tests and by their scim2-models oracle tests, so each pair exercises the same data."""

from __future__ import annotations

from typing import Any

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


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
