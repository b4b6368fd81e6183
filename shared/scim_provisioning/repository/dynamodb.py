"""The one module that talks to DynamoDB.

Single-table design; ``docs/data-model.md`` lists every item, key and access pattern with its
cost. Every key of tenant data starts with the organization (``ORG#<uuid>``), so a request
scoped to one organization cannot address another's items. Rules that must hold under
concurrency (unique userName, once-per-hour rotation, one write per minute for last-used)
are DynamoDB condition expressions here, never a read followed by a write.
"""

from __future__ import annotations

import hashlib
import json
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from botocore.exceptions import ClientError

from scim_provisioning.config import Settings
from scim_provisioning.models import (
    ActivityEntry,
    ActivityPage,
    ApiKeyMetadata,
    Credential,
    CredentialKind,
    Group,
    Organization,
    OrganizationRole,
    Person,
    ScimTokenMetadata,
)
from scim_provisioning.repository.interface import (
    DisplayNameTaken,
    Page,
    RotationConflict,
    StoreBusy,
    UserNameTaken,
    VersionConflict,
)
from scim_provisioning.timestamps import format_optional, format_timestamp, parse_timestamp

# Standard retry mode: exponential backoff with jitter on throttling and 5xx, a retry quota so
# a struggling table is not hammered; four attempts fit well inside API Gateway's 29 s.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)

# Activity entries are written on the request's path but must never fail or slow it much:
# one retry, short timeouts. A lost entry is logged by the recorder; a slow SCIM answer is not.
_ACTIVITY_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 2},
    connect_timeout=1,
    read_timeout=1,
    tcp_keepalive=True,
)
# One activity-log page may evaluate this many DynamoDB pages (≤ 1 MB each) when a filter
# drops most items; the page is then short, and its cursor resumes where evaluation stopped.
_ACTIVITY_MAX_QUERIES = 5

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def create_dynamodb_client(settings: Settings, config: Config = _CLIENT_CONFIG) -> Any:
    return boto3.client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.dynamodb_endpoint_url,
        config=config,
    )


def user_name_key(user_name: str) -> str:
    """userName is caseExact=false (RFC 7643 §4.1.1): compare its NFC case-folded form."""
    return unicodedata.normalize("NFC", user_name).casefold()


def _lookup_digest(value: str) -> str:
    """Index keys for externalId and emails: fixed length whatever the value, no '#' ambiguity."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


# ----------------------------------------------------------------------------- keys
def _org_pk(organization_uuid: str) -> str:
    return f"ORG#{organization_uuid}"


def _members_pk(organization_uuid: str, group_uuid: str) -> str:
    """A group's memberships live in their own partition: adding one costs the same whatever
    the group's size, and reading a group never reads them."""
    return f"ORG#{organization_uuid}#GROUP#{group_uuid}"


def _user_groups_pk(organization_uuid: str, user_uuid: str) -> str:
    return f"ORG#{organization_uuid}#USER#{user_uuid}"


def _credential_pk(secret_digest: str) -> str:
    return f"CREDENTIAL#{secret_digest}"


def _activity_pk(organization_uuid: str) -> str:
    """One partition per organization: its writes are bounded by the API's throttle (200
    requests/s per stage), well under a partition's 1,000 writes/s (docs/data-model.md)."""
    return f"ORG#{organization_uuid}#ACTIVITY"


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


_ORG_SK = "ORGANIZATION"
_CREDENTIAL_SK = "CREDENTIAL"
_USER_PREFIX = "USER#"
_USER_NAME_PREFIX = "USERNAME#"
_EXTERNAL_ID_PREFIX = "EXTID#"
_EMAIL_PREFIX = "EMAIL#"
# BatchGetItem takes at most 100 keys per request (moto does not enforce it; we do).
_BATCH_GET_LIMIT = 100
# BatchWriteItem takes at most 25 requests (moto accepts 26; real DynamoDB refuses).
_BATCH_WRITE_LIMIT = 25
# How often the unprocessed part of a BatchWriteItem is resent (with backoff) before giving
# up; throttling of the call itself is retried by botocore's standard mode.
_BATCH_WRITE_ATTEMPTS = 8
# BatchWriteItem requests in flight at once: botocore's default connection pool (10) holds them.
_BATCH_WRITERS = 10
_GROUP_PREFIX = "GROUP#"
_GROUP_NAME_PREFIX = "GROUPNAME#"
_GROUP_EXTERNAL_ID_PREFIX = "GROUP_EXTID#"
_MEMBER_PREFIX = "MEMBER#"
_SCIM_TOKEN_PREFIX = "SCIM_TOKEN#"
_API_KEY_PREFIX = "API_KEY#"


def _key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _serializer.serialize(value) for name, value in item.items() if value is not None}


def _deserialize(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _optional_time(item: dict[str, Any], name: str) -> datetime | None:
    value = item.get(name)
    return None if value is None else parse_timestamp(value)


def _is_condition_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
    }


