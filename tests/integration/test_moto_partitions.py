"""devserver/moto_partitions.py answers as unpatched moto does, only faster.

The property test drives two twin tables through the same writes, one with the patch and one
under ``plain_moto()``, and compares every read page by page: any difference in what a Query or
a Scan returns, counts, or hands back as LastEvaluatedKey, in what a transaction leaves behind
after a rollback, or in the stream records, fails it. ``make test`` runs a fixed-seed slice;
``MOTO_PARTITIONS_EXAMPLES=500`` runs a longer one.

The example tests pin what the patch is for: a Query hands moto only its partition's slice,
and a transaction copies only what it writes; the last one checks the sorted runs alone."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.models.table import Table

from devserver.moto_partitions import _Run, plain_moto

EXAMPLES = int(os.environ.get("MOTO_PARTITIONS_EXAMPLES", "6"))


# ------------------------------------------------------------------------------ shapes
@dataclass(frozen=True)
class Shape:
    """A table design: key types, and which sort-key values the test draws from."""

    name: str
    sort_type: str | None  # None: a table with a hash key only
    index_sort_type: str
    sort_values: tuple[str, ...]
    index_sort_values: tuple[str, ...]

    def definition(self, table_name: str) -> dict[str, Any]:
        attributes = [("PK", "S"), ("GK", "S"), ("GR", self.index_sort_type)]
        schema = [{"AttributeName": "PK", "KeyType": "HASH"}]
        if self.sort_type:
            attributes.append(("SK", self.sort_type))
            schema.append({"AttributeName": "SK", "KeyType": "RANGE"})
        return {
            "TableName": table_name,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes],
            "KeySchema": schema,
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "GSI",
                    "KeySchema": [
                        {"AttributeName": "GK", "KeyType": "HASH"},
                        {"AttributeName": "GR", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
        }


TEXT = ("#", "#a", "a", "a#", "a#b", "ab", "aba", "b", "b#", "b#a", "ba", "bb")
NUMBERS = ("-2", "-1.5", "0", "0.5", "1", "1.5", "2", "3", "10", "11")
SHAPES = (
    Shape("string keys (the template's)", "S", "S", TEXT, TEXT),
    Shape("number keys", "N", "N", NUMBERS, NUMBERS),
    Shape("hash key only", None, "S", (), TEXT),
)
PARTITIONS = ("p", "q")
INDEX_PARTITIONS = ("g", "h")
COMPARISONS = ("=", "<", "<=", ">", ">=", "BETWEEN", "begins_with")


def value(kind: str, text: str) -> dict[str, str]:
    return {kind: text}


# ------------------------------------------------------------------------------ the twins
def outcome(call: Callable[[], dict[str, Any]]) -> tuple[Any, ...]:
    """What a client sees of one call, without what differs between twins by design."""
    try:
        answer = call()
    except ClientError as error:
        return "error", error.response["Error"].get("Code"), error.response.get("CancellationReasons")
    answer.pop("ResponseMetadata", None)
    answer.pop("ConsumedCapacity", None)
    return "ok", answer


class TwinTables(RuleBasedStateMachine):
    """Two tables, the same writes; the patched one must read exactly as the plain one."""

    def __init__(self) -> None:
        super().__init__()
        self.client = boto3.client("dynamodb", region_name="us-east-1")
        self.streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        self.counter = 0

    @initialize(shape=st.sampled_from(SHAPES), data=st.data())
    def create(self, shape: Shape, data: st.DataObject) -> None:
        """The twins, holding the same few dozen items to begin with."""
        self.shape = shape
        TwinTables.tables_made = getattr(TwinTables, "tables_made", 0) + 1
        suffix = TwinTables.tables_made
        self.patched, self.plain = f"twin-patched-{suffix}", f"twin-plain-{suffix}"
        for name in (self.patched, self.plain):
            self.client.create_table(**shape.definition(name))
        for _ in range(data.draw(st.integers(10, 40))):
            self.put(data)

    def teardown(self) -> None:
        if hasattr(self, "shape"):
            assert self.stream_records(self.patched) == self.stream_records(self.plain)
            for name in (self.patched, self.plain):
                self.client.delete_table(TableName=name)

    # -- helpers
    def both(self, call: Callable[[str], dict[str, Any]]) -> None:
        """Make the same write on both twins; they must agree on its outcome."""
        patched = outcome(lambda: call(self.patched))
        with plain_moto():
            plain = outcome(lambda: call(self.plain))
        assert patched == plain

    def read_both(self, request: dict[str, Any], operation: str) -> None:
        """Page through the same read on both twins; every page must be the same."""
        patched = self.pages(self.patched, request, operation, nullcontext)
        plain = self.pages(self.plain, request, operation, plain_moto)
        assert patched == plain, request

    def pages(
        self, table: str, request: dict[str, Any], operation: str, mode: Callable[[], AbstractContextManager[Any]]
    ) -> list[tuple[Any, ...]]:
        read = getattr(self.client, operation)
        request, pages = {**request, "TableName": table}, []
        with mode():
            for _ in range(60):
                page = outcome(lambda request=request: read(**request))
                pages.append(page)
                if page[0] != "ok" or "LastEvaluatedKey" not in page[1]:
                    break
                request = {**request, "ExclusiveStartKey": page[1]["LastEvaluatedKey"]}
        return pages

    def stream_records(self, table: str) -> list[tuple[Any, ...]]:
        arn = self.client.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        records = self.streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
        return [
            (record["eventName"], record["dynamodb"].get("OldImage"), record["dynamodb"].get("NewImage"))
            for record in records
        ]

    def key(self, data: st.DataObject) -> dict[str, Any]:
        key = {"PK": value("S", data.draw(st.sampled_from(PARTITIONS)))}
        if self.shape.sort_type:
            key["SK"] = value(self.shape.sort_type, data.draw(st.sampled_from(self.shape.sort_values)))
        return key

    def item(self, data: st.DataObject) -> dict[str, Any]:
        item = {**self.key(data), "v": value("N", str(data.draw(st.integers(0, 9))))}
        if data.draw(st.integers(0, 3)):
            item["GK"] = value("S", data.draw(st.sampled_from(INDEX_PARTITIONS)))
        if data.draw(st.integers(0, 3)):
            item["GR"] = value(self.shape.index_sort_type, data.draw(st.sampled_from(self.shape.index_sort_values)))
        if data.draw(st.integers(0, 9)) == 0:
            item["padding"] = value("S", "x" * data.draw(st.sampled_from((1_000, 100_000))))
        return item

    def update(self, data: st.DataObject) -> dict[str, Any]:
        """An UpdateItem's parameters: it may move the item between index partitions, take it
        out of the index, or only change a value; it may be conditional."""
        index_sort = value(self.shape.index_sort_type, data.draw(st.sampled_from(self.shape.index_sort_values)))
        expression, values = data.draw(
            st.sampled_from(
                (
                    ("SET GK = :g", {":g": value("S", data.draw(st.sampled_from(INDEX_PARTITIONS)))}),
                    ("SET GR = :r", {":r": index_sort}),
                    ("REMOVE GK", {}),
                    ("ADD v :one", {":one": value("N", "1")}),
                )
            )
        )
        update: dict[str, Any] = {"Key": self.key(data), "UpdateExpression": expression}
        if data.draw(st.booleans()):
            update["ConditionExpression"] = "attribute_exists(PK)"
        if values:
            update["ExpressionAttributeValues"] = values
        return update

    # -- writes
    @rule(data=st.data())
    def put(self, data: st.DataObject) -> None:
        item = self.item(data)
        self.both(lambda table: self.client.put_item(TableName=table, Item=item))

    @rule(data=st.data())
    def update_item(self, data: st.DataObject) -> None:
        update = self.update(data)
        self.both(lambda table: self.client.update_item(TableName=table, **update))

    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        key = self.key(data)
        self.both(lambda table: self.client.delete_item(TableName=table, Key=key))

    @rule(data=st.data())
    def batch_write(self, data: st.DataObject) -> None:
        items = {
            str(sorted(item.items())): item for item in (self.item(data) for _ in range(data.draw(st.integers(1, 6))))
        }

        def write(table: str) -> dict[str, Any]:
            requests = [{"PutRequest": {"Item": item}} for item in items.values()]
            return self.client.batch_write_item(RequestItems={table: requests})

        self.both(write)

    @rule(data=st.data())
    def transact(self, data: st.DataObject) -> None:
        """1 to 4 operations (two on one key make moto refuse the transaction); conditions
        make some transactions roll back after others of their operations were applied."""
        operations = []
        for _ in range(data.draw(st.integers(1, 4))):
            kind = data.draw(st.sampled_from(("Put", "Update", "Delete", "ConditionCheck")))
            condition = data.draw(
                st.sampled_from((None, "attribute_exists(PK)", "attribute_not_exists(PK)", "v < :limit"))
            )
            if kind == "Put":
                operation: dict[str, Any] = {"Item": self.item(data)}
            elif kind == "Update":
                operation = self.update(data)
                condition = operation.pop("ConditionExpression", condition)
            else:
                operation = {"Key": self.key(data)}
            if kind == "ConditionCheck" and condition is None:
                condition = "attribute_exists(PK)"
            if condition:
                operation["ConditionExpression"] = condition
                if ":limit" in condition:
                    operation.setdefault("ExpressionAttributeValues", {})[":limit"] = value("N", "5")
            operations.append((kind, operation))

        def write(table: str) -> dict[str, Any]:
            return self.client.transact_write_items(
                TransactItems=[{kind: {**operation, "TableName": table}} for kind, operation in operations]
            )

        self.both(write)

    # -- reads
    @rule(data=st.data())
    def query_table(self, data: st.DataObject) -> None:
        self.query(data, on_index=False)

    @rule(data=st.data())
    def query_index(self, data: st.DataObject) -> None:
        self.query(data, on_index=True)

    def query(self, data: st.DataObject, on_index: bool) -> None:
        request: dict[str, Any] = {"ScanIndexForward": data.draw(st.booleans())}
        names = {"#h": "GK" if on_index else "PK"}
        values = {":h": value("S", data.draw(st.sampled_from(INDEX_PARTITIONS if on_index else PARTITIONS)))}
        condition = "#h = :h"
        sort_type = self.shape.index_sort_type if on_index else self.shape.sort_type
        sort_values = self.shape.index_sort_values if on_index else self.shape.sort_values
        if on_index:
            request["IndexName"] = "GSI"
        else:
            request["ConsistentRead"] = data.draw(st.booleans())
        comparisons = [c for c in COMPARISONS if c != "begins_with" or sort_type == "S"]
        if sort_type and data.draw(st.booleans()):
            comparison = data.draw(st.sampled_from(comparisons))
            names["#s"] = "GR" if on_index else "SK"
            values[":s"] = value(sort_type, data.draw(st.sampled_from(sort_values)))
            if comparison == "BETWEEN":
                values[":t"] = value(sort_type, data.draw(st.sampled_from(sort_values)))
                condition += " AND #s BETWEEN :s AND :t"
            elif comparison == "begins_with":
                condition += " AND begins_with(#s, :s)"
            else:
                condition += f" AND #s {comparison} :s"
        if data.draw(st.integers(0, 3)):
            request["Limit"] = data.draw(st.integers(1, 3))
        if data.draw(st.integers(0, 3)) == 0:
            request["FilterExpression"] = "v >= :f"
            values[":f"] = value("N", str(data.draw(st.integers(0, 9))))
        if data.draw(st.booleans()):
            request["ProjectionExpression"] = "PK, v"
        if data.draw(st.integers(0, 3)) == 0:  # a start key of any item, matching the condition or not
            start = self.key(data)
            if on_index:
                start["GK"] = values[":h"] if data.draw(st.booleans()) else value("S", "g")
                start["GR"] = value(
                    self.shape.index_sort_type, data.draw(st.sampled_from(self.shape.index_sort_values))
                )
            request["ExclusiveStartKey"] = start
        request.update(
            KeyConditionExpression=condition, ExpressionAttributeNames=names, ExpressionAttributeValues=values
        )
        self.read_both(request, "query")

    @rule(data=st.data())
    def scan(self, data: st.DataObject) -> None:
        request: dict[str, Any] = {"Limit": data.draw(st.integers(1, 5))}
        if data.draw(st.booleans()):
            request.update(FilterExpression="v >= :f", ExpressionAttributeValues={":f": value("N", "4")})
        if data.draw(st.booleans()):
            request["IndexName"] = "GSI"
        self.read_both(request, "scan")

    @invariant()
    def twins_hold_the_same_items(self) -> None:
        if hasattr(self, "shape"):
            with plain_moto():
                patched = self.pages(self.patched, {}, "scan", nullcontext)
                plain = self.pages(self.plain, {}, "scan", nullcontext)
            assert patched == plain


TwinTables.TestCase.settings = settings(
    max_examples=EXAMPLES,
    stateful_step_count=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.fixture
def twins(aws_mock: None) -> Iterator[None]:
    yield


def test_the_patched_twin_reads_as_unpatched_moto(twins: None) -> None:
    """Given two twin tables and a random sequence of writes applied to both (puts, in-place
    updates moving items between index partitions, deletes, batches, transactions that may roll
    back), when every Query and Scan is paged through on both, then the patched twin's pages,
    data and stream records are unpatched moto's."""
    TwinTables.TestCase().runTest()


