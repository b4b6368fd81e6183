"""The benchmark's DynamoDB request counter, on a stubbed client: no emulator, no network.

The ceilings of ``make bench`` are only as good as this count, so it is pinned here: every
call counted once by operation, ReturnConsumedCapacity asked for only where the operation
takes it, and consumed capacity summed from both the single and the list form of the answer."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from benchmarks.request_counter import DynamoDBRequestCounter

KEY = {"PK": {"S": "ORG#1"}, "SK": {"S": "ORGANIZATION"}}


@pytest.fixture
def client() -> Any:
    return boto3.client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )


def test_counts_each_call_by_operation_and_sums_capacity(client: Any):
    counter = DynamoDBRequestCounter(client)
    with Stubber(client) as stubber:
        stubber.add_response(
            "get_item",
            {"ConsumedCapacity": {"TableName": "t", "CapacityUnits": 1.0}},
            {"TableName": "t", "Key": KEY, "ConsistentRead": True, "ReturnConsumedCapacity": "TOTAL"},
        )
        stubber.add_response("get_item", {}, None)
        stubber.add_response(
            "transact_write_items",
            {"ConsumedCapacity": [{"TableName": "t", "CapacityUnits": 4.0}]},
            None,
        )
        with counter.measure() as tally:
            client.get_item(TableName="t", Key=KEY, ConsistentRead=True)
            client.get_item(TableName="t", Key=KEY)
            client.transact_write_items(TransactItems=[{"Delete": {"TableName": "t", "Key": KEY}}])

    assert dict(tally.requests) == {"GetItem": 2, "TransactWriteItems": 1}
    assert (tally.reads, tally.writes, tally.total) == (2, 1, 3)
    assert (tally.read_units, tally.write_units) == (1.0, 4.0)
    # The second GetItem answered without ConsumedCapacity: its units are unknown.
    assert tally.capacity() == "RCU n/a / WCU 4"
    assert tally.by_operation() == "GetItem=2, TransactWriteItems=1"


def test_leaves_operations_without_consumed_capacity_and_callers_choice_alone(client: Any):
    counter = DynamoDBRequestCounter(client)
    with Stubber(client) as stubber:
        stubber.add_response("describe_table", {}, {"TableName": "t"})
        stubber.add_response("get_item", {}, {"TableName": "t", "Key": KEY, "ReturnConsumedCapacity": "INDEXES"})
        with counter.measure() as tally:
            client.describe_table(TableName="t")
            client.get_item(TableName="t", Key=KEY, ReturnConsumedCapacity="INDEXES")

    assert dict(tally.requests) == {"DescribeTable": 1, "GetItem": 1}
    assert (tally.reads, tally.writes) == (1, 0)


def test_each_measurement_starts_from_zero(client: Any):
    counter = DynamoDBRequestCounter(client)
    with Stubber(client) as stubber:
        stubber.add_response("get_item", {})
        stubber.add_response("get_item", {})
        client.get_item(TableName="t", Key=KEY)  # outside any measurement: not counted anywhere
        with counter.measure() as tally:
            client.get_item(TableName="t", Key=KEY)

    assert tally.total == 1
    assert tally.capacity() == "RCU n/a / WCU -"


def test_a_refused_write_is_a_request_too(client: Any):
    """A cancelled transaction reached DynamoDB (and is billed): it must be counted."""
    counter = DynamoDBRequestCounter(client)
    with Stubber(client) as stubber:
        stubber.add_client_error("transact_write_items", "TransactionCanceledException")
        with counter.measure() as tally, pytest.raises(client.exceptions.TransactionCanceledException):
            client.transact_write_items(TransactItems=[{"Delete": {"TableName": "t", "Key": KEY}}])

    assert dict(tally.requests) == {"TransactWriteItems": 1}
    assert tally.capacity() == "RCU - / WCU n/a"


def test_counts_the_items_reads_return_or_evaluate(client: Any):
    # given a GetItem that finds its item, one that does not, a Query that evaluated 7 items
    # and a batch that found 2
    counter = DynamoDBRequestCounter(client)
    with Stubber(client) as stubber:
        stubber.add_response("get_item", {"Item": KEY}, None)
        stubber.add_response("get_item", {}, None)
        stubber.add_response("query", {"Items": [KEY], "Count": 1, "ScannedCount": 7}, None)
        stubber.add_response("batch_get_item", {"Responses": {"t": [KEY, KEY]}}, None)

        # when they are measured
        with counter.measure() as tally:
            client.get_item(TableName="t", Key=KEY)
            client.get_item(TableName="t", Key=KEY)
            client.query(TableName="t", KeyConditionExpression="PK = :pk")
            client.batch_get_item(RequestItems={"t": {"Keys": [KEY, KEY]}})

    # then the items read add up: what a read costs as the data grows
    assert tally.items_read == 1 + 0 + 7 + 2