class DynamoDBRepository:
    """Implements ``repository.interface.Repository`` on one DynamoDB table."""

    def __init__(self, client: Any, table_name: str, activity_client: Any = None) -> None:
        self._client = client
        self._table = table_name
        self._activity_client = activity_client or client

    @classmethod
    def from_settings(cls, settings: Settings) -> DynamoDBRepository:
        return cls(
            create_dynamodb_client(settings),
            settings.table_name,
            create_dynamodb_client(settings, _ACTIVITY_CLIENT_CONFIG),
        )

    # --------------------------------------------------------------- low-level helpers
    def _get(self, pk: str, sk: str) -> dict[str, Any] | None:
        answer = self._client.get_item(TableName=self._table, Key=_key(pk, sk), ConsistentRead=True)
        item = answer.get("Item")
        return None if item is None else _deserialize(item)

    def _query_prefix(self, pk: str, sk_prefix: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": sk_prefix}},
            "ConsistentRead": True,
        }
        while True:
            answer = self._client.query(**request)
            items.extend(_deserialize(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return items
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def _transact(self, operations: list[dict[str, Any]]) -> None:
        self._client.transact_write_items(TransactItems=operations)

    def _put(self, item: dict[str, Any], condition: str = "attribute_not_exists(PK)") -> dict[str, Any]:
        return {"Put": {"TableName": self._table, "Item": _serialize(item), "ConditionExpression": condition}}

    # ------------------------------------------------------------ organizations, people
    def create_organization(self, organization: Organization, admin: Person) -> None:
        org_item = {
            "PK": _org_pk(organization.uuid),
            "SK": _ORG_SK,
            "entity": "Organization",
            "uuid": organization.uuid,
            "name": organization.name,
            "createdAt": format_timestamp(organization.created_at),
            "userCount": 1,
        }
        self._transact_with_claim(
            [*self._new_person_operations(admin), self._put(org_item)], UserNameTaken(admin.user_name), admin.uuid
        )

    # People: one item each, plus the items that make lookups O(1) and keep userName unique:
    #   USERNAME#<casefolded userName>            the uniqueness claim (condition: not exists)
    #   EXTID#<digest(externalId)>#<user uuid>    externalId lookup (not unique)
    #   EMAIL#<digest(casefolded email)>#<uuid>   emails.value lookup (not unique)
    # All are written in the same transaction as the person, together with the organization's
    # userCount, so a failed write leaves nothing behind and totalResults costs one read.
    def _person_item(self, person: Person) -> dict[str, Any]:
        return {
            "PK": _org_pk(person.organization_uuid),
            "SK": _USER_PREFIX + person.uuid,
            "entity": "User",
            "uuid": person.uuid,
            "organizationUuid": person.organization_uuid,
            "userName": person.user_name,
            "userNameKey": user_name_key(person.user_name),
            "externalId": person.external_id,
            "active": person.active,
            "role": person.role.value,
            "version": person.version,
            "createdAt": format_timestamp(person.created_at),
            "lastModified": format_timestamp(person.last_modified),
            "resource": json.dumps(person.resource, separators=(",", ":")),
        }

    def _person_index_keys(self, person: Person) -> dict[str, str]:
        """Sort keys of the person's lookup items (the claim excluded), with their kind."""
        keys = {}
        if person.external_id:
            keys[f"{_EXTERNAL_ID_PREFIX}{_lookup_digest(person.external_id)}#{person.uuid}"] = "externalId"
        for email in person.email_addresses:
            keys[f"{_EMAIL_PREFIX}{_lookup_digest(user_name_key(email))}#{person.uuid}"] = "email"
        return keys

    def _index_put(self, person: Person, sort_key: str, kind: str) -> dict[str, Any]:
        item = {
            "PK": _org_pk(person.organization_uuid),
            "SK": sort_key,
            "entity": "UserLookup",
            "kind": kind,
            "userUuid": person.uuid,
        }
        return {"Put": {"TableName": self._table, "Item": _serialize(item)}}

    def _plain_delete(self, organization_uuid: str, sort_key: str) -> dict[str, Any]:
        return {"Delete": {"TableName": self._table, "Key": _key(_org_pk(organization_uuid), sort_key)}}

    def _claim_put(self, person: Person) -> dict[str, Any]:
        return self._put(
            {
                "PK": _org_pk(person.organization_uuid),
                "SK": _USER_NAME_PREFIX + user_name_key(person.user_name),
                "entity": "UserNameClaim",
                "userUuid": person.uuid,
            }
        )

    def _count_change(self, organization_uuid: str, counter: str, delta: int) -> dict[str, Any]:
        """``ADD <counter> :delta`` on the organization item (userCount, groupCount), in the
        same transaction as the person or group it counts."""
        return {
            "Update": {
                "TableName": self._table,
                "Key": _key(_org_pk(organization_uuid), _ORG_SK),
                "UpdateExpression": f"ADD {counter} :delta",
                "ConditionExpression": "attribute_exists(PK)",
                "ExpressionAttributeValues": {":delta": {"N": str(delta)}},
            }
        }

    def _transact_with_claim(self, operations: list[dict[str, Any]], name_taken: Exception, item_uuid: str) -> None:
        """Run a person's or group's transaction: operation 0 is its item, 1 its name claim
        (userName, displayName) when the claim changes. The claim's failure alone means the
        name is taken (``name_taken`` is raised); any other means the item changed."""
        try:
            self._transact(operations)
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            codes = [reason.get("Code") for reason in error.response.get("CancellationReasons", [])]
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed" and codes[0] != "ConditionalCheckFailed":
                raise name_taken from error
            raise VersionConflict(item_uuid) from error

    def _new_person_operations(self, person: Person) -> list[dict[str, Any]]:
        return [
            self._put(self._person_item(person)),
            self._claim_put(person),
            *(self._index_put(person, key, kind) for key, kind in self._person_index_keys(person).items()),
        ]

    def create_person(self, person: Person) -> None:
        count = self._count_change(person.organization_uuid, "userCount", 1)
        operations = [*self._new_person_operations(person), count]
        self._transact_with_claim(operations, UserNameTaken(person.user_name), person.uuid)

    def bulk_load_people(self, organization_uuid: str, people: list[Person]) -> None:
        """Write many new people with the items ``create_person`` writes, 25 to a
        BatchWriteItem, and add them to the organization's userCount once.

        For seeding large organizations (``benchmarks/users_costs.py``), never for requests:
        there is no condition, so nothing checks that userNames are free, and a failure part
        way leaves part of the load behind."""
        self._batch_write(
            [
                {"PutRequest": {"Item": operation["Put"]["Item"]}}
                for person in people
                for operation in self._new_person_operations(person)
            ]
        )
        self._transact([self._count_change(organization_uuid, "userCount", len(people))])

    def replace_person(self, previous: Person, updated: Person) -> None:
        """Write ``updated`` if the stored person is still at ``previous.version``."""
        person_put = self._put(self._person_item(updated), "version = :expected")
        person_put["Put"]["ExpressionAttributeValues"] = {":expected": {"N": str(previous.version)}}
        operations: list[dict[str, Any]] = [person_put]
        if user_name_key(previous.user_name) != user_name_key(updated.user_name):
            operations.append(self._claim_put(updated))
            operations.append(
                self._plain_delete(previous.organization_uuid, _USER_NAME_PREFIX + user_name_key(previous.user_name))
            )
        old_keys, new_keys = self._person_index_keys(previous), self._person_index_keys(updated)
        operations.extend(self._index_put(updated, key, kind) for key, kind in new_keys.items() if key not in old_keys)
        operations.extend(
            self._plain_delete(previous.organization_uuid, key) for key in old_keys if key not in new_keys
        )
        self._transact_with_claim(operations, UserNameTaken(updated.user_name), updated.uuid)

    def delete_person(self, person: Person) -> None:
        """Delete the person with its claim and lookups, if still at ``person.version``."""
        operations = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _key(_org_pk(person.organization_uuid), _USER_PREFIX + person.uuid),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": {"N": str(person.version)}},
                }
            },
            self._plain_delete(person.organization_uuid, _USER_NAME_PREFIX + user_name_key(person.user_name)),
            *(self._plain_delete(person.organization_uuid, key) for key in self._person_index_keys(person)),
            self._count_change(person.organization_uuid, "userCount", -1),
        ]
        try:
            self._transact(operations)
        except ClientError as error:
            if _is_condition_failure(error):
                raise VersionConflict(person.uuid) from error
            raise

    def get_organization(self, organization_uuid: str) -> Organization | None:
        item = self._get(_org_pk(organization_uuid), _ORG_SK)
        if item is None:
            return None
        return Organization(uuid=item["uuid"], name=item["name"], created_at=parse_timestamp(item["createdAt"]))

    def get_person(self, organization_uuid: str, user_uuid: str) -> Person | None:
        item = self._get(_org_pk(organization_uuid), _USER_PREFIX + user_uuid)
        return None if item is None else _person_from_item(item)

    def get_people(self, organization_uuid: str, user_uuids: list[str]) -> list[Person]:
        """Batch-read people by id (100 keys a request), in the order asked; absent ones skipped."""
        items = self._batch_get(_org_pk(organization_uuid), _USER_PREFIX, user_uuids)
        return [_person_from_item(item) for item in items]

    def existing_people(self, organization_uuid: str, user_uuids: list[str]) -> set[str]:
        """Which of these ids are people of the organization. Reads only the ``uuid``
        attribute: the same read units, a fraction of the bytes on the wire."""
        items = self._batch_get(_org_pk(organization_uuid), _USER_PREFIX, user_uuids, only_uuid=True)
        return {item["uuid"] for item in items}

    def _batch_get(self, pk: str, sk_prefix: str, ids: list[str], only_uuid: bool = False) -> list[dict[str, Any]]:
        """Items ``pk``/``sk_prefix + id`` by BatchGetItem (100 keys a request), in the order
        of ``ids``, duplicates once; absent ones skipped."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _BATCH_GET_LIMIT):
            keys = [_key(pk, sk_prefix + identifier) for identifier in unique[start : start + _BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            if only_uuid:
                request[self._table]["ProjectionExpression"] = "#uuid"
                request[self._table]["ExpressionAttributeNames"] = {"#uuid": "uuid"}
            while request:
                answer = self._client.batch_get_item(RequestItems=request)
                for raw in answer.get("Responses", {}).get(self._table, []):
                    item = _deserialize(raw)
                    found[item["uuid"]] = item
                request = answer.get("UnprocessedKeys") or {}
        return [found[identifier] for identifier in unique if identifier in found]

    def find_person_by_user_name(self, organization_uuid: str, user_name: str) -> Person | None:
        claim = self._get(_org_pk(organization_uuid), _USER_NAME_PREFIX + user_name_key(user_name))
        if claim is None:
            return None
        return self.get_person(organization_uuid, claim["userUuid"])

    def find_people_by_external_id(self, organization_uuid: str, external_id: str) -> list[Person]:
        return self._people_from_lookup(organization_uuid, _EXTERNAL_ID_PREFIX + _lookup_digest(external_id) + "#")

    def find_people_by_email(self, organization_uuid: str, email: str) -> list[Person]:
        return self._people_from_lookup(organization_uuid, _EMAIL_PREFIX + _lookup_digest(user_name_key(email)) + "#")

    def _people_from_lookup(self, organization_uuid: str, prefix: str) -> list[Person]:
        lookups = self._query_prefix(_org_pk(organization_uuid), prefix)
        if not lookups:
            return []
        return self.get_people(organization_uuid, [item["userUuid"] for item in lookups])

    def count_people(self, organization_uuid: str) -> int:
        return self._organization_count(organization_uuid, "userCount")

    def _organization_count(self, organization_uuid: str, name: str) -> int:
        item = self._get(_org_pk(organization_uuid), _ORG_SK)
        return 0 if item is None else int(item.get(name, 0))

    def scan_people(self) -> Iterator[Person]:
        """Every person of every organization, by a paged Scan of the table. For one-off
        maintenance (``scim-admin upgrade``), never for a request: its cost is the table's size."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "entity = :user",
            "ExpressionAttributeValues": {":user": {"S": "User"}},
            "ConsistentRead": True,
        }
        while True:
            answer = self._client.scan(**request)
            for item in answer.get("Items", []):
                yield _person_from_item(_deserialize(item))
            if "LastEvaluatedKey" not in answer:
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def list_people(self, organization_uuid: str, limit: int, after: str | None = None) -> Page[Person]:
        """People in id order, ``limit`` at most, starting after the person ``after``."""
        items, next_after = self._list_prefix(organization_uuid, _USER_PREFIX, limit, after)
        return Page([_person_from_item(item) for item in items], next_after)

    def _list_prefix(
        self, organization_uuid: str, prefix: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Items ``prefix + id`` of the organization in id order, ``limit`` at most, starting
        after the id ``after``; the second value resumes the listing (None at its end)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": _org_pk(organization_uuid)}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        if after is not None:
            request["ExclusiveStartKey"] = _key(_org_pk(organization_uuid), prefix + after)
        items: list[dict[str, Any]] = []
        while len(items) < limit:
            request["Limit"] = limit - len(items)
            answer = self._client.query(**request)
            items.extend(_deserialize(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return items, None
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return items, items[-1]["uuid"]

    # ------------------------------------------------------------------------ groups
    # A group is one item plus its displayName claim (the uniqueness rule, like userName's)
    # and its externalId lookup, written in one transaction with the organization's
    # groupCount. Members are not in it: see the memberships below.
    def _group_item(self, group: Group) -> dict[str, Any]:
        return {
            "PK": _org_pk(group.organization_uuid),
            "SK": _GROUP_PREFIX + group.uuid,
            "entity": "Group",
            "uuid": group.uuid,
            "organizationUuid": group.organization_uuid,
            "displayName": group.display_name,
            "displayNameKey": user_name_key(group.display_name),
            "externalId": group.external_id,
            "version": group.version,
            "createdAt": format_timestamp(group.created_at),
            "lastModified": format_timestamp(group.last_modified),
            "resource": json.dumps(group.resource, separators=(",", ":")),
        }

    def _group_name_sk(self, display_name: str) -> str:
        return _GROUP_NAME_PREFIX + user_name_key(display_name)

    def _group_name_claim(self, group: Group) -> dict[str, Any]:
        item = {
            "PK": _org_pk(group.organization_uuid),
            "SK": self._group_name_sk(group.display_name),
            "entity": "GroupNameClaim",
            "groupUuid": group.uuid,
        }
        return self._put(item)

    def _group_external_id_sk(self, group: Group) -> str | None:
        if not group.external_id:
            return None
        return f"{_GROUP_EXTERNAL_ID_PREFIX}{_lookup_digest(group.external_id)}#{group.uuid}"

    def _group_external_id_put(self, group: Group, sort_key: str) -> dict[str, Any]:
        item = {
            "PK": _org_pk(group.organization_uuid),
            "SK": sort_key,
            "entity": "GroupLookup",
            "groupUuid": group.uuid,
        }
        return {"Put": {"TableName": self._table, "Item": _serialize(item)}}

    def create_group(self, group: Group) -> None:
        operations = [self._put(self._group_item(group)), self._group_name_claim(group)]
        external_id_sk = self._group_external_id_sk(group)
        if external_id_sk is not None:
            operations.append(self._group_external_id_put(group, external_id_sk))
        operations.append(self._count_change(group.organization_uuid, "groupCount", 1))
        self._transact_with_claim(operations, DisplayNameTaken(group.display_name), group.uuid)

    def replace_group(self, previous: Group, updated: Group) -> None:
        """Write ``updated`` if the stored group is still at ``previous.version``; a rename
        swaps the displayName claim in the same transaction."""
        group_put = self._put(self._group_item(updated), "version = :expected")
        group_put["Put"]["ExpressionAttributeValues"] = {":expected": {"N": str(previous.version)}}
        operations: list[dict[str, Any]] = [group_put]
        organization = previous.organization_uuid
        if user_name_key(previous.display_name) != user_name_key(updated.display_name):
            operations.append(self._group_name_claim(updated))
            operations.append(self._plain_delete(organization, self._group_name_sk(previous.display_name)))
        old_sk, new_sk = self._group_external_id_sk(previous), self._group_external_id_sk(updated)
        if old_sk != new_sk:
            if new_sk is not None:
                operations.append(self._group_external_id_put(updated, new_sk))
            if old_sk is not None:
                operations.append(self._plain_delete(organization, old_sk))
        self._transact_with_claim(operations, DisplayNameTaken(updated.display_name), updated.uuid)

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
            answer = self._client.update_item(
                TableName=self._table,
                Key=_key(_org_pk(organization_uuid), _GROUP_PREFIX + group_uuid),
                UpdateExpression="SET version = version + :one, lastModified = :now",
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            if expected_version is None:
                return None
            raise VersionConflict(group_uuid) from error
        return _group_from_item(_deserialize(answer["Attributes"]))

    def delete_group(self, group: Group) -> None:
        """Delete the group, its claim and lookup (condition: the version read). Its
        memberships are deleted afterwards by the service; any left behind belong to no
        group and are never read."""
        organization = group.organization_uuid
        operations = [
            {
                "Delete": {
                    "TableName": self._table,
                    "Key": _key(_org_pk(organization), _GROUP_PREFIX + group.uuid),
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeValues": {":expected": {"N": str(group.version)}},
                }
            },
            self._plain_delete(organization, self._group_name_sk(group.display_name)),
            self._count_change(organization, "groupCount", -1),
        ]
        external_id_sk = self._group_external_id_sk(group)
        if external_id_sk is not None:
            operations.append(self._plain_delete(organization, external_id_sk))
        try:
            self._transact(operations)
        except ClientError as error:
            if _is_condition_failure(error):
                raise VersionConflict(group.uuid) from error
            raise

    def get_group(self, organization_uuid: str, group_uuid: str) -> Group | None:
        item = self._get(_org_pk(organization_uuid), _GROUP_PREFIX + group_uuid)
        return None if item is None else _group_from_item(item)

    def get_groups(self, organization_uuid: str, group_uuids: list[str]) -> list[Group]:
        items = self._batch_get(_org_pk(organization_uuid), _GROUP_PREFIX, group_uuids)
        return [_group_from_item(item) for item in items]

    def find_group_by_display_name(self, organization_uuid: str, display_name: str) -> Group | None:
        claim = self._get(_org_pk(organization_uuid), self._group_name_sk(display_name))
        return None if claim is None else self.get_group(organization_uuid, claim["groupUuid"])

    def find_groups_by_external_id(self, organization_uuid: str, external_id: str) -> list[Group]:
        prefix = f"{_GROUP_EXTERNAL_ID_PREFIX}{_lookup_digest(external_id)}#"
        lookups = self._query_prefix(_org_pk(organization_uuid), prefix)
        return self.get_groups(organization_uuid, [item["groupUuid"] for item in lookups]) if lookups else []

    def count_groups(self, organization_uuid: str) -> int:
        return self._organization_count(organization_uuid, "groupCount")

    def list_groups(self, organization_uuid: str, limit: int, after: str | None = None) -> Page[Group]:
        items, next_after = self._list_prefix(organization_uuid, _GROUP_PREFIX, limit, after)
        return Page([_group_from_item(item) for item in items], next_after)

    # ------------------------------------------------------------------- memberships
    # One item per (group, user): PK ORG#<org>#GROUP#<group>, SK MEMBER#<user>, and on GSI1
    # ORG#<org>#USER#<user> / GROUP#<group>. Writing one is a put, removing one a delete:
    # both idempotent, so a retried request converges and concurrent requests cannot lose
    # each other's members. Written with BatchWriteItem, 25 a request.
    def _membership_item(self, organization_uuid: str, group_uuid: str, user_uuid: str) -> dict[str, Any]:
        return {
            "PK": _members_pk(organization_uuid, group_uuid),
            "SK": _MEMBER_PREFIX + user_uuid,
            "GSI1PK": _user_groups_pk(organization_uuid, user_uuid),
            "GSI1SK": _GROUP_PREFIX + group_uuid,
            "entity": "Membership",
            "groupUuid": group_uuid,
            "userUuid": user_uuid,
        }

    def add_members(self, organization_uuid: str, group_uuid: str, user_uuids: list[str]) -> None:
        self._batch_write(
            [
                {"PutRequest": {"Item": _serialize(self._membership_item(organization_uuid, group_uuid, user))}}
                for user in dict.fromkeys(user_uuids)
            ]
        )

    def remove_members(self, organization_uuid: str, group_uuid: str, user_uuids: list[str]) -> None:
        pk = _members_pk(organization_uuid, group_uuid)
        self._batch_write(
            [{"DeleteRequest": {"Key": _key(pk, _MEMBER_PREFIX + user)}} for user in dict.fromkeys(user_uuids)]
        )

    def delete_memberships_of_user(self, organization_uuid: str, user_uuid: str) -> list[str]:
        """Delete every membership of a (deleted) user; the ids of the groups it was in."""
        group_uuids = self.group_ids_of_user(organization_uuid, user_uuid)
        self._batch_write(
            [
                {"DeleteRequest": {"Key": _key(_members_pk(organization_uuid, group), _MEMBER_PREFIX + user_uuid)}}
                for group in group_uuids
            ]
        )
        return group_uuids

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """Write in BatchWriteItem requests of 25, up to _BATCH_WRITERS at a time: the
        4,000 requests that delete a 100,000-member group's memberships then take a few
        seconds instead of about a minute (longer than the function's timeout)."""
        chunks = [requests[start : start + _BATCH_WRITE_LIMIT] for start in range(0, len(requests), _BATCH_WRITE_LIMIT)]
        if len(chunks) <= 1:
            for chunk in chunks:
                self._write_batch(chunk)
            return
        with ThreadPoolExecutor(max_workers=min(_BATCH_WRITERS, len(chunks))) as pool:
            for _ in pool.map(self._write_batch, chunks):  # re-raises a batch's failure here
                pass

    def _write_batch(self, chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self._table: chunk}
        for attempt in range(_BATCH_WRITE_ATTEMPTS):
            pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(min(0.05 * 2**attempt, 1.0))  # DynamoDB's advice: back off, then resend
        raise StoreBusy("DynamoDB left batched writes unprocessed after retries")

    def member_ids(self, organization_uuid: str, group_uuid: str, limit: int | None = None) -> list[str]:
        """The ids of the group's members in id order; at most ``limit`` when given, so
        a caller can tell "more than n" without reading a 100,000-member group."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": _members_pk(organization_uuid, group_uuid)},
                ":prefix": {"S": _MEMBER_PREFIX},
            },
            "ProjectionExpression": "userUuid",
            "ConsistentRead": True,
        }
        ids: list[str] = []
        while limit is None or len(ids) < limit:
            if limit is not None:
                request["Limit"] = limit - len(ids)
            answer = self._client.query(**request)
            ids.extend(item["userUuid"]["S"] for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                break
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return ids

    def group_ids_of_user(self, organization_uuid: str, user_uuid: str) -> list[str]:
        """The groups the user is a member of, from GSI1 (eventually consistent, as every
        global index is)."""
        request: dict[str, Any] = {
            "TableName": self._table,
            "IndexName": "GSI1",
            "KeyConditionExpression": "GSI1PK = :pk AND begins_with(GSI1SK, :prefix)",
            "ExpressionAttributeValues": {
                ":pk": {"S": _user_groups_pk(organization_uuid, user_uuid)},
                ":prefix": {"S": _GROUP_PREFIX},
            },
            "ProjectionExpression": "groupUuid",
        }
        ids: list[str] = []
        while True:
            answer = self._client.query(**request)
            ids.extend(item["groupUuid"]["S"] for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return ids
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    # -------------------------------------------------------------------- credentials
    def get_credential(self, secret_digest: str) -> Credential | None:
        item = self._get(_credential_pk(secret_digest), _CREDENTIAL_SK)
        if item is None:
            return None
        return Credential(
            kind=CredentialKind(item["kind"]),
            organization_uuid=item["organizationUuid"],
            owner_uuid=item["ownerUuid"],
            user_uuid=item.get("userUuid"),
            expires_at=_optional_time(item, "expiresAt"),
            last_used_at=_optional_time(item, "lastUsedAt"),
        )

    def record_credential_use(
        self, secret_digest: str, credential: Credential, used_at: datetime, unless_used_since: datetime
    ) -> bool:
        """Stamp lastUsedAt on the credential and its metadata in one conditional transaction.

        The condition on the credential item makes concurrent requests of the same minute race
        for one write: the losers are cancelled, which is the point, so it returns False."""
        metadata_prefix = _SCIM_TOKEN_PREFIX if credential.kind is CredentialKind.SCIM_TOKEN else _API_KEY_PREFIX
        stamp = {":now": {"S": format_timestamp(used_at)}}
        try:
            self._transact(
                [
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _key(_credential_pk(secret_digest), _CREDENTIAL_SK),
                            "UpdateExpression": "SET lastUsedAt = :now",
                            "ConditionExpression": "attribute_exists(PK) AND "
                            "(attribute_not_exists(lastUsedAt) OR lastUsedAt <= :since)",
                            "ExpressionAttributeValues": {
                                **stamp,
                                ":since": {"S": format_timestamp(unless_used_since)},
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": _key(_org_pk(credential.organization_uuid), metadata_prefix + credential.owner_uuid),
                            "UpdateExpression": "SET lastUsedAt = :now",
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeValues": stamp,
                        }
                    },
                ]
            )
        except ClientError as error:
            if _is_condition_failure(error):
                return False
            raise
        return True

    def _credential_item(
        self,
        secret_digest: str,
        kind: CredentialKind,
        organization_uuid: str,
        owner_uuid: str,
        expires_at: datetime | None,
        user_uuid: str | None = None,
    ) -> dict[str, Any]:
        return {
            "PK": _credential_pk(secret_digest),
            "SK": _CREDENTIAL_SK,
            "entity": "Credential",
            "kind": kind.value,
            "organizationUuid": organization_uuid,
            "ownerUuid": owner_uuid,
            "userUuid": user_uuid,
            "expiresAt": format_optional(expires_at),
        }

    def _delete_credential(self, secret_digest: str) -> dict[str, Any]:
        return {
            "Delete": {
                "TableName": self._table,
                "Key": _key(_credential_pk(secret_digest), _CREDENTIAL_SK),
            }
        }

    def _retire_credential(
        self, secret_digest: str, organization_uuid: str, owner_uuid: str, retired_at: datetime, keep_until: datetime
    ) -> dict[str, Any]:
        """Replace a SCIM token's credential by a tombstone under the same key: authentication
        still finds it in its one GetItem, refuses it (kind ``retired``), and can tell the
        activity log which organization and token the refused request came with. TTL removes
        it with the log entries it explains."""
        item = {
            "PK": _credential_pk(secret_digest),
            "SK": _CREDENTIAL_SK,
            "entity": "Credential",
            "kind": CredentialKind.RETIRED.value,
            "organizationUuid": organization_uuid,
            "ownerUuid": owner_uuid,
            "retiredAt": format_timestamp(retired_at),
            "expiresAtEpoch": _epoch(keep_until),
        }
        return {"Put": {"TableName": self._table, "Item": _serialize(item)}}

    # ------------------------------------------------------------- SCIM access tokens
    def create_scim_token(self, token: ScimTokenMetadata, secret_digest: str) -> None:
        metadata = {
            "PK": _org_pk(token.organization_uuid),
            "SK": _SCIM_TOKEN_PREFIX + token.uuid,
            "entity": "ScimToken",
            "uuid": token.uuid,
            "organizationUuid": token.organization_uuid,
            "description": token.description,
            "createdAt": format_timestamp(token.created_at),
            "expiresAt": format_optional(token.expires_at),
            "createdByUserUuid": token.created_by_user_uuid,
            "credentialDigest": secret_digest,
        }
        credential = self._credential_item(
            secret_digest, CredentialKind.SCIM_TOKEN, token.organization_uuid, token.uuid, token.expires_at
        )
        self._transact([self._put(metadata), self._put(credential)])

    def list_scim_tokens(self, organization_uuid: str) -> list[ScimTokenMetadata]:
        items = self._query_prefix(_org_pk(organization_uuid), _SCIM_TOKEN_PREFIX)
        tokens = [_scim_token_from_item(item) for item in items]
        return sorted(tokens, key=lambda token: (token.created_at, token.uuid))

    def get_scim_token(self, organization_uuid: str, token_uuid: str) -> ScimTokenMetadata | None:
        item = self._get(_org_pk(organization_uuid), _SCIM_TOKEN_PREFIX + token_uuid)
        return None if item is None else _scim_token_from_item(item)

    def rotate_scim_token(
        self,
        token: ScimTokenMetadata,
        new_digest: str,
        new_expires_at: datetime,
        rotated_at: datetime,
        unless_rotated_since: datetime,
        retire_until: datetime,
    ) -> ScimTokenMetadata:
        """Swap the token's secret in one transaction: the metadata update carries the
        once-per-hour rule and the expected old digest as its condition, so of N concurrent
        rotations exactly one commits and the old secret stops working at that instant."""
        key = _key(_org_pk(token.organization_uuid), _SCIM_TOKEN_PREFIX + token.uuid)
        credential = self._credential_item(
            new_digest, CredentialKind.SCIM_TOKEN, token.organization_uuid, token.uuid, new_expires_at
        )
        try:
            self._transact(
                [
                    {
                        "Update": {
                            "TableName": self._table,
                            "Key": key,
                            "UpdateExpression": "SET credentialDigest = :new, expiresAt = :expires, rotatedAt = :now",
                            "ConditionExpression": "credentialDigest = :old AND "
                            "(attribute_not_exists(rotatedAt) OR rotatedAt <= :since)",
                            "ExpressionAttributeValues": {
                                ":new": {"S": new_digest},
                                ":old": {"S": token.credential_digest or ""},
                                ":expires": {"S": format_timestamp(new_expires_at)},
                                ":now": {"S": format_timestamp(rotated_at)},
                                ":since": {"S": format_timestamp(unless_rotated_since)},
                            },
                            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                        }
                    },
                    self._retire_credential(
                        token.credential_digest or "", token.organization_uuid, token.uuid, rotated_at, retire_until
                    ),
                    self._put(credential),
                ]
            )
        except ClientError as error:
            if not _is_condition_failure(error):
                raise
            reasons = error.response.get("CancellationReasons", [])
            old = reasons[0].get("Item") if reasons else None
            raise RotationConflict(None if old is None else _scim_token_from_item(_deserialize(old))) from error
        return ScimTokenMetadata(
            uuid=token.uuid,
            organization_uuid=token.organization_uuid,
            description=token.description,
            created_at=token.created_at,
            expires_at=new_expires_at,
            last_used_at=token.last_used_at,
            rotated_at=rotated_at,
            created_by_user_uuid=token.created_by_user_uuid,
            credential_digest=new_digest,
        )

    def delete_scim_token(
        self, organization_uuid: str, token_uuid: str, revoked_at: datetime, retire_until: datetime
    ) -> bool:
        def tombstone(secret_digest: str) -> dict[str, Any]:
            return self._retire_credential(secret_digest, organization_uuid, token_uuid, revoked_at, retire_until)

        return self._delete_with_credential(organization_uuid, _SCIM_TOKEN_PREFIX + token_uuid, tombstone)

    def _delete_with_credential(self, organization_uuid: str, sort_key: str, replacement: Any = None) -> bool:
        """Delete a token's or key's metadata and its credential together; the condition on the
        digest makes a concurrent rotation and revocation unable to leave a live credential.
        ``replacement(digest)``, when given, is the operation that takes the credential's place
        (a SCIM token's tombstone) instead of deleting it."""
        item = self._get(_org_pk(organization_uuid), sort_key)
        if item is None:
            return False
        credential_operation = (
            self._delete_credential(item["credentialDigest"])
            if replacement is None
            else replacement(item["credentialDigest"])
        )
        try:
            self._transact(
                [
                    {
                        "Delete": {
                            "TableName": self._table,
                            "Key": _key(_org_pk(organization_uuid), sort_key),
                            "ConditionExpression": "credentialDigest = :digest",
                            "ExpressionAttributeValues": {":digest": {"S": item["credentialDigest"]}},
                        }
                    },
                    credential_operation,
                ]
            )
        except ClientError as error:
            if _is_condition_failure(error):
                # Rotated or deleted meanwhile: look again and delete what is there now.
                return self._delete_with_credential(organization_uuid, sort_key, replacement)
            raise
        return True

    # ---------------------------------------------------------------- personal API keys
    def create_api_key(self, key: ApiKeyMetadata, secret_digest: str) -> None:
        metadata = {
            "PK": _org_pk(key.organization_uuid),
            "SK": _API_KEY_PREFIX + key.uuid,
            "entity": "ApiKey",
            "uuid": key.uuid,
            "organizationUuid": key.organization_uuid,
            "userUuid": key.user_uuid,
            "description": key.description,
            "createdAt": format_timestamp(key.created_at),
            "expiresAt": format_optional(key.expires_at),
            "credentialDigest": secret_digest,
        }
        credential = self._credential_item(
            secret_digest,
            CredentialKind.API_KEY,
            key.organization_uuid,
            key.uuid,
            key.expires_at,
            key.user_uuid,
        )
        self._transact([self._put(metadata), self._put(credential)])

    def list_api_keys(self, organization_uuid: str) -> list[ApiKeyMetadata]:
        items = self._query_prefix(_org_pk(organization_uuid), _API_KEY_PREFIX)
        keys = [_api_key_from_item(item) for item in items]
        return sorted(keys, key=lambda key: (key.created_at, key.uuid))

    def delete_api_key(self, organization_uuid: str, key_uuid: str) -> bool:
        return self._delete_with_credential(organization_uuid, _API_KEY_PREFIX + key_uuid)

    # ------------------------------------------------------------------- activity log
    def put_activity(self, entry: ActivityEntry, expires_at: datetime) -> None:
        """One PutItem per SCIM request, on the short-timeout client; TTL ends it."""
        item = {
            "PK": _activity_pk(entry.organization_uuid),
            "SK": entry.id,
            "entity": "Activity",
            "occurredAt": format_timestamp(entry.occurred_at),
            "tokenUuid": entry.token_uuid,
            "method": entry.method,
            "path": entry.path,
            "action": entry.action,
            "status": entry.status,
            "targetId": entry.target_id,
            "targetName": entry.target_name,
            "scimType": entry.scim_type,
            "detail": entry.detail,
            "requestId": entry.request_id,
            "durationMs": entry.duration_ms,
            "expiresAtEpoch": _epoch(expires_at),
        }
        self._activity_client.put_item(TableName=self._table, Item=_serialize(item))

    def list_activity(
        self,
        organization_uuid: str,
        limit: int,
        after: str | None = None,
        status_range: tuple[int, int] | None = None,
        action: str | None = None,
    ) -> ActivityPage:
        """Newest first, at most ``limit`` entries, resuming after the sort key ``after``.

        Filters are a FilterExpression: DynamoDB reads the entries they drop too, so a page
        may come back short (even empty) with a cursor; it is never wrong, because the cursor
        is the last *evaluated* key."""
        pk = _activity_pk(organization_uuid)
        conditions: list[str] = []
        values: dict[str, Any] = {":pk": {"S": pk}}
        names: dict[str, str] = {}
        if status_range is not None:
            conditions.append("#status BETWEEN :low AND :high")
            names["#status"] = "status"
            values[":low"] = {"N": str(status_range[0])}
            values[":high"] = {"N": str(status_range[1])}
        if action is not None:
            conditions.append("#action = :action")
            names["#action"] = "action"
            values[":action"] = {"S": action}
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "PK = :pk",
            "ExpressionAttributeValues": values,
            "ScanIndexForward": False,
        }
        if conditions:
            request["FilterExpression"] = " AND ".join(conditions)
            request["ExpressionAttributeNames"] = names
        if after is not None:
            request["ExclusiveStartKey"] = _key(pk, after)
        entries: list[ActivityEntry] = []
        for _ in range(_ACTIVITY_MAX_QUERIES):
            request["Limit"] = limit - len(entries)
            answer = self._client.query(**request)
            entries.extend(_activity_from_item(organization_uuid, _deserialize(item)) for item in answer["Items"])
            last = answer.get("LastEvaluatedKey")
            if last is None:
                return ActivityPage(entries, None)
            if len(entries) >= limit:
                break
            request["ExclusiveStartKey"] = last
        return ActivityPage(entries, last["SK"]["S"])


def _activity_from_item(organization_uuid: str, item: dict[str, Any]) -> ActivityEntry:
    return ActivityEntry(
        id=item["SK"],
        organization_uuid=organization_uuid,
        occurred_at=parse_timestamp(item["occurredAt"]),
        token_uuid=item.get("tokenUuid"),
        method=item["method"],
        path=item["path"],
        action=item["action"],
        status=int(item["status"]),
        target_id=item.get("targetId"),
        target_name=item.get("targetName"),
        scim_type=item.get("scimType"),
        detail=item.get("detail"),
        request_id=item.get("requestId"),
        duration_ms=None if item.get("durationMs") is None else int(item["durationMs"]),
    )


def _person_from_item(item: dict[str, Any]) -> Person:
    return Person(
        uuid=item["uuid"],
        organization_uuid=item["organizationUuid"],
        user_name=item["userName"],
        active=bool(item["active"]),
        role=OrganizationRole(item["role"]),
        created_at=parse_timestamp(item["createdAt"]),
        last_modified=parse_timestamp(item["lastModified"]),
        version=int(item["version"]),
        resource=json.loads(item["resource"]),
        external_id=item.get("externalId"),
    )


def _group_from_item(item: dict[str, Any]) -> Group:
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


def _scim_token_from_item(item: dict[str, Any]) -> ScimTokenMetadata:
    return ScimTokenMetadata(
        uuid=item["uuid"],
        organization_uuid=item["organizationUuid"],
        description=item["description"],
        created_at=parse_timestamp(item["createdAt"]),
        expires_at=_optional_time(item, "expiresAt"),
        last_used_at=_optional_time(item, "lastUsedAt"),
        rotated_at=_optional_time(item, "rotatedAt"),
        created_by_user_uuid=item.get("createdByUserUuid"),
        credential_digest=item.get("credentialDigest"),
    )


def _api_key_from_item(item: dict[str, Any]) -> ApiKeyMetadata:
    return ApiKeyMetadata(
        uuid=item["uuid"],
        organization_uuid=item["organizationUuid"],
        user_uuid=item["userUuid"],
        description=item["description"],
        created_at=parse_timestamp(item["createdAt"]),
        expires_at=_optional_time(item, "expiresAt"),
        last_used_at=_optional_time(item, "lastUsedAt"),
        credential_digest=item.get("credentialDigest"),
    )