# ------------------------------------------------------------------------------ examples
def _fill(client: Any, table: str, partitions: int, per_partition: int) -> None:
    for number in range(partitions):
        requests = [
            {"PutRequest": {"Item": {"PK": {"S": f"p{number}"}, "SK": {"S": f"s{k:04d}"}, "v": {"N": "1"}}}}
            for k in range(per_partition)
        ]
        for start in range(0, len(requests), 25):
            client.batch_write_item(RequestItems={table: requests[start : start + 25]})


@pytest.fixture
def big_table(aws_mock: None) -> Iterator[tuple[Any, str]]:
    """40 partitions of 50 items in a table shaped like the template's."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    shape = SHAPES[0]
    client.create_table(**{**shape.definition("big"), "StreamSpecification": {"StreamEnabled": False}})
    _fill(client, "big", partitions=40, per_partition=50)
    yield client, "big"
    client.delete_table(TableName="big")


def test_a_query_hands_moto_only_its_slice_of_one_partition(
    big_table: tuple[Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Given 2,000 items in 40 partitions, when a Query asks for 3 items of one partition from
    a sort-key range, then moto walks 4 items (the 3, and the next one, which tells it whether
    to answer a LastEvaluatedKey), not the table."""
    client, table = big_table
    walked: list[int] = []
    patched_all_items = Table.all_items

    def counting_all_items(self: Table) -> list[Item]:
        items = patched_all_items(self)
        walked.append(len(items))
        return items

    monkeypatch.setattr(Table, "all_items", counting_all_items)

    page = client.query(
        TableName=table,
        KeyConditionExpression="PK = :p AND SK >= :s",
        ExpressionAttributeValues={":p": {"S": "p7"}, ":s": {"S": "s0010"}},
        Limit=3,
    )

    assert [item["SK"]["S"] for item in page["Items"]] == ["s0010", "s0011", "s0012"]
    assert page["LastEvaluatedKey"] == {"PK": {"S": "p7"}, "SK": {"S": "s0012"}}
    assert walked == [4]


