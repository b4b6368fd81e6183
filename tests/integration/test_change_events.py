"""The change events on moto: each SCIM operation through the handlers, then the table's real
stream records (moto's DynamoDB Streams, in Lambda's shape) through the template's
FilterCriteria into ChangeEventsFunction's handler, and exactly the events it publishes. A
request that fails publishes nothing; large membership changes give one event per 1,000 ids; a
replayed batch publishes the same events under the same keys; what EventBridge refuses names
the record Lambda is to retry from."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import boto3
import pytest
import yaml

from benchmarks.harness import FixedClock, bulk_load_people
from devserver.dispatch import Dispatcher
from devserver.events import LambdaContext
from devserver.streams import matches
from devserver.template import PROJECT_ROOT, stream_consumers
from functions.change_events.handler import lambda_handler
from ops.change_events import replay
from scim_provisioning.credentials import digest
from scim_provisioning.models import CredentialKind, OrganizationRole, Person, ServiceEvent
from scim_provisioning.repository import memberships as memberships_module
from scim_provisioning.repository.messaging import EventBridgeBus
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, TableStream, call, document, new_group, new_user, scim_error
from tests.scim_samples import ENTERPRISE, PATCH_OP, entra_user, okta_user

USERS = "/api/v1/scim/v2/Users"
GROUPS = "/api/v1/scim/v2/Groups"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
NOW = "2026-11-28T12:00:00.000Z"  # tests/conftest.py's TEST_NOW, as events write it
(PUBLISHER,) = [consumer for consumer in stream_consumers() if consumer.code.logical_id == "ChangeEventsFunction"]


class Outbox:
    """The bus the publisher is handed: what it publishes, kept in order."""

    def __init__(self) -> None:
        self.events: list[ServiceEvent] = []

    def publish(self, events: list[ServiceEvent]) -> None:
        self.events.extend(events)


class Publisher:
    """ChangeEventsFunction as Lambda runs it: the stream's new records, kept by the template's
    filters, handed to the handler; ``published()`` is what it published since the last call."""

    def __init__(self, stream: TableStream, outbox: Outbox) -> None:
        self.stream = stream
        self.outbox = outbox
        self._seen = 0

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        passed = [record for record in event["Records"] if any(matches(p, record) for p in PUBLISHER.patterns)]
        return dict(lambda_handler({"Records": passed}, LambdaContext("ChangeEventsFunction", 60)))

    def published(self) -> list[tuple[str, dict[str, Any]]]:
        assert self.run(self.stream.event()) == {"batchItemFailures": []}
        new, self._seen = self.outbox.events[self._seen :], len(self.outbox.events)
        return [(event.detail_type, event.detail) for event in new]

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.published()]


@pytest.fixture
def outbox(app_runtime: Runtime) -> Outbox:
    box = Outbox()
    app_runtime.bus = box
    return box


@pytest.fixture
def publisher(dynamodb_client: Any, table_name: str, outbox: Outbox, token: str) -> Publisher:
    """The publisher, past the events of the test's set-up (its organization and token)."""
    published = Publisher(TableStream(dynamodb_client, table_name), outbox)
    published.published()
    return published


@pytest.fixture
def token_uuid(app_runtime: Runtime, token: str) -> str:
    return app_runtime.authenticator.authenticate_scim(token).token_uuid


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status == status, response.body
    return document(response) if response.body else {}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def members(*user_ids: str) -> list[dict[str, str]]:
    return [{"value": user} for user in user_ids]


