"""Memberships: one item per (group, user), in the group's own partition so that adding one
costs the same whatever the group's size and reading a group never reads them:

  PK ORG#<org>#GROUP#<group>, SK MEMBER#<user>          the group's members, in id order
  GSI1PK ORG#<org>#USER#<user>, GSI1SK GROUP#<group>     the user's groups

Writing one is a put, removing one a delete: both idempotent, so a retried request converges
and concurrent requests cannot lose each other's members. Written with BatchWriteItem, 25 a
request."""

from __future__ import annotations

from typing import Any

from scim_provisioning.repository.groups import GROUP_PREFIX
from scim_provisioning.repository.table import Item, Table, key, serialize

_MEMBER_PREFIX = "MEMBER#"


def _members_pk(organization_uuid: str, group_uuid: str) -> str:
    return f"ORG#{organization_uuid}#GROUP#{group_uuid}"


def _user_groups_pk(organization_uuid: str, user_uuid: str) -> str:
    return f"ORG#{organization_uuid}#USER#{user_uuid}"


def _membership_item(organization_uuid: str, group_uuid: str, user_uuid: str) -> Item:
    return {
        "PK": _members_pk(organization_uuid, group_uuid),
        "SK": _MEMBER_PREFIX + user_uuid,
        "GSI1PK": _user_groups_pk(organization_uuid, user_uuid),
        "GSI1SK": GROUP_PREFIX + group_uuid,
        "entity": "Membership",
        "groupUuid": group_uuid,
        "userUuid": user_uuid,
    }


class DynamoDBMembershipStore:
    """Implements ``MembershipStore``."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def add_members(self, organization_uuid: str, group_uuid: str, user_uuids: list[str]) -> None:
        self._table.batch_write(
            [
                {"PutRequest": {"Item": serialize(_membership_item(organization_uuid, group_uuid, user))}}
                for user in dict.fromkeys(user_uuids)
            ]
        )

    def remove_members(self, organization_uuid: str, group_uuid: str, user_uuids: list[str]) -> None:
        pk = _members_pk(organization_uuid, group_uuid)
        self._table.batch_write(
            [{"DeleteRequest": {"Key": key(pk, _MEMBER_PREFIX + user)}} for user in dict.fromkeys(user_uuids)]
        )

    def delete_memberships_of_user(self, organization_uuid: str, user_uuid: str) -> list[str]:
        """Delete every membership of a (deleted) user; the ids of the groups it was in."""
        group_uuids = self.group_ids_of_user(organization_uuid, user_uuid)
        self._table.batch_write(
            [
                {"DeleteRequest": {"Key": key(_members_pk(organization_uuid, group), _MEMBER_PREFIX + user_uuid)}}
                for group in group_uuids
            ]
        )
        return group_uuids

    def member_ids(self, organization_uuid: str, group_uuid: str, limit: int | None = None) -> list[str]:
        """The ids of the group's members in id order; at most ``limit`` when given, so
        a caller can tell "more than n" without reading a 100,000-member group."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": _members_pk(organization_uuid, group_uuid)},
                ":prefix": {"S": _MEMBER_PREFIX},
            },
            "ProjectionExpression": "userUuid",
            "ConsistentRead": True,
        }
        return [item["userUuid"]["S"] for item in self._table.query_pages(request, limit)]

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
