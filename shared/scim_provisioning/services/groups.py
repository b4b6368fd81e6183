"""SCIM Groups: the rules of create, read, replace, patch, delete and query, and of members.

A group is one item; its members are items of their own (``docs/data-model.md``), so a
group of 100,000 members is renamed, read without members, or given one more member at the
cost of a group of ten. Member changes are idempotent puts and deletes of those items,
written in batches after every member id was checked to be a user of the organization:
bad input writes nothing, a retried request converges to the same state, and concurrent
PATCHes adding or removing different members all take effect. Changes to the group's own
attributes are optimistic writes, as for users. Every membership change increments the
group's version and lastModified, so its ETag changes with its members."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from scim_provisioning import activity_annotation
from scim_provisioning.clock import Clock
from scim_provisioning.errors import Conflict, InvalidFilter, InvalidPath, InvalidRequest, NotFound
from scim_provisioning.models import Group, Member, Person, ResourceDocument
from scim_provisioning.repository.protocols import DisplayNameTaken, GroupStore, MembershipStore, PeopleStore
from scim_provisioning.scim.filter import Filter, equality_values
from scim_provisioning.scim.groups import (
    MAX_MEMBERS_IN_WRITE_ANSWER,
    filterable_group,
    too_many_members,
    too_many_members_in_page,
)
from scim_provisioning.scim.listing import ListQuery
from scim_provisioning.scim.patch import PatchOperation, apply_operations, parse_operations
from scim_provisioning.scim.resources import normalize_resource, refuse_immutable_changes, require_attributes
from scim_provisioning.scim.schema import GROUP_RESOURCE_TYPE, GROUP_SCHEMA, MAX_MEMBERS_RETURNED, Attribute
from scim_provisioning.services.authentication import ScimPrincipal
from scim_provisioning.services.lookups import KeyedLookups, Listing, filtered_page, found
from scim_provisioning.services.paging import ResultPage
from scim_provisioning.services.versioning import write_optimistically
from scim_provisioning.timestamps import truncate_to_millis

# Concurrent membership queries when a list page answers its users' groups: enough to read a
# page of 100 in a few rounds without opening more connections than botocore's pool (10).
MEMBERSHIP_READERS = 10

_MEMBERS = cast("Attribute", GROUP_SCHEMA.attribute("members"))

# The filters answered by a key lookup instead of a scan (services/lookups.py): these
# finders, and ``members.value`` (the user's groups, a GSI1 query).
LOOKUPS: KeyedLookups[GroupStore, Group] = KeyedLookups(
    GROUP_RESOURCE_TYPE,
    {
        "displayName": lambda groups, organization, name: found(groups.find_group_by_display_name(organization, name)),
        "id": lambda groups, organization, group_id: found(groups.get_group(organization, group_id)),
        "externalId": lambda groups, organization, value: groups.find_groups_by_external_id(organization, value),
    },
    _MEMBERS,
)


def _display(person: Person) -> str:
    return str(person.resource.get("displayName") or person.user_name)


def _member_ids(elements: Iterable[Any], where: str) -> list[str]:
    """The user ids of ``members`` elements; only users can be members."""
    ids: list[str] = []
    for element in elements:
        value = element.get("value") if isinstance(element, dict) else None
        if not isinstance(value, str) or not value:
            raise InvalidRequest(f"{where}: each member needs a 'value', the id of a User")
        member_type = element.get("type")
        if member_type is not None and str(member_type).lower() != "user":
            raise InvalidRequest(f"{where}: member '{value}' has type '{member_type}'; only Users can be members")
        ids.append(value)
    return list(dict.fromkeys(ids))


@dataclass
class MembershipChange:
    """The net effect of a request's member operations, in their order: either a whole new
    member list (``replace_all``) or ids to add and ids to remove. Later operations win, so
    ``add X`` then ``remove X`` removes X, as applying them in turn would."""

    replace_all: list[str] | None = None
    add: dict[str, None] = field(default_factory=dict)
    remove: dict[str, None] = field(default_factory=dict)

    def adding(self, ids: Iterable[str]) -> None:
        for user_id in ids:
            self.add[user_id] = None
            self.remove.pop(user_id, None)

    def removing(self, ids: Iterable[str]) -> None:
        for user_id in ids:
            self.remove[user_id] = None
            self.add.pop(user_id, None)

    def replacing(self, ids: list[str]) -> None:
        self.replace_all, self.add, self.remove = ids, {}, {}

    @property
    def empty(self) -> bool:
        return self.replace_all is None and not self.add and not self.remove

    @classmethod
    def from_operations(cls, operations: Sequence[PatchOperation]) -> MembershipChange:
        change = cls()
        for index, operation in enumerate(operations):
            where = f"members operation {index + 1}"
            target = operation.path
            if target.sub_attribute is not None or target.path.sub_attribute is not None:
                raise InvalidPath(f"{where}: members are added, removed or replaced whole, not '{target}'")
            if operation.op == "remove" and target.value_filter is None and operation.value is None:
                change.replacing([])  # remove of "members" itself: no member is left
            elif operation.op == "remove":
                change.removing(cls._removed_ids(operation, where))
            elif target.value_filter is not None:
                raise InvalidPath(f"{where}: add or replace members with the path 'members', not '{target}'")
            elif operation.op == "add":
                change.adding(_member_ids(operation.value or [], where))
            else:
                change.replacing(_member_ids(operation.value or [], where))
        return change

    @staticmethod
    def _removed_ids(operation: PatchOperation, where: str) -> list[str]:
        """``members[value eq "id"]`` (Entra) or ``members`` with a list of ``{"value": id}``."""
        value_filter = operation.path.value_filter
        if value_filter is None:
            return _member_ids(operation.value, where)
        described = equality_values(value_filter)
        if described is None or not isinstance(described.get("value"), str):
            raise InvalidFilter(f'{where}: select the members to remove with members[value eq "<user id>"]')
        return [cast("str", described["value"])]


@dataclass(frozen=True)
class _GroupUpdate:
    """What the optimistic write of a group decided: the group as written (or touched) and
    the memberships still to write, with the instant the change counts as made."""

    group: Group
    to_add: list[str]
    to_remove: list[str]
    modified_at: datetime


class GroupService:
    def __init__(self, groups: GroupStore, memberships: MembershipStore, people: PeopleStore, clock: Clock) -> None:
        self._groups = groups
        self._memberships = memberships
        self._people = people
        self._clock = clock

    # ------------------------------------------------------------------ reads
    def get(self, principal: ScimPrincipal, group_id: str) -> Group:
        group = self._groups.get_group(principal.organization_uuid, group_id)
        if group is None:
            raise NotFound(f"Group {group_id} not found")
        activity_annotation.annotate(target_id=group.uuid, target_name=group.display_name)
        return group

    def members(self, group: Group) -> list[Member]:
        """All the group's members, with their current display name; a SCIM error when there
        are more than MAX_MEMBERS_RETURNED, never a truncated list."""
        members = self._members_up_to(group, MAX_MEMBERS_RETURNED)
        if members is None:
            raise too_many_members(group, f"has more than {MAX_MEMBERS_RETURNED:,} members")
        return members

    def members_of_each(self, groups: list[Group]) -> list[list[Member]]:
        """The members of each group of a list page; the page shares one group's limit, so
        its answer stays under 6 MB too."""
        budget, result = MAX_MEMBERS_RETURNED, []
        for group in groups:
            members = self._members_up_to(group, budget)
            if members is None:
                raise too_many_members_in_page(f"more than {MAX_MEMBERS_RETURNED:,} members")
            result.append(members)
            budget -= len(members)
        return result

    def members_if_small(self, group: Group) -> list[Member] | None:
        """The members for the answer to a write; None (omitted) when the group is large."""
        return self._members_up_to(group, MAX_MEMBERS_IN_WRITE_ANSWER)

    def _members_up_to(self, group: Group, limit: int) -> list[Member] | None:
        organization = group.organization_uuid
        ids = self._memberships.member_ids(organization, group.uuid, limit + 1)
        if len(ids) > limit:
            return None
        if not ids:
            return []
        # Memberships of a person deleted meanwhile find no person: skipped.
        return [Member(person.uuid, _display(person)) for person in self._people.get_people(organization, ids)]

    def groups_of(self, people: Sequence[Person]) -> dict[str, list[Group]]:
        """The groups each user is a direct member of (a user's read-only ``groups``), by user id.

        One GSI1 query per user, run side by side so that a list page of 100 users waits for
        about one query rather than 100, then one BatchGetItem per 100 distinct groups for
        their displayName. Memberships of a group deleted meanwhile find no group: skipped."""
        if not people:
            return {}
        organization = people[0].organization_uuid

        def group_ids(person: Person) -> list[str]:
            return self._memberships.group_ids_of_user(organization, person.uuid)

        with ThreadPoolExecutor(max_workers=min(MEMBERSHIP_READERS, len(people))) as pool:
            ids_by_user = dict(zip([person.uuid for person in people], pool.map(group_ids, people), strict=True))
        distinct = sorted({group_id for ids in ids_by_user.values() for group_id in ids})
        found = {group.uuid: group for group in self._groups.get_groups(organization, distinct)} if distinct else {}
        return {user: [found[group] for group in ids if group in found] for user, ids in ids_by_user.items()}

    def query(self, principal: ScimPrincipal, query: ListQuery, base_url: str) -> ResultPage[Group]:
        """Answer a list or search. displayName, externalId, id and members.value equality
        are key lookups (``LOOKUPS``); any other filter is evaluated over the organization's
        groups."""
        organization = principal.organization_uuid

        def of_user(parsed: Filter, user_id: str) -> ResultPage[Group]:
            # The candidates are the user's groups, each seen by the filter with that one member.
            group_ids = self._memberships.group_ids_of_user(organization, user_id)
            user_groups = self._groups.get_groups(organization, group_ids) if group_ids else []
            return filtered_page(parsed, query, user_groups, lambda group: filterable_group(group, base_url, user_id))

        listing = Listing(
            count=lambda: self._groups.count_groups(organization),
            page=lambda limit, after: self._groups.list_groups(organization, limit, after),
        )
        return LOOKUPS.answer(
            query, self._groups, organization, listing, lambda group: filterable_group(group, base_url), of_user
        )

    # ----------------------------------------------------------------- writes
    def create(self, principal: ScimPrincipal, document: Any) -> Group:
        resource = normalize_resource(document, GROUP_RESOURCE_TYPE)
        require_attributes(resource, GROUP_RESOURCE_TYPE)
        organization = principal.organization_uuid
        member_ids = _member_ids(resource.pop("members", []), "members")
        self._require_users(organization, member_ids)
        now = truncate_to_millis(self._clock.now())
        group = self._group_from(resource, str(uuid.uuid4()), organization, now, now, 1)
        try:
            self._groups.create_group(group)
        except DisplayNameTaken as taken:
            raise self._name_taken(group.display_name) from taken
        # After the group, so that a refused name leaves no membership behind. Should this
        # fail, the group exists with some members; the IdP's retry finds it by displayName.
        self._memberships.add_members(organization, group.uuid, member_ids)
        activity_annotation.annotate(target_id=group.uuid, target_name=group.display_name)
        return group

    def replace(self, principal: ScimPrincipal, group_id: str, document: Any, if_match: str | None) -> Group:
        """PUT: the body becomes the whole group, its member list included (Okta's PUT)."""
        resource = normalize_resource(document, GROUP_RESOURCE_TYPE)
        require_attributes(resource, GROUP_RESOURCE_TYPE)
        change = MembershipChange()
        change.replacing(_member_ids(resource.pop("members", []), "members"))
        return self._update(principal, group_id, if_match, lambda _current: resource, change)

    def patch(self, principal: ScimPrincipal, group_id: str, body: Any, if_match: str | None) -> Group:
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

        return self._update(principal, group_id, if_match, patched, change)

    def delete(self, principal: ScimPrincipal, group_id: str, if_match: str | None) -> None:
        """Delete the group (its name is free at once), then its memberships in batches of
        25. For a very large group the second step may outlast the Lambda timeout; the
        memberships left then belong to no group and are never read (docs/data-model.md)."""
        organization = principal.organization_uuid
        write_optimistically(lambda: self.get(principal, group_id), self._groups.delete_group, if_match, "group")
        members = self._memberships.member_ids(organization, group_id)
        self._memberships.remove_members(organization, group_id, members)

    def _update(
        self,
        principal: ScimPrincipal,
        group_id: str,
        if_match: str | None,
        new_resource: Callable[[Group], ResourceDocument],
        change: MembershipChange,
    ) -> Group:
        organization = principal.organization_uuid

        def update(current: Group) -> _GroupUpdate:
            resource = new_resource(current)
            refuse_immutable_changes(current.resource, resource, GROUP_RESOURCE_TYPE)
            to_add, to_remove = self._member_diff(current, change)
            self._require_users(organization, to_add)
            now = max(truncate_to_millis(self._clock.now()), current.last_modified)
            members_change = bool(to_add or to_remove)
            try:
                if resource != current.resource:
                    updated = self._group_from(
                        resource, current.uuid, organization, current.created_at, now, current.version + 1
                    )
                    self._groups.replace_group(current, updated)
                    current = updated
                elif members_change and if_match is not None:
                    # Claim the version If-Match named before any membership is written.
                    current = self._touched(
                        self._groups.touch_group(organization, group_id, now, current.version), group_id
                    )
            except DisplayNameTaken as taken:
                raise self._name_taken(resource["displayName"]) from taken
            return _GroupUpdate(current, to_add, to_remove, now)

        result = write_optimistically(lambda: self.get(principal, group_id), update, if_match, "group")
        if not (result.to_add or result.to_remove):
            return result.group
        self._memberships.remove_members(organization, group_id, result.to_remove)
        self._memberships.add_members(organization, group_id, result.to_add)
        # Counted after the memberships are written, so a client that reads the new
        # ETag also reads the new members.
        return self._touched(self._groups.touch_group(organization, group_id, result.modified_at), group_id)

    def _member_diff(self, group: Group, change: MembershipChange) -> tuple[list[str], list[str]]:
        """(ids to add, ids to remove). Adding a member already in the group or removing one
        who is not is harmless (a put or delete of the same item), so only a replacement of
        the whole list reads the current members, to know whom it removes."""
        if change.replace_all is None:
            return list(change.add), list(change.remove)
        target = dict.fromkeys([*change.replace_all, *change.add])
        for user_id in change.remove:
            target.pop(user_id, None)
        current = set(self._memberships.member_ids(group.organization_uuid, group.uuid))
        return [user_id for user_id in target if user_id not in current], sorted(current.difference(target))

    def _require_users(self, organization: str, user_ids: list[str]) -> None:
        """Members are users of the same organization: any other id is a 400, before any write."""
        if not user_ids:
            return
        found = self._people.existing_people(organization, user_ids)
        unknown = [user_id for user_id in user_ids if user_id not in found]
        if unknown:
            shown = ", ".join(unknown[:10]) + (f" and {len(unknown) - 10} more" if len(unknown) > 10 else "")
            raise InvalidRequest(f"Members must be users of this organization; unknown user id(s): {shown}")

    @staticmethod
    def _touched(group: Group | None, group_id: str) -> Group:
        if group is None:
            raise NotFound(f"Group {group_id} not found")
        return group

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
        )
