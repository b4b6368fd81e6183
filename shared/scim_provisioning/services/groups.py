"""SCIM Groups: the rules of create, read, replace, patch, delete and query, and of members.

A group is one item; its members are items of their own (``docs/data-model.md``), so a
group of 100,000 members is renamed, read without members, or given one more member at the
cost of a group of ten. Every write is optimistic (conditioned on the version read, retried
from a fresh read when another write got there first) and goes through
``services/memberships.MembershipWriter``: a change of members and of the group's own
attributes is one transaction with the group's new version and a change record (or, when
too large for one, an intent recorded first and completed idempotently). Bad input writes
nothing, unknown member ids included, and the ETag changes whenever the members do.

Reads that do not depend on each other run side by side (``repository/concurrency.py``): a
group and its members; the member list a write's answer needs and the group it changes. A
write's answer is built from what was written, never re-read after the commit."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from scim_provisioning import activity_annotation
from scim_provisioning.clock import Clock
from scim_provisioning.errors import Conflict, InvalidFilter, InvalidPath, InvalidRequest, NotFound
from scim_provisioning.models import Deletion, Group, Member, MemberChange, Person, ResourceDocument
from scim_provisioning.observability import logger
from scim_provisioning.repository.concurrency import Pending, start
from scim_provisioning.repository.protocols import (
    DisplayNameTaken,
    GroupStore,
    MembershipStore,
    PageBookmarkStore,
    PeopleStore,
    UnknownMembers,
)
from scim_provisioning.scim.filter import Filter, equality_values
from scim_provisioning.scim.groups import (
    MAX_MEMBERS_IN_WRITE_ANSWER,
    filterable_group,
    too_many_members,
    too_many_members_in_page,
)
from scim_provisioning.scim.listing import ListQuery
from scim_provisioning.scim.patch import PatchOperation, apply_operations, parse_operations
from scim_provisioning.scim.resources import (
    normalize_resource,
    normalize_value,
    refuse_immutable_changes,
    require_attributes,
)
from scim_provisioning.scim.schema import GROUP_RESOURCE_TYPE, GROUP_SCHEMA, MAX_MEMBERS_RETURNED, Attribute
from scim_provisioning.services.authentication import ScimPrincipal
from scim_provisioning.services.lookups import KeyedLookups, filtered_page
from scim_provisioning.services.memberships import MembershipWriter, UserCheck, new_change
from scim_provisioning.services.paging import Bookmarks, Listing, ResultPage, remember_where_it_ends, settled
from scim_provisioning.services.versioning import write_optimistically
from scim_provisioning.timestamps import truncate_to_millis

_MEMBERS = cast("Attribute", GROUP_SCHEMA.attribute("members"))

# The filters answered by a key lookup instead of a scan (services/lookups.py): these
# finders of ids, and ``members.value`` (the user's groups, a GSI1 query).
LOOKUPS: KeyedLookups[GroupStore, Group] = KeyedLookups(
    GROUP_RESOURCE_TYPE,
    {
        "displayName": lambda groups, organization, name: groups.group_ids_by_display_name(organization, name),
        "id": lambda groups, organization, group_id: [group_id],
        "externalId": lambda groups, organization, value: groups.group_ids_by_external_id(organization, value),
    },
    _MEMBERS,
)

Members = dict[str, "str | None"]
"""Member ids, in the order sent, with the ``display`` the client sent (None: none sent)."""


def display_of(person: Person) -> str:
    """A member's display when the client sent none: the user's displayName, else userName."""
    return str(person.resource.get("displayName") or person.user_name)


def _members(elements: Iterable[Any], where: str) -> Members:
    """``members`` elements as ids with their display; only users can be members. A display
    is kept as sent (a string, within the string limits), so that a client reads back what
    it wrote (docs/decisions.md, "Member display")."""
    members: Members = {}
    for element in elements:
        value = element.get("value") if isinstance(element, dict) else None
        if not isinstance(value, str) or not value:
            raise InvalidRequest(f"{where}: each member needs a 'value', the id of a User")
        member_type = element.get("type")
        if member_type is not None and str(member_type).lower() != "user":
            raise InvalidRequest(f"{where}: member '{value}' has type '{member_type}'; only Users can be members")
        normalized = normalize_value(_MEMBERS, [element], where) or [{}]
        members[value] = normalized[0].get("display")
    return members


@dataclass
class MembershipChange:
    """The net effect of a request's member operations, in their order: either a whole new
    member list (``replace_all``) or ids to add and ids to remove. Later operations win, so
    ``add X`` then ``remove X`` removes X, as applying them in turn would."""

    replace_all: Members | None = None
    add: Members = field(default_factory=dict)
    remove: dict[str, None] = field(default_factory=dict)

    def adding(self, members: Members) -> None:
        for user_id, display in members.items():
            self.add[user_id] = display
            self.remove.pop(user_id, None)

    def removing(self, ids: Iterable[str]) -> None:
        for user_id in ids:
            self.remove[user_id] = None
            self.add.pop(user_id, None)

    def replacing(self, members: Members) -> None:
        self.replace_all, self.add, self.remove = members, {}, {}

    @property
    def empty(self) -> bool:
        return self.replace_all is None and not self.add and not self.remove

    @property
    def candidates(self) -> list[str]:
        """Every id this change may add."""
        return list(dict.fromkeys([*(self.replace_all or {}), *self.add]))

    def diff(self, current: Sequence[Member] | None) -> tuple[Members, list[str]]:
        """(members to write, ids to remove) against the ``current`` members (needed only
        for a replacement of the whole list). Adding a member already there writes it again
        (harmless, and it takes the display sent); a replacement writes only the members that
        are new or whose display changed, and removes the others."""
        if self.replace_all is None:
            return dict(self.add), list(self.remove)
        target = {**self.replace_all, **self.add}
        for user_id in self.remove:
            target.pop(user_id, None)
        stored = {member.user_id: member.display for member in current or ()}
        written = {user: display for user, display in target.items() if user not in stored or stored[user] != display}
        return written, sorted(set(stored).difference(target))

    @classmethod
    def from_operations(cls, operations: Sequence[PatchOperation]) -> MembershipChange:
        change = cls()
        for index, operation in enumerate(operations):
            where = f"members operation {index + 1}"
            target = operation.path
            if target.sub_attribute is not None or target.path.sub_attribute is not None:
                raise InvalidPath(f"{where}: members are added, removed or replaced whole, not '{target}'")
            if operation.op == "remove" and target.value_filter is None and operation.value is None:
                change.replacing({})  # remove of "members" itself: no member is left
            elif operation.op == "remove":
                change.removing(cls._removed_ids(operation, where))
            elif target.value_filter is not None:
                raise InvalidPath(f"{where}: add or replace members with the path 'members', not '{target}'")
            elif operation.op == "add":
                change.adding(_members(operation.value or [], where))
            else:
                change.replacing(_members(operation.value or [], where))
        return change

    @staticmethod
    def _removed_ids(operation: PatchOperation, where: str) -> list[str]:
        """``members[value eq "id"]`` (Entra) or ``members`` with a list of ``{"value": id}``."""
        value_filter = operation.path.value_filter
        if value_filter is None:
            return list(_members(operation.value, where))
        described = equality_values(value_filter)
        if described is None or not isinstance(described.get("value"), str):
            raise InvalidFilter(f'{where}: select the members to remove with members[value eq "<user id>"]')
        return [cast("str", described["value"])]


@dataclass(frozen=True)
class GroupAnswer:
    """A group as an answer carries it: ``members`` None when the answer omits them."""

    group: Group
    members: list[Member] | None


@dataclass(frozen=True)
class GroupsPage:
    """A page of a list or search, with each group's members (None where the answer omits them)."""

    page: ResultPage[Group]
    members: list[list[Member] | None]


