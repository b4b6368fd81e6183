"""Groups: one item each plus its displayName claim (the uniqueness rule, like userName's) and
its externalId lookup, written in one transaction with the organization's groupCount:

  GROUP#<uuid>                                   the group (SCIM resource as JSON, version)
  GROUPNAME#<case-insensitive displayName>       the uniqueness claim
  GROUP_EXTID#<digest(externalId)>#<group uuid>  externalId lookup (not unique)

Members are not in it: memberships are items of their own (``memberships.py``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from scim_provisioning.models import Deletion, Group, PendingChange
from scim_provisioning.repository.deletions import deletion_record
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.items import Item, Operation, case_insensitive_key, lookup_digest, org_pk
from scim_provisioning.repository.organizations import count_change, read_count
from scim_provisioning.repository.protocols import DisplayNameTaken, Page, VersionConflict
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

GROUP_PREFIX = "GROUP#"
_GROUP_NAME_PREFIX = "GROUPNAME#"
_GROUP_EXTERNAL_ID_PREFIX = "GROUP_EXTID#"
GROUP_COUNT = "groupCount"
# The group's marker of a large membership change in progress (models.PendingChange).
PENDING_CHANGE = "pendingChange"
_PENDING_SINCE = "pendingSince"
# Every write of a group is conditioned on the version read and on no large membership change
# being in progress: such a change must finish (or be completed) before anything else lands.
_UNCHANGED = f"version = :expected AND attribute_not_exists({PENDING_CHANGE})"


def _group_item(group: Group) -> Item:
    item = {
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
        "writtenByToken": group.written_by,
    }
    if group.pending_change is not None:
        item[PENDING_CHANGE] = group.pending_change.change_id
        item[_PENDING_SINCE] = format_timestamp(group.pending_change.since)
    return item


def group_from_item(item: Item) -> Group:
    """The group an item holds (a Get's, a Query's, or a stream record's image)."""
    pending = None
    if item.get(PENDING_CHANGE):
        pending = PendingChange(item[PENDING_CHANGE], parse_timestamp(item[_PENDING_SINCE]))
    return Group(
        uuid=item["uuid"],
        organization_uuid=item["organizationUuid"],
        display_name=item["displayName"],
        created_at=parse_timestamp(item["createdAt"]),
        last_modified=parse_timestamp(item["lastModified"]),
        version=int(item["version"]),
        resource=json.loads(item["resource"]),
        external_id=item.get("externalId"),
        pending_change=pending,
        written_by=item.get("writtenByToken"),
    )


def _name_sk(display_name: str) -> str:
    return _GROUP_NAME_PREFIX + case_insensitive_key(display_name)


def _external_id_sk(group: Group) -> str | None:
    if not group.external_id:
        return None
    return f"{_GROUP_EXTERNAL_ID_PREFIX}{lookup_digest(group.external_id)}#{group.uuid}"


@dataclass(frozen=True)
class GroupWrite:
    """The operations that write a group (operation 0 is its item), for a transaction that may
    carry more (its memberships); ``claims_name``: operation 1 claims its displayName."""

    operations: list[Operation]
    claims_name: bool


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

    # ----------------------------------------------------------------- operations
    def write_operations(self, previous: Group | None, updated: Group) -> GroupWrite:
        """What writes ``updated`` over ``previous`` (None: a new group), if the stored group is
        still ``previous``: a create with its claim, lookup and groupCount; a put with the
        claim swapped on a rename; or, when only the version and the marker move (a membership
        change), an update that rewrites nothing else."""
        pk = org_pk(updated.organization_uuid)
        if previous is None:
            created = [self._table.put(_group_item(updated)), self._name_claim(updated)]
            external_id_sk = _external_id_sk(updated)
            if external_id_sk is not None:
                created.append(self._external_id_put(updated, external_id_sk))
            created.append(count_change(self._table, updated.organization_uuid, GROUP_COUNT, 1))
            return GroupWrite(created, claims_name=True)
        expected = {":expected": {"N": str(previous.version)}}
        if previous.resource == updated.resource:
            return GroupWrite([self._version_update(updated, _UNCHANGED, expected)], claims_name=False)
        operations: list[Operation] = [self._table.put(_group_item(updated), _UNCHANGED, expected)]
        renamed = case_insensitive_key(previous.display_name) != case_insensitive_key(updated.display_name)
        if renamed:
            operations.append(self._name_claim(updated))
            operations.append(self._table.delete(pk, _name_sk(previous.display_name)))
        old_sk, new_sk = _external_id_sk(previous), _external_id_sk(updated)
        if old_sk != new_sk:
            if new_sk is not None:
                operations.append(self._external_id_put(updated, new_sk))
            if old_sk is not None:
                operations.append(self._table.delete(pk, old_sk))
        return GroupWrite(operations, claims_name=renamed)

    def finish_operation(self, pending: Group, finished: Group) -> Operation:
        """Finish the large change ``pending`` carries: the version and lastModified of
        ``finished``, the marker removed, if the marker is still that change's."""
        assert pending.pending_change is not None
        values = {":change": {"S": pending.pending_change.change_id}}
        condition = f"{PENDING_CHANGE} = :change"
        return self._version_update(finished, condition, values)

    def _version_update(self, updated: Group, condition: str, values: dict[str, Any]) -> Operation:
        values = {
            **values,
            ":version": {"N": str(updated.version)},
            ":now": {"S": format_timestamp(updated.last_modified)},
        }
        expression = "SET version = :version, lastModified = :now"
        if updated.pending_change is None:
            expression += f" REMOVE {PENDING_CHANGE}, {_PENDING_SINCE}"
        else:
            expression += f", {PENDING_CHANGE} = :pending, {_PENDING_SINCE} = :since"
            values[":pending"] = {"S": updated.pending_change.change_id}
            values[":since"] = {"S": format_timestamp(updated.pending_change.since)}
        return self._table.update(
            org_pk(updated.organization_uuid),
            GROUP_PREFIX + updated.uuid,
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
        )

    # --------------------------------------------------------------------- writes
    def create_group(self, group: Group) -> None:
        write = self.write_operations(None, group)
        self._table.transact_with_claim(write.operations, DisplayNameTaken(group.display_name), group.uuid)

    def replace_group(self, previous: Group, updated: Group) -> None:
        """Write ``updated`` if the stored group is still at ``previous.version`` (and no
        membership change is in progress); a rename swaps the displayName claim in the same
        transaction."""
        write = self.write_operations(previous, updated)
        self._table.transact_with_claim(write.operations, DisplayNameTaken(updated.display_name), updated.uuid)

    def delete_group(self, group: Group, deletion: Deletion) -> None:
        """Delete the group, its claim and lookup (condition: the version read, and no
        membership change in progress), and record who deleted it (``repository/deletions.py``).
        Its memberships are deleted afterwards by the service; what it leaves behind the
        membership janitor deletes."""
        pk = org_pk(group.organization_uuid)
        record = deletion_record(
            group.organization_uuid,
            "Group",
            group.uuid,
            ("displayName", group.display_name),
            group.version + 1,
            deletion,
        )
        operations = [
            self._table.delete(pk, GROUP_PREFIX + group.uuid, _UNCHANGED, {":expected": {"N": str(group.version)}}),
            self._table.delete(pk, _name_sk(group.display_name)),
            count_change(self._table, group.organization_uuid, GROUP_COUNT, -1),
            self._table.put(record, condition=None),
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
        return None if item is None else group_from_item(item)

    def get_groups(self, organization_uuid: str, group_uuids: list[str]) -> list[Group]:
        items = self._table.batch_get(org_pk(organization_uuid), GROUP_PREFIX, group_uuids)
        return [group_from_item(item) for item in items]

    def group_ids_by_display_name(self, organization_uuid: str, display_name: str) -> list[str]:
        """The id holding the displayName's claim (case-insensitively), if any."""
        claim = self._table.get(org_pk(organization_uuid), _name_sk(display_name))
        return [] if claim is None else [claim["groupUuid"]]

    def group_ids_by_external_id(self, organization_uuid: str, external_id: str) -> list[str]:
        prefix = f"{_GROUP_EXTERNAL_ID_PREFIX}{lookup_digest(external_id)}#"
        return [item["groupUuid"] for item in self._table.query_prefix(org_pk(organization_uuid), prefix)]

    def count_groups(self, organization_uuid: str) -> int:
        return read_count(self._table, organization_uuid, GROUP_COUNT)

    def list_groups(self, organization_uuid: str, limit: int, after: str | None = None) -> Page[Group]:
        items, next_after = self._table.list_prefix(org_pk(organization_uuid), GROUP_PREFIX, limit, after)
        return Page([group_from_item(item) for item in items], next_after)
