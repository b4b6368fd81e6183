"""What benchmarks and tests use to run the service off Lambda and never ship in the layer:
a clock that moves only when told, a fast way to load many people into a table, and a place
for the activity records the handlers emit."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scim_provisioning import activity_records
from scim_provisioning.models import OrganizationRole, Person
from scim_provisioning.repository.items import serialize
from scim_provisioning.repository.memberships import membership_item
from scim_provisioning.repository.organizations import count_change
from scim_provisioning.repository.people import USER_COUNT, DynamoDBPeopleStore
from scim_provisioning.repository.table import Table
from scim_provisioning.scim.schema import USER_SCHEMA_ID


@dataclass
class FixedClock:
    """A clock that only moves when told to, so time rules (expiry, once-per-hour rotation,
    last-used throttling) are tested by moving it instead of sleeping."""

    current: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def now(self) -> datetime:
        return self.current

    def advance(self, **delta: float) -> None:
        self.current += timedelta(**delta)


def member_people(organization_uuid: str, user_names: Iterable[str], now: datetime) -> list[Person]:
    """Active members of the organization with these userNames and new ids, their resource as
    a POST of just a userName stores it: what benchmarks and tests seed in bulk."""
    return [
        Person(
            uuid=str(uuid.uuid4()),
            organization_uuid=organization_uuid,
            user_name=user_name,
            active=True,
            role=OrganizationRole.MEMBER,
            created_at=now,
            last_modified=now,
            resource={"schemas": [USER_SCHEMA_ID], "userName": user_name, "active": True},
        )
        for user_name in user_names
    ]


def bulk_load_people(table: Table, organization_uuid: str, people: list[Person]) -> None:
    """Write many new people with the items a SCIM POST writes (``creation_operations``), 25
    to a BatchWriteItem, and add them to the organization's userCount once.

    For seeding large organizations, never for requests: there is no condition, so nothing
    checks that userNames are free, and a failure part way leaves part of the load behind."""
    store = DynamoDBPeopleStore(table)
    table.batch_write(
        [
            {"PutRequest": {"Item": operation["Put"]["Item"]}}
            for person in people
            for operation in store.creation_operations(person)
        ]
    )
    table.transact([count_change(table, organization_uuid, USER_COUNT, len(people))])


@contextmanager
def collected_activity() -> Iterator[list[str]]:
    """The activity records the handlers emit inside the block, kept in a list instead of
    printed (in Lambda they are log lines for the ingest; a benchmark's report is no place for
    them); standard output again afterwards."""
    lines: list[str] = []
    activity_records.install_sink(lines.append)
    try:
        yield lines
    finally:
        activity_records.install_sink(None)


def bulk_load_members(table: Table, organization_uuid: str, group_uuid: str, user_uuids: list[str]) -> None:
    """Write memberships of ``user_uuids`` in a group, 25 to a BatchWriteItem, without moving
    the group's version or writing a change record: for seeding, never for requests."""
    table.batch_write(
        [
            {"PutRequest": {"Item": serialize(membership_item(organization_uuid, group_uuid, user, None))}}
            for user in user_uuids
        ]
    )
