"""Memberships and their change records, in the group's own partition, so that adding one
costs the same whatever the group's size and reading a group never reads them:

  PK ORG#<org>#GROUP#<group>, SK MEMBER#<user>           a membership (``display`` when the
                                                          client sent one with it)
      GSI1PK ORG#<org>#USER#<user>, GSI1SK GROUP#<group>  the user's groups
  PK ORG#<org>#GROUP#<group>, SK CHANGE#<change>#<part>  a change record: one request's ids
                                                          added and removed (≤ 1,000 a part),
                                                          its token, the version it made, TTL

Every change of a group's members moves the group's version and leaves a change record (what
the change events are published from), in one of two ways (docs/decisions.md, "Membership
changes"):

- **small** (what fits DynamoDB's 100 items of a transaction): ONE transaction checks that
  each added user exists, writes and deletes the memberships, moves the group's version
  (conditioned on the version read) and puts the change record, ``done``. Nothing is ever
  half-applied, and a user deleted concurrently either makes it fail or is deleted after it.
- **large**: a transaction records the intent (the change records, ``pending``, and a marker
  on the group, which holds off every other write of the group), then the memberships are
  written in batches, then one transaction moves the version, removes the marker and marks
  the records ``done``. Applying a change is idempotent (puts and deletes of the same items),
  so whoever finds it stale (the group's next writer, or the janitor) completes it again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

from scim_provisioning.models import Group, Member, MemberChange
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.groups import GROUP_PREFIX, DynamoDBGroupStore, GroupWrite
from scim_provisioning.repository.items import Item, Operation, deserialize, epoch, key, org_pk, serialize
from scim_provisioning.repository.people import USER_PREFIX
from scim_provisioning.repository.protocols import DisplayNameTaken, UnknownMembers, VersionConflict
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

_MEMBER_PREFIX = "MEMBER#"
CHANGE_PREFIX = "CHANGE#"
# DynamoDB's limit of items in one TransactWriteItems.
TRANSACTION_ITEMS = 100
# Ids (added and removed together) per change record: ≈40 KB of ids, and a 1,000-member
# change gives one record (one change event).
IDS_PER_CHANGE_RECORD = 1_000
# How long change records are kept after their change (TTL): the change-event publisher reads
# them from the stream within seconds; a week leaves room to look at them when debugging.
CHANGE_RECORD_RETENTION = timedelta(days=7)
PENDING, DONE = "pending", "done"


def members_pk(organization_uuid: str, group_uuid: str) -> str:
    return f"ORG#{organization_uuid}#GROUP#{group_uuid}"


def _user_groups_pk(organization_uuid: str, user_uuid: str) -> str:
    return f"ORG#{organization_uuid}#USER#{user_uuid}"


def membership_item(organization_uuid: str, group_uuid: str, user_uuid: str, display: str | None) -> Item:
    """A user's membership of a group, with the display the client sent (None: none sent)."""
    return {
        "PK": members_pk(organization_uuid, group_uuid),
        "SK": _MEMBER_PREFIX + user_uuid,
        "GSI1PK": _user_groups_pk(organization_uuid, user_uuid),
        "GSI1SK": GROUP_PREFIX + group_uuid,
        "entity": "Membership",
        "organizationUuid": organization_uuid,
        "groupUuid": group_uuid,
        "userUuid": user_uuid,
        "display": display,
    }


def membership_of(item: Item) -> tuple[str, str, str]:
    """A membership item's (organization, group, user); the organization read from its
    partition key, which every membership has, whenever it was written."""
    organization = str(item["PK"]).removeprefix("ORG#").split("#GROUP#", 1)[0]
    return organization, str(item["groupUuid"]), str(item["userUuid"])


def _parts(change: MemberChange) -> list[tuple[list[str], list[str]]]:
    """The change's (added, removed) ids cut into parts of at most IDS_PER_CHANGE_RECORD."""
    ids = [(user, True) for user in change.added] + [(user, False) for user in change.removed]
    chunks = [ids[start : start + IDS_PER_CHANGE_RECORD] for start in range(0, len(ids), IDS_PER_CHANGE_RECORD)]
    return [([user for user, add in chunk if add], [user for user, add in chunk if not add]) for chunk in chunks]


def _change_sk(change_id: str, part: int) -> str:
    return f"{CHANGE_PREFIX}{change_id}#{part:04d}"


def _change_records(group: Group, change: MemberChange, status: str) -> list[Item]:
    """The records of ``change`` to ``group``; a ``done`` record names the version it made."""
    parts = _parts(change)
    return [
        {
            "PK": members_pk(group.organization_uuid, group.uuid),
            "SK": _change_sk(change.change_id, number),
            "entity": "MembershipChange",
            "organizationUuid": group.organization_uuid,
            "groupUuid": group.uuid,
            "displayName": group.display_name,
            "changeId": change.change_id,
            "part": number,
            "parts": len(parts),
            "status": status,
            "added": added,
            "displays": {user: change.added[user] for user in added if change.added[user] is not None} or None,
            "removed": removed,
            "tokenUuid": change.token_uuid,
            "version": group.version if status == DONE else None,
            "changedAt": format_timestamp(change.at),
            "expiresAtEpoch": epoch(change.at + CHANGE_RECORD_RETENTION),
        }
        for number, (added, removed) in enumerate(parts)
    ]


