"""The measuring and fault-injecting DynamoDB proxy (devserver/dynamodb_proxy.py), driven by a
real boto3 client in front of the embedded DynamoDB: what the client sees, what reaches the
table, and what the proxy records."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionClosedError, ReadTimeoutError

from devserver.dynamodb_proxy import DynamoDBProxy, Fault, FaultPolicy, ScriptedFaults
from devserver.embedded_dynamodb import EmbeddedDynamoDB

TABLE = "proxied"
KEY = {"PK": {"S": "counter"}}


@pytest.fixture(scope="module")
def upstream() -> Iterator[EmbeddedDynamoDB]:
    database = EmbeddedDynamoDB("127.0.0.1", 0).start()
    client = boto3.client("dynamodb", endpoint_url=database.endpoint_url, region_name="us-east-1")
    client.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "PK", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}],
    )
    yield database
    database.stop()


@pytest.fixture
def proxy(upstream: EmbeddedDynamoDB) -> Iterator[DynamoDBProxy]:
    with DynamoDBProxy(upstream.endpoint_url) as running:
        yield running


def client_of(endpoint_url: str, attempts: int = 1, read_timeout: float = 5) -> Any:
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts}, read_timeout=read_timeout)
    return boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1", config=config)


def counter(upstream: EmbeddedDynamoDB) -> int:
    item = client_of(upstream.endpoint_url).get_item(TableName=TABLE, Key=KEY, ConsistentRead=True).get("Item")
    return int(item["n"]["N"]) if item else 0


def increment(client: Any, token: str | None = None) -> None:
    """One transaction adding 1 to the counter: applying it twice shows as 2."""
    update = {"TableName": TABLE, "Key": KEY, "UpdateExpression": "ADD n :one"}
    request: dict[str, Any] = {
        "TransactItems": [{"Update": {**update, "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    }
    if token:
        request["ClientRequestToken"] = token
    client.transact_write_items(**request)


# ------------------------------------------------------------------------------ recording
def test_requests_are_forwarded_delayed_and_recorded(proxy: DynamoDBProxy, upstream: EmbeddedDynamoDB) -> None:
    """Given a proxy delaying 50 ms, when a client increments and reads through it, then the
    answers are the table's, and the proxy recorded both operations in order, each lasting
    at least the delay, the second starting after the first ended."""
    proxy.delay_seconds = 0.05
    client = client_of(proxy.endpoint_url)
    before = counter(upstream)

    increment(client)
    read = client.get_item(TableName=TABLE, Key=KEY, ConsistentRead=True)

    assert int(read["Item"]["n"]["N"]) == before + 1
    first, second = proxy.exchanges()
    assert (first.operation, second.operation) == ("TransactWriteItems", "GetItem")
    assert all(exchange.ended - exchange.started >= 0.05 for exchange in (first, second))
    assert second.started >= first.ended
    assert (first.status, second.status, first.fault, first.replayed) == (200, 200, None, False)
    assert second.request()["Key"] == KEY


def test_concurrent_requests_overlap(proxy: DynamoDBProxy) -> None:
    """Given a proxy delaying 100 ms, when two threads read at once, then both requests started
    before either ended: the proxy does not serialize what the client sends side by side."""
    proxy.delay_seconds = 0.1
    clients = [client_of(proxy.endpoint_url) for _ in range(2)]
    threads = [threading.Thread(target=lambda c=c: c.get_item(TableName=TABLE, Key=KEY)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    first, second = proxy.exchanges()
    assert max(first.started, second.started) < min(first.ended, second.ended)


# ------------------------------------------------------------------------------ faults
@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (Fault.THROTTLED, 400, "ProvisionedThroughputExceededException"),
        (Fault.THROTTLING, 400, "ThrottlingException"),
        (Fault.INTERNAL_ERROR, 500, "InternalServerError"),
    ],
)
def test_error_answers_are_dynamodbs_and_change_nothing(
    proxy: DynamoDBProxy, upstream: EmbeddedDynamoDB, fault: Fault, status: int, code: str
) -> None:
    """Given the next transaction scripted to fail with ``fault``, when a client without
    retries sends it, then botocore reports DynamoDB's error code and HTTP status, and the
    table is unchanged."""
    proxy.faults = ScriptedFaults({("TransactWriteItems", 0): fault})
    before = counter(upstream)

    with pytest.raises(ClientError) as raised:
        increment(client_of(proxy.endpoint_url))

    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert counter(upstream) == before
    assert proxy.exchanges()[0].fault is fault


@pytest.mark.parametrize(("fault", "applied"), [(Fault.DROP_BEFORE, 0), (Fault.DROP_AFTER, 1)])
def test_dropped_connections(proxy: DynamoDBProxy, upstream: EmbeddedDynamoDB, fault: Fault, applied: int) -> None:
    """Given the next transaction scripted to lose its connection, when a client without
    retries sends it, then the client gets no answer; dropped before forwarding, nothing is
    applied; dropped after, the write is applied all the same."""
    proxy.faults = ScriptedFaults({("TransactWriteItems", 0): fault})
    before = counter(upstream)

    with pytest.raises(ConnectionClosedError):
        increment(client_of(proxy.endpoint_url))

    assert counter(upstream) == before + applied
    assert proxy.exchanges()[0].status is None


def test_a_slow_answer_times_the_client_out_after_the_write_applied(
    upstream: EmbeddedDynamoDB,
) -> None:
    """Given answers held for 1 s and a client that waits 0.3 s, when the client sends a
    transaction, then it times out, and the write is applied."""
    faults = ScriptedFaults({("TransactWriteItems", 0): Fault.SLOW_ANSWER})
    with DynamoDBProxy(upstream.endpoint_url, faults=faults, slow_answer_seconds=1.0) as proxy:
        before = counter(upstream)

        with pytest.raises(ReadTimeoutError):
            increment(client_of(proxy.endpoint_url, read_timeout=0.3))

        assert counter(upstream) == before + 1


def test_a_fault_policy_is_seeded_and_keeps_to_its_rate() -> None:
    """Given two policies with the same seed, then they break the same requests; over 2,000
    requests a 30 % policy breaks 30 % ± 3 %, with every kind of fault, and only the named
    operations."""
    policy = FaultPolicy(rate=0.3, seed=11, operations={"Query"})
    twin = FaultPolicy(rate=0.3, seed=11, operations={"Query"})

    decisions = [policy.choose("Query", n) for n in range(2_000)]

    assert decisions == [twin.choose("Query", n) for n in range(2_000)]
    assert decisions != [FaultPolicy(rate=0.3, seed=12).choose("Query", n) for n in range(2_000)]
    assert 540 <= sum(fault is not None for fault in decisions) <= 660
    assert {fault for fault in decisions if fault} == set(Fault)
    assert all(policy.choose("GetItem", n) is None for n in range(100))


# ------------------------------------------------------------------------------ ClientRequestToken
def test_a_retried_transaction_is_applied_once(proxy: DynamoDBProxy, upstream: EmbeddedDynamoDB) -> None:
    """Given the first transaction's answer dropped after it was applied, when botocore retries
    it (same ClientRequestToken), then the retry is answered with the first success and not
    applied again: the counter moves by one, as on DynamoDB (moto alone would count two)."""
    proxy.faults = ScriptedFaults({("TransactWriteItems", 0): Fault.DROP_AFTER})
    before = counter(upstream)

    increment(client_of(proxy.endpoint_url, attempts=3))

    assert counter(upstream) == before + 1
    dropped, retried = proxy.exchanges()
    assert (dropped.status, retried.status, retried.replayed) == (None, 200, True)
    assert dropped.request()["ClientRequestToken"] == retried.request()["ClientRequestToken"]


def test_a_token_reused_with_other_parameters_is_refused(proxy: DynamoDBProxy) -> None:
    """Given a transaction committed with a token, when another transaction uses the same
    token, then DynamoDB's IdempotentParameterMismatchException answers it."""
    client, token = client_of(proxy.endpoint_url), str(uuid.uuid4())
    increment(client, token)
    other = {"Put": {"TableName": TABLE, "Item": {"PK": {"S": "other"}}}}

    with pytest.raises(ClientError, match="IdempotentParameterMismatch"):
        client.transact_write_items(TransactItems=[other], ClientRequestToken=token)


def test_a_failed_transaction_is_not_remembered(proxy: DynamoDBProxy, upstream: EmbeddedDynamoDB) -> None:
    """Given a transaction with a token that the table refused (its condition failed), when the
    same transaction with the same token is sent once the condition holds, then it is applied:
    a failed transaction changed nothing, so its token is free."""
    client, token = client_of(proxy.endpoint_url), str(uuid.uuid4())
    key = {"PK": {"S": f"guarded-{token}"}}
    guarded = {
        "Update": {
            "TableName": TABLE,
            "Key": key,
            "UpdateExpression": "SET done = :yes",
            "ConditionExpression": "attribute_exists(PK)",
            "ExpressionAttributeValues": {":yes": {"BOOL": True}},
        }
    }
    with pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(TransactItems=[guarded], ClientRequestToken=token)
    client.put_item(TableName=TABLE, Item=key)

    client.transact_write_items(TransactItems=[guarded], ClientRequestToken=token)

    assert client.get_item(TableName=TABLE, Key=key)["Item"]["done"] == {"BOOL": True}
