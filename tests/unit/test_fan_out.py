"""A fan-out of the largest size the service makes really leaves at once: the table core's
client (its connection pool) and its concurrency helper, through the delaying proxy in front
of the embedded DynamoDB."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import pytest

from devserver.dynamodb_proxy import DynamoDBProxy, Exchange
from devserver.embedded_dynamodb import EmbeddedDynamoDB
from devserver.template import create_table
from scim_provisioning.config import Settings
from scim_provisioning.repository.concurrency import MAX_IN_FLIGHT, side_by_side
from scim_provisioning.repository.table import Table, create_dynamodb_client

TABLE = "fan-out"
DELAY = 1.0  # seconds each request is held: far above the time it takes to send 100, even under load


@pytest.fixture(scope="module")
def database() -> Iterator[EmbeddedDynamoDB]:
    running = EmbeddedDynamoDB("127.0.0.1", 0).start()
    create_table(create_dynamodb_client(Settings(TABLE, running.endpoint_url, "us-east-1")), TABLE)
    yield running
    running.stop()


def test_a_fan_out_of_max_in_flight_reads_is_one_round_trip_on_kept_connections(
    database: EmbeddedDynamoDB, caplog: pytest.LogCaptureFixture
):
    # given the service's client behind a proxy that holds every request half a second
    with DynamoDBProxy(database.endpoint_url) as proxy:
        table = Table(create_dynamodb_client(Settings(TABLE, proxy.endpoint_url, "us-east-1")), TABLE)
        proxy.delay_seconds = DELAY
        reads = [lambda index=index: table.get("ORG#o", f"USER#{index}") for index in range(MAX_IN_FLIGHT)]

        # when the largest fan-out the service makes reads side by side, twice
        with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
            side_by_side(reads)
            proxy.clear()
            started = time.monotonic()
            side_by_side(reads)
            waited = time.monotonic() - started
        exchanges = proxy.exchanges()

    # then the reads were in flight together (one round trip; a few of the pool's threads may
    # still be busy with what earlier tests left running in this process), and no connection
    # was thrown away to be opened again next time (on AWS, a TLS handshake each): the
    # connection pool holds the whole fan-out
    assert len(exchanges) == MAX_IN_FLIGHT
    assert most_in_flight(exchanges) >= 0.9 * MAX_IN_FLIGHT
    assert waited < 2.5 * DELAY
    assert not [record for record in caplog.records if "pool is full" in record.getMessage()]


def most_in_flight(exchanges: list[Exchange]) -> int:
    """The most requests the proxy held at the same moment."""
    edges = sorted([(e.started, 1) for e in exchanges] + [(e.ended, -1) for e in exchanges])
    in_flight = most = 0
    for _, step in edges:
        in_flight += step
        most = max(most, in_flight)
    return most
