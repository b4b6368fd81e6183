"""Integration fixtures: the real stores and services on moto's in-process DynamoDB,
with a fresh table per test built from template.yaml, patched as the dev server patches it
(requests serialized, queries reading one partition: devserver/moto_partitions.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import moto  # noqa: F401 - imported before any boto3 client exists, so none escapes the mock
import pytest
from moto import mock_aws

from benchmarks.harness import FixedClock
from devserver.dispatch import Dispatcher
from devserver.log_subscription import LocalLogSubscription
from devserver.moto_partitions import make_moto_dynamodb_partitioned
from devserver.template import create_table
from scim_provisioning import runtime
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.repository.protocols import Stores
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, make_admin, scim_token


@pytest.fixture(scope="package")
def aws_mock() -> Iterator[None]:
    make_moto_dynamodb_partitioned()
    with mock_aws():
        yield


@pytest.fixture
def dynamodb_client(aws_mock: None) -> Any:
    return boto3.client("dynamodb", region_name="us-east-1")


@pytest.fixture
def table_name(dynamodb_client: Any) -> Iterator[str]:
    name = f"scim-test-{uuid.uuid4().hex[:12]}"
    create_table(dynamodb_client, name)
    yield name
    dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def table(dynamodb_client: Any, table_name: str) -> Table:
    """This test's table, for what loads data in bulk (``benchmarks.harness``) or injects faults."""
    return Table(dynamodb_client, table_name)


@pytest.fixture
def stores(dynamodb_client: Any, table_name: str) -> Stores:
    return dynamodb_stores(dynamodb_client, table_name)


@pytest.fixture
def app_runtime(stores: Stores, clock: FixedClock) -> Iterator[Runtime]:
    """The runtime every handler uses, wired to this test's table and clock."""
    configured = runtime.configure(stores=stores, clock=clock)
    yield configured
    runtime.reset()


@pytest.fixture
def admin(app_runtime: Runtime) -> AdminFixture:
    """An organization with one active admin holding one API key."""
    return make_admin(app_runtime)


@pytest.fixture
def api(app_runtime: Runtime) -> Dispatcher:
    """The handlers of every function, called as API Gateway would, on this test's runtime."""
    return Dispatcher()


@pytest.fixture
def token(app_runtime: Runtime, admin: AdminFixture) -> str:
    """A SCIM bearer token of ``admin``'s organization, as the Authorization header carries it."""
    return scim_token(app_runtime, admin)


@pytest.fixture
def activity_ingest(app_runtime: Runtime) -> Iterator[LocalLogSubscription]:
    """Activity records delivered to the ingest handler in the background, as on the dev server
    (``devserver.log_subscription``); without it they go to standard output, as in Lambda, and
    nothing is written. Tests read what it writes with ``tests.polling.eventually``."""
    subscription = LocalLogSubscription().install()
    yield subscription
    subscription.stop()
