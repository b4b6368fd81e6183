"""SCIM Users: the rules of create, read, replace, patch, delete and query.

Writes are optimistic: each one names the version it read, and DynamoDB refuses it if the
user changed meanwhile. Without ``If-Match`` the service then re-reads and re-applies the
request (so concurrent PATCHes all land, none is lost); with ``If-Match`` it answers 412.

A user's ``groups`` (memberships are items of their own, found by GSI1) are read beside the
user whenever the answer carries them: their ids depend only on the user's id, so they never
wait for the user's own read, and their names are read beside a write's transaction. What a
committed write answers is built from what it wrote; a read that fails after the commit only
leaves the groups' names out, never fails the answer (``repository/concurrency.py``)."""

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
from scim_provisioning.models import Deletion, Group, OrganizationRole, Person, ResourceDocument, UserGroup
from scim_provisioning.observability import logger
from scim_provisioning.repository.concurrency import Pending, side_by_side, start
from scim_provisioning.repository.protocols import (
    GroupStore,
    LastActiveAdmin,
    MembershipStore,
    PageBookmarkStore,
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
from scim_provisioning.services.lookups import KeyedLookups, filtered_page
from scim_provisioning.services.memberships import MembershipWriter
from scim_provisioning.services.paging import (
    Bookmarks,
    Listing,
    ResultPage,
    page_of_selection,
    remember_where_it_ends,
    settled,
)
from scim_provisioning.services.versioning import write_optimistically
from scim_provisioning.timestamps import truncate_to_millis

_GROUPS = cast("Attribute", USER_SCHEMA.attribute("groups"))

# The filters answered by a key lookup instead of a scan (services/lookups.py): these
# finders of ids, and ``groups.value`` (the group's members, a key query of its partition).
LOOKUPS: KeyedLookups[PeopleStore, Person] = KeyedLookups(
    USER_RESOURCE_TYPE,
    {
        "userName": lambda people, organization, name: people.user_ids_by_user_name(organization, name),
        "id": lambda people, organization, user_id: [user_id],
        "externalId": lambda people, organization, value: people.user_ids_by_external_id(organization, value),
        "emails.value": lambda people, organization, email: people.user_ids_by_email(organization, email),
    },
    _GROUPS,
)


@dataclass(frozen=True)
class _Id:
    uuid: str


@dataclass(frozen=True)
class UserAnswer:
    """A user as an answer carries it, with its groups (empty when not read)."""

    person: Person
    groups: list[UserGroup]


@dataclass(frozen=True)
class UsersPage:
    """A page of a list or search, with each listed user's groups (by id; none when not read)."""

    page: ResultPage[Person]
    groups: dict[str, list[UserGroup]]


class _GroupsOfUser:
    """One user's groups, read beside a write of that user: their ids beside its read
    (``ids()`` before the write, so that a failure of that read writes nothing), their names
    beside its transaction (after the commit, a failure of that read only loses the names)."""

    def __init__(self, memberships: MembershipStore, groups: GroupStore, organization_uuid: str, user_id: str) -> None:
        self._ids = start(lambda: memberships.group_ids_of_user(organization_uuid, user_id))
        self._groups: Pending[list[Group]] = start(lambda: _get_groups(groups, organization_uuid, self._ids.result()))

    def ids(self) -> list[str]:
        return self._ids.result()

    def groups(self) -> list[Group]:
        """The groups as read (read failures raise): for a write that needs their versions."""
        return self._groups.result()

    def after_commit(self) -> list[UserGroup]:
        ids = self._ids.result()
        try:
            found = {group.uuid: group for group in self._groups.result()}
        except Exception:
            logger.warning("Groups of a written user answered without their names", exc_info=True)
            return [UserGroup(group_id, None) for group_id in ids]
        return [UserGroup(group_id, found[group_id].display_name) for group_id in ids if group_id in found]


def _get_groups(groups: GroupStore, organization_uuid: str, group_ids: list[str]) -> list[Group]:
    return groups.get_groups(organization_uuid, group_ids) if group_ids else []


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
    written_by: str | None = None,
) -> Person:
    """The stored person for a canonical SCIM User resource (``normalize_resource``'s output):
    roles canonical, and the fields the platform decides with (userName, active, role,
    externalId) read from the resource, so that they can never disagree with it;
    ``written_by``: the SCIM token of the request that writes it."""
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
        written_by=written_by,
    )


