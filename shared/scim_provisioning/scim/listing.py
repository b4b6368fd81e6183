"""Query and list rules shared by /Users and /Groups (RFC 7644 §3.4.2 and RFC 9865).

Two ways to page: ``startIndex``/``count`` (1-based, as every IdP uses) and ``cursor``/
``count`` (RFC 9865), whose cost per page does not grow with the position in the list."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scim_provisioning import parameters
from scim_provisioning.errors import InvalidRequest, TooMany
from scim_provisioning.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

LIST_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@dataclass(frozen=True)
class ListQuery:
    filter: str | None = None
    start_index: int = 1
    count: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None  # None: index paging; "" or a token: cursor paging
    attributes: str | None = None
    excluded_attributes: str | None = None


def _attribute_list(value: Any, name: str) -> str | None:
    """Query strings carry ``a,b``; SearchRequest bodies carry ``["a", "b"]`` (or the text)."""
    if value is None:
        return None
    if isinstance(value, list):
        return ",".join(parameters.text(item, name) for item in value)
    return parameters.text(value, name)


def _count(value: Any) -> int:
    """``count``: negative is 0 (RFC 7644 §3.4.2.4); above MAX_PAGE_SIZE a 400 naming it, not a
    shorter page (Okta pages by startIndex += count and would skip what a short page left out)."""
    count = max(0, parameters.integer(value, "count"))
    if count > MAX_PAGE_SIZE:
        raise TooMany(
            f"count may be at most {MAX_PAGE_SIZE} (ServiceProviderConfig pagination.maxPageSize); "
            f"ask for {MAX_PAGE_SIZE} and page on with startIndex or cursor"
        )
    return count


def list_query(values: Mapping[str, Any]) -> ListQuery:
    """Build a query from URL parameters or a SearchRequest body (names case-insensitive); a
    parameter of the wrong type is a 400 naming it."""
    lowered = {str(key).lower(): value for key, value in values.items()}
    start_index = max(1, parameters.integer(lowered.get("startindex", 1), "startIndex"))
    count = _count(lowered.get("count", DEFAULT_PAGE_SIZE))
    cursor = lowered.get("cursor")
    if cursor is not None and "startindex" in lowered:
        raise InvalidRequest("Use either 'cursor' or 'startIndex' to page, not both")
    filter_text = lowered.get("filter")
    return ListQuery(
        filter=parameters.text(filter_text, "filter") if filter_text else None,
        start_index=start_index,
        count=count,
        cursor=None if cursor is None else parameters.text(cursor, "cursor"),
        attributes=_attribute_list(lowered.get("attributes"), "attributes"),
        excluded_attributes=_attribute_list(lowered.get("excludedattributes"), "excludedAttributes"),
    )


def encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode("utf-8")).decode("ascii").rstrip("=")


MAX_CURSOR_LENGTH = 200
# base64url without padding: ``urlsafe_b64decode`` silently drops other characters.
_CURSOR_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def decode_cursor(cursor: str) -> str | None:
    """The id a cursor resumes after; None for the first page. A bad cursor is a 400
    (RFC 9865 §4: scimType invalidCursor)."""
    if cursor == "":
        return None
    if not _CURSOR_ALPHABET.fullmatch(cursor):
        raise InvalidRequest("Invalid cursor", scim_type="invalidCursor")
    if len(cursor) > MAX_CURSOR_LENGTH:  # ours encode a 36-character id
        raise InvalidRequest("Invalid cursor", scim_type="invalidCursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise InvalidRequest("Invalid cursor", scim_type="invalidCursor") from error


def list_response(
    resources: list[dict[str, Any]], total: int, start_index: int, next_cursor: str | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "itemsPerPage": len(resources),
        "startIndex": start_index,
        "Resources": resources,
    }
    if next_cursor is not None:
        document["nextCursor"] = next_cursor
    return document
