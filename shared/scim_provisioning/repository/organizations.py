"""The organization item: ``ORG#<org>`` / ``ORGANIZATION``, with its ``userCount`` and
``groupCount``. The counters change in the same transaction as the person or group they
count (``count_change`` is the operation the people and group stores include), so
``totalResults`` of an unfiltered list is one read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scim_provisioning.models import Organization, Person
from scim_provisioning.repository.protocols import UserNameTaken
from scim_provisioning.repository.table import Operation, Table, org_pk
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

if TYPE_CHECKING:  # the people store includes count_change from here: no import cycle at run time
    from scim_provisioning.repository.people import DynamoDBPeopleStore

ORGANIZATION_SK = "ORGANIZATION"


def count_change(table: Table, organization_uuid: str, counter: str, delta: int) -> Operation:
    """``ADD <counter> :delta`` on the organization item (userCount, groupCount), for the
    transaction that writes what it counts."""
    return table.update(
        org_pk(organization_uuid),
        ORGANIZATION_SK,
        UpdateExpression=f"ADD {counter} :delta",
        ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeValues={":delta": {"N": str(delta)}},
    )


def read_count(table: Table, organization_uuid: str, counter: str) -> int:
    item = table.get(org_pk(organization_uuid), ORGANIZATION_SK)
    return 0 if item is None else int(item.get(counter, 0))


class DynamoDBOrganizationStore:
    """Implements ``OrganizationStore``. Creating an organization writes its first admin in
    the same transaction, with the operations the people store hands over."""

    def __init__(self, table: Table, people: DynamoDBPeopleStore) -> None:
        self._table = table
        self._people = people

    def create_organization(self, organization: Organization, admin: Person) -> None:
        item = {
            "PK": org_pk(organization.uuid),
            "SK": ORGANIZATION_SK,
            "entity": "Organization",
            "uuid": organization.uuid,
            "name": organization.name,
            "createdAt": format_timestamp(organization.created_at),
            "userCount": 1,
        }
        operations = [*self._people.creation_operations(admin), self._table.put(item)]
        self._table.transact_with_claim(operations, UserNameTaken(admin.user_name), admin.uuid)

    def get_organization(self, organization_uuid: str) -> Organization | None:
        item = self._table.get(org_pk(organization_uuid), ORGANIZATION_SK)
        if item is None:
            return None
        return Organization(uuid=item["uuid"], name=item["name"], created_at=parse_timestamp(item["createdAt"]))
