"""The activity log: one item per SCIM request or admin action in its organization's log
partition, ``ORG#<org>#ACTIVITY`` / ``<entry id>`` (time-ordered), removed by TTL after the
retention. The activity ingest writes them, in batches, from the requests' activity records
(and from scim-admin's, which it hands over directly).

One partition per organization: its writes are bounded by the API's throttle (200 requests/s
per stage), well under a partition's 1,000 writes/s (docs/data-model.md).

Admin actions (a few a month, among up to millions of SCIM requests) are also in a sparse index,
GSI1 ``ORG#<org>#ADMIN_ACTIONS`` / ``<entry id>``: reading them is one Query of just them,
where a filter over the log would read every SCIM entry of the retention to find them."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from scim_provisioning.activity_annotation import ADMIN_ACTIONS
from scim_provisioning.models import ActivityEntry, ActivityPage
from scim_provisioning.repository.items import Item, deserialize, epoch, key, serialize
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

# One activity-log page may evaluate this many DynamoDB pages (≤ 1 MB each) when a filter
# drops most items; the page is then short, and its cursor resumes where evaluation stopped.
_MAX_QUERIES_PER_PAGE = 5


def _log_pk(organization_uuid: str) -> str:
    return f"ORG#{organization_uuid}#ACTIVITY"


def _admin_actions_pk(organization_uuid: str) -> str:
    """The GSI1 partition of the organization's admin actions (sort key: the entry's id)."""
    return f"ORG#{organization_uuid}#ADMIN_ACTIONS"


def _entry_from_item(organization_uuid: str, item: Item) -> ActivityEntry:
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
        target_user_uuid=item.get("targetUserUuid"),
        api_key_uuid=item.get("apiKeyUuid"),
        actor_user_uuid=item.get("actorUserUuid"),
        operator=item.get("operator"),
        scim_type=item.get("scimType"),
        detail=item.get("detail"),
        request_id=item.get("requestId"),
        duration_ms=None if item.get("durationMs") is None else int(item["durationMs"]),
    )


def _item(entry: ActivityEntry, expires_at: datetime) -> Item:
    item: Item = {
        "PK": _log_pk(entry.organization_uuid),
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
        "targetUserUuid": entry.target_user_uuid,
        "apiKeyUuid": entry.api_key_uuid,
        "actorUserUuid": entry.actor_user_uuid,
        "operator": entry.operator,
        "scimType": entry.scim_type,
        "detail": entry.detail,
        "requestId": entry.request_id,
        "durationMs": entry.duration_ms,
        "expiresAtEpoch": epoch(expires_at),
    }
    if entry.action in ADMIN_ACTIONS:
        item |= {"GSI1PK": _admin_actions_pk(entry.organization_uuid), "GSI1SK": entry.id}
    return item


class DynamoDBActivityStore:
    """Implements ``ActivityStore``."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def put_activity_entries(self, entries: list[tuple[ActivityEntry, datetime]]) -> None:
        """BatchWriteItem, 25 entries a request. Each entry's key is its id, chosen by the
        request: a record delivered twice overwrites its entry with the same values. The same
        id twice in one batch is written once (DynamoDB refuses a batch naming a key twice)."""
        items = {entry.id: _item(entry, expires_at) for entry, expires_at in entries}
        self._table.batch_write([{"PutRequest": {"Item": serialize(item)}} for item in items.values()])

    def list_activity(
        self,
        organization_uuid: str,
        limit: int,
        after: str | None = None,
        status_range: tuple[int, int] | None = None,
        actions: Collection[str] | None = None,
    ) -> ActivityPage:
        """Newest first, at most ``limit`` entries, resuming after the sort key ``after``; only
        those whose status is in ``status_range`` and whose action is one of ``actions``, when
        given (one action, or a category: the admin actions are five of them).

        Filters are a FilterExpression: DynamoDB reads the entries they drop too, so a page
        may come back short (even empty) with a cursor; it is never wrong, because the cursor
        is the last *evaluated* key. Admin actions alone are read from their index, which
        holds nothing else (the entry's id is its sort key there too, so the cursor is the same)."""
        log_pk = _log_pk(organization_uuid)
        request: dict[str, Any] = {"KeyConditionExpression": "PK = :pk", "ScanIndexForward": False}
        values: dict[str, Any] = {":pk": {"S": log_pk}}
        index_key: dict[str, Any] = {}  # the index's part of the cursor's start key
        if actions is not None and set(actions) <= ADMIN_ACTIONS:
            index_pk = _admin_actions_pk(organization_uuid)
            request |= {"IndexName": "GSI1", "KeyConditionExpression": "GSI1PK = :pk"}
            values[":pk"] = {"S": index_pk}
            index_key = {"GSI1PK": {"S": index_pk}, "GSI1SK": {"S": after}}
            if set(actions) == ADMIN_ACTIONS:
                actions = None  # the index holds exactly these: nothing to filter
        conditions: list[str] = []
        names: dict[str, str] = {}
        if status_range is not None:
            conditions.append("#status BETWEEN :low AND :high")
            names["#status"] = "status"
            values[":low"] = {"N": str(status_range[0])}
            values[":high"] = {"N": str(status_range[1])}
        if actions is not None:
            chosen = {f":action{index}": {"S": action} for index, action in enumerate(sorted(actions))}
            conditions.append(f"#action IN ({', '.join(chosen)})")
            names["#action"] = "action"
            values.update(chosen)
        request["ExpressionAttributeValues"] = values
        if conditions:
            request["FilterExpression"] = " AND ".join(conditions)
            request["ExpressionAttributeNames"] = names
        if after is not None:
            request["ExclusiveStartKey"] = key(log_pk, after) | index_key
        entries: list[ActivityEntry] = []
        for _ in range(_MAX_QUERIES_PER_PAGE):
            request["Limit"] = limit - len(entries)
            answer = self._table.query_page(request)
            entries.extend(_entry_from_item(organization_uuid, deserialize(item)) for item in answer["Items"])
            last = answer.get("LastEvaluatedKey")
            if last is None:
                return ActivityPage(entries, None)
            request["ExclusiveStartKey"] = last
            if len(entries) >= limit:
                break
        return ActivityPage(entries, request["ExclusiveStartKey"]["SK"]["S"])
