"""Change events: every committed change of a user, a group, a group's members or a SCIM token,
published once on the service's event bus, so that the rest of the platform can act on it (end
a deactivated user's sessions within seconds, send a welcome mail, sync another system).

They are read from the table's stream (``ChangeEventsFunction``; the dev server feeds the same
handler), never emitted by a request: a stream record exists if and only if DynamoDB committed
the write, so a refused or rolled-back request (409, 412, 400) publishes nothing, and a retried
request that changed nothing writes nothing and publishes nothing new. What each record gives:

| item (stream record)                                 | event (``detail-type``)              |
|------------------------------------------------------|--------------------------------------|
| User INSERT                                          | ``ScimUserCreated``                  |
| User MODIFY, ``active`` true → false / false → true  | ``ScimUserDeactivated`` / ``…Activated`` |
| User MODIFY, other attributes                        | ``ScimUserUpdated``                  |
| Group INSERT / MODIFY of its attributes              | ``ScimGroupCreated`` / ``…Updated``  |
| Deletion record INSERT (``repository/deletions.py``) | ``ScimUserDeleted`` / ``ScimGroupDeleted`` |
| membership change record reaching ``done``           | ``ScimGroupMembersAdded`` / ``…Removed`` |
| SCIM token metadata INSERT / new ``rotatedAt`` / REMOVE | ``ScimTokenCreated`` / ``…Rotated`` / ``…Revoked`` |

The names follow RFC 9967's provisioning events (create, put/patch, delete, activate,
deactivate), and an update's ``attributes`` lists the names of the attributes it changed, as
that RFC's "notice" events do, never their values. Members come from the change records (at
most 1,000 ids each), never from membership items: a 1,000-member PATCH is one record, one
event. No event carries a password (never stored) or a secret (a token's digest is left out).

Delivery is at least once: a batch retried by Lambda publishes its events again. Each event's
``deduplicationKey`` (resource id, version, kind, part) is the same however often it is
published, and ``version`` grows with every change of a resource, so a consumer can drop a
duplicate or an older event that arrives late (docs/decisions.md, "Change events")."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from scim_provisioning.models import ServiceEvent
from scim_provisioning.repository.protocols import EventBus, PublishFailed
from scim_provisioning.repository.stream import ItemChange
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

# The standard library's logger (Lambda's runtime ships its lines): Powertools' would add
# ≈45 ms to a cold start for the one line a failure writes.
_log = logging.getLogger(__name__)


class ChangeEvent(StrEnum):
    """The events' ``detail-type``s."""

    USER_CREATED = "ScimUserCreated"
    USER_UPDATED = "ScimUserUpdated"
    USER_ACTIVATED = "ScimUserActivated"
    USER_DEACTIVATED = "ScimUserDeactivated"
    USER_DELETED = "ScimUserDeleted"
    GROUP_CREATED = "ScimGroupCreated"
    GROUP_UPDATED = "ScimGroupUpdated"
    GROUP_DELETED = "ScimGroupDeleted"
    MEMBERS_ADDED = "ScimGroupMembersAdded"
    MEMBERS_REMOVED = "ScimGroupMembersRemoved"
    TOKEN_CREATED = "ScimTokenCreated"
    TOKEN_ROTATED = "ScimTokenRotated"
    TOKEN_REVOKED = "ScimTokenRevoked"


# The attribute that names a resource in its events.
_NAMING = {"User": "userName", "Group": "displayName"}
_DELETED = {"User": ChangeEvent.USER_DELETED, "Group": ChangeEvent.GROUP_DELETED}


# ------------------------------------------------------------------ attribute names
def _attribute_values(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource's attributes by path, one level into complex ones: ``name.givenName``,
    an extension's ``urn:…:User:department`` (RFC 7644 paths, as RFC 9967's ``attributes``
    names them); multi-valued attributes whole (``emails``)."""
    values: dict[str, Any] = {}
    for name, value in resource.items():
        if isinstance(value, dict):
            separator = ":" if name.startswith("urn:") else "."
            values.update((f"{name}{separator}{sub}", sub_value) for sub, sub_value in value.items())
        else:
            values[name] = value
    return values


def changed_attributes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The names of the attributes added, changed or removed from ``before`` to ``after``."""
    old, new = _attribute_values(before), _attribute_values(after)
    return sorted(
        name for name in old.keys() | new.keys() if name not in old or name not in new or old[name] != new[name]
    )


def _resource(image: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(image["resource"]))


# ------------------------------------------------------------------ events of a record
def _event(kind: ChangeEvent, key: str, at: datetime, detail: dict[str, Any]) -> ServiceEvent:
    """The event, ordered behind the earlier events of its resource (``ordering_key``)."""
    detail = {"deduplicationKey": key, **detail, "changedAt": format_timestamp(at)}
    return ServiceEvent(kind.value, detail, at, ordering_key=detail["resourceId"])


def _resource_event(kind: ChangeEvent, image: dict[str, Any], **more: Any) -> ServiceEvent:
    """A user's or group's event from its item: who, which version, by which SCIM token; the
    key is the resource's id, version and kind."""
    resource_type = image["entity"]
    return _named_event(kind, image, resource_type, image.get("writtenByToken"), image["lastModified"], **more)


def _named_event(
    kind: ChangeEvent, image: dict[str, Any], resource_type: str, token_uuid: str | None, at: str, **more: Any
) -> ServiceEvent:
    version = int(image["version"])
    naming = _NAMING[resource_type]
    detail = {
        "organizationUuid": image["organizationUuid"],
        "resourceType": resource_type,
        "resourceId": image["uuid"],
        naming: image[naming],
        "version": version,
        "tokenUuid": token_uuid,
        **more,
    }
    return _event(kind, f"{image['uuid']}/{version}/{kind.value}", parse_timestamp(at), detail)


