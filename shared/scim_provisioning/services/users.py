"""SCIM Users: the rules of create, read, replace, patch, delete and query.

Writes are optimistic: each one names the version it read, and DynamoDB refuses it if the
user changed meanwhile. Without ``If-Match`` the service then re-reads and re-applies the
request (so concurrent PATCHes all land, none is lost); with ``If-Match`` it answers 412."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from scim_provisioning import activity_annotation
from scim_provisioning.activity_annotation import Action
from scim_provisioning.clock import Clock
from scim_provisioning.errors import Conflict, InvalidRequest, MutabilityViolation, NotFound
from scim_provisioning.models import OrganizationRole, Person, ResourceDocument
from scim_provisioning.repository.protocols import (
    GroupStore,
    LastActiveAdmin,
    MembershipStore,
    PeopleStore,
    UserNameTaken,
)
from scim_provisioning.scim.filter import Comparison, Filter
from scim_provisioning.scim.listing import ListQuery
from scim_provisioning.scim.patch import apply_operations, parse_operations
from scim_provisioning.scim.resources import normalize_resource, refuse_immutable_changes, require_attributes
from scim_provisioning.scim.schema import USER_RESOURCE_TYPE, USER_SCHEMA, Attribute
from scim_provisioning.scim.users import filterable_user
from scim_provisioning.services.authentication import ScimPrincipal
from scim_provisioning.services.lookups import KeyedLookups, Listing, filtered_page, found
from scim_provisioning.services.paging import ResultPage, page_of_selection
from scim_provisioning.services.versioning import write_optimistically
from scim_provisioning.timestamps import truncate_to_millis

_GROUPS = cast("Attribute", USER_SCHEMA.attribute("groups"))

# The filters answered by a key lookup instead of a scan (services/lookups.py): these
# finders, and ``groups.value`` (the group's members, a key query of its partition).
LOOKUPS: KeyedLookups[PeopleStore, Person] = KeyedLookups(
    USER_RESOURCE_TYPE,
    {
        "userName": lambda people, organization, name: found(people.find_person_by_user_name(organization, name)),
        "id": lambda people, organization, user_id: found(people.get_person(organization, user_id)),
        "externalId": lambda people, organization, value: people.find_people_by_external_id(organization, value),
        "emails.value": lambda people, organization, email: people.find_people_by_email(organization, email),
    },
    _GROUPS,
)


@dataclass(frozen=True)
class _Id:
    uuid: str


def role_of(resource: ResourceDocument) -> OrganizationRole:
    """The organization role a ``roles`` attribute carries: admin or member (the default)."""
    values = {str(role.get("value", "")).strip().lower() for role in resource.get("roles", [])}
    allowed = {role.value for role in OrganizationRole}
    unknown = values - allowed
    if unknown:
        raise InvalidRequest(
            f"Unknown role {sorted(unknown)[0]!r}: roles must be 'admin' or 'member'", scim_type="invalidValue"
        )
    return OrganizationRole.ADMIN if OrganizationRole.ADMIN.value in values else OrganizationRole.MEMBER


def _with_canonical_roles(resource: ResourceDocument) -> ResourceDocument:
    """Store ``roles`` as sent, with each value in the lower case the role is matched in.

    The role entries keep their ``display``, ``type`` and ``primary`` (identical entries are
    merged), and no default entry is written when there is none: what a client writes reads
    back (scim2-tester checks that roles added, replaced and removed read back so). The
    organization role is derived from them (``role_of``); without any entry it is ``member``."""
    roles = resource.get("roles")
    if not roles:
        return {name: value for name, value in resource.items() if name != "roles"}
    canonical: list[ResourceDocument] = []
    for role in roles:
        entry = {**role, "value": str(role.get("value", "")).strip().lower()}
        if entry not in canonical:  # "admin" and "Admin" sent together are one role
            canonical.append(entry)
    return {**resource, "roles": canonical}


def _names_attribute(document: Any, name: str) -> bool:
    """Whether a client's body names a core attribute at its top level (any case)."""
    return isinstance(document, dict) and any(str(key).lower() == name.lower() for key in document)


