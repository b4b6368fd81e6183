"""Records the services work with, independent of how DynamoDB stores them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeAlias

ResourceDocument: TypeAlias = dict[str, Any]
"""A SCIM resource as JSON: a stored resource in canonical form (``scim/resources.py``), or
an answer's User or Group document."""


class OrganizationRole(StrEnum):
    ADMIN = "admin"
    MEMBER = "member"


class CredentialKind(StrEnum):
    SCIM_TOKEN = "scim_token"
    API_KEY = "api_key"
    # A rotated or revoked SCIM token's credential, kept (until the activity log's retention
    # ends) so that its later use is refused *and* attributed to its organization.
    RETIRED = "retired"


@dataclass(frozen=True)
class Organization:
    uuid: str
    name: str
    created_at: datetime


@dataclass(frozen=True)
class Person:
    """The one user record per person: SCIM-provisioned people and admins alike.

    ``resource`` holds the SCIM attributes in canonical form; the fields beside it are the
    ones the platform itself needs to decide who may do what, read from it."""

    uuid: str
    organization_uuid: str
    user_name: str
    active: bool
    role: OrganizationRole
    created_at: datetime
    last_modified: datetime
    version: int = 1
    resource: ResourceDocument = field(default_factory=dict)
    external_id: str | None = None
    # The SCIM token whose request wrote this version (None: not written through SCIM, e.g.
    # scim-admin): the change events name it (services/change_events.py).
    written_by: str | None = None

    @property
    def email_addresses(self) -> list[str]:
        return [email["value"] for email in self.resource.get("emails", []) if email.get("value")]


@dataclass(frozen=True)
class PendingChange:
    """A large membership change whose intent is recorded on the group and whose memberships
    are being written (docs/data-model.md, "Membership changes"): no other membership change
    of the group commits until it is finished."""

    change_id: str
    since: datetime


@dataclass(frozen=True)
class Group:
    """A SCIM group without its members: memberships are items of their own (a group may
    hold 100,000 of them), so reading or renaming a group never reads them."""

    uuid: str
    organization_uuid: str
    display_name: str
    created_at: datetime
    last_modified: datetime
    version: int = 1
    resource: ResourceDocument = field(default_factory=dict)
    external_id: str | None = None
    pending_change: PendingChange | None = None
    # The SCIM token whose request last wrote the group's attributes (None: not a SCIM request).
    written_by: str | None = None


@dataclass(frozen=True)
class Member:
    """A group's member as an answer shows it: the user's id and its display (as the client
    sent it with the membership, else the user's displayName or userName; None when unknown)."""

    user_id: str
    display: str | None


@dataclass(frozen=True)
class UserGroup:
    """A group the user is a direct member of, as a user's ``groups`` shows it; ``display``
    is the group's displayName (None when it could not be read after a committed write)."""

    group_id: str
    display: str | None


@dataclass(frozen=True)
class PageBookmark:
    """Where a served index page of a listing ended: position ``position`` follows the
    resource ``after``; ignored once ``expires_at_epoch`` has passed."""

    position: int
    after: str
    expires_at_epoch: int


@dataclass(frozen=True)
class MemberChange:
    """One request's change of a group's members as it is written, and as its change record
    keeps it for the change events: the ids made members (with the ``display`` the client
    sent, None when it sent none), the ids removed, who made it (the SCIM token) and when."""

    change_id: str
    added: dict[str, str | None]
    removed: list[str]
    token_uuid: str | None
    at: datetime

    @property
    def empty(self) -> bool:
        return not self.added and not self.removed


@dataclass(frozen=True)
class Deletion:
    """Who deleted a user or a group, and when. A deleted item's last stream image names its
    last writer, not its deleter, so the deletion's transaction writes this down beside it
    (``repository/deletions.py``) for the change events."""

    token_uuid: str | None
    at: datetime


