"""People: one item each, plus the items that make lookups O(1) and keep userName unique:

  USER#<uuid>                               the person (SCIM resource as JSON, version)
  USERNAME#<case-insensitive userName>      the uniqueness claim (condition: not exists)
  EXTID#<digest(externalId)>#<user uuid>    externalId lookup (not unique)
  EMAIL#<digest(casefolded email)>#<uuid>   emails.value lookup (not unique)

All in the organization's partition, and all written in the same transaction as the person,
together with the organization's userCount (and activeAdminCount when the person becomes or
stops being an active admin), so a failed write leaves nothing behind, totalResults costs one
read, and the organization always keeps an active admin."""

from __future__ import annotations

import json
from collections.abc import Iterator

from scim_provisioning.models import Deletion, OrganizationRole, Person
from scim_provisioning.repository.deletions import deletion_record
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.items import Item, Operation, case_insensitive_key, lookup_digest, org_pk
from scim_provisioning.repository.organizations import ACTIVE_ADMIN_COUNT, count_change, read_count
from scim_provisioning.repository.protocols import LastActiveAdmin, Page, UserNameTaken, VersionConflict
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

USER_PREFIX = "USER#"
_USER_NAME_PREFIX = "USERNAME#"
_EXTERNAL_ID_PREFIX = "EXTID#"
_EMAIL_PREFIX = "EMAIL#"
USER_COUNT = "userCount"


def _person_item(person: Person) -> Item:
    return {
        "PK": org_pk(person.organization_uuid),
        "SK": USER_PREFIX + person.uuid,
        "entity": "User",
        "uuid": person.uuid,
        "organizationUuid": person.organization_uuid,
        "userName": person.user_name,
        "userNameKey": case_insensitive_key(person.user_name),
        "externalId": person.external_id,
        "active": person.active,
        "role": person.role.value,
        "version": person.version,
        "createdAt": format_timestamp(person.created_at),
        "lastModified": format_timestamp(person.last_modified),
        "resource": json.dumps(person.resource, separators=(",", ":")),
        "writtenByToken": person.written_by,
    }


def _person_from_item(item: Item) -> Person:
    return Person(
        uuid=item["uuid"],
        organization_uuid=item["organizationUuid"],
        user_name=item["userName"],
        active=bool(item["active"]),
        role=OrganizationRole(item["role"]),
        created_at=parse_timestamp(item["createdAt"]),
        last_modified=parse_timestamp(item["lastModified"]),
        version=int(item["version"]),
        resource=json.loads(item["resource"]),
        external_id=item.get("externalId"),
        written_by=item.get("writtenByToken"),
    )


def _active_admin(person: Person) -> int:
    """1 when the person counts among the organization's active admins."""
    return 1 if person.active and person.role is OrganizationRole.ADMIN else 0


def _refused(failure: ConditionFailed, admin_index: int | None) -> LastActiveAdmin | None:
    """The LastActiveAdmin a failed transaction means, when its organization update (operation
    ``admin_index``, which takes an active admin away) failed alone."""
    if admin_index is None or not failure.failed_alone(admin_index):
        return None
    organization = failure.old_item(admin_index) or {}
    return LastActiveAdmin(uncounted=ACTIVE_ADMIN_COUNT not in organization)


def _claim_sk(user_name: str) -> str:
    return _USER_NAME_PREFIX + case_insensitive_key(user_name)


def _lookup_sks(person: Person) -> dict[str, str]:
    """Sort keys of the person's lookup items (the claim excluded), with their kind."""
    keys = {}
    if person.external_id:
        keys[f"{_EXTERNAL_ID_PREFIX}{lookup_digest(person.external_id)}#{person.uuid}"] = "externalId"
    for email in person.email_addresses:
        keys[f"{_EMAIL_PREFIX}{lookup_digest(case_insensitive_key(email))}#{person.uuid}"] = "email"
    return keys