def _with_roles_of(current: Person, resource: ResourceDocument) -> ResourceDocument:
    """A PUT that does not name ``roles`` keeps the user's roles.

    Roles carry the platform's authorization (an admin's right to manage tokens), not
    profile data: Okta and Entra PUT a profile without them unless an administrator mapped
    them, and linking the organization's admin that way must not demote them. A PUT that
    sends ``roles`` (even empty) sets them as sent."""
    if "roles" not in current.resource:
        return resource
    return {**resource, "roles": current.resource["roles"]}


def _last_admin_refusal(person: Person, change: str, refusal: LastActiveAdmin) -> MutabilityViolation:
    """The 400 for a write that would leave the organization without an active admin: after
    it, no API key would work, and only an operator's CLI could recover the organization. Its
    detail is what the identity provider, the activity log and the settings page show."""
    if refusal.uncounted:
        return MutabilityViolation(
            f"{person.user_name} cannot be {change} through SCIM yet: this organization's admins have not been "
            "counted since an upgrade (an operator runs `scim-admin upgrade`), and the last active admin may never go"
        )
    return MutabilityViolation(
        f"{person.user_name} is the organization's last active admin and cannot be {change} through SCIM: "
        "no one could then manage the organization's SCIM tokens. Make another user an active admin first"
    )


def person_from_resource(
    resource: ResourceDocument,
    user_id: str,
    organization_uuid: str,
    created_at: datetime,
    last_modified: datetime,
    version: int,
) -> Person:
    """The stored person for a canonical SCIM User resource (``normalize_resource``'s output):
    roles canonical, and the fields the platform decides with (userName, active, role,
    externalId) read from the resource, so that they can never disagree with it."""
    stored = _with_canonical_roles(resource)
    return Person(
        uuid=user_id,
        organization_uuid=organization_uuid,
        user_name=stored["userName"],
        active=bool(stored.get("active", True)),
        role=role_of(stored),
        created_at=created_at,
        last_modified=last_modified,
        version=version,
        resource=stored,
        external_id=stored.get("externalId"),
    )


