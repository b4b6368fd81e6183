"""The table core: the one place that sends requests to DynamoDB.

Every store (``organizations``, ``people``, ``groups``, ``memberships``, ``credentials``,
``activity``) builds its items and keys (``items.py``) and hands its requests to a ``Table``,
which adds the table name, (de)serializes, pages, batches, and turns DynamoDB's errors into two
kinds (``failures.py``): a failed condition (``ConditionFailed``, which each store translates
into what it means for its aggregate) and a refusal for capacity that outlasted botocore's
retries (the domain error ``ServiceUnavailable``, a 503 for the client to retry). Nothing else
in the service imports boto3 or botocore.

Single-table design; ``docs/data-model.md`` lists every item, key and access pattern with its
cost. Rules that must hold under concurrency (unique userName, once-per-hour rotation, one
write per minute for last-used) are DynamoDB condition expressions in the stores, never a read
followed by a write.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Protocol, cast

import boto3
from botocore import xform_name
from botocore.config import Config

from scim_provisioning.config import Settings
from scim_provisioning.errors import ServiceUnavailable
from scim_provisioning.observability import tracer
from scim_provisioning.repository.concurrency import MAX_IN_FLIGHT, side_by_side
from scim_provisioning.repository.failures import ConditionFailed, translated_errors
from scim_provisioning.repository.items import Item, Operation, deserialize, key, key_fits, serialize
from scim_provisioning.repository.protocols import VersionConflict

# Standard retry mode: exponential backoff with jitter on throttling and 5xx, a retry quota so
# a struggling table is not hammered; ``max_attempts`` counts the retries, so a request makes
# up to five attempts, well inside API Gateway's 29 s. One
# kept connection per request the service may have in flight (``concurrency.MAX_IN_FLIGHT``):
# with botocore's default of 10, a fan-out of 100 queries opens 90 more and throws them away
# afterwards, so every fan-out pays 90 TCP and TLS handshakes again.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 4},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
    max_pool_connections=MAX_IN_FLIGHT,
)

# BatchGetItem takes at most 100 keys per request (moto does not enforce it; we do).
BATCH_GET_LIMIT = 100
# BatchWriteItem takes at most 25 requests (moto accepts 26; real DynamoDB refuses).
BATCH_WRITE_LIMIT = 25
# How often the unprocessed part of a BatchWriteItem (or BatchGetItem) is resent (with
# backoff) before giving up; throttling of the call itself is retried by botocore's standard mode.
BATCH_WRITE_ATTEMPTS = 8
# BatchWriteItem requests in flight at once: a 1,000-member change (40 requests of 25) in one
# round trip; a 100,000-member group's deletion in 100 rounds. 1,000 writes at once are about
# one second of a partition's write capacity, which DynamoDB's burst capacity absorbs.
BATCH_WRITERS = 40
# A transaction cancelled only because another one held one of its items (TransactionConflict,
# which botocore does not retry) is sent again this many times in all, with a short jitter.
TRANSACTION_ATTEMPTS = 3


def create_dynamodb_client(settings: Settings, config: Config = CLIENT_CONFIG) -> Any:
    return boto3.client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.dynamodb_endpoint_url,
        config=config,
    )


class _AwsSubsegment(Protocol):
    """What the table core records on a subsegment beyond Powertools' ``BaseSegment``: the AWS
    fields and the HTTP status of an X-Ray subsegment (the tracer's provider is X-Ray's recorder)."""

    def set_aws(self, aws_meta: dict[str, Any]) -> None: ...
    def apply_status_code(self, status_code: int) -> None: ...


# ----------------------------------------------------------------------------- table
class Table:
    """One DynamoDB table through one client: requests by key, by query, in batches and in
    transactions. ``client`` is public for what measures or injects faults (tests, benchmarks)."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name

    def _send(self, operation: str, **request: Any) -> dict[str, Any]:
        """Send one request to DynamoDB (every request of the service goes through here) and
        return its answer. The request is one X-Ray subsegment named ``DynamoDB`` in the ``aws``
        namespace, which X-Ray draws as the table's node, with the operation, the table and,
        once answered, DynamoDB's request id and botocore's retries. A condition that did not
        hold is an answer DynamoDB gives (a 400), so its subsegment is marked an error, not a
        fault; any other failure is recorded on it by the tracer. Failures reach the stores
        translated (``failures.translated_errors``)."""
        with tracer.provider.in_subsegment(name="DynamoDB", namespace="aws") as entered:
            subsegment = cast("_AwsSubsegment", entered)
            aws: dict[str, Any] = {"operation": operation, "table_name": self.name}
            subsegment.set_aws(aws)
            try:
                with translated_errors():
                    answer: dict[str, Any] = getattr(self.client, xform_name(operation))(**request)
            except ConditionFailed as refused:
                subsegment.apply_status_code(400)
                refusal = refused
            else:
                answered = answer.get("ResponseMetadata", {})
                aws.update(request_id=answered.get("RequestId"), retries=answered.get("RetryAttempts"))
                subsegment.set_aws(aws)
                return answer
        raise refusal

    # ------------------------------------------------------------------ operations
    def put(
        self, item: Item, condition: str | None = "attribute_not_exists(PK)", values: dict[str, Any] | None = None
    ) -> Operation:
        """A transaction's Put; by default only if no item has the key yet."""
        put: dict[str, Any] = {"TableName": self.name, "Item": serialize(item)}
        if condition is not None:
            put["ConditionExpression"] = condition
        if values:
            put["ExpressionAttributeValues"] = values
        return {"Put": put}

    def delete(self, pk: str, sk: str, condition: str | None = None, values: dict[str, Any] | None = None) -> Operation:
        delete: dict[str, Any] = {"TableName": self.name, "Key": key(pk, sk)}
        if condition is not None:
            delete["ConditionExpression"] = condition
        if values:
            delete["ExpressionAttributeValues"] = values
        return {"Delete": delete}

    def update(self, pk: str, sk: str, **request: Any) -> Operation:
        """A transaction's Update (``UpdateExpression``, ``ConditionExpression``, … as given)."""
        return {"Update": {"TableName": self.name, "Key": key(pk, sk), **request}}

    # -------------------------------------------------------------------- requests
    def get(self, pk: str, sk: str) -> Item | None:
        if not key_fits(pk, sk):
            return None  # no item can have this key
        answer = self._send("GetItem", TableName=self.name, Key=key(pk, sk), ConsistentRead=True)
        item = answer.get("Item")
        return None if item is None else deserialize(item)

    def put_item(self, item: Item) -> None:
        """One unconditional PutItem."""
        self._send("PutItem", TableName=self.name, Item=serialize(item))

    def update_item(self, pk: str, sk: str, **request: Any) -> Item:
        """One UpdateItem; the attributes it returned (``ReturnValues``), deserialized."""
        answer = self._send("UpdateItem", TableName=self.name, Key=key(pk, sk), **request)
        return deserialize(answer.get("Attributes", {}))

    def transact(self, operations: list[Operation]) -> None:
        """One TransactWriteItems. It carries a ClientRequestToken, so botocore's retries of a
        transaction whose answer was lost are answered by DynamoDB without applying it twice
        (for 10 minutes). Cancelled only by another transaction in progress on one of its
        items, it is sent again (a new token: a cancelled transaction changed nothing)."""
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self._send("TransactWriteItems", TransactItems=operations, ClientRequestToken=str(uuid.uuid4()))
                return
            except ConditionFailed as failure:
                if not failure.conflicted:
                    raise
                if attempt == TRANSACTION_ATTEMPTS - 1:
                    raise ServiceUnavailable("DynamoDB transaction kept conflicting with others") from failure
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter, not a secret

    def query_page(self, request: dict[str, Any]) -> dict[str, Any]:
        """One Query request (``TableName`` added), its answer as DynamoDB sent it."""
        return self._send("Query", TableName=self.name, **request)

    def query_prefix(self, pk: str, sk_prefix: str) -> list[Item]:
        """Every item of partition ``pk`` whose sort key starts with ``sk_prefix``."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": sk_prefix}},
            "ConsistentRead": True,
        }
        return [deserialize(item) for item in self.query_pages(request)]

    def query_pages(self, request: dict[str, Any], limit: int | None = None) -> Iterator[dict[str, Any]]:
        """The raw items of a Query, page after page; at most ``limit`` when given (each page
        then asks ``Limit`` for what is still wanted, so nothing beyond it is read). A partition
        key (``:pk``) no item can have yields nothing."""
        if not key_fits(request.get("ExpressionAttributeValues", {}).get(":pk", {}).get("S", "")):
            return
        wanted = limit
        while wanted is None or wanted > 0:
            if wanted is not None:
                request["Limit"] = wanted
            answer = self.query_page(request)
            items = answer.get("Items", [])
            yield from items
            if wanted is not None:
                wanted -= len(items)
            if "LastEvaluatedKey" not in answer:
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def list_prefix(self, pk: str, prefix: str, limit: int, after: str | None) -> tuple[list[Item], str | None]:
        """Items ``prefix + id`` of partition ``pk`` in id order, ``limit`` at most, starting
        after the id ``after``; the second value resumes the listing (None at its end)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":prefix": {"S": prefix}},
            "ConsistentRead": True,
        }
        if after is not None:
            request["ExclusiveStartKey"] = key(pk, prefix + after)
        items: list[Item] = []
        while len(items) < limit:
            request["Limit"] = limit - len(items)
            answer = self.query_page(request)
            items.extend(deserialize(item) for item in answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return items, None
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]
        return items, items[-1]["uuid"]

    def scan(self, request: dict[str, Any]) -> Iterator[Item]:
        """Every item a paged Scan returns. For one-off maintenance, never for a request."""
        while True:
            answer = self._send("Scan", TableName=self.name, **request)
            for item in answer.get("Items", []):
                yield deserialize(item)
            if "LastEvaluatedKey" not in answer:
                return
            request["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def batch_get(self, pk: str, sk_prefix: str, ids: list[str], only_uuid: bool = False) -> list[Item]:
        """Items ``pk``/``sk_prefix + id`` by BatchGetItem (100 keys a request, all requests
        side by side), in the order of ``ids``, duplicates once; absent ones skipped (and ids
        whose key no item can have, never sent). ``only_uuid`` reads the ``uuid`` attribute
        alone: the same read units, a fraction of the bytes on the wire."""
        unique = [identifier for identifier in dict.fromkeys(ids) if key_fits(pk, sk_prefix + identifier)]
        chunks = [unique[start : start + BATCH_GET_LIMIT] for start in range(0, len(unique), BATCH_GET_LIMIT)]
        found: dict[str, Item] = {}
        reads = [functools.partial(self._get_batch, pk, sk_prefix, chunk, only_uuid) for chunk in chunks]
        for items in side_by_side(reads):
            found.update((item["uuid"], item) for item in items)
        return [found[identifier] for identifier in unique if identifier in found]

    def get_items(self, keys: list[tuple[str, str]]) -> list[Item]:
        """Items by (PK, SK) from any partitions, by BatchGetItem (100 keys a request, side by
        side, consistent); absent ones skipped, in no particular order."""
        unique = list(dict.fromkeys(keys))
        chunks = [unique[start : start + BATCH_GET_LIMIT] for start in range(0, len(unique), BATCH_GET_LIMIT)]
        requests = [
            {self.name: {"Keys": [key(pk, sk) for pk, sk in chunk], "ConsistentRead": True}} for chunk in chunks
        ]
        return [
            item for items in side_by_side([functools.partial(self._read_batch, r) for r in requests]) for item in items
        ]

    def query_index_range(
        self, index: str, pk_name: str, pk: str, sk_name: str, low: str | None, high: str
    ) -> list[Item]:
        """Every item of index partition ``pk`` whose sort key is in [low, high] (from the
        partition's start when ``low`` is None), eventually consistent as every global index
        read; DynamoDB reads only that range."""
        condition = "#pk = :pk AND " + ("#sk <= :high" if low is None else "#sk BETWEEN :low AND :high")
        values = {":pk": {"S": pk}, ":high": {"S": high}}
        if low is not None:
            values[":low"] = {"S": low}
        request: dict[str, Any] = {
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {"#pk": pk_name, "#sk": sk_name},
            "ExpressionAttributeValues": values,
        }
        return [deserialize(item) for item in self.query_pages(request)]

    def _get_batch(self, pk: str, sk_prefix: str, ids: list[str], only_uuid: bool) -> list[Item]:
        keys = [key(pk, sk_prefix + identifier) for identifier in ids]
        request: dict[str, Any] = {self.name: {"Keys": keys, "ConsistentRead": True}}
        if only_uuid:
            request[self.name]["ProjectionExpression"] = "#uuid"
            request[self.name]["ExpressionAttributeNames"] = {"#uuid": "uuid"}
        return self._read_batch(request)

    def _read_batch(self, request: dict[str, Any]) -> list[Item]:
        """One BatchGetItem's items, its unprocessed keys resent with backoff a bounded number
        of times (then a 503: DynamoDB keeps refusing them)."""
        items: list[Item] = []
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            answer = self._send("BatchGetItem", RequestItems=request)
            items.extend(deserialize(raw) for raw in answer.get("Responses", {}).get(self.name, []))
            request = answer.get("UnprocessedKeys") or {}
            if not request:
                return items
            time.sleep(min(0.05 * 2**attempt, 1.0))  # DynamoDB's advice: back off, then resend
        raise ServiceUnavailable("DynamoDB left batched reads unprocessed after retries")

    def batch_write(self, requests: list[dict[str, Any]]) -> None:
        """Write ``PutRequest``/``DeleteRequest``s in BatchWriteItem requests of 25, up to
        BATCH_WRITERS at a time, so that a 1,000-member change is one round trip and deleting
        a 100,000-member group's memberships fits the function's timeout (docs/decisions.md,
        "Deleting a large group")."""
        chunks = [requests[start : start + BATCH_WRITE_LIMIT] for start in range(0, len(requests), BATCH_WRITE_LIMIT)]
        side_by_side([functools.partial(self._write_batch, chunk) for chunk in chunks], limit=BATCH_WRITERS)

    def _write_batch(self, chunk: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {self.name: chunk}
        for attempt in range(BATCH_WRITE_ATTEMPTS):
            pending = self._send("BatchWriteItem", RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                return
            time.sleep(min(0.05 * 2**attempt, 1.0))  # DynamoDB's advice: back off, then resend
        raise ServiceUnavailable("DynamoDB left batched writes unprocessed after retries")

    def transact_with_claim(
        self,
        operations: list[Operation],
        name_taken: Exception,
        item_uuid: str,
        refusal: Callable[[ConditionFailed], Exception | None] | None = None,
    ) -> None:
        """Run a person's or group's transaction: operation 0 is its item, 1 its name claim
        (userName, displayName) when the claim changes. The claim's failure alone means the
        name is taken (``name_taken`` is raised); any other means the item changed, unless
        ``refusal`` names what else it meant (an error to raise)."""
        try:
            self.transact(operations)
        except ConditionFailed as failure:
            refused = None if refusal is None else refusal(failure)
            if refused is not None:
                raise refused from failure
            if failure.failed_alone(1):
                raise name_taken from failure
            raise VersionConflict(item_uuid) from failure
