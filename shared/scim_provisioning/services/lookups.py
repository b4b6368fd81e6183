"""Which filters are key lookups, and the candidates a filter is evaluated on.

Each service keeps one table of finders, ``{canonical attribute path: finder}`` (for users:
userName, id, externalId, emails.value), plus the membership attribute it answers by a key
query (``groups.value``, ``members.value``). That table is the only statement of what a
filter can look up by key: ``scim.filter.equality_lookup`` is asked with its keys, so a
finder added here is used at once, and nothing else must be kept in step with it."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import TypeVar

from scim_provisioning.errors import InvalidFilter
from scim_provisioning.models import ResourceDocument
from scim_provisioning.scim.filter import Filter, equality_lookup, matches, tests_attribute
from scim_provisioning.scim.schema import Attribute
from scim_provisioning.services.paging import Identified, ListPage, scan_all

T = TypeVar("T", bound=Identified)

Finder = Callable[[str], Iterable[T]]
"""Every resource whose looked-up attribute may equal the value (a key read or key query)."""


def keyed_lookup(parsed: Filter, keys: Collection[str]) -> tuple[str, str] | None:
    """(path, value) of the first equality in ``parsed`` on one of ``keys``, if any."""
    lookup = equality_lookup(parsed, keys)
    return None if lookup is None else (lookup[0], lookup[1])


def membership_value(parsed: Filter, attribute: Attribute, lookup: tuple[str, str] | None) -> str | None:
    """The id a filter on memberships looks up (``members.value eq`` on groups,
    ``groups.value eq`` on users), None when the filter does not test ``attribute``.

    Memberships are items of their own, not part of the resource a filter is evaluated on:
    a filter may test them only through that one equality, which is a key query. Anything
    else on them would read every membership of the organization, so it is refused."""
    if not tests_attribute(parsed, attribute):
        return None
    if lookup is None or lookup[0] != f"{attribute.name}.value":
        raise InvalidFilter(
            f"A filter on '{attribute.name}' must be '{attribute.name}.value eq \"<id>\"' "
            "(optionally joined by 'and' to other conditions)"
        )
    return lookup[1]


def candidates(lookup: tuple[str, str] | None, finders: Mapping[str, Finder[T]], list_page: ListPage[T]) -> Iterable[T]:
    """The resources a filter can match: what the finder of its key lookup finds, else every
    resource of the listing (the caller still evaluates the whole filter on them)."""
    finder = None if lookup is None else finders.get(lookup[0])
    return scan_all(list_page) if finder is None or lookup is None else finder(lookup[1])


def found(resource: T | None) -> list[T]:
    """A single-item lookup's answer as candidates."""
    return [] if resource is None else [resource]


def select_matching(parsed: Filter, resources: Iterable[T], document: Callable[[T], ResourceDocument]) -> list[T]:
    """The resources whose SCIM document (``scim/users.filterable_user``, …) the filter matches."""
    return [resource for resource in resources if matches(parsed, document(resource))]
