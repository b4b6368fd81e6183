"""The organization item: ``ORG#<org>`` / ``ORGANIZATION``, with its ``userCount``,
``groupCount`` and ``activeAdminCount``. The counters change in the same transaction as the
person or group they count (``count_change`` is the operation the people and group stores
include), so ``totalResults`` of an unfiltered list is one read, and the last active admin
cannot be demoted, deactivated or deleted: the transaction that would take the count below
one fails its condition (docs/decisions.md, "The last active admin")."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scim_provisioning.models import Organization, OrganizationRole, Person
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.items import Operation, org_pk
from scim_provisioning.repository.protocols import UserNameTaken
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

if TYPE_CHECKING:  # the people store includes count_change from here: no import cycle at run time
    from scim_provisioning.repository.people import DynamoDBPeopleStore

ORGANIZATION_SK = "ORGANIZATION"


ACTIVE_ADMIN_COUNT = "activeAdminCount"


def count_change(
    table: Table, organization_uuid: str, counter: str, delta: int, *, active_admins: int = 0
) -> Operation:
    """``ADD <counter> :delta`` on the organization item (userCount, groupCount,
    activeAdminCount), and ``active_admins`` to the active admins, for the transaction that
    writes what it counts. Taking active admins away is conditioned on one staying: a count
    that would fall below one (or that an organization written before the count existed does
    not have yet) fails the transaction, and the failed item is returned so the caller can
    tell which it was."""
    deltas = {counter: delta}
    deltas[ACTIVE_ADMIN_COUNT] = deltas.get(ACTIVE_ADMIN_COUNT, 0) + active_admins
    deltas = {name: change for name, change in deltas.items() if change}
    values: dict[str, Any] = {f":d{index}": {"N": str(change)} for index, change in enumerate(deltas.values())}
    condition = "attribute_exists(PK)"
    extra: dict[str, Any] = {}
    admins = deltas.get(ACTIVE_ADMIN_COUNT, 0)
    if admins < 0:
        condition += f" AND {ACTIVE_ADMIN_COUNT} >= :floor"
        values[":floor"] = {"N": str(1 - admins)}
        extra["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    return table.update(
        org_pk(organization_uuid),
        ORGANIZATION_SK,
        UpdateExpression="ADD " + ", ".join(f"{name} :d{index}" for index, name in enumerate(deltas)),
        ConditionExpression=condition,
        ExpressionAttributeValues=values,
        **extra,
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
            ACTIVE_ADMIN_COUNT: 1 if admin.active and admin.role is OrganizationRole.ADMIN else 0,
        }
        operations = [*self._people.creation_operations(admin), self._table.put(item)]
        self._table.transact_with_claim(operations, UserNameTaken(admin.user_name), admin.uuid)

    def get_organization(self, organization_uuid: str) -> Organization | None:
        item = self._table.get(org_pk(organization_uuid), ORGANIZATION_SK)
        if item is None:
            return None
        return Organization(uuid=item["uuid"], name=item["name"], created_at=parse_timestamp(item["createdAt"]))

    def active_admin_count(self, organization_uuid: str) -> int | None:
        """The organization's count of active admins; None when it has none yet (an
        organization created before the count existed, until ``scim-admin upgrade``)."""
        item = self._table.get(org_pk(organization_uuid), ORGANIZATION_SK)
        if item is None or ACTIVE_ADMIN_COUNT not in item:
            return None
        return int(item[ACTIVE_ADMIN_COUNT])

    def set_active_admin_count(self, organization_uuid: str, count: int, expected: int | None) -> bool:
        """Set the count if it is still ``expected`` (None: still absent); False when it moved
        meanwhile (a person's write changed it), so the caller counts again."""
        if expected is None:
            condition, values = f"attribute_exists(PK) AND attribute_not_exists({ACTIVE_ADMIN_COUNT})", {}
        else:
            condition, values = f"{ACTIVE_ADMIN_COUNT} = :expected", {":expected": {"N": str(expected)}}
        try:
            self._table.update_item(
                org_pk(organization_uuid),
                ORGANIZATION_SK,
                UpdateExpression=f"SET {ACTIVE_ADMIN_COUNT} = :count",
                ConditionExpression=condition,
                ExpressionAttributeValues={**values, ":count": {"N": str(count)}},
            )
        except ConditionFailed:
            return False
        return True