# ----------------------------------------------------------------------------- users
def test_a_created_user_is_one_event_naming_its_attributes_version_and_token_never_its_password(
    api: Dispatcher, token: str, token_uuid: str, admin: AdminFixture, publisher: Publisher
):
    # given Okta's create body, with a password
    body = okta_user("ada@acme.test")

    # when it creates the user
    user = ok(call(api, "POST", USERS, token, body), 201)

    # then one event: the user, version 1, the token that made it, the names of its attributes
    assert publisher.published() == [
        (
            "ScimUserCreated",
            {
                "deduplicationKey": f"{user['id']}/1/ScimUserCreated",
                "organizationUuid": admin.organization_uuid,
                "resourceType": "User",
                "resourceId": user["id"],
                "userName": "ada@acme.test",
                "version": 1,
                "tokenUuid": token_uuid,
                "active": True,
                "attributes": [
                    "active",
                    "displayName",
                    "emails",
                    "externalId",
                    "locale",
                    "name.familyName",
                    "name.givenName",
                    "userName",
                ],
                "changedAt": NOW,
            },
        )
    ]


def test_each_user_update_is_one_event_of_its_kind_with_the_names_it_changed(
    api: Dispatcher, token: str, clock: FixedClock, publisher: Publisher
):
    # given an Entra user
    user = ok(call(api, "POST", USERS, token, entra_user("grace@acme.test")), 201)
    path = f"{USERS}/{user['id']}"
    assert publisher.kinds() == ["ScimUserCreated"]

    # when Okta-style PUT changes two attributes, Entra deactivates, deactivates again (a retry
    # that changes nothing), reactivates with another change, and sets a department
    clock.advance(seconds=1)
    ok(call(api, "PUT", path, token, {**entra_user("grace@acme.test"), "displayName": "Amazing", "title": "RADM"}))
    after_put = publisher.published()
    ok(call(api, "PATCH", path, token, patch_body({"op": "Replace", "path": "active", "value": "False"})))
    deactivated = publisher.published()
    ok(call(api, "PATCH", path, token, patch_body({"op": "Replace", "path": "active", "value": "False"})))
    retried = publisher.published()
    reactivate = [{"op": "Replace", "path": "active", "value": "True"}, {"op": "Add", "path": "nickName", "value": "G"}]
    ok(call(api, "PATCH", path, token, patch_body(*reactivate)))
    reactivated = publisher.published()
    department = {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Navy"}
    ok(call(api, "PATCH", path, token, patch_body(department)))
    moved = publisher.published()

    # then one event each, at each version, naming what changed; nothing for the retry
    def summary(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, int, list[str], str]]:
        return [(kind, detail["version"], detail["attributes"], detail["changedAt"]) for kind, detail in events]

    at = "2026-11-28T12:00:01.000Z"
    assert summary(after_put) == [("ScimUserUpdated", 2, ["displayName", "title"], at)]
    assert summary(deactivated) == [("ScimUserDeactivated", 3, ["active"], at)]
    assert retried == []
    assert summary(reactivated) == [("ScimUserActivated", 4, ["active", "nickName"], at)]
    assert summary(moved) == [("ScimUserUpdated", 5, [f"{ENTERPRISE}:department"], at)]
    assert deactivated[0][1]["deduplicationKey"] == f"{user['id']}/3/ScimUserDeactivated"
    # every user event carries the state that matters most, whichever arrives last
    assert [events[0][1]["active"] for events in (after_put, deactivated, reactivated, moved)] == [
        True,
        False,
        True,
        True,
    ]


