"""Rules /Users and /Groups share: ETags and If-Match, and turning a filter's selection or
a key-ordered listing into one page (index or cursor paging, RFC 7644 §3.4.2.4, RFC 9865).

Resources here are anything with a ``uuid``: people and groups page the same way."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from scim_provisioning.errors import InvalidFilter, PreconditionFailed
from scim_provisioning.repository.protocols import Page
from scim_provisioning.scim.filter import Filter, equality_lookup, matches, tests_attribute
from scim_provisioning.scim.listing import ListQuery, decode_cursor, encode_cursor
from scim_provisioning.scim.schema import Attribute
from scim_provisioning.timestamps import format_timestamp

# How often a write that lost an optimistic-lock race is re-read and retried before giving up
# with 409. Of N writers racing in lockstep one wins per round, so the last needs N attempts:
# 8 lost changes when 10 PATCHes of one user arrived at once over HTTP. The jittered pause,
# growing with each attempt, spreads the losers out so that few rounds hold all of them.
WRITE_ATTEMPTS = 25
RETRY_PAUSE_SECONDS = 0.004
# Scans (filters that are not key lookups) read the organization in pages of this size.
SCAN_PAGE_SIZE = 1000


class Identified(Protocol):
    @property
    def uuid(self) -> str: ...


T = TypeVar("T", bound=Identified)


@dataclass(frozen=True)
class ResultPage(Generic[T]):
    items: list[T]
    total: int
    start_index: int
    next_cursor: str | None


def pause_before_retry(attempt: int) -> None:
    """Nothing before the first attempt; then a random pause of up to ``attempt`` steps."""
    if attempt:
        time.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * attempt))  # noqa: S311 - jitter, not a secret


def etag(version: int) -> str:
    return f'W/"{version}"'


def resource_meta(
    resource_type: str, created: datetime, last_modified: datetime, version: int, location: str
) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "created": format_timestamp(created),
        "lastModified": format_timestamp(last_modified),
        "location": location,
        "version": etag(version),
    }


def check_precondition(version: int, if_match: str | None, what: str) -> None:
    """RFC 7644 §3.14: a write with If-Match proceeds only on the version it names."""
    if if_match is None or if_match.strip() == "*":
        return
    accepted = {tag.strip() for tag in if_match.split(",")}
    if etag(version) not in accepted and etag(version).removeprefix("W/") not in accepted:
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current version of the {what} {etag(version)}"
        )


def page_of_selection(selected: list[T], query: ListQuery) -> ResultPage[T]:
    """One page of the resources a filter selected, in id order."""
    selected = sorted(selected, key=lambda resource: resource.uuid)
    if query.cursor is not None:
        after = decode_cursor(query.cursor)
        remaining = [resource for resource in selected if after is None or resource.uuid > after]
        page = remaining[: query.count]
        more = len(remaining) > query.count and query.count > 0
        return ResultPage(page, len(selected), 1, encode_cursor(page[-1].uuid) if more and page else None)
    start = query.start_index - 1
    return ResultPage(selected[start : start + query.count], len(selected), query.start_index, None)


def page_of_listing(query: ListQuery, total: int, list_page: Callable[[int, str | None], Page[T]]) -> ResultPage[T]:
    """One page of an unfiltered, key-ordered listing; ``list_page(limit, after)`` reads it."""
    if query.count == 0:
        return ResultPage([], total, query.start_index, None)
    if query.cursor is not None:
        # One resource more than the page tells whether another page follows: the last page
        # carries no nextCursor (RFC 9865) instead of pointing at an empty page.
        page = list_page(query.count + 1, decode_cursor(query.cursor))
        items = page.items[: query.count]
        next_cursor = encode_cursor(items[-1].uuid) if len(page.items) > query.count and items else None
        return ResultPage(items, total, 1, next_cursor)
    # Index paging reads the resources before startIndex too: its cost grows with the
    # position. Cursor paging is the constant-cost way through a large organization.
    page = list_page(query.start_index - 1 + query.count, None)
    return ResultPage(page.items[query.start_index - 1 :], total, query.start_index, None)


def scan_all(list_page: Callable[[int, str | None], Page[T]]) -> Iterator[T]:
    """Every resource of a listing, read SCAN_PAGE_SIZE at a time."""
    after: str | None = None
    while True:
        page = list_page(SCAN_PAGE_SIZE, after)
        yield from page.items
        if page.next_after is None:
            return
        after = page.next_after


def lookup_candidates(
    parsed: Filter, finders: Mapping[str, Callable[[str], Iterable[T]]], list_page: Callable[[int, str | None], Page[T]]
) -> Iterable[T]:
    """The resources a filter can match: what a key lookup finds when the filter is an
    equality on an attribute ``finders`` can look up (alone or and-ed with other conditions,
    which the caller still evaluates), else every resource of the listing."""
    lookup = equality_lookup(parsed)
    finder = None if lookup is None else finders.get(lookup[0])
    return scan_all(list_page) if finder is None or lookup is None else finder(lookup[1])


def found(resource: T | None) -> list[T]:
    """A single-item lookup's answer as candidates."""
    return [] if resource is None else [resource]


def select_matching(parsed: Filter, candidates: Iterable[T], representation: Callable[[T], dict[str, Any]]) -> list[T]:
    """The candidates whose SCIM representation the filter matches."""
    return [candidate for candidate in candidates if matches(parsed, representation(candidate))]


def membership_filter_value(parsed: Filter, attribute: Attribute) -> str | None:
    """The id a filter on memberships looks up (``members.value eq`` on groups,
    ``groups.value eq`` on users), None when the filter does not test ``attribute``.

    Memberships are items of their own, not part of the resource a filter is evaluated on:
    a filter may test them only through that one equality, which is a key query. Anything
    else on them would read every membership of the organization, so it is refused."""
    if not tests_attribute(parsed, attribute):
        return None
    lookup = equality_lookup(parsed)
    if lookup is None or lookup[0] != f"{attribute.name}.value":
        raise InvalidFilter(
            f"A filter on '{attribute.name}' must be '{attribute.name}.value eq \"<id>\"' "
            "(optionally joined by 'and' to other conditions)"
        )
    return lookup[1]
