"""What SCIM group membership costs, at 10 members and at 100,000 (``--group-size``).

Everything goes through the real /Groups handler on moto in-process, so the request counts
are what the deployed code sends; wall times are moto's, printed for information only.

The asserted promise: adding or removing one member costs the same DynamoDB requests in a
group of 100,000 as in a group of 10 (memberships are items of their own), and a GET with
excludedAttributes=members reads no membership item. The large group is built the way an
IdP would push it: PATCH requests of 1,000 members each."""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import boto3
import moto  # noqa: F401 - imported before any boto3 client exists, so none escapes the mock
from moto import mock_aws

from benchmarks import format_table
from benchmarks.harness import FixedClock, bulk_load_people, collected_activity
from benchmarks.request_counter import DynamoDBRequestCounter, Tally
from devserver.dispatch import Dispatcher
from devserver.moto_partitions import make_moto_dynamodb_partitioned
from devserver.template import create_table
from scim_provisioning import runtime
from scim_provisioning.models import OrganizationRole, Person
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.repository.protocols import Stores
from scim_provisioning.repository.table import Table

TABLE_NAME = "scim-provisioning-groups-bench"
GROUPS = "/api/v1/scim/v2/Groups"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
DEFAULT_GROUP_SIZE = 100_000
SMALL_GROUP_SIZE = 10
BATCH = 1_000  # members per PATCH while building the large group, as Okta pushes them


@dataclass(frozen=True)
class Row:
    operation: str
    tally: Tally
    seconds: float
    note: str = ""


class _Bench:
    def __init__(self, client: Any, stores: Stores, clock: FixedClock) -> None:
        self.counter = DynamoDBRequestCounter(client)
        self.table = Table(client, TABLE_NAME)
        self.stores = stores
        self.clock = clock
        self.api = Dispatcher()
        self.rows: list[Row] = []
        current = runtime.current()
        organization, admin = current.organizations.create_organization("Bench", "admin@bench.test", "Bench", "Admin")
        self.organization = organization.uuid
        principal = current.authenticator.authenticate_admin(
            f"ApiKey {current.organizations.create_api_key(organization.uuid, admin.uuid, 'bench')[1]}"
        )
        self.bearer = f"Bearer {current.access_tokens.create(principal, 'bench', None)[1]}"

    def people(self, count: int) -> list[str]:
        """``count`` users of the organization, written straight into the table: setup, not
        measured (100,000 SCIM POSTs would take most of an hour on moto)."""
        now = self.clock.now()
        ids = [str(uuid.uuid4()) for _ in range(count)]
        people = [
            Person(user_id, self.organization, f"{user_id}@bench.test", True, OrganizationRole.MEMBER, now, now)
            for user_id in ids
        ]
        bulk_load_people(self.table, self.organization, people)
        return ids

    def call(self, method: str, path: str, expected: int, body: Any = None) -> dict[str, Any]:
        response = self.api.handle(
            method,
            path,
            [("Authorization", self.bearer), ("Content-Type", "application/scim+json")],
            None if body is None else json.dumps(body),
        )
        if response.status != expected:
            raise RuntimeError(f"{method} {path}: {response.status} {response.body[:500]!r}")
        return json.loads(response.body) if response.body else {}

    def measure(self, operation: str, method: str, path: str, expected: int, body: Any = None, note: str = "") -> Row:
        with self.counter.measure() as tally:
            started = time.perf_counter()
            self.call(method, path, expected, body)
            seconds = time.perf_counter() - started
        row = Row(operation, tally, seconds, note)
        self.rows.append(row)
        return row

    def group(self, name: str) -> str:
        return self.call("POST", GROUPS, 201, {"displayName": name})["id"]

    @staticmethod
    def add(user_ids: list[str]) -> dict[str, Any]:
        return {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in user_ids]}],
        }

    @staticmethod
    def remove(user_id: str) -> dict[str, Any]:
        return {"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": f'members[value eq "{user_id}"]'}]}


def _one_member_rows(bench: _Bench, group_id: str, size: int, spare: str) -> tuple[Row, Row]:
    path = f"{GROUPS}/{group_id}?excludedAttributes=members"
    added = bench.measure(f"PATCH add 1 member, group of {size:,}", "PATCH", path, 200, bench.add([spare]))
    removed = bench.measure(f"PATCH remove 1 member, group of {size:,}", "PATCH", path, 200, bench.remove(spare))
    return added, removed