def test_a_deleted_user_is_one_event_by_its_deleter_and_each_of_its_groups_loses_it(
    api: Dispatcher, token: str, token_uuid: str, admin: AdminFixture, publisher: Publisher
):
    # given a user at version 2, in a group
    ada = new_user(api, token, "ada")
    ok(call(api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "path": "title", "value": "Dr"})))
    group = new_group(api, token, "Eng", [ada])
    publisher.published()

    # when the user is deleted
    ok(call(api, "DELETE", f"{USERS}/{ada}", token), 204)

    # then its deletion (version 3: the one after its last) by this token, and its group's
    # member event at the group's next version
    assert publisher.published() == [
        (
            "ScimUserDeleted",
            {
                "deduplicationKey": f"{ada}/3/ScimUserDeleted",
                "organizationUuid": admin.organization_uuid,
                "resourceType": "User",
                "resourceId": ada,
                "userName": "ada@acme.test",
                "version": 3,
                "tokenUuid": token_uuid,
                "changedAt": NOW,
            },
        ),
        (
            "ScimGroupMembersRemoved",
            {
                "deduplicationKey": f"{group['id']}/2/ScimGroupMembersRemoved/0",
                "organizationUuid": admin.organization_uuid,
                "resourceType": "Group",
                "resourceId": group["id"],
                "displayName": "Eng",
                "version": 2,
                "tokenUuid": token_uuid,
                "members": [ada],
                "changeId": publisher.outbox.events[-1].detail["changeId"],
                "part": 0,
                "parts": 1,
                "changedAt": NOW,
            },
        ),
    ]


# ----------------------------------------------------------------------------- groups
def test_a_groups_lifecycle_gives_its_events_and_its_members_in_batches_per_change(
    api: Dispatcher, token: str, token_uuid: str, publisher: Publisher
):
    # given three users
    ada, bob, cyd = (new_user(api, token, name) for name in ("ada", "bob", "cyd"))
    publisher.published()

    # when Okta creates a group with two, renames it adding the third and removing the first,
    # Entra removes one by a value filter, Okta PUTs the list, and the group is deleted
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Eng", "members": members(ada, bob)}
    group = ok(call(api, "POST", GROUPS, token, body), 201)
    path = f"{GROUPS}/{group['id']}"
    created = publisher.published()
    renamed_and_moved = [
        {"op": "replace", "path": "displayName", "value": "Engineering"},
        {"op": "add", "path": "members", "value": members(cyd)},
        {"op": "remove", "path": "members", "value": members(ada)},
    ]
    ok(call(api, "PATCH", path, token, patch_body(*renamed_and_moved)))
    renamed = publisher.published()
    ok(call(api, "PATCH", path, token, patch_body({"op": "Remove", "path": f'members[value eq "{bob}"]'})))
    removed = publisher.published()
    put = {"schemas": [GROUP_SCHEMA], "displayName": "Engineering", "members": members(ada)}
    ok(call(api, "PUT", path, token, put))
    replaced = publisher.published()
    ok(call(api, "DELETE", path, token), 204)
    deleted = publisher.published()

    # then each change is its group event (when its attributes changed) and one event per
    # direction of its members, all at the version the change made, all by the token
    def summary(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[Any, ...]]:
        return [
            (kind, detail["version"], detail["displayName"], detail.get("attributes"), detail.get("members"))
            for kind, detail in events
        ]

    assert summary(created) == [
        ("ScimGroupCreated", 1, "Eng", ["displayName"], None),
        ("ScimGroupMembersAdded", 1, "Eng", None, [ada, bob]),
    ]
    assert summary(renamed) == [
        ("ScimGroupUpdated", 2, "Engineering", ["displayName"], None),
        ("ScimGroupMembersAdded", 2, "Engineering", None, [cyd]),
        ("ScimGroupMembersRemoved", 2, "Engineering", None, [ada]),
    ]
    assert summary(removed) == [("ScimGroupMembersRemoved", 3, "Engineering", None, [bob])]
    assert summary(replaced) == [
        ("ScimGroupMembersAdded", 4, "Engineering", None, [ada]),
        ("ScimGroupMembersRemoved", 4, "Engineering", None, [cyd]),
    ]
    assert summary(deleted) == [("ScimGroupDeleted", 5, "Engineering", None, None)]
    every = created + renamed + removed + replaced + deleted
    assert {detail["tokenUuid"] for _, detail in every} == {token_uuid}
    assert len({detail["deduplicationKey"] for _, detail in every}) == len(every)


