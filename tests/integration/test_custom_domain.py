"""Requests through the optional custom domain (template.yaml maps the stage at the domain's
root): what an identity provider and an admin see there must name the domain, not execute-api."""

from __future__ import annotations

import json

from devserver.dispatch import Dispatcher
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture
from tests.scim_samples import okta_user

DOMAIN = "scim.example.com"
# What API Gateway hands the function for a request to https://scim.example.com/…: the domain in
# Host and requestContext.domainName, and no stage before the path (the mapping is at the root).
THROUGH_THE_DOMAIN = [("Host", DOMAIN), ("X-Forwarded-Proto", "https")]


def test_scim_locations_and_the_settings_page_name_the_custom_domain(app_runtime: Runtime, admin: AdminFixture):
    """Given a request through the custom domain, when an admin mints a token and Okta creates a
    user with it, then Location and meta.location are on the domain, without a stage, and the
    settings page finds its assets and APIs at the domain's root."""
    api = Dispatcher(host=DOMAIN)
    minted = api.handle(
        "POST",
        "/api/v1/scim/organization-access-tokens",
        [*THROUGH_THE_DOMAIN, ("Authorization", admin.authorization), ("Content-Type", "application/json")],
        json.dumps({"description": "Okta", "expiresAt": None}),
    )
    token = json.loads(minted.body)["results"]["token"]

    created = api.handle(
        "POST",
        "/api/v1/scim/v2/Users",
        [*THROUGH_THE_DOMAIN, ("Authorization", f"Bearer {token}"), ("Content-Type", "application/scim+json")],
        json.dumps(okta_user()),
    )
    page = api.handle("GET", "/settings/scim", THROUGH_THE_DOMAIN)

    user = json.loads(created.body)
    assert created.status == 201
    assert user["meta"]["location"] == f"https://{DOMAIN}/api/v1/scim/v2/Users/{user['id']}"
    assert created.header("Location") == user["meta"]["location"]
    assert '<meta name="base-path" content="">' in page.body.decode()
