"""The token guardian's run: its DynamoDB requests beside 10 and beside 10,000 organizations whose
tokens have nothing to report, with the same few that do.

Issue 12 asks that the run's cost not grow with the organizations or tokens that are not about
to expire. Each size loads the background in bulk (every organization with one token, created
30 days ago, its first week checked, used an hour ago, expiring in 60 days: the steady state of
a healthy customer) and the same foreground through the real store: two tokens expiring within
14 days, one whose first week just ended unused, one idle while its organization's other token
is busy. Then one guardian run, and a second one at the same instant (everything already told),
are measured through the real stores on moto. The counts must be identical at both sizes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import moto  # noqa: F401 - imported before any boto3 client exists, so none escapes the mock
from moto import mock_aws

from benchmarks import format_table
from benchmarks.harness import FixedClock
from benchmarks.request_counter import DynamoDBRequestCounter, Tally
from devserver.dev_only import RecordingOutbox
from devserver.moto_partitions import make_moto_dynamodb_partitioned
from devserver.template import create_table
from scim_provisioning.models import CredentialKind, ScimTokenMetadata
from scim_provisioning.repository.credentials import scim_token_items
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.repository.items import serialize
from scim_provisioning.repository.table import Table
from scim_provisioning.services.token_guardian import GuardianPolicy, TokenGuardian

TABLE_NAME = "scim-provisioning-guardian-bench"
SIZES = (10, 10_000)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
# What the foreground must produce: two expiry warnings, one first-week flag, one idle flag.
EXPECTED_EVENTS = 4


@dataclass(frozen=True)
class RunCost:
    organizations: int  # beside the foreground's three
    first: Tally  # the run that finds and sends everything
    again: Tally  # the same instant once more: everything already told
    events: int
    notifications: int


def _token(
    organization_uuid: str, created: timedelta, expires: timedelta | None, used: timedelta | None
) -> ScimTokenMetadata:
    return ScimTokenMetadata(
        uuid=str(uuid.uuid4()),
        organization_uuid=organization_uuid,
        description="Okta",
        created_at=NOW + created,
        expires_at=None if expires is None else NOW + expires,
        last_used_at=None if used is None else NOW + used,
        rotated_at=None,
    )


def _load_background(table: Table, organizations: int) -> None:
    """One healthy token per organization, written as its creation writes it, 25 to a
    BatchWriteItem, without the first-week entry the guardian removed weeks ago."""
    requests = []
    for _ in range(organizations):
        token = _token(str(uuid.uuid4()), timedelta(days=-30), timedelta(days=60), timedelta(hours=-1))
        metadata, credential = scim_token_items(token, uuid.uuid4().hex)
        del metadata["GSI1PK"], metadata["GSI1SK"]
        requests += [{"PutRequest": {"Item": serialize(item)}} for item in (metadata, credential)]
    table.batch_write(requests)


def _load_foreground(stores: Any) -> None:
    expiring, unused, idle = (str(uuid.uuid4()) for _ in range(3))
    busy = _token(idle, timedelta(days=-60), None, None)
    tokens = [
        _token(expiring, timedelta(days=-80), timedelta(days=5), None),
        _token(expiring, timedelta(days=-80), timedelta(days=10), None),
        _token(unused, timedelta(days=-7, minutes=-30), None, None),
        _token(idle, timedelta(days=-60), None, None),
        busy,
    ]
    last_uses = [timedelta(days=-1), timedelta(days=-1), None, timedelta(days=-14, hours=-1), timedelta(hours=-1)]
    for token, used in zip(tokens, last_uses, strict=True):
        stores.scim_tokens.create_scim_token(token, uuid.uuid4().hex)
        if token.created_at < NOW - timedelta(days=8):
            stores.scim_token_indexes.end_first_week_check(token)  # as an earlier run left it
        if used is not None:
            stores.credentials.stamp_last_used(
                token.organization_uuid, CredentialKind.SCIM_TOKEN, token.uuid, NOW + used, NOW + used
            )


def measure_on(client: Any, table_name: str, organizations: int) -> RunCost:
    """Load a new table ``table_name`` through ``client`` (moto) and measure the two runs."""
    create_table(client, table_name)
    stores = dynamodb_stores(client, table_name)
    _load_background(Table(client, table_name), organizations)
    _load_foreground(stores)
    outbox = RecordingOutbox()
    guardian = TokenGuardian(
        stores.scim_tokens,
        stores.scim_token_indexes,
        stores.token_notices,
        outbox,
        outbox,
        FixedClock(NOW),
        GuardianPolicy(),
    )
    counter = DynamoDBRequestCounter(client)
    with counter.measure() as first:
        guardian.run()
    with counter.measure() as again:
        guardian.run()
    return RunCost(organizations, first, again, len(outbox.events), len(outbox.notifications))


def measure(organizations: int) -> RunCost:
    make_moto_dynamodb_partitioned()
    with mock_aws():
        return measure_on(boto3.client("dynamodb", region_name="us-east-1"), TABLE_NAME, organizations)


def measure_all(sizes: tuple[int, ...] = SIZES) -> list[RunCost]:
    return [measure(size) for size in sizes]


def failures(rows: list[RunCost]) -> list[str]:
    """A run whose requests differ between sizes, or that missed part of the foreground."""
    found = []
    if len({(row.first.by_operation(), row.again.by_operation()) for row in rows}) > 1:
        found.append("token guardian run grows with organizations whose tokens are not expiring")
    if any(row.events != EXPECTED_EVENTS for row in rows):
        found.append("token guardian run missed a token it should report")
    return found


def report(rows: list[RunCost]) -> str:
    header = ("token guardian run", "organizations", "requests", "by operation", "capacity", "sent")
    body = []
    for row in rows:
        background = f"{row.organizations:,} + 3"
        sent = f"{row.events} events, {row.notifications} e-mails"
        body.append(
            ("first run", background, str(row.first.total), row.first.by_operation(), row.first.capacity(), sent)
        )
        body.append(
            (
                "again, same instant",
                background,
                str(row.again.total),
                row.again.by_operation(),
                row.again.capacity(),
                "-",
            )
        )
    return format_table(header, body)