# ----------------------------------------------------------------------------- failures
def test_a_failed_request_publishes_nothing(api: Dispatcher, token: str, publisher: Publisher):
    # given a user and a group of one
    ada = new_user(api, token, "ada")
    group = new_group(api, token, "Eng")
    publisher.published()
    unknown = "7f5b1f43-0000-4000-8000-000000000000"

    # when requests fail: a taken userName (409), a stale If-Match (412), a group PATCH naming
    # an unknown member (400 after its transaction was refused), a value of the wrong type (400)
    taken = call(api, "POST", USERS, token, okta_user("ADA@acme.test", externalId=None))
    stale = call(
        api,
        "PATCH",
        f"{USERS}/{ada}",
        token,
        patch_body({"op": "replace", "path": "active", "value": False}),
        headers={"If-Match": 'W/"7"'},
    )
    unknown_member = call(
        api,
        "PATCH",
        f"{GROUPS}/{group['id']}",
        token,
        patch_body({"op": "add", "path": "members", "value": members(unknown)}),
    )
    wrong_type = call(
        api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "path": "active", "value": 3})
    )

    # then each failed, and not one event was published
    scim_error(taken, 409, "uniqueness")
    scim_error(stale, 412)
    scim_error(unknown_member, 400)
    scim_error(wrong_type, 400)
    assert publisher.published() == []


# ----------------------------------------------------------------------------- large changes
def bulk_users(app_runtime: Runtime, table: Table, organization: str, count: int) -> list[str]:
    now = app_runtime.clock.now()
    people = [
        Person(
            uuid=f"00000000-0000-4000-8000-{number:012d}",
            organization_uuid=organization,
            user_name=f"bulk{number}@acme.test",
            active=True,
            role=OrganizationRole.MEMBER,
            created_at=now,
            last_modified=now,
            resource={"userName": f"bulk{number}@acme.test", "active": True},
        )
        for number in range(count)
    ]
    bulk_load_people(table, organization, people)
    return [person.uuid for person in people]


def test_a_1000_member_patch_is_one_event_of_its_1000_ids(
    api: Dispatcher, token: str, admin: AdminFixture, app_runtime: Runtime, table: Table, publisher: Publisher
):
    # given 1,000 users and an empty group (their own events left unread)
    users = bulk_users(app_runtime, table, admin.organization_uuid, 1_000)
    group = new_group(api, token, "All")
    publisher.stream.skip()

    # when one PATCH adds them all (a large change: intent, batches, finish)
    operation = {"op": "add", "path": "members", "value": members(*users)}
    ok(call(api, "PATCH", f"{GROUPS}/{group['id']}?excludedAttributes=members", token, patch_body(operation)))

    # then one event carries the 1,000 ids, at the version the change made
    added = publisher.published()
    assert [(kind, detail["version"], detail["parts"]) for kind, detail in added] == [("ScimGroupMembersAdded", 2, 1)]
    assert added[0][1]["members"] == users


def test_a_large_change_is_one_event_per_change_record_part(
    api: Dispatcher,
    token: str,
    admin: AdminFixture,
    app_runtime: Runtime,
    table: Table,
    publisher: Publisher,
    monkeypatch: pytest.MonkeyPatch,
):
    # given 50 users and change records of 20 ids (1,000 in production: 2,500 members would be
    # three records as these 50 are)
    monkeypatch.setattr(memberships_module, "IDS_PER_CHANGE_RECORD", 20)
    users = bulk_users(app_runtime, table, admin.organization_uuid, 50)
    publisher.published()

    # when Okta creates a group with all of them in one POST
    body = {"schemas": [GROUP_SCHEMA], "displayName": "Everyone", "members": members(*users)}
    ok(call(api, "POST", f"{GROUPS}?excludedAttributes=members", token, body), 201)

    # then the group, and its members in the three parts of one change, together all 50
    events = publisher.published()
    assert [(kind, detail["version"]) for kind, detail in events] == [
        ("ScimGroupCreated", 1),
        ("ScimGroupMembersAdded", 2),
        ("ScimGroupMembersAdded", 2),
        ("ScimGroupMembersAdded", 2),
    ]
    parts = [detail for _, detail in events[1:]]
    assert [(part["part"], part["parts"], len(part["members"])) for part in parts] == [
        (0, 3, 20),
        (1, 3, 20),
        (2, 3, 10),
    ]
    assert [user for part in parts for user in part["members"]] == users
    assert len({part["changeId"] for part in parts}) == 1
    assert len({part["deduplicationKey"] for part in parts}) == 3


