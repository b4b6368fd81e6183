"""The activity log as admins read it back: newest first, filtered, paged by cursor. Entries
are written by the activity ingest (``services/activity_ingest.py``) from the records of SCIM
requests, of the token API's admin actions and of scim-admin's."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from scim_provisioning import parameters
from scim_provisioning.activity_annotation import ADMIN_ACTIONS, SCIM_ACTIONS, Action
from scim_provisioning.errors import InvalidRequest
from scim_provisioning.models import ActivityEntry
from scim_provisioning.repository.protocols import ActivityStore
from scim_provisioning.services.authentication import AdminPrincipal
from scim_provisioning.timestamps import format_timestamp

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
# A cursor encodes a sort key of about 33 characters; a longer one is no cursor of ours.
MAX_CURSOR_LENGTH = 200
# ``status`` accepts a class of answers or one status code.
STATUS_CLASSES = {"failure": (400, 599), "success": (100, 399)}
# ``category`` selects a set of actions: the admin actions, or the SCIM requests.
CATEGORIES: dict[str, frozenset[Action]] = {"admin": ADMIN_ACTIONS, "scim": SCIM_ACTIONS}


def encode_cursor(sort_key: str) -> str:
    """The cursor of a page that ends at the entry ``sort_key``: the key, base64url without
    padding, so that a client treats it as opaque and it travels in a query string as is."""
    return base64.urlsafe_b64encode(sort_key.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> str | None:
    """The sort key a cursor resumes after; None for the first page. Anything that is not a
    cursor ``encode_cursor`` could have written is a 400."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidRequest("Invalid cursor")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise InvalidRequest("Invalid cursor") from error


@dataclass(frozen=True)
class ActivityQuery:
    limit: int
    after: str | None
    status_range: tuple[int, int] | None
    actions: Collection[str] | None


def activity_query(values: dict[str, str]) -> ActivityQuery:
    """Validate ``limit``, ``cursor``, ``status`` (failure, success or a code), and ``action``
    (one) or ``category`` (``admin`` or ``scim``), which are not combined."""
    limit = parameters.integer(values.get("limit", DEFAULT_PAGE_SIZE), "limit", minimum=1, maximum=MAX_PAGE_SIZE)
    status = values.get("status") or None
    status_range: tuple[int, int] | None = None
    if status is not None:
        if status in STATUS_CLASSES:
            status_range = STATUS_CLASSES[status]
        else:
            try:
                code = parameters.integer(status, "status", minimum=100, maximum=599)
            except InvalidRequest:
                raise InvalidRequest("status must be 'failure', 'success' or an HTTP status code") from None
            status_range = (code, code)
    action = values.get("action") or None
    if action is not None and action not in {item.value for item in Action}:
        raise InvalidRequest(f"action must be one of: {', '.join(item.value for item in Action)}")
    category = values.get("category") or None
    if category is not None and category not in CATEGORIES:
        raise InvalidRequest(f"category must be one of: {', '.join(CATEGORIES)}")
    if action is not None and category is not None:
        raise InvalidRequest("Filter by action or by category, not both")
    actions = {action} if action is not None else None if category is None else CATEGORIES[category]
    cursor = values.get("cursor") or ""
    return ActivityQuery(limit, decode_cursor(cursor), status_range, actions)


@dataclass(frozen=True)
class ActivityResult:
    entries: list[ActivityEntry]
    next_cursor: str | None


def entry_document(entry: ActivityEntry) -> dict[str, Any]:
    """An entry as the request-logs API returns it and the settings page shows it. The actor
    is ``tokenUuid`` (a SCIM request), ``actorUserUuid`` with ``apiKeyUuid`` (an admin through
    the token API) or ``operator`` (scim-admin)."""
    return {
        "id": entry.id,
        "occurredAt": format_timestamp(entry.occurred_at),
        "tokenUuid": entry.token_uuid,
        "actorUserUuid": entry.actor_user_uuid,
        "apiKeyUuid": entry.api_key_uuid,
        "operator": entry.operator,
        "method": entry.method,
        "path": entry.path,
        "action": entry.action,
        "status": entry.status,
        "targetId": entry.target_id,
        "targetName": entry.target_name,
        "targetUserUuid": entry.target_user_uuid,
        "scimType": entry.scim_type,
        "detail": entry.detail,
        "requestId": entry.request_id,
        "durationMs": entry.duration_ms,
    }


class ActivityLogService:
    def __init__(self, activity: ActivityStore) -> None:
        self._activity = activity

    def list(self, admin: AdminPrincipal, query: ActivityQuery) -> ActivityResult:
        page = self._activity.list_activity(
            admin.organization_uuid, query.limit, query.after, query.status_range, query.actions
        )
        return ActivityResult(page.entries, None if page.next_after is None else encode_cursor(page.next_after))
