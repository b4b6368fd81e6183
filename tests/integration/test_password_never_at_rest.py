"""A ``password`` sent by an identity provider (Okta and Entra do when password sync is on) is
validated and dropped: after every write path, no stored item and no log line holds it.

Through the real handlers on moto; the whole table is scanned after each request."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from devserver.dispatch import Dispatcher
from scim_provisioning.models import OrganizationRole, Person
from scim_provisioning.repository.protocols import Stores
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import BASE, AdminFixture, call, create, scim_error
from tests.scim_samples import entra_user, okta_user, patch_op

CANARY = "Canary-Pa55word-7f3e9c"
GROUPS = "/api/v1/scim/v2/Groups"


def stored_text(dynamodb_client: Any, table_name: str) -> str:
    items, request = [], {"TableName": table_name}
    while True:
        page = dynamodb_client.scan(**request)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return json.dumps(items)
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _user(api: Dispatcher, token: str, name: str) -> str:
    return create(api, token, okta_user(name))["id"]


WritePath = Callable[[Dispatcher, str], int]

WRITE_PATHS: dict[str, WritePath] = {
    "POST /Users (Okta)": lambda api, token: (
        call(api, "POST", BASE, token, okta_user("a@acme.test", password=CANARY)).status
    ),
    "POST /Users (Entra)": lambda api, token: (
        call(api, "POST", BASE, token, entra_user("b@acme.test", password=CANARY)).status
    ),
    "PUT /Users": lambda api, token: (
        call(
            api, "PUT", f"{BASE}/{_user(api, token, 'c@acme.test')}", token, okta_user("c@acme.test", password=CANARY)
        ).status
    ),
    "PATCH replace with path": lambda api, token: (
        call(
            api,
            "PATCH",
            f"{BASE}/{_user(api, token, 'd@acme.test')}",
            token,
            patch_op({"op": "replace", "path": "password", "value": CANARY}),
        ).status
    ),
    "PATCH add with path (Entra's capitalised op)": lambda api, token: (
        call(
            api,
            "PATCH",
            f"{BASE}/{_user(api, token, 'e@acme.test')}",
            token,
            patch_op({"op": "Add", "path": "password", "value": CANARY}),
        ).status
    ),
    "PATCH path-less (Okta's password sync)": lambda api, token: (
        call(
            api,
            "PATCH",
            f"{BASE}/{_user(api, token, 'f@acme.test')}",
            token,
            patch_op({"op": "replace", "value": {"password": CANARY}}),
        ).status
    ),
    "PATCH path-less with other changes": lambda api, token: (
        call(
            api,
            "PATCH",
            f"{BASE}/{_user(api, token, 'g@acme.test')}",
            token,
            patch_op({"op": "replace", "value": {"password": CANARY, "title": "Engineer", "active": False}}),
        ).status
    ),
    "PATCH with the URN-qualified path": lambda api, token: (
        call(
            api,
            "PATCH",
            f"{BASE}/{_user(api, token, 'h@acme.test')}",
            token,
            patch_op({"op": "replace", "path": "urn:ietf:params:scim:schemas:core:2.0:User:password", "value": CANARY}),
        ).status
    ),
    "POST /Groups with a stray password": lambda api, token: (
        call(api, "POST", GROUPS, token, {"displayName": "Engineering", "password": CANARY}).status
    ),
}


@pytest.mark.parametrize("path", list(WRITE_PATHS))
def test_a_password_is_never_stored_nor_logged(
    api: Dispatcher,
    token: str,
    dynamodb_client: Any,
    table_name: str,
    path: str,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given everything is logged that the service logs
    caplog.set_level(logging.DEBUG)

    # When a canary password is sent through the write path
    status = WRITE_PATHS[path](api, token)

    # Then the request succeeds and the canary is in no item of the table and no log line
    assert status in (200, 201), path
    assert CANARY not in stored_text(dynamodb_client, table_name)
    output = capsys.readouterr()
    assert CANARY not in output.out + output.err
    assert CANARY not in caplog.text


def test_a_password_of_the_wrong_type_is_refused_without_echoing_it(api: Dispatcher, token: str) -> None:
    user_id = _user(api, token, "typed@acme.test")

    error = scim_error(
        call(api, "PATCH", f"{BASE}/{user_id}", token, patch_op({"op": "replace", "value": {"password": [CANARY]}})),
        400,
        "invalidValue",
    )

    assert "password" in error["detail"] and CANARY not in error["detail"]


def test_a_password_only_patch_changes_nothing(api: Dispatcher, token: str) -> None:
    # Given a user
    created = create(api, token, okta_user("same@acme.test"))

    # When Okta syncs a password
    response = call(
        api, "PATCH", f"{BASE}/{created['id']}", token, patch_op({"op": "replace", "value": {"password": CANARY}})
    )

    # Then nothing is written: the version stays
    assert response.status == 200
    assert json.loads(response.body)["meta"]["version"] == created["meta"]["version"]


def test_upgrade_scrubs_a_stored_password_once(
    stores: Stores, app_runtime: Runtime, admin: AdminFixture, dynamodb_client: Any, table_name: str
) -> None:
    # Given a person stored by an earlier release, with the password it was sent
    now = app_runtime.clock.now()
    person = Person(
        uuid="5c4f3a1e-0000-4000-8000-000000000001",
        organization_uuid=admin.organization_uuid,
        user_name="old@acme.test",
        active=True,
        role=OrganizationRole.MEMBER,
        created_at=now,
        last_modified=now,
        resource={"userName": "old@acme.test", "active": True, "password": CANARY},
    )
    stores.people.create_person(person)
    assert CANARY in stored_text(dynamodb_client, table_name)

    # When the upgrade runs twice
    first = app_runtime.upgrades.upgrade_all().as_document()
    second = app_runtime.upgrades.upgrade_all().as_document()

    # Then the first run removed it and the second had nothing to do
    assert first["repairs"] == {"password at rest": 1}
    assert second["peopleUpgraded"] == 0
    assert CANARY not in stored_text(dynamodb_client, table_name)
    scrubbed = stores.people.get_person(admin.organization_uuid, person.uuid)
    assert scrubbed is not None and scrubbed.resource == {"userName": "old@acme.test", "active": True}