@dataclass(frozen=True)
class _Current:
    """A group as a write read it, with the members the write needs (None: not read);
    ``raced``: an earlier attempt lost a race, and the members may be those it read."""

    group: Group
    members: list[Member] | None
    raced: bool = False

    @property
    def version(self) -> int:
        return self.group.version


class _MemberUsers:
    """The users a write's answer shows as members, read beside the write: their existence,
    and the display of members sent without one. One per request: an attempt that lost a race
    and runs again reads only the users no earlier attempt asked for."""

    def __init__(self, people: PeopleStore, organization_uuid: str) -> None:
        self._people = people
        self._organization = organization_uuid
        self._asked: set[str] = set()
        self._reads: list[Pending[list[Person]]] = []

    def ask(self, members: list[Member] | None) -> None:
        """Begin reading the users of ``members`` not asked for yet."""
        new = [member.user_id for member in members or () if member.user_id not in self._asked]
        if new:
            self._asked.update(new)
            self._reads.append(start(functools.partial(self._people.get_people, self._organization, new)))

    def shown(self, members: list[Member] | None) -> list[Member] | None:
        """``members`` as the answer shows them. Asked for after the commit, a failed read
        never fails the answer: the members are shown as written."""
        if not members:
            return members
        try:
            found = {person.uuid: person for read in self._reads for person in read.result()}
        except Exception:
            logger.warning("Members of a written group shown without reading their users", exc_info=True)
            return members
        return [
            Member(member.user_id, member.display or display_of(found[member.user_id]))
            for member in members
            if member.user_id in found
        ]


