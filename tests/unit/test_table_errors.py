"""What a DynamoDB failure means to the stores (table core): a failed condition, or a refusal
that may succeed later (503 ServiceUnavailable), never an unexpected error. Faults come from
botocore's Stubber on a real client, as DynamoDB sends them after botocore's retries."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ConnectionClosedError, ReadTimeoutError
from botocore.stub import ANY, Stubber

from scim_provisioning.errors import ServiceUnavailable
from scim_provisioning.repository import table as table_module
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.table import Table

TABLE = "scim-test"
KEY = {"PK": {"S": "ORG#o"}, "SK": {"S": "USER#u"}}


@pytest.fixture
def client() -> Any:
    # No retries here: the stub plays what is left after botocore's retries.
    return boto3.client("dynamodb", region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


@pytest.fixture
def stub(client: Any) -> Iterator[Stubber]:
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table_module.time, "sleep", lambda _: None)


def put_operation() -> dict[str, Any]:
    return {"Put": {"TableName": TABLE, "Item": KEY, "ConditionExpression": "attribute_not_exists(PK)"}}


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ProvisionedThroughputExceededException", 400),
        ("ThrottlingException", 400),
        ("RequestLimitExceeded", 400),
        ("InternalServerError", 500),
        ("ServiceUnavailable", 503),
        ("SomethingNewTheServiceInvents", 502),
    ],
)
def test_refusals_that_may_pass_later_are_service_unavailable(client: Any, stub: Stubber, code: str, status: int):
    # given DynamoDB answering a read with a refusal botocore has stopped retrying
    stub.add_client_error("get_item", service_error_code=code, http_status_code=status)

    # when the table reads, then the store sees a 503 to pass on
    with pytest.raises(ServiceUnavailable):
        Table(client, TABLE).get("ORG#o", "USER#u")


@pytest.mark.parametrize(
    "error",
    [
        ReadTimeoutError(endpoint_url="https://dynamodb"),
        ConnectionClosedError(endpoint_url="https://dynamodb"),
    ],
)
def test_timeouts_and_dropped_connections_are_service_unavailable(
    client: Any, monkeypatch: pytest.MonkeyPatch, error: Exception
):
    # given a connection that times out or is dropped on every attempt
    def broken(**_: Any) -> Any:
        raise error

    monkeypatch.setattr(client, "query", broken)

    # when the table queries, then it is a 503, not an unexpected error
    with pytest.raises(ServiceUnavailable):
        Table(client, TABLE).query_prefix("ORG#o", "USER#")


def test_a_validation_error_is_not_disguised_as_unavailability(client: Any, stub: Stubber):
    # given a request DynamoDB refuses as malformed (a bug of ours)
    stub.add_client_error("get_item", service_error_code="ValidationException", http_status_code=400)

    # when the table reads, then the error stays unexpected (a 500 and an alarm), not a 503
    with pytest.raises(Exception, match="ValidationException"):
        Table(client, TABLE).get("ORG#o", "USER#u")


def test_every_transaction_carries_a_client_request_token(client: Any, stub: Stubber):
    # given DynamoDB accepting a transaction that names a token
    stub.add_response("transact_write_items", {}, {"TransactItems": [put_operation()], "ClientRequestToken": ANY})

    # when the table sends it, then the stub saw the token (it refuses requests without it)
    Table(client, TABLE).transact([put_operation()])


def test_a_transaction_cancelled_by_a_conflict_is_sent_again_with_a_new_token(client: Any, stub: Stubber):
    # given a transaction cancelled once because another one held its item
    tokens: list[str] = []
    client.meta.events.register(
        "provide-client-params.dynamodb.TransactWriteItems",
        lambda params, **_: tokens.append(params["ClientRequestToken"]),
    )
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        response_meta={},
        modeled_fields={"CancellationReasons": [{"Code": "TransactionConflict"}]},
    )
    stub.add_response("transact_write_items", {})

    # when the table sends it, then the second attempt commits, under a token of its own
    Table(client, TABLE).transact([put_operation()])
    assert len(tokens) == 2 and tokens[0] != tokens[1]


def test_a_transaction_that_keeps_conflicting_is_service_unavailable(client: Any, stub: Stubber):
    # given a transaction cancelled by conflicts on every attempt
    for _ in range(table_module.TRANSACTION_ATTEMPTS):
        stub.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            modeled_fields={"CancellationReasons": [{"Code": "TransactionConflict"}]},
        )

    # when the table sends it, then the client is told to come back later
    with pytest.raises(ServiceUnavailable):
        Table(client, TABLE).transact([put_operation()])


def test_a_transaction_cancelled_for_throttling_is_service_unavailable(client: Any, stub: Stubber):
    # given a transaction DynamoDB cancelled because an item's partition was throttled
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        modeled_fields={"CancellationReasons": [{"Code": "None"}, {"Code": "ThrottlingError"}]},
    )

    # when the table sends it, then it is a 503, not a failed condition
    with pytest.raises(ServiceUnavailable):
        Table(client, TABLE).transact([put_operation(), put_operation()])


def test_a_failed_condition_names_the_operation_that_failed(client: Any, stub: Stubber):
    # given a transaction whose second condition fails
    stub.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        modeled_fields={"CancellationReasons": [{"Code": "None"}, {"Code": "ConditionalCheckFailed"}]},
    )

    # when the table sends it, then the store learns which condition failed
    with pytest.raises(ConditionFailed) as failure:
        Table(client, TABLE).transact([put_operation(), put_operation()])
    assert failure.value.failed(1) and not failure.value.failed(0)


def test_batched_reads_left_unprocessed_after_retries_are_service_unavailable(client: Any, stub: Stubber):
    # given DynamoDB leaving a batched read's keys unprocessed every time
    unprocessed = {TABLE: {"Keys": [KEY], "ConsistentRead": True}}
    for _ in range(table_module.BATCH_WRITE_ATTEMPTS):
        stub.add_response("batch_get_item", {"Responses": {TABLE: []}, "UnprocessedKeys": unprocessed})

    # when the table reads the batch, then it gives up with a 503 instead of looping forever
    with pytest.raises(ServiceUnavailable):
        Table(client, TABLE).batch_get("ORG#o", "USER#", ["u"])