class UserService:
    def __init__(
        self,
        people: PeopleStore,
        memberships: MembershipStore,
        groups: GroupStore,
        bookmarks: PageBookmarkStore,
        writer: MembershipWriter,
        clock: Clock,
    ) -> None:
        self._people = people
        self._memberships = memberships
        self._groups = groups
        self._bookmarks = bookmarks
        self._writer = writer
        self._clock = clock

    # ------------------------------------------------------------------ reads
    def get(self, principal: ScimPrincipal, user_id: str) -> Person:
        person = self._people.get_person(principal.organization_uuid, user_id)
        if person is None:
            raise NotFound(f"User {user_id} not found")
        activity_annotation.annotate(target_id=person.uuid, target_name=person.user_name)
        return person

    def read(self, principal: ScimPrincipal, user_id: str, with_groups: bool) -> UserAnswer:
        """The user, and its groups when the answer carries them: their ids are read beside
        the user, then their names."""
        if not with_groups:
            return UserAnswer(self.get(principal, user_id), [])
        ids = start(lambda: self._memberships.group_ids_of_user(principal.organization_uuid, user_id))
        person = self.get(principal, user_id)
        return UserAnswer(person, self._named(principal.organization_uuid, {user_id: ids.result()})[user_id])

    def query(self, principal: ScimPrincipal, query: ListQuery, base_url: str, with_groups: bool) -> UsersPage:
        """Answer a list or search. Filters that name a key (``LOOKUPS``) are answered by
        lookups whose cost does not grow with the organization; any other filter is evaluated
        over the organization's users. With groups, the candidates' groups are read beside
        the candidates when their ids are known first (a lookup, a group's members), else
        after the page (one GSI1 query per user, side by side)."""
        organization = principal.organization_uuid
        group_ids: dict[str, list[str]] = {}

        def read(user_ids: list[str]) -> list[Person]:
            if not with_groups or not user_ids:
                return self._people.get_people(organization, user_ids) if user_ids else []
            ids = start(lambda: self._group_ids(organization, user_ids))
            people = self._people.get_people(organization, user_ids)
            group_ids.update(ids.result())
            return people

        def in_group(parsed: Filter, group_id: str) -> ResultPage[Person]:
            exists = start(lambda: self._groups.get_group(organization, group_id) is not None)
            member_ids = self._memberships.member_ids(organization, group_id)
            if not exists.result():
                member_ids = []  # memberships of a deleted group, until the janitor removes them
            if isinstance(parsed, Comparison):
                # The filter is the membership alone: page the member ids (in id order, as
                # stored) and read only the people of the page, whatever the group's size.
                ids = page_of_selection([_Id(user_id) for user_id in member_ids], query)
                people = read([item.uuid for item in ids.items])
                return ResultPage(people, ids.total, ids.start_index, ids.next_cursor)
            # The candidates are the group's members, each seen by the filter in that one group.
            members = read(member_ids)
            return filtered_page(parsed, query, members, lambda person: filterable_user(person, base_url, group_id))

        listing = Listing(
            count=lambda: self._people.count_people(organization),
            page=lambda limit, after: self._people.list_people(organization, limit, after),
            bookmarks=Bookmarks(self._bookmarks, organization, USER_RESOURCE_TYPE.endpoint.strip("/"), self._clock),
        )
        page = LOOKUPS.answer(
            query, self._people, organization, listing, lambda person: filterable_user(person, base_url), in_group, read
        )
        bookmark = remember_where_it_ends(listing, page)
        if not with_groups or not page.items:
            settled(bookmark)
            return UsersPage(page, {})
        missing = [person.uuid for person in page.items if person.uuid not in group_ids]
        group_ids.update(self._group_ids(organization, missing))
        listed = {person.uuid: group_ids[person.uuid] for person in page.items}
        named = self._named(organization, listed)
        settled(bookmark)
        return UsersPage(page, named)

    def _group_ids(self, organization_uuid: str, user_ids: list[str]) -> dict[str, list[str]]:
        """Each user's group ids: one GSI1 query per user, all side by side."""
        queries = [lambda user=user: self._memberships.group_ids_of_user(organization_uuid, user) for user in user_ids]
        return dict(zip(user_ids, side_by_side(queries), strict=True))

    def _named(self, organization_uuid: str, group_ids: dict[str, list[str]]) -> dict[str, list[UserGroup]]:
        """The groups of each user with their displayName, from one read of the distinct
        groups (100 a request, side by side). Memberships of a group deleted meanwhile find
        no group: skipped until the janitor removes them."""
        distinct = sorted({group for ids in group_ids.values() for group in ids})
        found = {group.uuid: group for group in _get_groups(self._groups, organization_uuid, distinct)}
        return {
            user: [UserGroup(group, found[group].display_name) for group in ids if group in found]
            for user, ids in group_ids.items()
        }

    # ----------------------------------------------------------------- writes
    def create(self, principal: ScimPrincipal, document: Any) -> Person:
        resource = normalize_resource(document, USER_RESOURCE_TYPE)
        require_attributes(resource, USER_RESOURCE_TYPE)
        now = truncate_to_millis(self._clock.now())
        person = person_from_resource(
            resource, str(uuid.uuid4()), principal.organization_uuid, now, now, 1, principal.token_uuid
        )
        try:
            self._people.create_person(person)
        except UserNameTaken as taken:
            raise Conflict(f"userName '{person.user_name}' is already taken in this organization") from taken
        activity_annotation.annotate(target_id=person.uuid, target_name=person.user_name)
        return person

    def replace(
        self, principal: ScimPrincipal, user_id: str, document: Any, if_match: str | None, with_groups: bool
    ) -> UserAnswer:
        """PUT: the body becomes the whole user; attributes it leaves out are cleared, except
        ``roles`` (see ``_with_roles_of``)."""
        resource = normalize_resource(document, USER_RESOURCE_TYPE)
        require_attributes(resource, USER_RESOURCE_TYPE)
        if _names_attribute(document, "roles"):
            return self._update(principal, user_id, if_match, lambda _current: resource, with_groups)
        return self._update(
            principal, user_id, if_match, lambda current: _with_roles_of(current, resource), with_groups
        )

    def patch(
        self, principal: ScimPrincipal, user_id: str, body: Any, if_match: str | None, with_groups: bool
    ) -> UserAnswer:
        """PATCH: all operations apply, in order, or none do."""
        operations = parse_operations(body, USER_RESOURCE_TYPE)

        def patched(current: Person) -> ResourceDocument:
            result = normalize_resource(
                apply_operations(current.resource, operations, USER_RESOURCE_TYPE), USER_RESOURCE_TYPE
            )
            require_attributes(result, USER_RESOURCE_TYPE)
            return result

        return self._update(principal, user_id, if_match, patched, with_groups)

    def delete(self, principal: ScimPrincipal, user_id: str, if_match: str | None) -> None:
        """Delete the user (with its userName claim and lookups, in one transaction), then its
        memberships, one transaction per group moving the group's version. The second step
        follows a committed delete, so it never fails the answer: what it misses (a failure,
        or a membership GSI1 did not show yet) the membership janitor removes."""
        organization = principal.organization_uuid
        groups = _GroupsOfUser(self._memberships, self._groups, organization, user_id)

        def delete(current: Person) -> Person:
            deletion = Deletion(principal.token_uuid, max(truncate_to_millis(self._clock.now()), current.last_modified))
            try:
                self._people.delete_person(current, deletion)
            except LastActiveAdmin as refusal:
                raise _last_admin_refusal(current, "deleted", refusal) from refusal
            return current

        write_optimistically(lambda: self.get(principal, user_id), delete, if_match, "user")
        try:
            self._writer.leave_groups(organization, user_id, groups.groups(), principal.token_uuid)
        except Exception:
            logger.warning("Memberships of a deleted user left to the janitor", exc_info=True)

    def _update(
        self,
        principal: ScimPrincipal,
        user_id: str,
        if_match: str | None,
        new_resource: Callable[[Person], ResourceDocument],
        with_groups: bool,
    ) -> UserAnswer:
        organization = principal.organization_uuid
        groups = _GroupsOfUser(self._memberships, self._groups, organization, user_id) if with_groups else None

        def update(current: Person) -> Person:
            resource = new_resource(current)
            refuse_immutable_changes(current.resource, resource, USER_RESOURCE_TYPE)
            role_of(resource)  # an unknown role is a 400 before anything else is decided
            if _with_canonical_roles(resource) == current.resource:
                return current  # nothing changes: no write, the version stays
            now = max(truncate_to_millis(self._clock.now()), current.last_modified)
            updated = person_from_resource(
                resource,
                current.uuid,
                current.organization_uuid,
                current.created_at,
                now,
                current.version + 1,
                principal.token_uuid,
            )
            if current.active != updated.active:
                # Only the service knows the state before: the activity log says which way it went.
                activity_annotation.annotate(
                    action=Action.REACTIVATE_USER if updated.active else Action.DEACTIVATE_USER
                )
            if groups is not None:
                groups.ids()  # read beside the user; its failure must come before the write
            try:
                self._people.replace_person(current, updated)
            except UserNameTaken as taken:
                raise Conflict(f"userName '{updated.user_name}' is already taken in this organization") from taken
            except LastActiveAdmin as refusal:
                change = "deactivated" if not updated.active else "demoted"
                raise _last_admin_refusal(current, change, refusal) from refusal
            return updated

        person = write_optimistically(lambda: self.get(principal, user_id), update, if_match, "user")
        return UserAnswer(person, [] if groups is None else groups.after_commit())