def change_from_records(records: list[Item]) -> MemberChange:
    """The change that ``records`` (every part of one change) describe."""
    added: dict[str, str | None] = {}
    removed: list[str] = []
    for record in sorted(records, key=lambda item: int(item["part"])):
        displays = record.get("displays") or {}
        added.update((user, displays.get(user)) for user in record.get("added") or [])
        removed.extend(record.get("removed") or [])
    first = records[0]
    return MemberChange(first["changeId"], added, removed, first.get("tokenUuid"), parse_timestamp(first["changedAt"]))


class DynamoDBMembershipStore:
    """Implements ``MembershipStore``; the group's own operations come from the group store,
    so that a membership change and its group's version are one transaction."""

    def __init__(self, table: Table, groups: DynamoDBGroupStore) -> None:
        self._table = table
        self._groups = groups

    # ----------------------------------------------------------------- operations
    def _member_operations(self, group: Group, change: MemberChange) -> list[Operation]:
        """For each added user: a check that the user exists, then the membership's put; for
        each removed one: the membership's delete."""
        organization, pk = group.organization_uuid, members_pk(group.organization_uuid, group.uuid)
        operations: list[Operation] = []
        for user, display in change.added.items():
            operations.append(self._user_exists(organization, user))
            membership = membership_item(organization, group.uuid, user, display)
            operations.append(self._table.put(membership, condition=None))
        operations.extend(self._table.delete(pk, _MEMBER_PREFIX + user) for user in change.removed)
        return operations

    def _user_exists(self, organization_uuid: str, user_uuid: str) -> Operation:
        check = {
            "TableName": self._table.name,
            "Key": key(org_pk(organization_uuid), USER_PREFIX + user_uuid),
            "ConditionExpression": "attribute_exists(PK)",
        }
        return {"ConditionCheck": check}

    def _commit(self, group: Group, write: GroupWrite, operations: list[Operation], change: MemberChange) -> None:
        """Run a group's write with ``operations`` after it; a failed user check is an
        UnknownMembers (whatever else failed: that user is unknown either way), a failed claim
        DisplayNameTaken, anything else a VersionConflict."""
        try:
            self._table.transact([*write.operations, *operations])
        except ConditionFailed as failure:
            offset = len(write.operations)
            # Operations offset + 2i check the i-th added user, offset + 2i + 1 put its membership.
            unknown = [user for index, user in enumerate(change.added) if failure.failed(offset + 2 * index)]
            if unknown:
                raise UnknownMembers(unknown) from failure
            if write.claims_name and failure.failed(1) and not failure.failed(0):
                raise DisplayNameTaken(group.display_name) from failure
            raise VersionConflict(group.uuid) from failure

    # --------------------------------------------------------------------- writes
    def fits_one_transaction(self, previous: Group | None, updated: Group, change: MemberChange) -> bool:
        """Whether ``change`` (with the group's own write) fits one transaction."""
        group_operations = len(self._groups.write_operations(previous, updated).operations)
        return group_operations + 2 * len(change.added) + len(change.removed) + 1 <= TRANSACTION_ITEMS

    def change_members(self, previous: Group | None, updated: Group, change: MemberChange) -> None:
        """Write ``updated`` over ``previous`` (None: create it) with ``change`` and its change
        record (``done``, naming ``updated.version``), in one transaction."""
        write = self._groups.write_operations(previous, updated)
        operations = self._member_operations(updated, change)
        operations.extend(self._table.put(record) for record in _change_records(updated, change, DONE))
        self._commit(updated, write, operations, change)

    def begin_change(self, previous: Group | None, pending: Group, change: MemberChange) -> None:
        """Record the intent of a large change: ``pending`` (the group with the change's
        marker) over ``previous``, and the change's records, ``pending``, in one transaction.
        The added users were checked beforehand (``existing_people``)."""
        write = self._groups.write_operations(previous, pending)
        records = [self._table.put(record) for record in _change_records(pending, change, PENDING)]
        self._commit(pending, write, records, replace(change, added={}))

    def apply_change(self, group: Group, change: MemberChange) -> None:
        """Write a large change's memberships (BatchWriteItem, side by side). Idempotent."""
        organization, pk = group.organization_uuid, members_pk(group.organization_uuid, group.uuid)
        puts = [
            {"PutRequest": {"Item": serialize(membership_item(organization, group.uuid, user, display))}}
            for user, display in change.added.items()
        ]
        deletes = [{"DeleteRequest": {"Key": key(pk, _MEMBER_PREFIX + user)}} for user in change.removed]
        self._table.batch_write(puts + deletes)

    def finish_change(self, pending: Group, finished: Group, change: MemberChange) -> None:
        """Finish a large change: ``finished``'s version, the marker gone and every record
        ``done``, in one transaction; VersionConflict when the marker is no longer this change's
        (someone else finished it, or the group is gone)."""
        pk = members_pk(pending.organization_uuid, pending.uuid)
        operations = [self._groups.finish_operation(pending, finished)]
        for number in range(len(_parts(change))):
            operations.append(
                self._table.update(
                    pk,
                    _change_sk(change.change_id, number),
                    UpdateExpression="SET #status = :done, version = :version, completedAt = :now",
                    ConditionExpression="#status = :pending",
                    ExpressionAttributeNames={"#status": "status"},
                    ExpressionAttributeValues={
                        ":done": {"S": DONE},
                        ":pending": {"S": PENDING},
                        ":version": {"N": str(finished.version)},
                        ":now": {"S": format_timestamp(finished.last_modified)},
                    },
                )
            )
        try:
            self._table.transact(operations)
        except ConditionFailed as failure:
            raise VersionConflict(pending.uuid) from failure

    def pending_change(self, group: Group) -> MemberChange | None:
        """The change the group's marker names, from its records (None when they are gone)."""
        if group.pending_change is None:
            return None
        prefix = f"{CHANGE_PREFIX}{group.pending_change.change_id}#"
        records = self._table.query_prefix(members_pk(group.organization_uuid, group.uuid), prefix)
        return change_from_records(records) if records else None

    def leave_group(self, previous: Group, updated: Group, user_uuid: str, change: MemberChange) -> bool:
        """Remove a deleted user's membership with ``updated``'s version and a change record,
        in one transaction. False when the membership was already gone (nothing written);
        VersionConflict when the group changed since ``previous`` was read."""
        pk = members_pk(previous.organization_uuid, previous.uuid)
        write = self._groups.write_operations(previous, updated)
        membership = self._table.delete(pk, _MEMBER_PREFIX + user_uuid, "attribute_exists(PK)")
        records = [self._table.put(record) for record in _change_records(updated, change, DONE)]
        try:
            self._table.transact([*write.operations, membership, *records])
        except ConditionFailed as failure:
            if failure.failed(len(write.operations)):
                return False
            raise VersionConflict(previous.uuid) from failure
        return True

    def delete_memberships(self, organization_uuid: str, group_uuid: str, user_uuids: list[str]) -> None:
        """Delete memberships that belong to nothing any more (their group or their user is
        gone): no version moves, no record is written. Idempotent."""
        pk = members_pk(organization_uuid, group_uuid)
        self._table.batch_write([{"DeleteRequest": {"Key": key(pk, _MEMBER_PREFIX + user)}} for user in user_uuids])

    # ---------------------------------------------------------------------- reads
    def members(self, organization_uuid: str, group_uuid: str, limit: int | None = None) -> list[Member]:
        """The group's memberships in id order, each with the display stored with it (None
        when the client sent none); at most ``limit`` when given, so a caller can tell "more
        than n" without reading a 100,000-member group."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": members_pk(organization_uuid, group_uuid)},
                ":prefix": {"S": _MEMBER_PREFIX},
            },
            "ProjectionExpression": "#user, #display",
            "ExpressionAttributeNames": {"#user": "userUuid", "#display": "display"},
            "ConsistentRead": True,
        }
        return [
            Member(item["userUuid"], item.get("display"))
            for item in map(deserialize, self._table.query_pages(request, limit))
        ]

    def member_ids(self, organization_uuid: str, group_uuid: str, limit: int | None = None) -> list[str]:
        return [member.user_id for member in self.members(organization_uuid, group_uuid, limit)]

    def scan_memberships(self) -> Iterator[tuple[str, str, str]]:
        """Every membership of the table, as (organization, group, user), by a paged Scan. For
        one-off maintenance (``scim-admin upgrade``), never for a request."""
        request = {
            "FilterExpression": "entity = :membership",
            "ExpressionAttributeValues": {":membership": {"S": "Membership"}},
            "ProjectionExpression": "PK, groupUuid, userUuid",
        }
        return (membership_of(item) for item in self._table.scan(request))

    def group_ids_of_user(self, organization_uuid: str, user_uuid: str) -> list[str]:
        """The groups the user is a member of, from GSI1 (eventually consistent, as every
        global index is)."""
        request: dict[str, Any] = {
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk AND begins_with(GSI1SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": _user_groups_pk(organization_uuid, user_uuid)},
                ":prefix": {"S": GROUP_PREFIX},
            },
            "ProjectionExpression": "groupUuid",
        }
        return [item["groupUuid"]["S"] for item in self._table.query_pages(request)]