@dataclass(frozen=True)
class Credential:
    """What a presented secret's digest resolves to: one DynamoDB item, one key read."""

    kind: CredentialKind
    organization_uuid: str
    owner_uuid: str  # the SCIM token's or the API key's uuid
    user_uuid: str | None  # the admin an API key belongs to
    expires_at: datetime | None


@dataclass(frozen=True)
class ScimTokenMetadata:
    uuid: str
    organization_uuid: str
    description: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    rotated_at: datetime | None
    created_by_user_uuid: str | None = None
    # The stored digest of the current secret: lets a rotation or revocation name the
    # credential item it replaces. Never serialized into an answer.
    credential_digest: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ApiKeyMetadata:
    uuid: str
    organization_uuid: str
    user_uuid: str
    description: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    credential_digest: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ActivityEntry:
    """One SCIM request or admin action as the activity log keeps it. Never a body, a password,
    a token or an API key. The actor is the SCIM token (``token_uuid``), the admin and the API
    key they used (``actor_user_uuid``, ``api_key_uuid``: the token API) or the operator who
    ran ``scim-admin`` (``operator``)."""

    id: str  # time-ordered: ISO timestamp + random suffix (the item's sort key)
    organization_uuid: str
    occurred_at: datetime
    token_uuid: str | None
    method: str  # an HTTP method, or "scim-admin" for the CLI's actions
    path: str  # the path without its query string, or the scim-admin command
    action: str
    status: int
    target_id: str | None = None  # a user's, group's, token's or API key's uuid
    target_name: str | None = None  # its userName, displayName or description
    target_user_uuid: str | None = None  # the admin whose API key was created or revoked
    api_key_uuid: str | None = None
    actor_user_uuid: str | None = None
    operator: str | None = None
    scim_type: str | None = None
    detail: str | None = None
    request_id: str | None = None
    duration_ms: int | None = None


@dataclass(frozen=True)
class ActivityPage:
    entries: list[ActivityEntry]
    next_after: str | None  # the sort key to resume after; None at the end


@dataclass(frozen=True)
class TokenHourCounts:
    """A SCIM token's requests in one hour (UTC), as the activity ingest counted them."""

    hour: datetime  # the hour's start
    requests: int
    failures_4xx: int  # the identity provider's failures (bad requests, dead tokens…)
    failures_5xx: int  # the service's failures


@dataclass(frozen=True)
class TokenError:
    """The most recent failed request made with a token."""

    occurred_at: datetime
    status: int
    scim_type: str | None
    detail: str | None


@dataclass(frozen=True)
class TokenHealth:
    """What the activity ingest keeps per SCIM token for its health: hourly counts (the hours
    asked for that had requests, oldest first), the last success and the last error."""

    token_uuid: str
    hours: list[TokenHourCounts]
    last_success_at: datetime | None
    last_error: TokenError | None


@dataclass(frozen=True)
class TokenNoticeKey:
    """One thing the token guardian tells about a token, once: ``subject`` names it (e.g.
    ``EXPIRY#<expiresAt>#7`` for the 7-day warning of that expiry). The record of it is kept
    until ``keep_until``, past which the token can no longer be found for it."""

    organization_uuid: str
    token_uuid: str
    subject: str
    keep_until: datetime


@dataclass(frozen=True)
class ServiceEvent:
    """An event the service publishes on its event bus: EventBridge's ``detail-type`` and
    ``detail`` (the source is the service's own). Events with the same ``ordering_key`` (one
    resource's) are published one after the other, never together: a later one never goes out
    while an earlier one is refused."""

    detail_type: str
    detail: dict[str, Any]
    time: datetime
    ordering_key: str | None = None


@dataclass(frozen=True)
class Notification:
    """A message to people (an SNS topic's e-mail subscribers). ``attributes`` travel as
    message attributes, so a subscription can filter, e.g. on its organization."""

    subject: str
    message: str
    attributes: dict[str, str]
