"""The service's outbound messages on AWS: events on its EventBridge bus, notifications on an
SNS topic. Like the table core, the only code that talks to those services; the services see
``EventBus`` and ``NotificationTopic`` (``protocols.py``).

Both batch (10 entries a request, each API's limit) and resend what the answer reports as
failed, up to ``_ATTEMPTS`` times, then raise: a caller must know that a message was not sent
(the token guardian then leaves its notice claimed but unsent, for a later run to send)."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from scim_provisioning.models import Notification, ServiceEvent
from scim_provisioning.repository.table import CLIENT_CONFIG

EVENT_SOURCE = "scim-provisioning"
_BATCH = 10  # PutEvents and PublishBatch take at most 10 entries
_ATTEMPTS = 3


class PublishFailed(Exception):
    """Entries the bus or topic still refused after the retries."""


def _chunks(entries: list[Any]) -> list[list[Any]]:
    return [entries[start : start + _BATCH] for start in range(0, len(entries), _BATCH)]


def _backoff(attempt: int) -> None:
    time.sleep(0.1 * 2**attempt)


class EventBridgeBus:
    """Implements ``EventBus`` on one EventBridge bus."""

    def __init__(self, client: Any, bus_name: str) -> None:
        self._client = client
        self._bus_name = bus_name

    def publish(self, events: list[ServiceEvent]) -> None:
        for chunk in _chunks(events):
            entries = [
                {
                    "Source": EVENT_SOURCE,
                    "DetailType": event.detail_type,
                    "Detail": json.dumps(event.detail),
                    "Time": event.time,
                    "EventBusName": self._bus_name,
                }
                for event in chunk
            ]
            for attempt in range(_ATTEMPTS):
                answer = self._client.put_events(Entries=entries)
                if not answer.get("FailedEntryCount"):
                    break
                # Results are in the order of the entries; failed ones carry an ErrorCode.
                entries = [
                    entry for entry, result in zip(entries, answer["Entries"], strict=True) if result.get("ErrorCode")
                ]
                _backoff(attempt)
            else:
                raise PublishFailed(f"EventBridge refused {len(entries)} events on {self._bus_name}")


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
                _backoff(attempt)
            else:
                raise PublishFailed(f"SNS refused {len(entries)} notifications on {self._topic_arn}")


def event_bus(bus_name: str, region: str) -> EventBridgeBus:
    return EventBridgeBus(boto3.client("events", region_name=region, config=CLIENT_CONFIG), bus_name)


def notification_topic(topic_arn: str, region: str) -> SnsTopic:
    return SnsTopic(boto3.client("sns", region_name=region, config=CLIENT_CONFIG), topic_arn)
