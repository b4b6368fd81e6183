"""Turning a filter's selection or a key-ordered listing into one page of a list answer:
index paging (``startIndex``/``count``, RFC 7644 §3.4.2.4) or cursor paging (RFC 9865).

Index paging of a listing is linear in the walk, not quadratic: an importer (Okta's "Import
users" walks ``startIndex=1, 101, 201…``) gets each page from where the previous one ended,
which a served page leaves behind as a bookmark for a few minutes (``Bookmarks``,
``repository/page_bookmarks.py``). A page asked without one (out of order, or after the
bookmarks expired) is read from the nearest earlier bookmark, or from the start.

Resources here are anything with a ``uuid``: people and groups page the same way."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Generic, Protocol, TypeVar

from scim_provisioning.clock import Clock
from scim_provisioning.models import PageBookmark
from scim_provisioning.observability import logger
from scim_provisioning.repository.concurrency import Pending, start
from scim_provisioning.repository.protocols import Page, PageBookmarkStore
from scim_provisioning.scim.listing import ListQuery, decode_cursor, encode_cursor

# Scans (filters that are not key lookups) read the organization in pages of this size.
SCAN_PAGE_SIZE = 1000
# How long the end of a served index page is remembered: an importer asks the next page within
# seconds; ten minutes outlasts a slow one, and bounds how far users created or deleted during
# the walk can shift positions (a bookmarked page starts after the previous page's last user,
# so the walk neither skips nor repeats one at the seam).
BOOKMARK_LIFETIME = timedelta(minutes=10)


class Identified(Protocol):
    @property
    def uuid(self) -> str: ...


T = TypeVar("T", bound=Identified)

ListPage = Callable[[int, str | None], Page[T]]
"""``list_page(limit, after)``: one page of a key-ordered listing (a store's ``list_people``)."""


@dataclass(frozen=True)
class Bookmarks:
    """Where served index pages of one organization's listing of one resource type ended."""

    store: PageBookmarkStore
    organization_uuid: str
    listing: str
    clock: Clock

    def nearest(self, position: int) -> PageBookmark | None:
        """The live bookmark nearest before ``position`` (at it, ideally), if any."""
        mark = self.store.nearest_bookmark(self.organization_uuid, self.listing, position)
        if mark is None or mark.expires_at_epoch <= self.clock.now().timestamp():
            return None
        return mark

    def remember(self, position: int, after: str) -> None:
        expires_at = self.clock.now() + BOOKMARK_LIFETIME
        self.store.remember_bookmark(self.organization_uuid, self.listing, position, after, expires_at)


@dataclass(frozen=True)
class Listing(Generic[T]):
    """How one organization's resources of a type are counted and read in key order, and
    where its index pages ended (None: index pages are read from the start)."""

    count: Callable[[], int]
    page: ListPage[T]
    bookmarks: Bookmarks | None = None


@dataclass(frozen=True)
class ResultPage(Generic[T]):
    items: list[T]
    total: int
    start_index: int
    next_cursor: str | None
    # Where the next index page starts, (its startIndex, the id before it), for a bookmark the
    # caller writes beside its other work (``Bookmarks.remember``); None when nothing follows.
    resume: tuple[int, str] | None = None


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
    # Index paging starts from the nearest bookmark (read beside the total), else from the start.
    mark = listing.bookmarks.nearest(query.start_index) if listing.bookmarks and query.start_index > 1 else None
    skip, after = (query.start_index - mark.position, mark.after) if mark else (query.start_index - 1, None)
    page = listing.page(skip + query.count, after)
    items = page.items[skip:]
    resume = None
    if listing.bookmarks is not None and items and len(items) == query.count and page.next_after is not None:
        resume = (query.start_index + query.count, items[-1].uuid)
    return ResultPage(items, total.result(), query.start_index, None, resume)


def remember_where_it_ends(listing: Listing[T], page: ResultPage[T]) -> Pending[None] | None:
    """Begin writing the bookmark an index page leaves (``ResultPage.resume``), beside what the
    caller reads next; ``settled`` waits for it."""
    bookmarks, resume = listing.bookmarks, page.resume
    if bookmarks is None or resume is None:
        return None
    return start(functools.partial(bookmarks.remember, *resume))


def settled(bookmark: Pending[None] | None) -> None:
    """Wait for a bookmark's write before the answer leaves (the next page's request may come
    at once, to another instance). Its failure costs only the next page's speed: logged."""
    if bookmark is None:
        return
    try:
        bookmark.result()
    except Exception:
        logger.warning("Could not remember where a list page ended", exc_info=True)


def scan_all(list_page: ListPage[T]) -> Iterator[T]:
    """Every resource of a listing, read SCAN_PAGE_SIZE at a time."""
    after: str | None = None
    while True:
        page = list_page(SCAN_PAGE_SIZE, after)
        yield from page.items
        if page.next_after is None:
            return
        after = page.next_after
