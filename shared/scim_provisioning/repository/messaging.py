"""The service's outbound messages on AWS: events on its EventBridge bus, notifications on an
SNS topic. Like the table core, the only code that talks to those services; the services see
``EventBus`` and ``NotificationTopic`` (``protocols.py``).

Both batch (each API's limits) and resend what the answer reports as failed, up to
``_ATTEMPTS`` times, then raise ``PublishFailed``: a caller must know that a message was not
sent (the token guardian then leaves its notice claimed but unsent, for a later run to send;
the change-event publisher has Lambda retry its stream records from the first event not sent)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3

from scim_provisioning.models import Notification, ServiceEvent
from scim_provisioning.repository.protocols import PublishFailed
from scim_provisioning.repository.table import CLIENT_CONFIG

__all__ = ["EVENT_SOURCE", "EventBridgeBus", "PublishFailed", "SnsTopic", "event_bus", "notification_topic"]

EVENT_SOURCE = "scim-provisioning"
_BATCH = 10  # PutEvents and PublishBatch take at most 10 entries
# PutEvents takes at most 256 KB of entries per request (counted by ``entry_size``).
PUT_EVENTS_MAX_BYTES = 256 * 1024
_ATTEMPTS = 3


def _chunks(entries: list[Any]) -> list[list[Any]]:
    return [entries[start : start + _BATCH] for start in range(0, len(entries), _BATCH)]


def _pause(attempt: int) -> float:
    """Seconds to wait before attempt ``attempt`` (1, 2, …): 0.2 s, then twice as long each time."""
    return 0.1 * 2.0**attempt


def entry_size(entry: dict[str, Any]) -> int:
    """An entry's size as EventBridge counts it against PutEvents' limit: its source,
    detail-type, detail and resources in UTF-8, and 14 bytes for its time."""
    parts = [entry["Source"], entry["DetailType"], entry["Detail"], *entry.get("Resources", [])]
    return 14 + sum(len(part.encode("utf-8")) for part in parts)


def _requests(entries: list[dict[str, Any]], keys: list[str | None]) -> list[list[dict[str, Any]]]:
    """Consecutive entries cut into PutEvents requests of at most 10 entries and 256 KB, where
    no two entries share an ordering key (EventBridge takes or refuses each entry of a request
    on its own: a resource's later event in the same request could go out while an earlier one
    is refused)."""
    requests: list[list[dict[str, Any]]] = []
    size, held = 0, set[str | None]()
    for entry, key in zip(entries, keys, strict=True):
        entry_bytes = entry_size(entry)
        if not requests or len(requests[-1]) == _BATCH or size + entry_bytes > PUT_EVENTS_MAX_BYTES or key in held:
            requests.append([])
            size, held = 0, set[str | None]()
        requests[-1].append(entry)
        size += entry_bytes
        if key is not None:
            held.add(key)
    return requests


class EventBridgeBus:
    """Implements ``EventBus`` on one EventBridge bus. Events go out in order, in requests of
    up to 10 entries and 256 KB with one event of a resource each; the entries an answer
    reports failed (``FailedEntryCount``: throttling, an internal failure) are sent again after
    a growing pause, up to ``_ATTEMPTS`` times. Then ``PublishFailed`` names the first event
    not sent, and no later request is tried: a later change of the same resource must not
    overtake it."""

    def __init__(self, client: Any, bus_name: str, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._bus_name = bus_name
        self._sleep = sleep

    def publish(self, events: list[ServiceEvent]) -> None:
        entries = [
            {
                "Source": EVENT_SOURCE,
                "DetailType": event.detail_type,
                "Detail": json.dumps(event.detail, separators=(",", ":")),
                "Time": event.time,
                "EventBusName": self._bus_name,
            }
            for event in events
        ]
        first = 0  # the position of the request's first entry among all entries
        for request in _requests(entries, [event.ordering_key for event in events]):
            pending = list(enumerate(request, start=first))
            for attempt in range(_ATTEMPTS):
                if attempt:
                    self._sleep(_pause(attempt))
                answer = self._client.put_events(Entries=[entry for _, entry in pending])
                if not answer.get("FailedEntryCount"):
                    break
                # Results are in the order of the entries; failed ones carry an ErrorCode.
                pending = [
                    sent for sent, result in zip(pending, answer["Entries"], strict=True) if result.get("ErrorCode")
                ]
            else:
                raise PublishFailed(
                    f"EventBridge refused {len(pending)} events on {self._bus_name}", first_unsent=pending[0][0]
                )
            first += len(request)


class SnsTopic:
    """Implements ``NotificationTopic`` on one SNS topic."""

    def __init__(self, client: Any, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def notify(self, notifications: list[Notification]) -> None:
        for chunk in _chunks(notifications):
            entries = {
                str(index): {
                    "Id": str(index),
                    "Subject": notification.subject,
                    "Message": notification.message,
                    "MessageAttributes": {
                        name: {"DataType": "String", "StringValue": value}
                        for name, value in notification.attributes.items()
                    },
                }
                for index, notification in enumerate(chunk)
            }
            for attempt in range(_ATTEMPTS):
                answer = self._client.publish_batch(
                    TopicArn=self._topic_arn, PublishBatchRequestEntries=[*entries.values()]
                )
                failed = {failure["Id"] for failure in answer.get("Failed", [])}
                entries = {identifier: entry for identifier, entry in entries.items() if identifier in failed}
                if not entries:
                    break
                time.sleep(_pause(attempt))
            else:
                raise PublishFailed(f"SNS refused {len(entries)} notifications on {self._topic_arn}")


def event_bus(bus_name: str, region: str) -> EventBridgeBus:
    return EventBridgeBus(boto3.client("events", region_name=region, config=CLIENT_CONFIG), bus_name)


def notification_topic(topic_arn: str, region: str) -> SnsTopic:
    return SnsTopic(boto3.client("sns", region_name=region, config=CLIENT_CONFIG), topic_arn)
