"""The service's handlers on a fresh table of the embedded DynamoDB (moto served over HTTP),
reached through the fault proxy with the service's own client (its retries; a read timeout
shortened so that an answer held past it costs a second, not five)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest
from botocore.config import Config

from devserver.dynamodb_proxy import DynamoDBProxy
from devserver.embedded_dynamodb import EmbeddedDynamoDB
from devserver.template import create_table
from scim_provisioning import runtime
from scim_provisioning.config import Settings
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.repository.table import CLIENT_CONFIG, create_dynamodb_client
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, make_admin, scim_token

TABLE = "faults"
READ_TIMEOUT_SECONDS = 1.0
SLOW_ANSWER_SECONDS = 1.5  # held past the read timeout


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries without their backoff (seconds each): the attempts are the same."""
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _seconds: None))


@pytest.fixture(scope="package")
def database() -> Iterator[EmbeddedDynamoDB]:
    embedded = EmbeddedDynamoDB("127.0.0.1", 0).start()
    yield embedded
    embedded.stop()


@pytest.fixture
def proxy(database: EmbeddedDynamoDB) -> Iterator[DynamoDBProxy]:
    with DynamoDBProxy(database.endpoint_url, slow_answer_seconds=SLOW_ANSWER_SECONDS) as running:
        yield running


@pytest.fixture
def direct(database: EmbeddedDynamoDB) -> Any:
    """A client straight to the embedded DynamoDB, for setup and inspection."""
    return boto3.client("dynamodb", endpoint_url=database.endpoint_url, region_name="us-east-1")


@pytest.fixture
def table_name(direct: Any) -> Iterator[str]:
    name = f"{TABLE}-{uuid.uuid4().hex[:8]}"
    create_table(direct, name)
    yield name
    direct.delete_table(TableName=name)


@pytest.fixture
def served(proxy: DynamoDBProxy, table_name: str, clock: Any) -> Iterator[Runtime]:
    """The service's stores on a fresh table, through the proxy, with the service's client."""
    config = CLIENT_CONFIG.merge(Config(read_timeout=READ_TIMEOUT_SECONDS))
    client = create_dynamodb_client(Settings(table_name, proxy.endpoint_url, "us-east-1"), config)
    yield runtime.configure(stores=dynamodb_stores(client, table_name), clock=clock)
    runtime.reset()


@pytest.fixture
def admin(served: Runtime) -> AdminFixture:
    return make_admin(served)


@pytest.fixture
def token(served: Runtime, admin: AdminFixture) -> str:
    return scim_token(served, admin)