def measure_all(group_size: int = DEFAULT_GROUP_SIZE) -> tuple[list[Row], list[str]]:
    """The rows, and the failed promises (empty when every ceiling holds)."""
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    failures: list[str] = []
    make_moto_dynamodb_partitioned()  # moto reading one partition, as the dev server's does
    with mock_aws(), warnings.catch_warnings(), collected_activity():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE_NAME)
        clock = FixedClock()
        stores = dynamodb_stores(client, TABLE_NAME)
        runtime.configure(stores=stores, clock=clock)
        try:
            bench = _Bench(client, stores, clock)
            started = time.perf_counter()
            users = bench.people(max(group_size, BATCH) + 1)
            setup_seconds = time.perf_counter() - started
            spare, users = users[0], users[1:]

            small = bench.group("Small")
            bench.call("PATCH", f"{GROUPS}/{small}", 200, bench.add(users[:SMALL_GROUP_SIZE]))
            small_add, small_remove = _one_member_rows(bench, small, SMALL_GROUP_SIZE, spare)
            bench.measure(f"GET group of {SMALL_GROUP_SIZE} with members", "GET", f"{GROUPS}/{small}", 200)
            bench.measure(
                f"PATCH add 1 member, group of {SMALL_GROUP_SIZE}, default answer",
                "PATCH",
                f"{GROUPS}/{small}",
                200,
                bench.add([spare]),
                "answer carries the members",
            )

            one_batch = bench.group("One batch")
            bench.measure(
                f"PATCH add {BATCH:,} members (one request)",
                "PATCH",
                f"{GROUPS}/{one_batch}",
                200,
                bench.add(users[:BATCH]),
                f"{BATCH:,} membership items",
            )

            large = bench.group("Large")
            started = time.perf_counter()
            build = Tally()
            for start in range(0, group_size, BATCH):
                with bench.counter.measure() as tally:
                    bench.call(
                        "PATCH",
                        f"{GROUPS}/{large}?excludedAttributes=members",
                        200,
                        bench.add(users[start : start + BATCH]),
                    )
                build.requests.update(tally.requests)
            patches = -(-group_size // BATCH)
            seconds = time.perf_counter() - started
            bench.rows.append(
                Row(
                    f"build a group of {group_size:,}: {patches} PATCHes of {BATCH:,}",
                    build,
                    seconds,
                    f"{seconds / patches:.2f} s a PATCH (excludedAttributes=members)",
                )
            )
            large_add, large_remove = _one_member_rows(bench, large, group_size, spare)
            bench.measure(
                f"PATCH add 1 member, group of {group_size:,}, default answer",
                "PATCH",
                f"{GROUPS}/{large}",
                200,
                bench.add([spare]),
                "members omitted: group is large",
            )
            get_large = bench.measure(
                f"GET group of {group_size:,}, excludedAttributes=members",
                "GET",
                f"{GROUPS}/{large}?excludedAttributes=members",
                200,
                note="0 membership items read",
            )
            bench.measure(
                f"GET group of {group_size:,} with members",
                "GET",
                f"{GROUPS}/{large}",
                400 if group_size > 10_000 else 200,
                note="400 tooMany above 10,000 members",
            )
            bench.measure(
                f"DELETE group of {group_size:,}",
                "DELETE",
                f"{GROUPS}/{large}",
                204,
                note="memberships deleted 25 a request, 40 requests in flight",
            )
            if left := bench.stores.memberships.member_ids(bench.organization, large, limit=1):
                failures.append(f"DELETE group of {group_size:,} left memberships behind: {left}")
        finally:
            runtime.reset()
    for small_row, large_row in ((small_add, large_add), (small_remove, large_remove)):
        if large_row.tally.requests != small_row.tally.requests:
            failures.append(
                f"{large_row.operation}: {large_row.tally.by_operation()} != {small_row.tally.by_operation()}"
            )
    if get_large.tally.requests["Query"] or get_large.tally.requests["BatchGetItem"]:
        failures.append(f"{get_large.operation} read memberships: {get_large.tally.by_operation()}")
    bench.rows.insert(
        0, Row(f"setup: {len(users) + 1:,} users written directly (not measured)", Tally(), setup_seconds)
    )
    return bench.rows, failures


def report(rows: list[Row]) -> str:
    table = format_table(
        ["operation", "requests by type", "total", "reads/writes", "wall s (moto)", "note"],
        [
            [
                row.operation,
                row.tally.by_operation(),
                str(row.tally.total),
                f"{row.tally.reads}/{row.tally.writes}",
                f"{row.seconds:.2f}",
                row.note,
            ]
            for row in rows
        ],
    )
    return (
        "SCIM group membership costs through the /Groups handler (moto in-process; each request\n"
        "includes its SCIM bearer authentication, one GetItem; its activity entry is written by\n"
        "the activity ingest, off the request). Asserted: adding or removing one\n"
        "member costs the same requests at every group size; GET with excludedAttributes=members\n"
        "reads no membership item. Wall times are moto's (patched to read one partition,\n"
        "devserver/moto_partitions.py), for information only.\n"
        f"{table}"
    )
