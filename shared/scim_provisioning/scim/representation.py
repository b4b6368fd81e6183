"""What every SCIM resource answer shares (RFC 7643 §3.1, RFC 7644 §3.9): ``meta`` with its
ETag, the client's ``attributes``/``excludedAttributes`` selection, and the size an answer
may have. ``scim/users.py`` and ``scim/groups.py`` build the two resources with it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from scim_provisioning.errors import ServiceError
from scim_provisioning.models import ResourceDocument
from scim_provisioning.scim.resources import full_representation, is_returned, parse_attribute_list, project
from scim_provisioning.scim.schema import ResourceType
from scim_provisioning.timestamps import format_timestamp

# Lambda refuses a synchronous response over 6 MB (6,291,456 bytes, headers included): an
# answer body above this is refused by the handler itself, with a SCIM error that says why.
MAX_RESPONSE_BYTES = 6_000_000


def etag(version: int) -> str:
    """A resource's ETag: its stored version, weak (the answer's bytes vary with ``attributes``)."""
    return f'W/"{version}"'


class Versioned(Protocol):
    """A stored resource (a ``Person``, a ``Group``) as its document needs it."""

    @property
    def uuid(self) -> str: ...
    @property
    def resource(self) -> ResourceDocument: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_modified(self) -> datetime: ...
    @property
    def version(self) -> int: ...


def location(resource_type: ResourceType, base_url: str, resource_id: str) -> str:
    """``meta.location`` and a ``Location`` header: the resource's URL as the client reached us."""
    return f"{base_url}{resource_type.endpoint}/{resource_id}"


def resource_document(resource_type: ResourceType, stored: Versioned, base_url: str) -> ResourceDocument:
    """The stored resource with ``id``, ``schemas`` and ``meta``: the full representation,
    before the resource's own read-only attributes are added and the answer is shaped."""
    meta = {
        "resourceType": resource_type.name,
        "created": format_timestamp(stored.created_at),
        "lastModified": format_timestamp(stored.last_modified),
        "location": location(resource_type, base_url, stored.uuid),
        "version": etag(stored.version),
    }
    return full_representation(stored.resource, resource_type, stored.uuid, meta)


@dataclass(frozen=True)
class Selection:
    """A request's ``attributes``/``excludedAttributes`` (RFC 7644 §3.9), resolved against the
    resource type once: what an answer carries, and so what a handler needs to read."""

    resource_type: ResourceType
    attributes: list[str] | None = None
    excluded: list[str] | None = None

    @classmethod
    def of(cls, resource_type: ResourceType, attributes: str | None, excluded: str | None) -> Selection:
        return cls(
            resource_type,
            parse_attribute_list(attributes, resource_type),
            parse_attribute_list(excluded, resource_type),
        )

    def returns(self, name: str) -> bool:
        """Whether the answer carries the core attribute ``name``: lets the caller skip
        reading what is stored apart (a group's members, a user's groups)."""
        return is_returned(self.resource_type, name, self.attributes, self.excluded)

    def shape(self, document: ResourceDocument) -> ResourceDocument:
        return project(document, self.resource_type, self.attributes, self.excluded)


def within_response_limit(document: dict[str, Any], refusal: ServiceError) -> dict[str, Any]:
    """``document``, unless its JSON is over MAX_RESPONSE_BYTES: then ``refusal`` is raised."""
    if len(json.dumps(document).encode("utf-8")) > MAX_RESPONSE_BYTES:
        raise refusal
    return document