# ----------------------------------------------------------------------------- delivery
def test_a_replayed_stream_batch_publishes_the_same_events_under_the_same_keys(
    api: Dispatcher, token: str, dynamodb_client: Any, table_name: str, outbox: Outbox, publisher: Publisher
):
    # given a batch of records: a user created and deactivated, a group created with it
    ada = new_user(api, token, "ada")
    ok(call(api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "path": "active", "value": False})))
    new_group(api, token, "Eng", [ada])
    batch = publisher.stream.event()
    scanned_before = dynamodb_client.scan(TableName=table_name)["Items"]

    # when Lambda hands it twice (a retry after a timeout, a replay from the failure queue)
    before = len(outbox.events)
    first = publisher.run(batch)
    published_once = outbox.events[before:]
    second = publisher.run(batch)

    # then the second publication is the first one again, key for key, and the table is untouched
    assert first == second == {"batchItemFailures": []}
    assert outbox.events[before:] == published_once + published_once
    assert [event.detail["deduplicationKey"] for event in published_once] == [
        f"{ada}/1/ScimUserCreated",
        f"{ada}/2/ScimUserDeactivated",
        f"{published_once[2].detail['resourceId']}/1/ScimGroupCreated",
        f"{published_once[2].detail['resourceId']}/1/ScimGroupMembersAdded/0",
    ]
    assert dynamodb_client.scan(TableName=table_name)["Items"] == scanned_before


class RefusingEvents:
    """An EventBridge client that refuses, with EventBridge's per-entry answer, every entry whose
    detail names ``refused`` (throttled), ``times`` times each, and records every request."""

    def __init__(self, refused: str, times: int) -> None:
        self.refused, self.times = refused, times
        self.requests: list[list[dict[str, Any]]] = []
        self._refusals: dict[str, int] = {}

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.requests.append(Entries)
        results = []
        for entry in Entries:
            key = json.loads(entry["Detail"])["deduplicationKey"]
            if self.refused in entry["Detail"] and self._refusals.get(key, 0) < self.times:
                self._refusals[key] = self._refusals.get(key, 0) + 1
                results.append({"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"})
            else:
                results.append({"EventId": key})
        return {"FailedEntryCount": sum("ErrorCode" in result for result in results), "Entries": results}


def test_entries_eventbridge_refuses_are_sent_again_alone_and_in_order(
    api: Dispatcher, token: str, app_runtime: Runtime, publisher: Publisher
):
    # given EventBridge throttling the deactivation twice, then taking it
    client = RefusingEvents("ScimUserDeactivated", times=2)
    pauses: list[float] = []
    app_runtime.bus = EventBridgeBus(client, "scim-provisioning-test", sleep=pauses.append)
    del app_runtime.change_events  # built again on the bus above
    ada = new_user(api, token, "ada")
    ok(call(api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "path": "active", "value": False})))

    # when the publisher publishes the batch
    answer = publisher.run(publisher.stream.event())

    # then the user's events went out one after the other (never two of a resource in one
    # request), the refused one alone again twice, after growing pauses, and all went out
    assert answer == {"batchItemFailures": []}
    assert [[entry["DetailType"] for entry in request] for request in client.requests] == [
        ["ScimUserCreated"],
        ["ScimUserDeactivated"],
        ["ScimUserDeactivated"],
        ["ScimUserDeactivated"],
    ]
    assert pauses == [0.2, 0.4]
    assert client.requests[0][0]["EventBusName"] == "scim-provisioning-test"