class UserService:
    def __init__(self, people: PeopleStore, memberships: MembershipStore, groups: GroupStore, clock: Clock) -> None:
        self._people = people
        self._memberships = memberships
        self._groups = groups
        self._clock = clock

    # ------------------------------------------------------------------ reads
    def get(self, principal: ScimPrincipal, user_id: str) -> Person:
        person = self._people.get_person(principal.organization_uuid, user_id)
        if person is None:
            raise NotFound(f"User {user_id} not found")
        activity_annotation.annotate(target_id=person.uuid, target_name=person.user_name)
        return person

    def query(self, principal: ScimPrincipal, query: ListQuery, base_url: str) -> ResultPage[Person]:
        """Answer a list or search. Filters that name a key (``LOOKUPS``) are answered by
        lookups whose cost does not grow with the organization; any other filter is evaluated
        over the organization's users."""
        organization = principal.organization_uuid

        def in_group(parsed: Filter, group_id: str) -> ResultPage[Person]:
            member_ids = self._memberships.member_ids(organization, group_id)
            if isinstance(parsed, Comparison):
                # The filter is the membership alone: page the member ids (in id order, as
                # stored) and read only the people of the page, whatever the group's size.
                ids = page_of_selection([_Id(user_id) for user_id in member_ids], query)
                people = self._people.get_people(organization, [item.uuid for item in ids.items])
                return ResultPage(people, ids.total, ids.start_index, ids.next_cursor)
            # The candidates are the group's members, each seen by the filter in that one group.
            members = self._people.get_people(organization, member_ids)
            return filtered_page(parsed, query, members, lambda person: filterable_user(person, base_url, group_id))

        listing = Listing(
            count=lambda: self._people.count_people(organization),
            page=lambda limit, after: self._people.list_people(organization, limit, after),
        )
        return LOOKUPS.answer(
            query, self._people, organization, listing, lambda person: filterable_user(person, base_url), in_group
        )

    # ----------------------------------------------------------------- writes
    def create(self, principal: ScimPrincipal, document: Any) -> Person:
        resource = normalize_resource(document, USER_RESOURCE_TYPE)
        require_attributes(resource, USER_RESOURCE_TYPE)
        now = truncate_to_millis(self._clock.now())
        person = person_from_resource(resource, str(uuid.uuid4()), principal.organization_uuid, now, now, 1)
        try:
            self._people.create_person(person)
        except UserNameTaken as taken:
            raise Conflict(f"userName '{person.user_name}' is already taken in this organization") from taken
        activity_annotation.annotate(target_id=person.uuid, target_name=person.user_name)
        return person

    def replace(self, principal: ScimPrincipal, user_id: str, document: Any, if_match: str | None) -> Person:
        """PUT: the body becomes the whole user; attributes it leaves out are cleared, except
        ``roles`` (see ``_with_roles_of``)."""
        resource = normalize_resource(document, USER_RESOURCE_TYPE)
        require_attributes(resource, USER_RESOURCE_TYPE)
        if _names_attribute(document, "roles"):
            return self._update(principal, user_id, if_match, lambda _current: resource)
        return self._update(principal, user_id, if_match, lambda current: _with_roles_of(current, resource))

    def patch(self, principal: ScimPrincipal, user_id: str, body: Any, if_match: str | None) -> Person:
        """PATCH: all operations apply, in order, or none do."""
        operations = parse_operations(body, USER_RESOURCE_TYPE)

        def patched(current: Person) -> ResourceDocument:
            result = normalize_resource(
                apply_operations(current.resource, operations, USER_RESOURCE_TYPE), USER_RESOURCE_TYPE
            )
            require_attributes(result, USER_RESOURCE_TYPE)
            return result

        return self._update(principal, user_id, if_match, patched)

    def delete(self, principal: ScimPrincipal, user_id: str, if_match: str | None) -> None:
        def delete(current: Person) -> Person:
            try:
                self._people.delete_person(current)
            except LastActiveAdmin as refusal:
                raise _last_admin_refusal(current, "deleted", refusal) from refusal
            return current

        deleted = write_optimistically(lambda: self.get(principal, user_id), delete, if_match, "user")
        self._leave_groups(deleted)

    def _leave_groups(self, person: Person) -> None:
        """After the person is gone: delete their memberships and count the change in each of
        their groups' version. Memberships this misses (a crash in between, or GSI1 lagging
        behind an add) name a person who no longer exists; group reads skip them."""
        now = truncate_to_millis(self._clock.now())
        for group_uuid in self._memberships.delete_memberships_of_user(person.organization_uuid, person.uuid):
            self._groups.touch_group(person.organization_uuid, group_uuid, now)

    def _update(
        self,
        principal: ScimPrincipal,
        user_id: str,
        if_match: str | None,
        new_resource: Callable[[Person], ResourceDocument],
    ) -> Person:
        def update(current: Person) -> Person:
            resource = new_resource(current)
            refuse_immutable_changes(current.resource, resource, USER_RESOURCE_TYPE)
            role_of(resource)  # an unknown role is a 400 before anything else is decided
            if _with_canonical_roles(resource) == current.resource:
                return current  # nothing changes: no write, the version stays
            now = max(truncate_to_millis(self._clock.now()), current.last_modified)
            updated = person_from_resource(
                resource, current.uuid, current.organization_uuid, current.created_at, now, current.version + 1
            )
            if current.active != updated.active:
                # Only the service knows the state before: the activity log says which way it went.
                activity_annotation.annotate(
                    action=Action.REACTIVATE_USER if updated.active else Action.DEACTIVATE_USER
                )
            try:
                self._people.replace_person(current, updated)
            except UserNameTaken as taken:
                raise Conflict(f"userName '{updated.user_name}' is already taken in this organization") from taken
            except LastActiveAdmin as refusal:
                change = "deactivated" if not updated.active else "demoted"
                raise _last_admin_refusal(current, change, refusal) from refusal
            return updated

        return write_optimistically(lambda: self.get(principal, user_id), update, if_match, "user")
