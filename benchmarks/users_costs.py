"""DynamoDB requests per SCIM /Users operation, at 10 users and at 100,000, with ceilings.

Every row goes through the real Users handler (``devserver.dispatch.Dispatcher``) with a SCIM
bearer token, on moto with a fixed clock, so it includes the request's authentication: one
key read (its lastUsedAt and activity entry are written by the activity ingest, off the
request: see the token API table). The 100,000-user organization is seeded through
``benchmarks.harness.bulk_load_people`` (the items a POST writes, in batches), not through
100,000 POSTs; its wall time is reported, never asserted."""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
import moto  # noqa: F401 - imported before any boto3 client exists, so none escapes the mock
from moto import mock_aws

from benchmarks import format_table
from benchmarks.harness import FixedClock, bulk_load_people, collected_activity
from benchmarks.request_counter import Ceiling, DynamoDBRequestCounter, Tally
from devserver.dispatch import Dispatcher
from devserver.moto_partitions import make_moto_dynamodb_partitioned
from devserver.template import create_table
from scim_provisioning import runtime
from scim_provisioning.models import OrganizationRole, Person
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.repository.table import Table
from scim_provisioning.scim.listing import encode_cursor

TABLE_NAME = "scim-provisioning-users-bench"
USERS = "/api/v1/scim/v2/Users"
SMALL, LARGE = 10, 100_000
PAGE = 100


# Reads include the bearer's key read; no write is the request's bookkeeping (the activity
# entry and lastUsedAt are the activity ingest's, docs/decisions.md). GET by id: auth + one read
# + the GSI1 query of the user's groups. POST: auth + one transaction. Raising one is a design
# decision: say why in the commit.
CEILINGS: dict[str, Ceiling] = {
    "POST /Users": Ceiling(reads=1, writes=1),
    "GET /Users/{id}": Ceiling(reads=3, writes=0),
    "PUT /Users/{id}": Ceiling(reads=3, writes=1),
    "PATCH /Users/{id} (replace active)": Ceiling(reads=3, writes=1),
    "DELETE /Users/{id}": Ceiling(reads=3, writes=1),
}
# Measured at both organization sizes ("<operation>, <n> users"), with the same ceiling, and
# asserted equal between the sizes: the cost must not grow with the organization. The lookups
# answer with the user's groups (one GSI1 query per user returned); the page of 100 asks
# excludedAttributes=groups, as a bulk import does, so it reads no membership.
SIZE_INDEPENDENT: dict[str, Ceiling] = {
    "filter userName eq": Ceiling(reads=4, writes=0),
    "filter externalId eq": Ceiling(reads=4, writes=0),
    "filter emails.value eq": Ceiling(reads=4, writes=0),
    "filter id eq": Ceiling(reads=3, writes=0),
    f"page of {PAGE}, cursor at the start": Ceiling(reads=3, writes=0),
    f"page of {PAGE}, cursor deep in the list": Ceiling(reads=3, writes=0),
}


def sized(operation: str, size: int) -> str:
    return f"{operation}, {size:,} users"


@dataclass(frozen=True)
class Row:
    operation: str
    tally: Tally

    @property
    def ceiling(self) -> Ceiling:
        if self.operation in CEILINGS:
            return CEILINGS[self.operation]
        return SIZE_INDEPENDENT[self.operation.rsplit(", ", 1)[0]]

    @property
    def exceeded(self) -> bool:
        return self.ceiling.exceeded_by(self.tally)


@dataclass
class Results:
    rows: list[Row]
    seeding_seconds: float
    large: int
    size_dependent: list[str]  # SIZE_INDEPENDENT rows whose counts differed between the sizes

    @property
    def failures(self) -> list[str]:
        return [row.operation for row in self.rows if row.exceeded] + self.size_dependent


def _user(user_name: str, external_id: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "externalId": external_id,
        "name": {"givenName": "Bench", "familyName": "User"},
        "emails": [{"value": user_name, "type": "work", "primary": True}],
        "active": True,
    }


