"""Index paging that is linear in the walk (issue 11.3): each served page of an unfiltered list
leaves a bookmark where it ended, so the next page reads only itself, whichever Lambda
instance serves it; a page asked out of order, or after the bookmarks expired, is still right.
A short slice of ``make bench``'s walk of 10,000 users (``benchmarks/paging.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.harness import FixedClock, bulk_load_people, member_people
from benchmarks.request_counter import DynamoDBRequestCounter
from devserver.dispatch import Dispatcher
from scim_provisioning import runtime
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from scim_provisioning.services.paging import BOOKMARK_LIFETIME
from tests.integration.helpers import AdminFixture, call, document

USERS = "/api/v1/scim/v2/Users"
GROUPS = "/api/v1/scim/v2/Groups"
PAGE = 100
LOADED = 349  # with the admin: 350 users, four pages of which the last is half full


@pytest.fixture
def people(app_runtime: Runtime, admin: AdminFixture, table: Table, clock: FixedClock) -> list[str]:
    """350 users in id order (the admin among them)."""
    loaded = member_people(
        admin.organization_uuid, (f"user{number}@acme.test" for number in range(LOADED)), clock.now()
    )
    bulk_load_people(table, admin.organization_uuid, loaded)
    return sorted([person.uuid for person in loaded] + [admin.user_uuid])


def page(api: Dispatcher, token: str, start_index: int, path: str = USERS) -> dict[str, Any]:
    response = call(api, "GET", f"{path}?startIndex={start_index}&count={PAGE}&excludedAttributes=groups", token)
    assert response.status == 200, response.body
    return document(response)


def ids(answer: dict[str, Any]) -> list[str]:
    return [resource["id"] for resource in answer["Resources"]]


def test_walking_by_start_index_reads_each_page_once(api: Dispatcher, token: str, people: list[str], table: Table):
    # given 350 users and a counter of the items DynamoDB reads
    counter = DynamoDBRequestCounter(table.client)

    # when an importer walks them a page of 100 at a time, as Okta's import does
    read_per_page, walked = [], []
    for start_index in range(1, len(people) + 1, PAGE):
        with counter.measure() as tally:
            answer = page(api, token, start_index)
        walked += ids(answer)
        read_per_page.append(tally.items_read)
        assert answer["totalResults"] == len(people) and answer["startIndex"] == start_index

    # then every user came once, in order, and each page read about itself (its 100, the
    # total, the bookmark, the bearer's token): not the users before it
    assert walked == people
    assert max(read_per_page) <= PAGE + 5, read_per_page
    assert sum(read_per_page) <= len(people) + 5 * len(read_per_page)


def test_a_page_asked_out_of_order_is_right(api: Dispatcher, token: str, people: list[str], table: Table):
    # given no page served yet, when the third page is asked first, then it is the third hundred
    counter = DynamoDBRequestCounter(table.client)
    with counter.measure() as tally:
        third = page(api, token, 201)

    assert ids(third) == people[200:300]
    assert tally.items_read >= 300  # read from the start: there was no bookmark to start from


def test_an_expired_bookmark_is_not_used(api: Dispatcher, token: str, people: list[str], clock: FixedClock):
    # given the first page served, then its bookmark's lifetime over
    page(api, token, 1)
    clock.advance(seconds=BOOKMARK_LIFETIME.total_seconds() + 1)

    # when the second page is asked, then it is still the second hundred
    assert ids(page(api, token, 101)) == people[100:200]


def test_the_next_page_on_another_instance_starts_from_the_bookmark(
    api: Dispatcher,
    token: str,
    people: list[str],
    dynamodb_client: Any,
    table_name: str,
    table: Table,
    clock: FixedClock,
):
    # given the first page served by one instance
    page(api, token, 1)

    # when another instance (its own stores and clients, the same table) serves the second
    runtime.configure(stores=dynamodb_stores(dynamodb_client, table_name), clock=clock)
    counter = DynamoDBRequestCounter(table.client)
    with counter.measure() as tally:
        second = page(api, token, 101)

    # then it read only its own page
    assert ids(second) == people[100:200]
    assert tally.items_read <= PAGE + 5


def test_groups_are_walked_the_same_way(api: Dispatcher, token: str, table: Table):
    # given 150 groups
    created = [
        document(call(api, "POST", GROUPS, token, {"displayName": f"Group {number:03d}"}))["id"]
        for number in range(150)
    ]
    counter = DynamoDBRequestCounter(table.client)

    # when they are walked by startIndex, then the second page reads only itself
    first = page(api, token, 1, GROUPS)
    with counter.measure() as tally:
        second = page(api, token, 101, GROUPS)

    assert ids(first) + ids(second) == sorted(created)
    assert tally.items_read <= 50 + 5
