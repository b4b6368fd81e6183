"""Location, meta.location and $ref (issue 9.2): every answer carrying one resource has a
``Location`` equal to its ``meta.location``, on the host and stage API Gateway served the request
on (``requestContext.domainName`` and the stage before the path), never on what the client's
``Host`` or ``X-Forwarded-Proto`` claim. The stage (``/dev`` before the path on an execute-api
host) is checked with API Gateway's own event in ``test_events.py``; the dev server's plain-HTTP
URLs over real HTTP in ``tests/e2e/test_first_contact.py``."""

from __future__ import annotations

import json
from typing import Any

from devserver.dispatch import Dispatcher, HttpResponse
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, scim_token

SCIM = "/api/v1/scim/v2"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# What a hostile or confused client (or a proxy in front of it) may claim about the URL.
FORGED = [("Host", "evil.example"), ("X-Forwarded-Proto", "http"), ("X-Forwarded-Host", "evil.example")]


def send(api: Dispatcher, token: str, method: str, path: str, body: Any = None) -> HttpResponse:
    headers = [*FORGED, ("Authorization", token), ("Content-Type", "application/scim+json")]
    return api.handle(method, SCIM + path, headers, None if body is None else json.dumps(body))


def single_resource_answers(api: Dispatcher, token: str) -> list[tuple[str, HttpResponse]]:
    """POST, GET, PUT and PATCH of a user and a group (a member in it)."""
    answers = []
    created = send(api, token, "POST", "/Users", {"userName": "jane@acme.test"})
    answers.append(("POST /Users", created))
    user_id = json.loads(created.body)["id"]
    answers.append(("GET /Users/{id}", send(api, token, "GET", f"/Users/{user_id}")))
    answers.append(("PUT /Users/{id}", send(api, token, "PUT", f"/Users/{user_id}", {"userName": "jane@acme.test"})))
    patch = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "title", "value": "CTO"}]}
    answers.append(("PATCH /Users/{id}", send(api, token, "PATCH", f"/Users/{user_id}", patch)))
    group = send(api, token, "POST", "/Groups", {"displayName": "Ops", "members": [{"value": user_id}]})
    answers.append(("POST /Groups", group))
    group_id = json.loads(group.body)["id"]
    answers.append(("GET /Groups/{id}", send(api, token, "GET", f"/Groups/{group_id}")))
    answers.append(
        ("GET /Groups/{id} without members", send(api, token, "GET", f"/Groups/{group_id}?excludedAttributes=members"))
    )
    answers.append(
        (
            "PUT /Groups/{id}",
            send(api, token, "PUT", f"/Groups/{group_id}", {"displayName": "Ops", "members": [{"value": user_id}]}),
        )
    )
    rename = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "path": "displayName", "value": "Ops 2"}]}
    answers.append(("PATCH /Groups/{id}", send(api, token, "PATCH", f"/Groups/{group_id}", rename)))
    answers.append(("GET /Users/{id} in a group", send(api, token, "GET", f"/Users/{user_id}")))
    return answers


def test_every_single_resource_answer_has_location_equal_to_meta_location(app_runtime: Runtime, admin: AdminFixture):
    # Given a client that sends a forged Host and X-Forwarded-Proto to the execute-api host
    api = Dispatcher(host="abc123.execute-api.eu-west-1.amazonaws.com")
    token = scim_token(app_runtime, admin)

    # When it creates, reads, replaces and patches users and groups (through the stage, /prod
    # in requestContext.path)
    answers = single_resource_answers(api, token)

    # Then every answer's Location is its meta.location, on the host and stage API Gateway served
    for name, response in answers:
        assert response.status in (200, 201), (name, response.body)
        document = json.loads(response.body)
        kind = "Users" if "Users" in name else "Groups"
        expected = f"https://abc123.execute-api.eu-west-1.amazonaws.com{SCIM}/{kind}/{document['id']}"
        assert document["meta"]["location"] == expected, name
        assert response.header("Location") == expected, name
        # And every $ref is on the same base
        references = [member["$ref"] for member in document.get("members", [])]
        references += [group["$ref"] for group in document.get("groups", [])]
        assert all(
            reference.startswith(f"https://abc123.execute-api.eu-west-1.amazonaws.com{SCIM}/")
            for reference in references
        ), name
    assert any(json.loads(response.body).get("members") for _, response in answers)
    assert any(json.loads(response.body).get("groups") for _, response in answers)
