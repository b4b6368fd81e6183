"""Turning a filter's selection or a key-ordered listing into one page of a list answer:
index paging (``startIndex``/``count``, RFC 7644 §3.4.2.4) or cursor paging (RFC 9865).

Resources here are anything with a ``uuid``: people and groups page the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from scim_provisioning.repository.concurrency import start
from scim_provisioning.repository.protocols import Page
from scim_provisioning.scim.listing import ListQuery, decode_cursor, encode_cursor

# Scans (filters that are not key lookups) read the organization in pages of this size.
SCAN_PAGE_SIZE = 1000


class Identified(Protocol):
    @property
    def uuid(self) -> str: ...


T = TypeVar("T", bound=Identified)

ListPage = Callable[[int, str | None], Page[T]]
"""``list_page(limit, after)``: one page of a key-ordered listing (a store's ``list_people``)."""


@dataclass(frozen=True)
class Listing(Generic[T]):
    """How one organization's resources of a type are counted and read in key order."""

    count: Callable[[], int]
    page: ListPage[T]


@dataclass(frozen=True)
class ResultPage(Generic[T]):
    items: list[T]
    total: int
    start_index: int
    next_cursor: str | None


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


def page_of_listing(query: ListQuery, listing: Listing[T]) -> ResultPage[T]:
    """One page of an unfiltered, key-ordered listing; its total is read beside it."""
    total = start(listing.count)
    if query.count == 0:
        return ResultPage([], total.result(), query.start_index, None)
    if query.cursor is not None:
        # One resource more than the page tells whether another page follows: the last page
        # carries no nextCursor (RFC 9865) instead of pointing at an empty page.
        page = listing.page(query.count + 1, decode_cursor(query.cursor))
        items = page.items[: query.count]
        next_cursor = encode_cursor(items[-1].uuid) if len(page.items) > query.count and items else None
        return ResultPage(items, total.result(), 1, next_cursor)
    # Index paging reads the resources before startIndex too: its cost grows with the
    # position. Cursor paging is the constant-cost way through a large organization.
    page = listing.page(query.start_index - 1 + query.count, None)
    return ResultPage(page.items[query.start_index - 1 :], total.result(), query.start_index, None)


def scan_all(list_page: ListPage[T]) -> Iterator[T]:
    """Every resource of a listing, read SCAN_PAGE_SIZE at a time."""
    after: str | None = None
    while True:
        page = list_page(SCAN_PAGE_SIZE, after)
        yield from page.items
        if page.next_after is None:
            return
        after = page.next_after
