"""Bringing data written by earlier releases up to what this release stores (``scim-admin
upgrade``). Each repair is idempotent: it changes a record only when the record still has
the old shape, so running the upgrade twice, or on a table that never needed it, writes
nothing the second time.

Repairs:

* ``legacy admin record``: releases before 2026-11-30 stored an organization's first admin
  with only ``emails`` in its SCIM resource, so a list showed a user without ``userName`` or
  ``active`` and ``userName eq "<admin email>"`` found nobody. The resource gets the
  ``userName``, ``active`` and admin ``roles`` the record's own fields already hold.
* ``password at rest``: releases before 2026-11-30 kept a ``password`` sent on POST, PUT or
  PATCH in the stored resource (never returned, but in the table, its backups and exports).
  It is removed; nothing reads it.
* ``active admin count``: releases before 2026-12-01 kept no count of an organization's active
  admins, which the rule "the last active admin cannot be demoted, deactivated or deleted
  through SCIM" is enforced with (a condition on the count, in the person's transaction).
  The count is set from the organization's people; until then no admin can be taken away
  through SCIM (the refusal says to run the upgrade).
* ``token guardian index``: releases before 2026-12-01 wrote SCIM tokens without the index
  entries the token guardian finds them by (docs/data-model.md, "Token guardian"), so it would
  never warn before they expire. Each live token gets them.
* ``orphaned membership``: releases before 2026-12-01 could leave memberships pointing to a
  deleted user or group (a deletion racing an add, or cut short), which nothing removed; the
  membership janitor repairs what happens from its release on, from the table's stream, but
  never sees what was left before. Each is removed as the janitor removes one (a deleted user's
  leave their group with the group's version and a change record)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from scim_provisioning.clock import Clock
from scim_provisioning.models import OrganizationRole, Person, ResourceDocument
from scim_provisioning.repository.protocols import (
    MembershipStore,
    OrganizationStore,
    PeopleStore,
    ScimTokenIndexStore,
    VersionConflict,
)
from scim_provisioning.scim.resources import normalize_resource
from scim_provisioning.scim.schema import USER_RESOURCE_TYPE, Mutability
from scim_provisioning.services.janitor import MembershipJanitor
from scim_provisioning.services.users import person_from_resource
from scim_provisioning.timestamps import truncate_to_millis

LEGACY_ADMIN_RECORD = "legacy admin record"
PASSWORD_AT_REST = "password at rest"
ACTIVE_ADMIN_COUNT = "active admin count"
ORPHANED_MEMBERSHIP = "orphaned membership"
# Memberships checked together (their users and groups read in one BatchGetItem each).
_MEMBERSHIPS_CHECKED = 100
# People read a request while an organization's active admins are counted.
_COUNTING_PAGE = 500


def _complete_legacy_admin(person: Person) -> ResourceDocument:
    if "userName" in person.resource:
        return person.resource
    completed: dict[str, Any] = {**person.resource, "userName": person.user_name, "active": person.active}
    if person.role is OrganizationRole.ADMIN and "roles" not in completed:
        completed["roles"] = [{"value": OrganizationRole.ADMIN.value, "primary": True}]
    return normalize_resource(completed, USER_RESOURCE_TYPE)


_WRITE_ONLY_NAMES = frozenset(
    attribute.name
    for attribute in USER_RESOURCE_TYPE.schema.attributes
    if attribute.mutability is Mutability.WRITE_ONLY
)


def _without_password(person: Person) -> ResourceDocument:
    if _WRITE_ONLY_NAMES.isdisjoint(person.resource):
        return person.resource
    return {name: value for name, value in person.resource.items() if name not in _WRITE_ONLY_NAMES}


# Applied in this order to each person; each returns the resource unchanged when it has
# nothing to repair.
_PERSON_REPAIRS: tuple[tuple[str, Callable[[Person], ResourceDocument]], ...] = (
    (LEGACY_ADMIN_RECORD, _complete_legacy_admin),
    (PASSWORD_AT_REST, _without_password),
)


@dataclass
class UpgradeReport:
    scanned: int = 0
    upgraded: int = 0
    organizations_counted: int = 0
    repairs: Counter[str] = field(default_factory=Counter)
    scim_tokens_indexed: int = 0  # items given their token guardian index entries

    def as_document(self) -> dict[str, Any]:
        return {
            "peopleScanned": self.scanned,
            "peopleUpgraded": self.upgraded,
            "organizationsCounted": self.organizations_counted,
            "repairs": dict(self.repairs),
            "scimTokenItemsIndexed": self.scim_tokens_indexed,
        }


class UpgradeService:
    def __init__(
        self,
        organizations: OrganizationStore,
        people: PeopleStore,
        token_indexes: ScimTokenIndexStore,
        memberships: MembershipStore,
        janitor: MembershipJanitor,
        clock: Clock,
    ) -> None:
        self._organizations = organizations
        self._people = people
        self._token_indexes = token_indexes
        self._memberships = memberships
        self._janitor = janitor
        self._clock = clock

    def upgrade_all(self) -> UpgradeReport:
        """Repair every stored person that needs it (a Scan of the whole table), count the active
        admins of every organization that has people, give old SCIM tokens the token guardian's
        index entries (a second Scan), and remove orphaned memberships (a third)."""
        report = UpgradeReport()
        organizations: set[str] = set()
        for person in self._people.scan_people():
            report.scanned += 1
            organizations.add(person.organization_uuid)
            applied = self.upgrade_person(person)
            if applied:
                report.upgraded += 1
                report.repairs.update(applied)
        for organization_uuid in sorted(organizations):
            if self.count_active_admins(organization_uuid):
                report.organizations_counted += 1
                report.repairs[ACTIVE_ADMIN_COUNT] += 1
        report.scim_tokens_indexed = self._token_indexes.index_scim_tokens()
        orphans = self.remove_orphaned_memberships()
        if orphans:
            report.repairs[ORPHANED_MEMBERSHIP] += orphans
        return report

    def remove_orphaned_memberships(self) -> int:
        """Remove every membership whose user or group is gone; how many there were."""
        removed, batch = 0, []
        for membership in self._memberships.scan_memberships():
            batch.append(membership)
            if len(batch) == _MEMBERSHIPS_CHECKED:
                removed += self._janitor.remove_orphans(batch)
                batch = []
        return removed + (self._janitor.remove_orphans(batch) if batch else 0)

    def count_active_admins(self, organization_uuid: str) -> bool:
        """Set the organization's count of active admins from its people; whether it wrote
        (False: the count was already right). The count is read before the people and set
        only if it has not moved since, so a person's write racing the upgrade (which moves
        the count in its own transaction) makes it count again instead of losing that write."""
        while True:
            stored = self._organizations.active_admin_count(organization_uuid)
            counted = self._active_admins(organization_uuid)
            if stored == counted:
                return False
            if self._organizations.set_active_admin_count(organization_uuid, counted, expected=stored):
                return True

    def _active_admins(self, organization_uuid: str) -> int:
        count, after = 0, None
        while True:
            page = self._people.list_people(organization_uuid, _COUNTING_PAGE, after)
            count += sum(1 for person in page.items if person.active and person.role is OrganizationRole.ADMIN)
            if page.next_after is None:
                return count
            after = page.next_after

    def upgrade_person(self, person: Person) -> list[str]:
        """Repair one person; the names of the repairs applied (none: nothing was written).
        A person changed meanwhile is read again and repaired from what it is now."""
        while True:
            resource, applied = person.resource, []
            for name, repair in _PERSON_REPAIRS:
                repaired = repair(replace(person, resource=resource))
                if repaired != resource:
                    resource = repaired
                    applied.append(name)
            if not applied:
                return []
            now = max(truncate_to_millis(self._clock.now()), person.last_modified)
            updated = person_from_resource(
                resource, person.uuid, person.organization_uuid, person.created_at, now, person.version + 1
            )
            try:
                self._people.replace_person(person, updated)
                return applied
            except VersionConflict:
                current = self._people.get_person(person.organization_uuid, person.uuid)
                if current is None:
                    return []
                person = current