class DynamoDBPeopleStore:
    """Implements ``PeopleStore``."""

    def __init__(self, table: Table) -> None:
        self._table = table

    # ----------------------------------------------------------------- operations
    def _lookup_put(self, person: Person, sort_key: str, kind: str) -> Operation:
        item = {
            "PK": org_pk(person.organization_uuid),
            "SK": sort_key,
            "entity": "UserLookup",
            "kind": kind,
            "userUuid": person.uuid,
        }
        return self._table.put(item, condition=None)

    def _claim_put(self, person: Person) -> Operation:
        item = {
            "PK": org_pk(person.organization_uuid),
            "SK": _claim_sk(person.user_name),
            "entity": "UserNameClaim",
            "userUuid": person.uuid,
        }
        return self._table.put(item)

    def creation_operations(self, person: Person) -> list[Operation]:
        """The person's item (operation 0), its claim (1) and its lookups: what a
        transaction that creates the person includes (``Table.transact_with_claim``)."""
        return [
            self._table.put(_person_item(person)),
            self._claim_put(person),
            *(self._lookup_put(person, sort_key, kind) for sort_key, kind in _lookup_sks(person).items()),
        ]

    # --------------------------------------------------------------------- writes
    def create_person(self, person: Person) -> None:
        count = count_change(self._table, person.organization_uuid, USER_COUNT, 1, active_admins=_active_admin(person))
        operations = [*self.creation_operations(person), count]
        self._table.transact_with_claim(operations, UserNameTaken(person.user_name), person.uuid)

    def replace_person(self, previous: Person, updated: Person) -> None:
        """Write ``updated`` if the stored person is still at ``previous.version``."""
        expected = {":expected": {"N": str(previous.version)}}
        operations: list[Operation] = [self._table.put(_person_item(updated), "version = :expected", expected)]
        pk = org_pk(previous.organization_uuid)
        if case_insensitive_key(previous.user_name) != case_insensitive_key(updated.user_name):
            operations.append(self._claim_put(updated))
            operations.append(self._table.delete(pk, _claim_sk(previous.user_name)))
        old_keys, new_keys = _lookup_sks(previous), _lookup_sks(updated)
        operations.extend(self._lookup_put(updated, key, kind) for key, kind in new_keys.items() if key not in old_keys)
        operations.extend(self._table.delete(pk, key) for key in old_keys if key not in new_keys)
        admins = _active_admin(updated) - _active_admin(previous)
        admin_index = None
        if admins:
            admin_index = len(operations)
            operations.append(count_change(self._table, previous.organization_uuid, ACTIVE_ADMIN_COUNT, admins))
        self._table.transact_with_claim(
            operations, UserNameTaken(updated.user_name), updated.uuid, lambda failure: _refused(failure, admin_index)
        )

    def delete_person(self, person: Person, deletion: Deletion) -> None:
        """Delete the person with its claim and lookups, if still at ``person.version``, and
        record who deleted it (``repository/deletions.py``)."""
        pk = org_pk(person.organization_uuid)
        record = deletion_record(
            person.organization_uuid, "User", person.uuid, ("userName", person.user_name), person.version + 1, deletion
        )
        operations = [
            self._table.delete(
                pk, USER_PREFIX + person.uuid, "version = :expected", {":expected": {"N": str(person.version)}}
            ),
            self._table.delete(pk, _claim_sk(person.user_name)),
            *(self._table.delete(pk, key) for key in _lookup_sks(person)),
            self._table.put(record, condition=None),
            count_change(self._table, person.organization_uuid, USER_COUNT, -1, active_admins=-_active_admin(person)),
        ]
        try:
            self._table.transact(operations)
        except ConditionFailed as failure:
            refusal = _refused(failure, len(operations) - 1 if _active_admin(person) else None)
            if refusal is not None:
                raise refusal from failure
            raise VersionConflict(person.uuid) from failure

    # ---------------------------------------------------------------------- reads
    def get_person(self, organization_uuid: str, user_uuid: str) -> Person | None:
        item = self._table.get(org_pk(organization_uuid), USER_PREFIX + user_uuid)
        return None if item is None else _person_from_item(item)

    def get_people(self, organization_uuid: str, user_uuids: list[str]) -> list[Person]:
        """Batch-read people by id (100 keys a request), in the order asked; absent ones skipped."""
        items = self._table.batch_get(org_pk(organization_uuid), USER_PREFIX, user_uuids)
        return [_person_from_item(item) for item in items]

    def existing_people(self, organization_uuid: str, user_uuids: list[str]) -> set[str]:
        """Which of these ids are people of the organization (reads only their ``uuid``)."""
        items = self._table.batch_get(org_pk(organization_uuid), USER_PREFIX, user_uuids, only_uuid=True)
        return {item["uuid"] for item in items}

    def find_person_by_user_name(self, organization_uuid: str, user_name: str) -> Person | None:
        found = self.user_ids_by_user_name(organization_uuid, user_name)
        return self.get_person(organization_uuid, found[0]) if found else None

    def user_ids_by_user_name(self, organization_uuid: str, user_name: str) -> list[str]:
        """The id holding the userName's claim (case-insensitively), if any."""
        claim = self._table.get(org_pk(organization_uuid), _claim_sk(user_name))
        return [] if claim is None else [claim["userUuid"]]

    def user_ids_by_external_id(self, organization_uuid: str, external_id: str) -> list[str]:
        return self._ids_from_lookup(organization_uuid, _EXTERNAL_ID_PREFIX + lookup_digest(external_id) + "#")

    def user_ids_by_email(self, organization_uuid: str, email: str) -> list[str]:
        prefix = _EMAIL_PREFIX + lookup_digest(case_insensitive_key(email)) + "#"
        return self._ids_from_lookup(organization_uuid, prefix)

    def _ids_from_lookup(self, organization_uuid: str, prefix: str) -> list[str]:
        return [item["userUuid"] for item in self._table.query_prefix(org_pk(organization_uuid), prefix)]

    def count_people(self, organization_uuid: str) -> int:
        return read_count(self._table, organization_uuid, USER_COUNT)

    def list_people(self, organization_uuid: str, limit: int, after: str | None = None) -> Page[Person]:
        """People in id order, ``limit`` at most, starting after the person ``after``."""
        items, next_after = self._table.list_prefix(org_pk(organization_uuid), USER_PREFIX, limit, after)
        return Page([_person_from_item(item) for item in items], next_after)

    def scan_people(self) -> Iterator[Person]:
        """Every person of every organization, by a paged Scan of the table. For one-off
        maintenance (``scim-admin upgrade``), never for a request: its cost is the table's size."""
        request = {
            "FilterExpression": "entity = :user",
            "ExpressionAttributeValues": {":user": {"S": "User"}},
            "ConsistentRead": True,
        }
        return (_person_from_item(item) for item in self._table.scan(request))