class _Organization:
    """One organization, its SCIM token, and the handler its requests go through."""

    def __init__(self, counter: DynamoDBRequestCounter, clock: FixedClock, name: str) -> None:
        current = runtime.current()
        self.counter, self.clock, self.api = counter, clock, Dispatcher()
        self.organization, admin = current.organizations.create_organization(
            name, f"admin@{name}.test", "Bench", "Admin"
        )
        _, api_key = current.organizations.create_api_key(self.organization.uuid, admin.uuid, "bench")
        principal = current.authenticator.authenticate_admin(f"ApiKey {api_key}")
        _, secret = current.access_tokens.create(principal, "bench", None)
        self.authorization = f"Bearer {secret}"

    def call(self, method: str, target: str, expected: int, body: Any = None) -> Any:
        response = self.api.handle(
            method,
            target,
            [("Authorization", self.authorization), ("Content-Type", "application/scim+json")],
            None if body is None else json.dumps(body),
        )
        if response.status != expected:
            raise RuntimeError(f"{method} {target}: {response.status} {response.body!r}")
        return json.loads(response.body) if response.body else None

    def measure(self, rows: list[Row], operation: str, action: Callable[[], Any]) -> Any:
        with self.counter.measure() as tally:
            result = action()
        rows.append(Row(operation, tally))
        return result

    def seed(self, count: int) -> list[Person]:
        """``count`` people straight into the table, as POST would have stored them."""
        now = self.clock.now()
        people = []
        for number in range(count):
            user_name = f"seed{number:06d}@{self.organization.name}.test"
            resource = _user(user_name, f"ext-{number:06d}")
            people.append(
                Person(
                    uuid=str(uuid.uuid4()),
                    organization_uuid=self.organization.uuid,
                    user_name=user_name,
                    active=True,
                    role=OrganizationRole.MEMBER,
                    created_at=now,
                    last_modified=now,
                    resource=resource,
                    external_id=resource["externalId"],
                )
            )
        # Setup, outside every measured block: a client of its own, which no counter watches.
        table = Table(boto3.client("dynamodb", region_name="us-east-1"), TABLE_NAME)
        bulk_load_people(table, self.organization.uuid, people)
        return people


