"""Answering a list or search: which filters are key lookups, and the resources a filter is
evaluated on.

Each resource type has one registry of keyed lookups (``KeyedLookups``): its finder table,
``{canonical attribute path: finder}`` (for users: userName, id, externalId, emails.value),
and the membership attribute it answers by a key query (``groups.value``, ``members.value``).
That registry is the only statement of what a filter can look up by key:
``scim.filter.equality_lookup`` is asked with its keys, so a finder added to it is used at
once, and nothing else must be kept in step with it. Any other filter is evaluated over the
organization's resources, a page of the listing at a time, up to MAX_FILTER_SCAN of them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from scim_provisioning.errors import InvalidFilter, TooMany
from scim_provisioning.limits import MAX_FILTER_SCAN
from scim_provisioning.models import ResourceDocument
from scim_provisioning.scim.filter import Filter, equality_lookup, matches, parse_filter, tests_attribute
from scim_provisioning.scim.listing import ListQuery
from scim_provisioning.scim.schema import Attribute, ResourceType
from scim_provisioning.services.paging import (
    Identified,
    Listing,
    ResultPage,
    page_of_listing,
    page_of_selection,
    scan_all,
)

T = TypeVar("T", bound=Identified)
S = TypeVar("S")

StoreFinder = Callable[[S, str, str], list[str]]
"""``finder(store, organization_uuid, value)``: the ids of every resource whose looked-up
attribute may equal ``value``, by a key read or a key query (the resources are read by id
afterwards, so that what depends on the ids alone can be read beside them)."""


@dataclass(frozen=True)
class KeyedLookups(Generic[S, T]):
    """A resource type's registry of keyed lookups (see the module doc)."""

    resource_type: ResourceType
    finders: Mapping[str, StoreFinder[S]]
    membership: Attribute

    @property
    def keys(self) -> frozenset[str]:
        return frozenset({*self.finders, f"{self.membership.name}.value"})

    def answer(
        self,
        query: ListQuery,
        store: S,
        organization_uuid: str,
        listing: Listing[T],
        document: Callable[[T], ResourceDocument],
        by_membership: Callable[[Filter, str], ResultPage[T]],
        read: Callable[[list[str]], list[T]],
    ) -> ResultPage[T]:
        """One page of the answer to ``query``: the listing when there is no filter; else the
        resources the filter matches among what its key lookup finds (read by ``read(ids)``),
        or among all, each seen as ``document(resource)``. A filter on the membership is
        answered by ``by_membership(filter, member id)``."""
        parsed = parse_filter(query.filter, self.resource_type) if query.filter else None
        if parsed is None:
            return page_of_listing(query, listing)
        lookup = equality_lookup(parsed, self.keys)
        if tests_attribute(parsed, self.membership):
            # Memberships are items of their own, not part of the document a filter is
            # evaluated on: a filter may test them only through the one equality that is a key
            # query. Anything else on them would read every membership of the organization.
            if lookup is None or lookup[0] != f"{self.membership.name}.value":
                raise InvalidFilter(
                    f"A filter on '{self.membership.name}' must be '{self.membership.name}.value eq \"<id>\"' "
                    "(optionally joined by 'and' to other conditions)"
                )
            return by_membership(parsed, lookup[1])
        finder = None if lookup is None else self.finders.get(lookup[0])
        if finder is None or lookup is None:
            self._refuse_large_scan(listing)
            return filtered_page(parsed, query, scan_all(listing.page), document)
        return filtered_page(parsed, query, read(finder(store, organization_uuid, lookup[1])), document)

    def _refuse_large_scan(self, listing: Listing[T]) -> None:
        """A filter that is no key lookup reads every resource of the organization: above
        MAX_FILTER_SCAN of them that could outlast the function's timeout, so it is a 400
        telling the client which filters are lookups."""
        total = listing.count()
        if total > MAX_FILTER_SCAN:
            keys = ", ".join(sorted(self.keys))
            raise TooMany(
                f"This filter would read all {total:,} {self.resource_type.name} resources (at most "
                f"{MAX_FILTER_SCAN:,} are read for one request): filter with 'eq' on one of {keys}"
            )


def filtered_page(
    parsed: Filter, query: ListQuery, candidates: Iterable[T], document: Callable[[T], ResourceDocument]
) -> ResultPage[T]:
    """One page of the ``candidates`` whose SCIM document (``scim/users.filterable_user``, …)
    the filter matches."""
    return page_of_selection([resource for resource in candidates if matches(parsed, document(resource))], query)
