"""Deletion records: what the deletion of a user or a group writes beside it, in the same
transaction, for the change events (``services/change_events.py``):

  ORG#<org> / DELETED#<User|Group>#<uuid>   who deleted it (the SCIM token), when, its name
                                            and the version the deletion ends it at; TTL 7 days

A deleted item's stream record carries its last image only, which names its last writer, not
the request that deleted it; a DeleteItem cannot write anything on the way out. The record is
one small put in the deletion's transaction, so it exists if and only if the deletion does."""

from __future__ import annotations

from datetime import timedelta

from scim_provisioning.models import Deletion
from scim_provisioning.repository.items import Item, epoch, org_pk
from scim_provisioning.timestamps import format_timestamp

DELETION_PREFIX = "DELETED#"
DELETION_ENTITY = "Deletion"
# The change-event publisher reads the record from the stream within seconds; a week, as for
# membership change records, leaves room to look at it when debugging.
DELETION_RECORD_RETENTION = timedelta(days=7)


def deletion_record(
    organization_uuid: str, resource_type: str, resource_uuid: str, name: tuple[str, str], version: int, by: Deletion
) -> Item:
    """The record of ``resource_type`` ``resource_uuid``'s deletion; ``name`` is its naming
    attribute and value (``("userName", …)``, ``("displayName", …)``); ``version`` is the one
    after the deleted item's, so that the deletion is the newest change of the resource."""
    attribute, value = name
    return {
        "PK": org_pk(organization_uuid),
        "SK": f"{DELETION_PREFIX}{resource_type}#{resource_uuid}",
        "entity": DELETION_ENTITY,
        "organizationUuid": organization_uuid,
        "resourceType": resource_type,
        "uuid": resource_uuid,
        attribute: value,
        "version": version,
        "tokenUuid": by.token_uuid,
        "deletedAt": format_timestamp(by.at),
        "expiresAtEpoch": epoch(by.at + DELETION_RECORD_RETENTION),
    }
