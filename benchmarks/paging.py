"""Walking an organization by ``startIndex`` (issue 11.3): 10,000 users, ``count=100``, pages
``startIndex=1, 101, 201, …`` as Okta's "Import users" asks them, through the Users handler
on moto in-process.

Each served page leaves a bookmark where it ended (``services/paging.py``), so the next page
reads from there: the items DynamoDB reads over the whole walk grow with the organization
(O(n)), where reading every page from the start read n²/(2·count) (500,000 at 10,000 users).
Asserted: the walk returns every user once, in order; its total items read stay under twice
the organization's size; and the last pages read no more than the first ones. The page asks
``excludedAttributes=groups`` (as a bulk import does): the groups' reads are per user listed,
linear either way, and not what this measures."""

from __future__ import annotations

import json
import os
import time
import warnings
from dataclasses import dataclass
from typing import Any

import boto3
import moto  # noqa: F401 - imported before any boto3 client exists, so none escapes the mock
from moto import mock_aws

from benchmarks.harness import FixedClock, bulk_load_people, collected_activity, member_people
from benchmarks.request_counter import DynamoDBRequestCounter
from devserver.dispatch import Dispatcher
from devserver.moto_partitions import make_moto_dynamodb_partitioned
from devserver.template import create_table
from scim_provisioning import runtime
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.repository.table import Table

TABLE_NAME = "scim-provisioning-paging-bench"
USERS = "/api/v1/scim/v2/Users"
ORGANIZATION_SIZE = 10_000
PAGE = 100
# A page reads its 100 users and a few items more: the bearer's credential, the total, the
# bookmark it starts from, the one item that tells whether another page follows.
PER_PAGE_OVERHEAD = 5


@dataclass(frozen=True)
class Walk:
    users: int
    pages: int
    items_read: int
    requests: int
    first_pages_items: int  # items read by the first ten pages after the first
    last_pages_items: int  # and by the last ten
    in_order: bool
    seconds: float

    @property
    def from_the_start(self) -> int:
        """What reading every page from the start would read: pages·(pages+1)/2·count."""
        return self.pages * (self.pages + 1) // 2 * PAGE

    @property
    def failures(self) -> list[str]:
        failures = []
        if not self.in_order:
            failures.append("startIndex walk: users missing, repeated or out of order")
        if self.items_read > 2 * self.users:
            failures.append(f"startIndex walk: {self.items_read:,} items read for {self.users:,} users (not linear)")
        if self.last_pages_items > self.first_pages_items + 10 * PER_PAGE_OVERHEAD:
            failures.append("startIndex walk: late pages read more than early ones")
        return failures


def measure(size: int = ORGANIZATION_SIZE) -> Walk:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    make_moto_dynamodb_partitioned()
    with mock_aws(), warnings.catch_warnings(), collected_activity():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, TABLE_NAME)
        current = runtime.configure(stores=dynamodb_stores(client, TABLE_NAME), clock=FixedClock())
        try:
            return _walk(current, client, size)
        finally:
            runtime.reset()


def _walk(current: runtime.Runtime, client: Any, size: int) -> Walk:
    organization, admin = current.organizations.create_organization("Paging", "admin@paging.test", "Pat", "Admin")
    _, api_key = current.organizations.create_api_key(organization.uuid, admin.uuid, "bench")
    _, secret = current.access_tokens.create(current.authenticator.authenticate_admin(f"ApiKey {api_key}"), "b", None)
    names = (f"user{number:05d}@paging.test" for number in range(size - 1))
    people = member_people(organization.uuid, names, current.clock.now())
    bulk_load_people(Table(client, TABLE_NAME), organization.uuid, people)
    expected = sorted([person.uuid for person in people] + [admin.uuid])
    api, counter = Dispatcher(), DynamoDBRequestCounter(client)
    headers = [("Authorization", f"Bearer {secret}")]
    walked: list[str] = []
    per_page: list[int] = []
    requests = 0
    started = time.monotonic()
    for start_index in range(1, size + 1, PAGE):
        target = f"{USERS}?startIndex={start_index}&count={PAGE}&excludedAttributes=groups"
        with counter.measure() as tally:
            response = api.handle("GET", target, headers, None)
        if response.status != 200:
            raise RuntimeError(f"GET {target}: {response.status} {response.body[:300]!r}")
        walked += [resource["id"] for resource in json.loads(response.body)["Resources"]]
        per_page.append(tally.items_read)
        requests += tally.total
    return Walk(
        users=size,
        pages=len(per_page),
        items_read=sum(per_page),
        requests=requests,
        first_pages_items=sum(per_page[1:11]),
        last_pages_items=sum(per_page[-10:]),
        in_order=walked == expected,
        seconds=time.monotonic() - started,
    )


def report(walk: Walk) -> str:
    return (
        f"Walking {walk.users:,} users by startIndex (count {PAGE}, {walk.pages} pages, moto in-process):\n"
        f"items read {walk.items_read:,} in {walk.requests:,} requests "
        f"({walk.items_read / walk.users:.2f} per user; from the start every page would read "
        f"{walk.from_the_start:,}); pages 2-11 read {walk.first_pages_items:,}, the last 10 "
        f"{walk.last_pages_items:,}; every user once and in order: {'yes' if walk.in_order else 'NO'}; "
        f"{walk.seconds:.1f} s."
    )


if __name__ == "__main__":  # python -m benchmarks.paging: this walk alone
    walked = measure()
    print(report(walked), flush=True)
    raise SystemExit(1 if walked.failures else 0)