def _user_events(change: ItemChange) -> list[ServiceEvent]:
    new, old = change.new, change.old
    if new is None:
        return []  # a deletion's event comes from its deletion record
    if old is None:
        attributes = sorted(_attribute_values(_resource(new)))
        return [_resource_event(ChangeEvent.USER_CREATED, new, active=bool(new["active"]), attributes=attributes)]
    attributes = changed_attributes(_resource(old), _resource(new))
    if not attributes:
        return []
    kind = ChangeEvent.USER_UPDATED
    if bool(old["active"]) != bool(new["active"]):
        kind = ChangeEvent.USER_ACTIVATED if new["active"] else ChangeEvent.USER_DEACTIVATED
    return [_resource_event(kind, new, active=bool(new["active"]), attributes=attributes)]


def _group_events(change: ItemChange) -> list[ServiceEvent]:
    new, old = change.new, change.old
    if new is None:
        return []
    if old is None:
        attributes = sorted(_attribute_values(_resource(new)))
        return [_resource_event(ChangeEvent.GROUP_CREATED, new, attributes=attributes)]
    # A change of members moves only the version (and a large change's marker): its events come
    # from its change records.
    attributes = changed_attributes(_resource(old), _resource(new))
    return [_resource_event(ChangeEvent.GROUP_UPDATED, new, attributes=attributes)] if attributes else []


def _deletion_events(change: ItemChange) -> list[ServiceEvent]:
    record = change.new
    if change.event != "INSERT" or record is None:
        return []  # its expiry (TTL), or a deletion's transaction replayed
    resource_type = record["resourceType"]
    return [_named_event(_DELETED[resource_type], record, resource_type, record.get("tokenUuid"), record["deletedAt"])]


def _member_events(change: ItemChange) -> list[ServiceEvent]:
    """A change record that reached ``done`` (written so by a small change, or finished by a
    large one): one event for the ids it added, one for those it removed."""
    record, before = change.new, change.old
    if record is None or record.get("status") != "done" or (before is not None and before.get("status") == "done"):
        return []
    version = int(record["version"])
    at = parse_timestamp(record.get("completedAt") or record["changedAt"])
    part, parts = int(record["part"]), int(record["parts"])
    events = []
    for kind, members in (
        (ChangeEvent.MEMBERS_ADDED, record.get("added") or []),
        (ChangeEvent.MEMBERS_REMOVED, record.get("removed") or []),
    ):
        if members:
            detail = {
                "organizationUuid": record["organizationUuid"],
                "resourceType": "Group",
                "resourceId": record["groupUuid"],
                "displayName": record.get("displayName"),
                "version": version,
                "tokenUuid": record.get("tokenUuid"),
                "members": list(members),
                "changeId": record["changeId"],
                "part": part,
                "parts": parts,
            }
            events.append(_event(kind, f"{record['groupUuid']}/{version}/{kind.value}/{part}", at, detail))
    return events


def _token_events(change: ItemChange) -> list[ServiceEvent]:
    """A SCIM token created, rotated (a new ``rotatedAt``) or revoked (its metadata removed).
    Other writes of the metadata (``lastUsedAt`` stamps, the guardian's index) are no event."""
    new, old = change.new, change.old
    if new is not None and old is None:
        kind, image, at = ChangeEvent.TOKEN_CREATED, new, parse_timestamp(new["createdAt"])
    elif new is not None and old is not None and new.get("rotatedAt") and new.get("rotatedAt") != old.get("rotatedAt"):
        kind, image, at = ChangeEvent.TOKEN_ROTATED, new, parse_timestamp(new["rotatedAt"])
    elif new is None and old is not None:
        kind, image, at = ChangeEvent.TOKEN_REVOKED, old, change.at
    else:
        return []
    detail = {
        "organizationUuid": image["organizationUuid"],
        "resourceType": "ScimToken",
        "resourceId": image["uuid"],
        "tokenUuid": image["uuid"],
        "description": image["description"],
        "expiresAt": image.get("expiresAt"),
        "createdBy": image.get("createdByUserUuid"),
    }
    return [_event(kind, f"{image['uuid']}/{kind.value}/{format_timestamp(at)}", at, detail)]


_BY_ENTITY: dict[str, Callable[[ItemChange], list[ServiceEvent]]] = {
    "User": _user_events,
    "Group": _group_events,
    "Deletion": _deletion_events,
    "MembershipChange": _member_events,
    "ScimToken": _token_events,
}


def change_events(change: ItemChange) -> list[ServiceEvent]:
    """The events one stream record gives (none for most of the table's writes)."""
    events_of = _BY_ENTITY.get(change.entity or "")
    return [] if events_of is None else events_of(change)


class ChangeEventPublisher:
    def __init__(self, bus: EventBus) -> None:
        self._bus = bus

    def publish(self, changes: list[ItemChange]) -> int | None:
        """Publish the events of ``changes`` (one stream batch, in stream order), in that order.
        None when all went out; else the position of the first record whose events may not
        have (every record before it is done), from which the batch is to be retried."""
        events, records = [], []
        for position, change in enumerate(changes):
            for event in change_events(change):
                events.append(event)
                records.append(position)
        if not events:
            return None
        try:
            self._bus.publish(events)
        except PublishFailed as failure:
            first = records[failure.first_unsent]
            _log.warning(
                "%s; retrying from stream record %d of %d (%d events of this batch published)",
                failure,
                first,
                len(changes),
                failure.first_unsent,
            )
            return first
        return None
