"""The fuzzed organization: one moto table for the whole module (a fresh table per example
would cost more than the example), an admin with an API key, a SCIM token, a few users and
groups, and sacrificial tokens the fuzzer may rotate or revoke. Counts of what was sent are
reported at the end of the run (``make fuzz`` prints them)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import boto3
import moto  # noqa: F401 - imported before any boto3 client exists, so none escapes the mock
import pytest
from moto import mock_aws

from benchmarks.harness import FixedClock
from devserver.dispatch import Dispatcher
from devserver.moto_partitions import make_moto_dynamodb_partitioned
from devserver.template import create_table
from scim_provisioning import activity_records, runtime
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.runtime import Runtime
from tests.conftest import TEST_NOW
from tests.fuzz.strategies import Targets


@pytest.fixture(scope="package")
def fuzz_runtime() -> Iterator[Runtime]:
    make_moto_dynamodb_partitioned()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        name = f"scim-fuzz-{uuid.uuid4().hex[:8]}"
        create_table(client, name)
        configured = runtime.configure(stores=dynamodb_stores(client, name), clock=FixedClock(TEST_NOW))
        activity_records.install_sink(lambda line: None)  # records are not what is fuzzed here
        try:
            yield configured
        finally:
            activity_records.install_sink(None)
            runtime.reset()


@pytest.fixture(scope="package")
def targets(fuzz_runtime: Runtime) -> Targets:
    organization, admin = fuzz_runtime.organizations.create_organization("Fuzz", "admin@fuzz.test", "Fay", "Fuzz")
    _, api_key = fuzz_runtime.organizations.create_api_key(organization.uuid, admin.uuid, "fuzz")
    principal = fuzz_runtime.authenticator.authenticate_admin(f"ApiKey {api_key}")
    _, secret = fuzz_runtime.access_tokens.create(principal, "fuzzer", None)
    sacrificial = [fuzz_runtime.access_tokens.create(principal, f"spare {n}", None)[0].uuid for n in range(3)]
    scim = fuzz_runtime.authenticator.authenticate_scim(f"Bearer {secret}")
    users = [fuzz_runtime.users.create(scim, {"userName": f"user{n}@fuzz.test"}).uuid for n in range(3)]
    groups = [
        fuzz_runtime.groups.create(scim, {"displayName": f"group {n}", "members": [{"value": users[0]}]}, False)
        for n in range(2)
    ]
    group_ids = [answer.group.uuid for answer in groups]
    return Targets(f"Bearer {secret}", api_key, [*users, admin.uuid], group_ids, sacrificial)


@pytest.fixture(scope="package")
def dispatcher(fuzz_runtime: Runtime) -> Dispatcher:
    """The handlers as API Gateway calls them; one for the run, so each is loaded once."""
    return Dispatcher()


def examples(default: int) -> int:
    """How many examples a fuzz test runs: FUZZ_EXAMPLES (make fuzz), else its own default."""
    return int(os.environ.get("FUZZ_EXAMPLES") or default)