def _after_change(current: list[Member] | None, change: MemberChange, complete: bool) -> list[Member] | None:
    """The members after ``change``, from the ``current`` ones read before it (None when they
    are unknown, or more than a write's answer carries)."""
    if current is None or (not complete and len(current) > MAX_MEMBERS_IN_WRITE_ANSWER):
        return None
    members = {member.user_id: member.display for member in current}
    for user_id in change.removed:
        members.pop(user_id, None)
    members.update(change.added)
    if len(members) > MAX_MEMBERS_IN_WRITE_ANSWER:
        return None
    return [Member(user_id, members[user_id]) for user_id in sorted(members)]


class GroupService:
    def __init__(
        self,
        groups: GroupStore,
        memberships: MembershipStore,
        people: PeopleStore,
        bookmarks: PageBookmarkStore,
        writer: MembershipWriter,
        clock: Clock,
    ) -> None:
        self._groups = groups
        self._memberships = memberships
        self._people = people
        self._bookmarks = bookmarks
        self._writer = writer
        self._clock = clock

    # ------------------------------------------------------------------ reads
    def get(self, principal: ScimPrincipal, group_id: str) -> Group:
        group = self._groups.get_group(principal.organization_uuid, group_id)
        if group is None:
            raise NotFound(f"Group {group_id} not found")
        activity_annotation.annotate(target_id=group.uuid, target_name=group.display_name)
        return group

    def read(self, principal: ScimPrincipal, group_id: str, with_members: bool) -> GroupAnswer:
        """The group and, when the answer carries them, all its members (read beside the
        group); a SCIM error when there are more than MAX_MEMBERS_RETURNED, never a
        truncated list."""
        organization = principal.organization_uuid
        if not with_members:
            return GroupAnswer(self.get(principal, group_id), None)
        stored = start(lambda: self._memberships.members(organization, group_id, MAX_MEMBERS_RETURNED + 1))
        group = self.get(principal, group_id)
        members = stored.result()
        if len(members) > MAX_MEMBERS_RETURNED:
            raise too_many_members(group, f"has more than {MAX_MEMBERS_RETURNED:,} members")
        return GroupAnswer(group, self._shown(organization, members))

    def members_of_each(self, groups: list[Group]) -> list[list[Member]]:
        """The members of each group of a list page; the page shares one group's limit, so
        its answer stays under 6 MB too. The people are read once for the whole page."""
        if not groups:
            return []
        organization = groups[0].organization_uuid
        budget, stored = MAX_MEMBERS_RETURNED, []
        for group in groups:
            members = self._memberships.members(organization, group.uuid, budget + 1)
            if len(members) > budget:
                raise too_many_members_in_page(f"more than {MAX_MEMBERS_RETURNED:,} members")
            stored.append(members)
            budget -= len(members)
        shown = {member.user_id: member for member in self._shown(organization, [m for ms in stored for m in ms])}
        return [[shown[m.user_id] for m in members if m.user_id in shown] for members in stored]

    def _shown(self, organization_uuid: str, members: list[Member]) -> list[Member]:
        """Members as answers show them: those whose user exists (memberships of a user deleted
        meanwhile are skipped until the janitor removes them), with the display stored with the
        membership, else the user's displayName or userName."""
        if not members:
            return []
        people = self._people.get_people(organization_uuid, list(dict.fromkeys(m.user_id for m in members)))
        found = {person.uuid: person for person in people}
        return [
            Member(member.user_id, member.display or display_of(found[member.user_id]))
            for member in members
            if member.user_id in found
        ]

    def query(self, principal: ScimPrincipal, query: ListQuery, base_url: str, with_members: bool) -> GroupsPage:
        """Answer a list or search, with each listed group's members when the answer carries
        them. displayName, externalId, id and members.value equality are key lookups
        (``LOOKUPS``); any other filter is evaluated over the organization's groups."""
        organization = principal.organization_uuid

        def read(group_ids: list[str]) -> list[Group]:
            return self._groups.get_groups(organization, group_ids) if group_ids else []

        def of_user(parsed: Filter, user_id: str) -> ResultPage[Group]:
            # The candidates are the user's groups, each seen by the filter with that one member.
            user_groups = read(self._memberships.group_ids_of_user(organization, user_id))
            return filtered_page(parsed, query, user_groups, lambda group: filterable_group(group, base_url, user_id))

        listing = Listing(
            count=lambda: self._groups.count_groups(organization),
            page=lambda limit, after: self._groups.list_groups(organization, limit, after),
            bookmarks=Bookmarks(self._bookmarks, organization, GROUP_RESOURCE_TYPE.endpoint.strip("/"), self._clock),
        )
        page = LOOKUPS.answer(
            query, self._groups, organization, listing, lambda group: filterable_group(group, base_url), of_user, read
        )
        bookmark = remember_where_it_ends(listing, page)
        members: list[list[Member] | None] = (
            list(self.members_of_each(page.items)) if with_members else [None] * len(page.items)
        )
        settled(bookmark)
        return GroupsPage(page, members)

    # ----------------------------------------------------------------- writes
    def create(self, principal: ScimPrincipal, document: Any, with_members: bool) -> GroupAnswer:
        """POST: the group with its members, its displayName claim and its change record in
        one transaction (or a recorded intent, for many members): a refused name or an
        unknown member leaves nothing behind."""
        resource = normalize_resource(document, GROUP_RESOURCE_TYPE)
        require_attributes(resource, GROUP_RESOURCE_TYPE)
        organization = principal.organization_uuid
        members = _members(resource.pop("members", []), "members")
        now = truncate_to_millis(self._clock.now())
        group = self._group_from(resource, str(uuid.uuid4()), organization, now, now, 1, principal.token_uuid)
        change = new_change(members, [], principal.token_uuid, now)
        check = self._writer.user_check(organization, list(members))
        users = _MemberUsers(self._people, organization)
        after = _after_change([], change, True) if with_members else None
        users.ask(after)
        written = self._written(None, group, change, check)
        activity_annotation.annotate(target_id=written.uuid, target_name=written.display_name)
        return GroupAnswer(written, users.shown(after))

    def replace(
        self, principal: ScimPrincipal, group_id: str, document: Any, if_match: str | None, with_members: bool
    ) -> GroupAnswer:
        """PUT: the body becomes the whole group, its member list included (Okta's PUT)."""
        resource = normalize_resource(document, GROUP_RESOURCE_TYPE)
        require_attributes(resource, GROUP_RESOURCE_TYPE)
        change = MembershipChange()
        change.replacing(_members(resource.pop("members", []), "members"))
        return self._update(principal, group_id, if_match, lambda _current: resource, change, with_members)

    def patch(
        self, principal: ScimPrincipal, group_id: str, body: Any, if_match: str | None, with_members: bool
    ) -> GroupAnswer:
        """PATCH: the member operations become one membership change, the others apply to
        the group item; everything is validated before anything is written."""
        operations = parse_operations(body, GROUP_RESOURCE_TYPE)
        change = MembershipChange.from_operations([op for op in operations if op.attribute is _MEMBERS])
        others = [op for op in operations if op.attribute is not _MEMBERS]

        def patched(current: Group) -> ResourceDocument:
            if not others:
                return current.resource
            result = normalize_resource(
                apply_operations(current.resource, others, GROUP_RESOURCE_TYPE), GROUP_RESOURCE_TYPE
            )
            require_attributes(result, GROUP_RESOURCE_TYPE)
            return result

        return self._update(principal, group_id, if_match, patched, change, with_members)

    def delete(self, principal: ScimPrincipal, group_id: str, if_match: str | None) -> None:
        """Delete the group (its name is free at once), then its memberships. That second step
        follows a committed delete, so it never fails the answer: what it leaves (a failure, or
        the Lambda timeout on a very large group) the membership janitor deletes."""
        organization = principal.organization_uuid

        def delete(current: Group) -> None:
            self._writer.guard(current)
            now = max(truncate_to_millis(self._clock.now()), current.last_modified)
            self._groups.delete_group(current, Deletion(principal.token_uuid, now))

        write_optimistically(lambda: self.get(principal, group_id), delete, if_match, "group")
        try:
            members = self._memberships.member_ids(organization, group_id)
            self._memberships.delete_memberships(organization, group_id, members)
        except Exception:
            logger.warning("Memberships of a deleted group left to the janitor", exc_info=True)

    def _update(
        self,
        principal: ScimPrincipal,
        group_id: str,
        if_match: str | None,
        new_resource: Callable[[Group], ResourceDocument],
        change: MembershipChange,
        with_members: bool,
    ) -> GroupAnswer:
        organization = principal.organization_uuid
        check = self._writer.user_check(organization, change.candidates)
        # Read beside the group: every member for a replacement of the list (to know whom it
        # removes, on every attempt), or, for an answer that carries members, one more than it
        # may carry (on the first attempt only: an attempt that lost a race to another member
        # change reads them again after its commit, so that losing stays cheap under contention).
        complete = change.replace_all is not None
        limit = None if complete else MAX_MEMBERS_IN_WRITE_ANSWER + 1
        users = _MemberUsers(self._people, organization)
        first_read: list[list[Member] | None] = []

        def read() -> _Current:
            stored = None
            if complete or (with_members and not first_read):
                stored = start(lambda: self._memberships.members(organization, group_id, limit))
            group = self.get(principal, group_id)
            members = None if stored is None else stored.result()
            if not first_read:
                first_read.append(members)
                return _Current(group, members)
            return _Current(group, members if complete else first_read[0], raced=True)

        def update(current: _Current) -> GroupAnswer:
            group = current.group
            self._writer.guard(group)
            resource = new_resource(group)
            refuse_immutable_changes(group.resource, resource, GROUP_RESOURCE_TYPE)
            written, removed = change.diff(current.members)
            now = max(truncate_to_millis(self._clock.now()), group.last_modified)
            member_change = new_change(written, removed, principal.token_uuid, now)
            after = _after_change(current.members, member_change, complete) if with_members else None
            users.ask(after)
            if resource == group.resource and member_change.empty:
                return GroupAnswer(group, users.shown(after))  # nothing changes: no write, the version stays
            updated = self._group_from(
                resource, group.uuid, organization, group.created_at, now, group.version + 1, principal.token_uuid
            )
            written_group = self._written(group, updated, member_change, check)
            if current.raced and after is not None and not complete:
                after = self._members_after_race(organization, group_id, after)
                users.ask(after)
            return GroupAnswer(written_group, users.shown(after))

        return write_optimistically(read, update, if_match, "group")

    def _members_after_race(self, organization_uuid: str, group_id: str, fallback: list[Member]) -> list[Member] | None:
        """The members once a write that lost races to other member changes has committed:
        read again (what it read first misses the winners' changes). A read after a commit,
        so its failure only leaves the answer with what was read first."""
        try:
            members = self._memberships.members(organization_uuid, group_id, MAX_MEMBERS_IN_WRITE_ANSWER + 1)
        except Exception:
            logger.warning("Members of a written group shown as read before its commit", exc_info=True)
            return fallback
        return None if len(members) > MAX_MEMBERS_IN_WRITE_ANSWER else members

    def _written(self, previous: Group | None, updated: Group, change: MemberChange, check: UserCheck) -> Group:
        try:
            return self._writer.write(previous, updated, change, check)
        except DisplayNameTaken as taken:
            raise self._name_taken(updated.display_name) from taken
        except UnknownMembers as unknown:
            ids = unknown.user_uuids
            shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            raise InvalidRequest(f"Members must be users of this organization; unknown user id(s): {shown}") from None

    @staticmethod
    def _name_taken(display_name: str) -> Conflict:
        return Conflict(f"displayName '{display_name}' is already taken in this organization")

    @staticmethod
    def _group_from(
        resource: ResourceDocument,
        group_id: str,
        organization_uuid: str,
        created_at: datetime,
        last_modified: datetime,
        version: int,
        written_by: str | None,
    ) -> Group:
        return Group(
            uuid=group_id,
            organization_uuid=organization_uuid,
            display_name=resource["displayName"],
            created_at=created_at,
            last_modified=last_modified,
            version=version,
            resource=resource,
            external_id=resource.get("externalId"),
            written_by=written_by,
        )
