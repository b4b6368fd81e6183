"""The table's stream as its consumers read it (the membership janitor; the change-event
publisher of issue 13): which item changed how, with its images deserialized.

Lambda hands a stream consumer ``{"Records": [...]}``, each record naming its event
(``INSERT``, ``MODIFY``, ``REMOVE``) and, under ``dynamodb``, the item's keys, its images
(``NEW_AND_OLD_IMAGES``: both) in DynamoDB's JSON, and the time of the change in epoch
seconds. The dev server feeds the same shape (``devserver/streams.py``), and so does a replay of
records read back from the stream (``lambda_record``; ``ops/change_events.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scim_provisioning.repository.items import Item, deserialize
from scim_provisioning.repository.memberships import membership_of


@dataclass(frozen=True)
class ItemChange:
    """One stream record: ``new`` is None for a REMOVE, ``old`` for an INSERT."""

    event: str
    keys: Item
    new: Item | None
    old: Item | None
    at: datetime

    @property
    def membership(self) -> tuple[str, str, str]:
        """A membership's (organization, group, user), from whichever image it has."""
        return membership_of(self.new if self.new is not None else self.old or {})

    @property
    def entity(self) -> str | None:
        """The changed item's kind (its ``entity`` attribute: ``Membership``, ``User``, …)."""
        image = self.new if self.new is not None else self.old
        return None if image is None else image.get("entity")


def item_changes(event: dict[str, Any]) -> list[ItemChange]:
    """The records of a DynamoDB stream event, in stream order."""
    changes = []
    for record in event.get("Records", []):
        data = record["dynamodb"]
        new, old = data.get("NewImage"), data.get("OldImage")
        changes.append(
            ItemChange(
                event=record["eventName"],
                keys=deserialize(data["Keys"]),
                new=None if new is None else deserialize(new),
                old=None if old is None else deserialize(old),
                at=datetime.fromtimestamp(float(data["ApproximateCreationDateTime"]), UTC),
            )
        )
    return changes


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record as GetRecords returns it (through boto3), in the shape Lambda hands a function:
    the change's time in epoch seconds, and the stream it came from."""
    data = dict(record["dynamodb"])
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": data, "eventSourceARN": stream_arn}
