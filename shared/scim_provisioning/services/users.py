"""SCIM Users: the rules of create, read, replace, patch, delete and query.

Writes are optimistic: each one names the version it read, and DynamoDB refuses it if the
user changed meanwhile. Without ``If-Match`` the service then re-reads and re-applies the
request (so concurrent PATCHes all land, none is lost); with ``If-Match`` it answers 412."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from scim_provisioning import activity
from scim_provisioning.activity import Action
from scim_provisioning.clock import Clock
from scim_provisioning.errors import Conflict, InvalidRequest, NotFound, PreconditionFailed, StillChanging
from scim_provisioning.models import OrganizationRole, Person
from scim_provisioning.repository.interface import Repository, UserNameTaken, VersionConflict
from scim_provisioning.scim.filter import Filter, equality_lookup, matches, parse_filter
from scim_provisioning.scim.listing import ListQuery, decode_cursor, encode_cursor
from scim_provisioning.scim.patch import apply_operations, parse_operations
from scim_provisioning.scim.resources import (
    full_representation,
    normalize_resource,
    refuse_immutable_changes,
    require_attributes,
)
from scim_provisioning.scim.schema import USER_RESOURCE_TYPE
from scim_provisioning.services.authentication import ScimPrincipal
from scim_provisioning.timestamps import format_timestamp, truncate_to_millis

# How often a write that lost an optimistic-lock race is re-read and retried before giving up
# with 409. Of N writers racing in lockstep one wins per round, so the last needs N attempts:
# 8 lost changes when 10 PATCHes of one user arrived at once over HTTP. The jittered pause,
# growing with each attempt, spreads the losers out so that few rounds hold all of them.
WRITE_ATTEMPTS = 25
RETRY_PAUSE_SECONDS = 0.004
# Scans (filters that are not key lookups) read the organization in pages of this size.
SCAN_PAGE_SIZE = 1000


def _pause_before_retry(attempt: int) -> None:
    """Nothing before the first attempt; then a random pause of up to ``attempt`` steps."""
    if attempt:
        time.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * attempt))  # noqa: S311 - jitter, not a secret


def etag(version: int) -> str:
    return f'W/"{version}"'


def user_meta(person: Person, location: str) -> dict[str, Any]:
    return {
        "resourceType": "User",
        "created": format_timestamp(person.created_at),
        "lastModified": format_timestamp(person.last_modified),
        "location": location,
        "version": etag(person.version),
    }


def role_of(resource: dict[str, Any]) -> OrganizationRole:
    """The organization role a ``roles`` attribute carries: admin or member (the default)."""
    values = {str(role.get("value", "")).strip().lower() for role in resource.get("roles", [])}
    allowed = {role.value for role in OrganizationRole}
    unknown = values - allowed
    if unknown:
        raise InvalidRequest(
            f"Unknown role {sorted(unknown)[0]!r}: roles must be 'admin' or 'member'", scim_type="invalidValue"
        )
    return OrganizationRole.ADMIN if OrganizationRole.ADMIN.value in values else OrganizationRole.MEMBER


def _with_canonical_roles(resource: dict[str, Any]) -> dict[str, Any]:
    """Store ``roles`` as sent, with each value in the lower case the role is matched in.

    The role entries keep their ``display``, ``type`` and ``primary`` (identical entries are
    merged), and no default entry is written when there is none: what a client writes reads
    back (scim2-tester checks that roles added, replaced and removed read back so). The
    organization role is derived from them (``role_of``); without any entry it is ``member``."""
    roles = resource.get("roles")
    if not roles:
        return {name: value for name, value in resource.items() if name != "roles"}
    canonical: list[dict[str, Any]] = []
    for role in roles:
        entry = {**role, "value": str(role.get("value", "")).strip().lower()}
        if entry not in canonical:  # "admin" and "Admin" sent together are one role
            canonical.append(entry)
    return {**resource, "roles": canonical}


@dataclass(frozen=True)
class UserPage:
    people: list[Person]
    total: int
    start_index: int
    next_cursor: str | None


class UserService:
    def __init__(self, repository: Repository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    # ------------------------------------------------------------------ reads
    def get(self, principal: ScimPrincipal, user_id: str) -> Person:
        person = self._repository.get_person(principal.organization_uuid, user_id)
        if person is None:
            raise NotFound(f"User {user_id} not found")
        return person

    def query(self, principal: ScimPrincipal, query: ListQuery, location_of: Callable[[str], str]) -> UserPage:
        """Answer a list or search. Filters that name a key (userName, externalId, id, an
        email) are answered by lookups whose cost does not grow with the organization;
        any other filter is evaluated over the organization's users."""
        organization = principal.organization_uuid
        parsed = parse_filter(query.filter, USER_RESOURCE_TYPE) if query.filter else None
        if parsed is None:
            return self._unfiltered_page(organization, query)
        candidates = self._candidates(organization, parsed)
        selected = [
            person
            for person in candidates
            if matches(
                parsed,
                full_representation(
                    person.resource, USER_RESOURCE_TYPE, person.uuid, user_meta(person, location_of(person.uuid))
                ),
            )
        ]
        selected.sort(key=lambda person: person.uuid)
        if query.cursor is not None:
            after = decode_cursor(query.cursor)
            remaining = [person for person in selected if after is None or person.uuid > after]
            page = remaining[: query.count]
            more = len(remaining) > query.count and query.count > 0
            return UserPage(page, len(selected), 1, encode_cursor(page[-1].uuid) if more and page else None)
        start = query.start_index - 1
        return UserPage(selected[start : start + query.count], len(selected), query.start_index, None)

    def _candidates(self, organization: str, parsed: Filter) -> Iterator[Person] | list[Person]:
        lookup = equality_lookup(parsed)
        if lookup is None:
            return self._all_people(organization)
        path, value, _ = lookup
        if path == "userName":
            person = self._repository.find_person_by_user_name(organization, value)
            return [] if person is None else [person]
        if path == "id":
            person = self._repository.get_person(organization, value)
            return [] if person is None else [person]
        if path == "externalId":
            return self._repository.find_people_by_external_id(organization, value)
        if path == "emails.value":
            return self._repository.find_people_by_email(organization, value)
        return self._all_people(organization)

    def _all_people(self, organization: str) -> Iterator[Person]:
        after: str | None = None
        while True:
            page = self._repository.list_people(organization, SCAN_PAGE_SIZE, after)
            yield from page.items
            if page.next_after is None:
                return
            after = page.next_after

    def _unfiltered_page(self, organization: str, query: ListQuery) -> UserPage:
        total = self._repository.count_people(organization)
        if query.count == 0:
            return UserPage([], total, query.start_index, None)
        if query.cursor is not None:
            # One user more than the page tells whether another page follows: the last page
            # carries no nextCursor (RFC 9865) instead of pointing at an empty page.
            page = self._repository.list_people(organization, query.count + 1, decode_cursor(query.cursor))
            items = page.items[: query.count]
            next_cursor = encode_cursor(items[-1].uuid) if len(page.items) > query.count and items else None
            return UserPage(items, total, 1, next_cursor)
        # Index paging reads the users before startIndex too: its cost grows with the
        # position. Cursor paging is the constant-cost way through a large organization.
        page = self._repository.list_people(organization, query.start_index - 1 + query.count)
        return UserPage(page.items[query.start_index - 1 :], total, query.start_index, None)

    # ----------------------------------------------------------------- writes
    def create(self, principal: ScimPrincipal, document: Any) -> Person:
        resource = normalize_resource(document, USER_RESOURCE_TYPE)
        require_attributes(resource, USER_RESOURCE_TYPE)
        role = role_of(resource)
        now = truncate_to_millis(self._clock.now())
        person = self._person_from(resource, role, str(uuid.uuid4()), principal.organization_uuid, now, now, 1)
        try:
            self._repository.create_person(person)
        except UserNameTaken as taken:
            raise Conflict(f"userName '{person.user_name}' is already taken in this organization") from taken
        return person

    def replace(self, principal: ScimPrincipal, user_id: str, document: Any, if_match: str | None) -> Person:
        """PUT: the body becomes the whole user; attributes it leaves out are cleared."""
        resource = normalize_resource(document, USER_RESOURCE_TYPE)
        require_attributes(resource, USER_RESOURCE_TYPE)
        return self._update(principal, user_id, if_match, lambda _current: resource)

    def patch(self, principal: ScimPrincipal, user_id: str, body: Any, if_match: str | None) -> Person:
        """PATCH: all operations apply, in order, or none do."""
        operations = parse_operations(body, USER_RESOURCE_TYPE)

        def patched(current: Person) -> dict[str, Any]:
            result = normalize_resource(
                apply_operations(current.resource, operations, USER_RESOURCE_TYPE), USER_RESOURCE_TYPE
            )
            require_attributes(result, USER_RESOURCE_TYPE)
            return result

        return self._update(principal, user_id, if_match, patched)

    def delete(self, principal: ScimPrincipal, user_id: str, if_match: str | None) -> None:
        for attempt in range(WRITE_ATTEMPTS):
            _pause_before_retry(attempt)
            current = self.get(principal, user_id)
            activity.annotate(target_name=current.user_name)
            self._check_precondition(current, if_match)
            try:
                self._repository.delete_person(current)
                return
            except VersionConflict:
                if if_match is not None:
                    raise PreconditionFailed("The user changed since the version given in If-Match") from None
        raise StillChanging("The user kept changing; retry the request")

    def _update(
        self,
        principal: ScimPrincipal,
        user_id: str,
        if_match: str | None,
        new_resource: Callable[[Person], dict[str, Any]],
    ) -> Person:
        for attempt in range(WRITE_ATTEMPTS):
            _pause_before_retry(attempt)
            current = self.get(principal, user_id)
            self._check_precondition(current, if_match)
            resource = new_resource(current)
            refuse_immutable_changes(current.resource, resource, USER_RESOURCE_TYPE)
            role = role_of(resource)
            if _with_canonical_roles(resource) == current.resource:
                return current  # nothing changes: no write, the version stays
            now = max(truncate_to_millis(self._clock.now()), current.last_modified)
            updated = self._person_from(
                resource, role, current.uuid, current.organization_uuid, current.created_at, now, current.version + 1
            )
            if current.active != updated.active:
                # Only the service knows the state before: the activity log says which way it went.
                activity.annotate(action=Action.REACTIVATE_USER if updated.active else Action.DEACTIVATE_USER)
            try:
                self._repository.replace_person(current, updated)
                return updated
            except UserNameTaken as taken:
                raise Conflict(f"userName '{updated.user_name}' is already taken in this organization") from taken
            except VersionConflict:
                if if_match is not None:
                    raise PreconditionFailed("The user changed since the version given in If-Match") from None
        raise StillChanging("The user kept changing; retry the request")

    @staticmethod
    def _check_precondition(current: Person, if_match: str | None) -> None:
        if if_match is None or if_match.strip() == "*":
            return
        accepted = {tag.strip() for tag in if_match.split(",")}
        if etag(current.version) not in accepted and etag(current.version).removeprefix("W/") not in accepted:
            raise PreconditionFailed(f"If-Match {if_match} does not match the current version {etag(current.version)}")

    @staticmethod
    def _person_from(
        resource: dict[str, Any],
        role: OrganizationRole,
        user_id: str,
        organization_uuid: str,
        created_at: Any,
        last_modified: Any,
        version: int,
    ) -> Person:
        stored = _with_canonical_roles(resource)
        return Person(
            uuid=user_id,
            organization_uuid=organization_uuid,
            user_name=stored["userName"],
            active=bool(stored.get("active", True)),
            role=role,
            created_at=created_at,
            last_modified=last_modified,
            version=version,
            resource=stored,
            external_id=stored.get("externalId"),
        )