def test_a_transaction_copies_only_what_it_writes(big_table: tuple[Any, str]) -> None:
    """Given 2,000 items, when a transaction updates one item and puts another, then moto makes
    one item copy for its rollback point (the updated item) and its stream image, where
    unpatched moto copies the whole table once per transaction item."""
    client, table = big_table
    update = {"Key": {"PK": {"S": "p1"}, "SK": {"S": "s0001"}}, "UpdateExpression": "SET v = :v"}
    transaction = [
        {"Update": {**update, "TableName": table, "ExpressionAttributeValues": {":v": {"N": "2"}}}},
        {"Put": {"TableName": table, "Item": {"PK": {"S": "p1"}, "SK": {"S": "new"}}}},
    ]

    def item_copies(run: Callable[[], Any]) -> int:
        before = len(Item.instances_tracked)
        run()
        return len(Item.instances_tracked) - before

    patched = item_copies(lambda: client.transact_write_items(TransactItems=transaction))
    with plain_moto():
        plain = item_copies(lambda: client.transact_write_items(TransactItems=transaction))

    assert patched <= 4
    assert plain >= 2 * 2_000


def test_a_rolled_back_transaction_leaves_the_index_as_it_was(big_table: tuple[Any, str]) -> None:
    """Given an item in index partition "g", when a transaction moves it to "h" and then fails
    on another item's condition, then the index still finds it under "g" and not under "h"."""
    client, table = big_table
    key = {"PK": {"S": "p2"}, "SK": {"S": "s0002"}}
    client.update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET GK = :g, GR = :r",
        ExpressionAttributeValues={":g": {"S": "g"}, ":r": {"S": "x"}},
    )

    def in_index(partition: str) -> list[dict[str, Any]]:
        return client.query(
            TableName=table,
            IndexName="GSI",
            KeyConditionExpression="GK = :g",
            ExpressionAttributeValues={":g": {"S": partition}},
        )["Items"]

    assert len(in_index("g")) == 1
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": key,
                        "UpdateExpression": "SET GK = :h",
                        "ExpressionAttributeValues": {":h": {"S": "h"}},
                    }
                },
                {
                    "ConditionCheck": {
                        "TableName": table,
                        "Key": {"PK": {"S": "p3"}, "SK": {"S": "missing"}},
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
            ]
        )

    assert [item["PK"]["S"] for item in in_index("g")] == ["p2"]
    assert in_index("h") == []


@settings(max_examples=60, derandomize=True, database=None, deadline=None)
@given(
    changes=st.lists(
        st.tuples(st.booleans(), st.integers(0, 60)),  # (put or remove, key)
        max_size=200,
    ),
    reads=st.sets(st.integers(0, 200), max_size=8),  # after which changes a read settles the run
)
def test_a_run_stays_in_key_order_through_any_mix_of_changes(changes: list[tuple[bool, int]], reads: set[int]) -> None:
    """Given any sequence of puts (new keys and replacements) and removals, with reads in
    between or not (few waiting changes are inserted one by one, many are merged), then after
    settling the run holds exactly the stored keys, in order, each with its latest item."""
    run, model = _Run(), {}
    for step, (is_put, number) in enumerate(changes):
        key = (f"{number:03d}",)
        if is_put:
            item = object()
            run.put(key, item)  # type: ignore[arg-type]
            model[key] = item
        else:
            run.remove(key)
            model.pop(key, None)
        if step in reads:
            run.settle()
        assert len(run) == len(model)

    run.settle()

    assert run.keys == sorted(model)
    assert run.items == [model[key] for key in sorted(model)]