def _lookups(org: _Organization, rows: list[Row], size: int, target: Person, ids: list[str]) -> None:
    """The size-independent rows for one organization; ``ids`` sorted, as pages are."""

    def listed(query: str, expected_total: int | None = 1) -> Callable[[], None]:
        def run() -> None:
            found = org.call("GET", f"{USERS}?{query}", 200)
            if expected_total is not None and found["totalResults"] != expected_total:
                raise RuntimeError(f"{query}: {found['totalResults']} results")

        return run

    def page(after: str) -> Callable[[], None]:
        def run() -> None:
            path = f"{USERS}?count={PAGE}&excludedAttributes=groups&cursor={encode_cursor(after)}"
            found = org.call("GET", path, 200)
            full = len(ids) > 2 * PAGE  # the small organization has fewer users than a page
            if not found["Resources"] or (full and len(found["Resources"]) != PAGE):
                raise RuntimeError(f"a page of {len(found['Resources'])}")

        return run

    def query(expression: str) -> str:
        return "filter=" + quote(expression)

    org.measure(rows, sized("filter userName eq", size), listed(query(f'userName eq "{target.user_name.upper()}"')))
    org.measure(rows, sized("filter externalId eq", size), listed(query(f'externalId eq "{target.external_id}"')))
    org.measure(rows, sized("filter emails.value eq", size), listed(query(f'emails.value eq "{target.user_name}"')))
    org.measure(rows, sized("filter id eq", size), listed(query(f'id eq "{target.uuid}"')))
    start, deep = ids[0], ids[max(0, len(ids) - PAGE - 1 - len(ids) // 10)]
    org.measure(rows, sized(f"page of {PAGE}, cursor at the start", size), page(start))
    org.measure(rows, sized(f"page of {PAGE}, cursor deep in the list", size), page(deep))


def _scenario(counter: DynamoDBRequestCounter, clock: FixedClock, large_size: int) -> tuple[list[Row], float]:
    rows: list[Row] = []
    small = _Organization(counter, clock, "small")
    created = small.measure(rows, "POST /Users", lambda: small.call("POST", USERS, 201, _user("ada@small.test", "x")))
    small.measure(rows, "GET /Users/{id}", lambda: small.call("GET", f"{USERS}/{created['id']}", 200))
    replacement = {**_user("ada@small.test", "x"), "displayName": "Ada"}
    small.measure(rows, "PUT /Users/{id}", lambda: small.call("PUT", f"{USERS}/{created['id']}", 200, replacement))
    deactivate = {"Operations": [{"op": "replace", "value": {"active": False}}]}
    small.measure(
        rows,
        "PATCH /Users/{id} (replace active)",
        lambda: small.call("PATCH", f"{USERS}/{created['id']}", 200, deactivate),
    )
    small.measure(rows, "DELETE /Users/{id}", lambda: small.call("DELETE", f"{USERS}/{created['id']}", 204))
    people = small.seed(SMALL - 1)  # with the admin: 10 users
    _lookups(small, rows, SMALL, people[len(people) // 2], sorted(p.uuid for p in people))

    large = _Organization(counter, clock, "large")
    large.call("GET", f"{USERS}?count=0", 200)
    started = time.perf_counter()
    people = large.seed(large_size - 1)
    seeding_seconds = time.perf_counter() - started
    _lookups(large, rows, large_size, people[len(people) // 2], sorted(p.uuid for p in people))
    return rows, seeding_seconds


def measure_all(large_size: int = LARGE) -> Results:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    make_moto_dynamodb_partitioned()  # moto reading one partition, as the dev server's does
    with mock_aws(), warnings.catch_warnings(), collected_activity():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        client = boto3.client("dynamodb", region_name="us-east-1")
        counter = DynamoDBRequestCounter(client)
        create_table(client, TABLE_NAME)
        clock = FixedClock()
        runtime.configure(stores=dynamodb_stores(client, TABLE_NAME), clock=clock)
        try:
            rows, seeding_seconds = _scenario(counter, clock, large_size)
        finally:
            runtime.reset()
    sizes = (SMALL, large_size)
    expected = set(CEILINGS) | {sized(operation, size) for operation in SIZE_INDEPENDENT for size in sizes}
    missing = expected - {row.operation for row in rows}
    if missing:
        raise RuntimeError(f"ceilings without a measurement: {sorted(missing)}")
    by_operation = {row.operation: row.tally for row in rows}
    size_dependent = [
        f"{operation} (grows with the organization)"
        for operation in SIZE_INDEPENDENT
        if by_operation[sized(operation, SMALL)].requests != by_operation[sized(operation, large_size)].requests
    ]
    return Results(rows, seeding_seconds, large_size, size_dependent)


def report(results: Results) -> str:
    table = format_table(
        ["operation", "requests by type", "total", "reads/writes (ceiling)", "check"],
        [
            [
                row.operation,
                row.tally.by_operation(),
                str(row.tally.total),
                f"{row.tally.reads}/{row.tally.writes} ({row.ceiling.reads}/{row.ceiling.writes})",
                "EXCEEDED" if row.exceeded else "ok",
            ]
            for row in results.rows
        ],
    )
    same = "differ: " + ", ".join(results.size_dependent) if results.size_dependent else "identical"
    return (
        "DynamoDB requests per SCIM /Users operation (moto in-process, fixed clock, through the Users\n"
        "handler; every row includes the bearer token's key read; the activity entry is the ingest's).\n"
        f"{table}\n"
        f"Lookups and cursor pages at {SMALL:,} and {results.large:,} users: request counts {same}.\n"
        f"Seeding {results.large - 1:,} users with bulk_load_people on moto took {results.seeding_seconds:.1f} s."
    )
