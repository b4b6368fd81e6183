"""Page bookmarks: where each index page (``startIndex``/``count``) of an unfiltered list ended,
kept a few minutes so that the next page starts from a key instead of from the beginning:

  ORG#<org>#PAGING / <listing>#<position, 10 digits>   after (the last id before that
                                                       position), expiresAtEpoch (TTL)

``<listing>`` is the resource type listed (``Users``, ``Groups``). Positions sort as numbers, so
one Query finds the nearest bookmark at or before any position. DynamoDB's TTL deletes expired
items within days, not at once: a bookmark past its expiry is ignored when read. Items live in
the table, not in a function's memory, so a walk whose pages land on different Lambda
instances still finds them."""

from __future__ import annotations

from datetime import datetime

from scim_provisioning.models import PageBookmark
from scim_provisioning.repository.items import epoch
from scim_provisioning.repository.table import Table

_POSITION_DIGITS = 10


def _bookmarks_pk(organization_uuid: str) -> str:
    return f"ORG#{organization_uuid}#PAGING"


def _sort_key(listing: str, position: int) -> str:
    return f"{listing}#{position:0{_POSITION_DIGITS}d}"


class DynamoDBPageBookmarkStore:
    """Implements ``PageBookmarkStore``."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def nearest_bookmark(self, organization_uuid: str, listing: str, position: int) -> PageBookmark | None:
        """The bookmark of ``listing`` at the greatest position not after ``position``, if any."""
        request = {
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :first AND :position",
            "ExpressionAttributeValues": {
                ":pk": {"S": _bookmarks_pk(organization_uuid)},
                ":first": {"S": _sort_key(listing, 0)},
                ":position": {"S": _sort_key(listing, position)},
            },
            "ScanIndexForward": False,
            "Limit": 1,
        }
        answer = self._table.query_page(request)
        items = answer.get("Items", [])
        if not items:
            return None
        item = items[0]
        return PageBookmark(
            position=int(item["SK"]["S"].rsplit("#", 1)[1]),
            after=item["after"]["S"],
            expires_at_epoch=int(item["expiresAtEpoch"]["N"]),
        )

    def remember_bookmark(
        self, organization_uuid: str, listing: str, position: int, after: str, expires_at: datetime
    ) -> None:
        """Position ``position`` of ``listing`` follows the resource ``after`` (one PutItem)."""
        self._table.put_item(
            {
                "PK": _bookmarks_pk(organization_uuid),
                "SK": _sort_key(listing, position),
                "entity": "PageBookmark",
                "after": after,
                "expiresAtEpoch": epoch(expires_at),
            }
        )