def test_an_event_eventbridge_keeps_refusing_names_its_record_for_lambda_to_retry_from(
    api: Dispatcher, token: str, app_runtime: Runtime, publisher: Publisher
):
    # given EventBridge refusing the deactivation whatever happens, and a change after it
    client = RefusingEvents("ScimUserDeactivated", times=99)
    app_runtime.bus = EventBridgeBus(client, "scim-provisioning-test", sleep=lambda _: None)
    del app_runtime.change_events
    ada = new_user(api, token, "ada")
    ok(call(api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "path": "active", "value": False})))
    ok(call(api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "path": "title", "value": "Dr"})))
    batch = publisher.stream.event()
    deactivation = next(
        record for record in batch["Records"] if record["dynamodb"].get("NewImage", {}).get("active") == {"BOOL": False}
    )

    # when the publisher publishes the batch
    answer = publisher.run(batch)

    # then its answer names the deactivation's record (Lambda keeps the creation as done and
    # retries from it), and the later change was not sent ahead of it
    assert answer == {"batchItemFailures": [{"itemIdentifier": deactivation["dynamodb"]["SequenceNumber"]}]}
    sent = {entry["DetailType"] for request in client.requests for entry in request}
    assert sent == {"ScimUserCreated", "ScimUserDeactivated"}


def failure_record(batch: list[dict[str, Any]], shard_id: str) -> dict[str, Any]:
    """What Lambda puts in the on-failure queue for a stream batch it gave up on."""
    return {
        "requestContext": {"requestId": "0f1e", "condition": "RetryAttemptsExhausted", "approximateInvokeCount": 11},
        "responseContext": {"statusCode": 200, "executedVersion": "7"},
        "version": "1.0",
        "timestamp": "2026-11-28T13:00:00.000Z",
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": "2026-11-28T12:00:00Z",
            "approximateArrivalOfLastRecord": "2026-11-28T12:00:00Z",
            "batchSize": len(batch),
            "streamArn": batch[0]["eventSourceARN"],
        },
    }


