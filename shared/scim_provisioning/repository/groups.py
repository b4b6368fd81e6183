"""Groups: one item each plus its displayName claim (the uniqueness rule, like userName's) and
its externalId lookup, written in one transaction with the organization's groupCount:

  GROUP#<uuid>                                   the group (SCIM resource as JSON, version)
  GROUPNAME#<case-insensitive displayName>       the uniqueness claim
  GROUP_EXTID#<digest(externalId)>#<group uuid>  externalId lookup (not unique)

Members are not in it: memberships are items of their own (``memberships.py``)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from scim_provisioning.models import Group
from scim_provisioning.repository.organizations import count_change, read_count
from scim_provisioning.repository.protocols import DisplayNameTaken, Page, VersionConflict
from scim_provisioning.repository.table import (
    ConditionFailed,
    Item,
    Operation,
    Table,
    case_insensitive_key,
    lookup_digest,
    org_pk,
)
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

GROUP_PREFIX = "GROUP#"
_GROUP_NAME_PREFIX = "GROUPNAME#"
_GROUP_EXTERNAL_ID_PREFIX = "GROUP_EXTID#"
GROUP_COUNT = "groupCount"


def _group_item(group: Group) -> Item:
    return {
        "PK": org_pk(group.organization_uuid),
        "SK": GROUP_PREFIX + group.uuid,
        "entity": "Group",
        "uuid": group.uuid,
        "organizationUuid": group.organization_uuid,
        "displayName": group.display_name,
        "displayNameKey": case_insensitive_key(group.display_name),
        "externalId": group.external_id,
        "version": group.version,
        "createdAt": format_timestamp(group.created_at),
        "lastModified": format_timestamp(group.last_modified),
        "resource": json.dumps(group.resource, separators=(",", ":")),
    }


def _group_from_item(item: Item) -> Group:
    return Group(
        uuid=item["uuid"],
        organization_uuid=item["organizationUuid"],
        display_name=item["displayName"],
        created_at=parse_timestamp(item["createdAt"]),
        last_modified=parse_timestamp(item["lastModified"]),
        version=int(item["version"]),
        resource=json.loads(item["resource"]),
        external_id=item.get("externalId"),
    )


def _name_sk(display_name: str) -> str:
    return _GROUP_NAME_PREFIX + case_insensitive_key(display_name)


def _external_id_sk(group: Group) -> str | None:
    if not group.external_id:
        return None
    return f"{_GROUP_EXTERNAL_ID_PREFIX}{lookup_digest(group.external_id)}#{group.uuid}"


class DynamoDBGroupStore:
    """Implements ``GroupStore``."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def _name_claim(self, group: Group) -> Operation:
        item = {
            "PK": org_pk(group.organization_uuid),
            "SK": _name_sk(group.display_name),
            "entity": "GroupNameClaim",
            "groupUuid": group.uuid,
        }
        return self._table.put(item)

    def _external_id_put(self, group: Group, sort_key: str) -> Operation:
        item = {
            "PK": org_pk(group.organization_uuid),
            "SK": sort_key,
            "entity": "GroupLookup",
            "groupUuid": group.uuid,
        }
        return self._table.put(item, condition=None)

    # --------------------------------------------------------------------- writes
    def create_group(self, group: Group) -> None:
        operations = [self._table.put(_group_item(group)), self._name_claim(group)]
        external_id_sk = _external_id_sk(group)
        if external_id_sk is not None:
            operations.append(self._external_id_put(group, external_id_sk))
        operations.append(count_change(self._table, group.organization_uuid, GROUP_COUNT, 1))
        self._table.transact_with_claim(operations, DisplayNameTaken(group.display_name), group.uuid)

    def replace_group(self, previous: Group, updated: Group) -> None:
        """Write ``updated`` if the stored group is still at ``previous.version``; a rename
        swaps the displayName claim in the same transaction."""
        expected = {":expected": {"N": str(previous.version)}}
        operations: list[Operation] = [self._table.put(_group_item(updated), "version = :expected", expected)]
        pk = org_pk(previous.organization_uuid)
        if case_insensitive_key(previous.display_name) != case_insensitive_key(updated.display_name):
            operations.append(self._name_claim(updated))
            operations.append(self._table.delete(pk, _name_sk(previous.display_name)))
        old_sk, new_sk = _external_id_sk(previous), _external_id_sk(updated)
        if old_sk != new_sk:
            if new_sk is not None:
                operations.append(self._external_id_put(updated, new_sk))
            if old_sk is not None:
                operations.append(self._table.delete(pk, old_sk))
        self._table.transact_with_claim(operations, DisplayNameTaken(updated.display_name), updated.uuid)

    def touch_group(
        self, organization_uuid: str, group_uuid: str, modified_at: datetime, expected_version: int | None = None
    ) -> Group | None:
        """Count a change of the group's members: version + 1 and lastModified, so ETags stay
        honest. An atomic increment, not a conditional put, unless ``expected_version`` is
        given (If-Match): concurrent member changes then all land. None when the group is
        gone; VersionConflict when it is not at ``expected_version``."""
        condition = "attribute_exists(PK)"
        values: dict[str, Any] = {":one": {"N": "1"}, ":now": {"S": format_timestamp(modified_at)}}
        if expected_version is not None:
            condition += " AND version = :expected"
            values[":expected"] = {"N": str(expected_version)}
        try:
            item = self._table.update_item(
                org_pk(organization_uuid),
                GROUP_PREFIX + group_uuid,
                UpdateExpression="SET version = version + :one, lastModified = :now",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ConditionFailed as failure:
            if expected_version is None:
                return None
            raise VersionConflict(group_uuid) from failure
        return _group_from_item(item)

    def delete_group(self, group: Group) -> None:
        """Delete the group, its claim and lookup (condition: the version read). Its
        memberships are deleted afterwards by the service; any left behind belong to no
        group and are never read."""
        pk = org_pk(group.organization_uuid)
        operations = [
            self._table.delete(
                pk, GROUP_PREFIX + group.uuid, "version = :expected", {":expected": {"N": str(group.version)}}
            ),
            self._table.delete(pk, _name_sk(group.display_name)),
            count_change(self._table, group.organization_uuid, GROUP_COUNT, -1),
        ]
        external_id_sk = _external_id_sk(group)
        if external_id_sk is not None:
            operations.append(self._table.delete(pk, external_id_sk))
        try:
            self._table.transact(operations)
        except ConditionFailed as failure:
            raise VersionConflict(group.uuid) from failure

    # ---------------------------------------------------------------------- reads
    def get_group(self, organization_uuid: str, group_uuid: str) -> Group | None:
        item = self._table.get(org_pk(organization_uuid), GROUP_PREFIX + group_uuid)
        return None if item is None else _group_from_item(item)

    def get_groups(self, organization_uuid: str, group_uuids: list[str]) -> list[Group]:
        items = self._table.batch_get(org_pk(organization_uuid), GROUP_PREFIX, group_uuids)
        return [_group_from_item(item) for item in items]

    def find_group_by_display_name(self, organization_uuid: str, display_name: str) -> Group | None:
        claim = self._table.get(org_pk(organization_uuid), _name_sk(display_name))
        return None if claim is None else self.get_group(organization_uuid, claim["groupUuid"])

    def find_groups_by_external_id(self, organization_uuid: str, external_id: str) -> list[Group]:
        prefix = f"{_GROUP_EXTERNAL_ID_PREFIX}{lookup_digest(external_id)}#"
        lookups = self._table.query_prefix(org_pk(organization_uuid), prefix)
        return self.get_groups(organization_uuid, [item["groupUuid"] for item in lookups]) if lookups else []

    def count_groups(self, organization_uuid: str) -> int:
        return read_count(self._table, organization_uuid, GROUP_COUNT)

    def list_groups(self, organization_uuid: str, limit: int, after: str | None = None) -> Page[Group]:
        items, next_after = self._table.list_prefix(org_pk(organization_uuid), GROUP_PREFIX, limit, after)
        return Page([_group_from_item(item) for item in items], next_after)
