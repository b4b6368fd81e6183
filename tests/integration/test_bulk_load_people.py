"""``benchmarks.harness.bulk_load_people``, the seeding path of the 100,000-user benchmark:
the benchmark's numbers mean something only if what it loads is what POST would have stored."""

from __future__ import annotations

from datetime import datetime

from benchmarks.harness import FixedClock, bulk_load_people
from scim_provisioning.models import OrganizationRole, Person
from scim_provisioning.repository.protocols import Stores
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import make_admin

LOADED = 60  # more than two BatchWriteItem requests' worth of items


def person(organization_uuid: str, number: int, now: datetime) -> Person:
    user_name = f"seed{number:03d}@acme.test"
    return Person(
        uuid=f"00000000-0000-0000-0000-{number:012d}",
        organization_uuid=organization_uuid,
        user_name=user_name,
        active=True,
        role=OrganizationRole.MEMBER,
        created_at=now,
        last_modified=now,
        resource={"userName": user_name, "externalId": f"ext-{number}", "emails": [{"value": user_name}]},
        external_id=f"ext-{number}",
    )


def test_bulk_loaded_people_are_found_by_every_lookup_and_counted(
    app_runtime: Runtime, stores: Stores, table: Table, clock: FixedClock
) -> None:
    organization = make_admin(app_runtime).organization_uuid
    people = [person(organization, number, clock.now()) for number in range(LOADED)]

    bulk_load_people(table, organization, people)

    assert stores.people.count_people(organization) == LOADED + 1  # and the admin
    last = people[-1]
    assert stores.people.find_person_by_user_name(organization, last.user_name.upper()) == last
    assert stores.people.user_ids_by_external_id(organization, "ext-7") == [people[7].uuid]
    assert stores.people.user_ids_by_email(organization, people[30].user_name) == [people[30].uuid]
    assert len(stores.people.list_people(organization, LOADED + 10).items) == LOADED + 1
