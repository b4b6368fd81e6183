"""The dev server's stand-in for the table's stream and Lambda's event source mapping
(devserver/streams.py): the template's stream reaches the embedded table, and its consumers
get the records their filters pass, from a background thread, even after a transaction rolled
back, as the janitor's repair of an interrupted delete shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from devserver.dispatch import Dispatcher
from devserver.embedded_dynamodb import EmbeddedDynamoDB
from devserver.environment import local_overrides
from devserver.local_events import LocalEventBus
from devserver.streams import LocalTableStream, matches
from devserver.template import create_table, stream_consumers
from scim_provisioning import runtime
from scim_provisioning.models import Deletion, ServiceEvent
from scim_provisioning.repository.items import deserialize
from scim_provisioning.repository.protocols import PublishFailed
from tests.integration.helpers import call, document, make_admin, scim_token
from tests.polling import eventually
from tests.scim_samples import PATCH_OP, okta_user

TABLE = "stream-local"
USERS = "/api/v1/scim/v2/Users"
GROUPS = "/api/v1/scim/v2/Groups"
# The janitor waits 5 s for GSI1 after a deletion (in real time here), then repairs.
REPAIR_DEADLINE_SECONDS = 30.0


@pytest.fixture(scope="module")
def database() -> Iterator[EmbeddedDynamoDB]:
    embedded = EmbeddedDynamoDB("127.0.0.1", 0).start()
    client = boto3.client("dynamodb", endpoint_url=embedded.endpoint_url, region_name="us-east-1")
    create_table(client, TABLE)
    yield embedded
    embedded.stop()


@pytest.fixture
def client(database: EmbeddedDynamoDB) -> Any:
    return boto3.client("dynamodb", endpoint_url=database.endpoint_url, region_name="us-east-1")


@pytest.fixture
def served(database: EmbeddedDynamoDB, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalTableStream]:
    """The handlers' runtime on the embedded table, as the dev server builds it (the variables
    it sets, undone afterwards), and the stream's consumers running."""
    for name, value in local_overrides(TABLE, database.endpoint_url).items():
        monkeypatch.setenv(name, value)
    runtime.configure(bus=LocalEventBus("us-east-1"))
    stream = LocalTableStream(database.endpoint_url, TABLE, "us-east-1").start()
    yield stream
    stream.stop()
    runtime.reset()


def test_the_template_gives_the_table_a_stream_of_new_and_old_images(client: Any):
    # given the table the dev server creates from template.yaml, then it streams both images
    described = client.describe_table(TableName=TABLE)["Table"]

    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert described["LatestStreamArn"]
    assert [consumer.code.logical_id for consumer in stream_consumers()] == [
        "MembershipJanitorFunction",
        "ChangeEventsFunction",
    ]


@pytest.mark.parametrize(
    ("record", "passed"),
    [
        ({"eventName": "INSERT", "dynamodb": {"NewImage": {"entity": {"S": "Membership"}}}}, True),
        ({"eventName": "MODIFY", "dynamodb": {"NewImage": {"entity": {"S": "Membership"}}}}, False),
        ({"eventName": "REMOVE", "dynamodb": {"OldImage": {"entity": {"S": "Group"}}}}, True),
        ({"eventName": "REMOVE", "dynamodb": {"OldImage": {"entity": {"S": "ApiKey"}}}}, False),
        (
            {
                "eventName": "INSERT",
                "dynamodb": {"NewImage": {"entity": {"S": "MembershipChange"}, "status": {"S": "done"}}},
            },
            False,
        ),
        (
            {
                "eventName": "INSERT",
                "dynamodb": {"NewImage": {"entity": {"S": "MembershipChange"}, "status": {"S": "pending"}}},
            },
            True,
        ),
    ],
)
def test_the_janitors_filters_pass_only_what_it_repairs(record: dict[str, Any], passed: bool):
    # given the janitor's FilterCriteria from the template, then a record passes one of them or none
    (janitor,) = [
        consumer for consumer in stream_consumers() if consumer.code.logical_id == "MembershipJanitorFunction"
    ]
    assert any(matches(pattern, record) for pattern in janitor.patterns) is passed


def test_an_interrupted_user_delete_is_repaired_from_the_stream(served: LocalTableStream, client: Any):
    # given an organization, a user in a group, and a transaction that rolled back meanwhile
    # (a taken userName): moto replaces the stream's shard on a rollback unless patched
    current = runtime.current()
    admin = make_admin(current)
    token = scim_token(current, admin)
    api = Dispatcher()
    created = call(api, "POST", USERS, token, okta_user("ada@acme.test", externalId=None))
    ada = document(created)["id"]
    assert call(api, "POST", USERS, token, okta_user("ADA@acme.test", externalId=None)).status == 409
    group = call(api, "POST", GROUPS, token, {"displayName": "Eng", "members": [{"value": ada}]})
    assert group.status == 201, group.body

    # when the user is deleted by a request that stops after its own transaction
    person = current.stores.people.get_person(admin.organization_uuid, ada)
    assert person is not None
    current.stores.people.delete_person(person, Deletion(None, datetime.now(UTC)))

    # then the janitor, fed by the dev server's stream, removes the membership
    def memberships() -> list[dict[str, Any]]:
        items = [deserialize(item) for item in client.scan(TableName=TABLE)["Items"]]
        return [item for item in items if item.get("entity") == "Membership" and item["userUuid"] == ada]

    assert eventually(memberships, lambda found: not found, timeout=REPAIR_DEADLINE_SECONDS) == []


class RefusingOnce:
    """A bus that refuses the first deactivation it is handed, once (as EventBridge after its
    retries), then takes everything; what it took, in order."""

    def __init__(self) -> None:
        self.taken: list[ServiceEvent] = []
        self.refused = False

    def publish(self, events: list[ServiceEvent]) -> None:
        for position, event in enumerate(events):
            if event.detail_type == "ScimUserDeactivated" and not self.refused:
                self.refused = True
                raise PublishFailed("refused by the test", first_unsent=position)
            self.taken.append(event)


def test_the_change_events_reach_the_bus_from_the_stream_retried_from_the_record_the_publisher_names(
    database: EmbeddedDynamoDB, monkeypatch: pytest.MonkeyPatch
):
    # given the dev server's stream feeding the publisher, whose bus refuses a deactivation once
    for name, value in local_overrides(TABLE, database.endpoint_url).items():
        monkeypatch.setenv(name, value)
    bus = RefusingOnce()
    current = runtime.configure(bus=bus)
    stream = LocalTableStream(database.endpoint_url, TABLE, "us-east-1").start()
    try:
        admin = make_admin(current, name="Globex", email="admin@globex.test")
        token = scim_token(current, admin)
        api = Dispatcher()

        # when a user is created and deactivated
        ada = document(call(api, "POST", USERS, token, okta_user("ada@globex.test", externalId=None)))["id"]
        deactivation = {"op": "replace", "path": "active", "value": False}
        assert (
            call(api, "PATCH", f"{USERS}/{ada}", token, {"schemas": [PATCH_OP], "Operations": [deactivation]}).status
            == 200
        )

        # then both reach the bus once, in order: the batch was retried from the deactivation
        def about_ada() -> list[str]:
            return [event.detail_type for event in bus.taken if event.detail.get("resourceId") == ada]

        assert eventually(about_ada, lambda kinds: len(kinds) >= 2) == ["ScimUserCreated", "ScimUserDeactivated"]
        assert bus.refused
    finally:
        stream.stop()
        runtime.reset()