def test_a_batch_lambda_gave_up_on_is_replayed_from_the_stream_and_leaves_the_queue(
    api: Dispatcher, token: str, outbox: Outbox, publisher: Publisher, dynamodb_client: Any, table_name: str
):
    # given a user created, then a batch Lambda gave up on (its deactivation and rename) in the
    # failure queue, beside a message that is no record of a stream batch
    ada = new_user(api, token, "ada")
    publisher.published()
    ok(call(api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "path": "active", "value": False})))
    ok(call(api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "path": "title", "value": "Dr"})))
    records = publisher.stream.event()["Records"]
    failed = [record for record in records if record["dynamodb"]["Keys"]["SK"]["S"].startswith("USER#")]
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    stream_arn = dynamodb_client.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="change-events-failures")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(failure_record(failed, shard["ShardId"])))
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps({"note": "sent by hand"}))
    before = len(outbox.events)

    # when the operator replays the queue
    done = replay(sqs, streams, queue, outbox)

    # then the batch's two events were published again, its message deleted, the other left
    assert [(event.detail_type, event.detail["version"]) for event in outbox.events[before:]] == [
        ("ScimUserDeactivated", 2),
        ("ScimUserUpdated", 3),
    ]
    assert (done.replayed, done.events) == (1, 2)
    assert len(done.left) == 1 and "not a record of a stream batch" in done.left[0]
    remaining = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    assert remaining["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"


# ----------------------------------------------------------------------------- tokens
def test_a_tokens_creation_rotation_and_revocation_are_events_without_its_secret(
    app_runtime: Runtime, admin: AdminFixture, clock: FixedClock, publisher: Publisher
):
    # given an admin
    principal = app_runtime.authenticator.authenticate_admin(admin.authorization)

    # when they create a token, it is used (its lastUsedAt stamped), rotated two hours later,
    # then revoked
    created, first_secret = app_runtime.access_tokens.create(principal, "Entra", clock.now() + timedelta(days=90))
    stamped = app_runtime.stores.credentials.stamp_last_used(
        admin.organization_uuid, CredentialKind.SCIM_TOKEN, created.uuid, clock.now(), clock.now()
    )
    assert stamped
    clock.advance(hours=2)
    _, second_secret = app_runtime.access_tokens.rotate(principal, created.uuid, clock.now() + timedelta(days=90))
    app_runtime.access_tokens.revoke(principal, created.uuid)
    events = publisher.published()

    # then three events naming the token and its admin; never a secret nor a digest
    assert [(kind, detail["resourceId"], detail["createdBy"]) for kind, detail in events] == [
        ("ScimTokenCreated", created.uuid, admin.user_uuid),
        ("ScimTokenRotated", created.uuid, admin.user_uuid),
        ("ScimTokenRevoked", created.uuid, admin.user_uuid),
    ]
    # (a revocation removes the metadata: its time is the stream record's, DynamoDB's clock)
    assert [detail["changedAt"] for _, detail in events[:2]] == [NOW, "2026-11-28T14:00:00.000Z"]
    text = json.dumps([detail for _, detail in events])
    for secret in (first_secret, second_secret):
        assert secret not in text and digest(secret) not in text


# ----------------------------------------------------------------------------- the README's consumer
def readme_consumer_example() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The README's consumer example: its event pattern, its SAM snippet and the event shown."""
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    example = text[text.index("**A consumer:") :]
    pattern, event = (json.loads(block) for block in re.findall(r"```json\n(.*?)```", example, re.S)[:2])
    (snippet,) = re.findall(r"```yaml\n(.*?)```", example, re.S)[:1]
    return pattern, yaml.safe_load(snippet), event


def test_the_readmes_rule_takes_a_deactivation_of_its_organization_as_the_readme_shows_it(
    api: Dispatcher, token: str, admin: AdminFixture, app_runtime: Runtime, publisher: Publisher
):
    # given the README's rule, for this organization, on moto's EventBridge, delivering to a
    # queue, and the publisher putting its events on that bus
    pattern, snippet, shown = readme_consumer_example()
    rule = snippet["EndSessionsFunction"]["Properties"]["Events"]["Deactivations"]["Properties"]
    assert rule["Pattern"] == pattern
    pattern["detail"]["organizationUuid"] = [admin.organization_uuid]
    events, sqs = boto3.client("events", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    bus = events.create_event_bus(Name="scim-provisioning-readme")["EventBusArn"].rsplit("/", 1)[1]
    queue = sqs.create_queue(QueueName="end-sessions")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="deactivations", EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule="deactivations", EventBusName=bus, Targets=[{"Id": "end-sessions", "Arn": queue_arn}])
    app_runtime.bus = EventBridgeBus(events, bus)
    del app_runtime.change_events

    # when a user is created, renamed and deactivated
    ada = new_user(api, token, "ada")
    ok(call(api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "path": "title", "value": "Dr"})))
    ok(call(api, "PATCH", f"{USERS}/{ada}", token, patch_body({"op": "replace", "value": {"active": False}})))
    assert publisher.run(publisher.stream.event()) == {"batchItemFailures": []}

    # then the rule took the deactivation alone, in the README's shape (moto leaves out the
    # "account" EventBridge adds)
    (message,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    received = json.loads(message["Body"])
    assert (received["detail-type"], received["detail"]["resourceId"]) == ("ScimUserDeactivated", ada)
    assert set(received) == set(shown) - {"account"}
    assert set(received["detail"]) == set(shown["detail"])
    assert (received["detail"]["version"], received["detail"]["active"]) == (3, False)
