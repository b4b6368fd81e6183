"""The EventBridge adapter's requests (``repository/messaging.EventBridgeBus``), against a client
that records them: PutEvents' limits of 10 entries and 256 KB a request, and one event of a
resource per request, so that a refused event is never overtaken by a later one of its resource."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from scim_provisioning.models import ServiceEvent
from scim_provisioning.repository.messaging import PUT_EVENTS_MAX_BYTES, EventBridgeBus, entry_size

AT = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class RecordingEvents:
    """An EventBridge client that takes every entry and records each request."""

    def __init__(self) -> None:
        self.requests: list[list[dict[str, Any]]] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.requests.append(Entries)
        return {"FailedEntryCount": 0, "Entries": [{"EventId": str(index)} for index in range(len(Entries))]}


def members_event(group: str, count: int) -> ServiceEvent:
    ids = [f"00000000-0000-4000-8000-{number:012d}" for number in range(count)]
    return ServiceEvent("ScimGroupMembersAdded", {"resourceId": group, "members": ids}, AT, ordering_key=group)


def test_requests_hold_at_most_ten_entries_in_order():
    # given 25 small events of 25 resources
    client = RecordingEvents()
    events = [ServiceEvent("ScimUserCreated", {"n": n}, AT, ordering_key=str(n)) for n in range(25)]

    # when they are published, then in three requests of 10, 10 and 5, in order
    EventBridgeBus(client, "bus").publish(events)

    assert [len(request) for request in client.requests] == [10, 10, 5]
    assert [json.loads(entry["Detail"])["n"] for request in client.requests for entry in request] == list(range(25))


def test_requests_hold_at_most_256_kb_of_entries():
    # given ten events of 1,000 member ids each (≈40 KB), of ten groups
    client = RecordingEvents()
    events = [members_event(f"group-{n}", 1_000) for n in range(10)]

    # when they are published, then no request is over PutEvents' 256 KB, and all went out
    EventBridgeBus(client, "bus").publish(events)

    sizes = [sum(entry_size(entry) for entry in request) for request in client.requests]
    assert max(sizes) <= PUT_EVENTS_MAX_BYTES < sum(sizes)
    assert [len(request) for request in client.requests] == [6, 4]


def test_a_resources_events_are_never_in_the_same_request():
    # given a group's three events among other groups' ones
    client = RecordingEvents()
    keys = ["a", "b", "a", "c", "a"]
    events = [ServiceEvent("ScimGroupUpdated", {"n": n}, AT, ordering_key=key) for n, key in enumerate(keys)]

    # when they are published, then each request holds one event of "a", in order
    EventBridgeBus(client, "bus").publish(events)

    assert [[json.loads(entry["Detail"])["n"] for entry in request] for request in client.requests] == [
        [0, 1],
        [2, 3],
        [4],
    ]
