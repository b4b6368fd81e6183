"""What the services may ask of the stores: one narrow protocol per aggregate, the store
errors the services translate, and ``Stores``, the set ``runtime.py`` wires. Services
depend on these protocols, never on boto3; each DynamoDB implementation is a module of its
own beside this one (``people.py`` implements ``PeopleStore``, and so on). The outbound
messages (``EventBus``, ``NotificationTopic``) are ports of the same kind, implemented on
EventBridge and SNS in ``messaging.py``."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Protocol, TypeVar

from scim_provisioning.models import (
    ActivityEntry,
    ActivityPage,
    ApiKeyMetadata,
    Credential,
    CredentialKind,
    Deletion,
    Group,
    Member,
    MemberChange,
    Notification,
    Organization,
    PageBookmark,
    Person,
    ScimTokenMetadata,
    ServiceEvent,
    TokenError,
    TokenHealth,
    TokenHourCounts,
    TokenNoticeKey,
)


class RotationConflict(Exception):
    """The conditional write of a rotation lost: ``current`` is the token as it is now
    (None when it no longer exists), so the service can say why."""

    def __init__(self, current: ScimTokenMetadata | None) -> None:
        super().__init__("rotation condition failed")
        self.current = current


class UserNameTaken(Exception):
    """Another person of the organization already holds this userName (case-insensitively)."""


class DisplayNameTaken(Exception):
    """Another group of the organization already holds this displayName (case-insensitively)."""


class LastActiveAdmin(Exception):
    """The write would leave the organization without an active admin (the person is its last
    one). ``uncounted``: the organization has no count of its active admins yet (written before
    the count existed; ``scim-admin upgrade`` adds it), so no admin may be taken away until then."""

    def __init__(self, uncounted: bool) -> None:
        super().__init__("the organization's last active admin")
        self.uncounted = uncounted


class VersionConflict(Exception):
    """The item changed (or vanished) since it was read: the optimistic-lock condition failed."""


class UnknownMembers(Exception):
    """A membership change named users that are not people of the organization (their check in
    the change's transaction failed): nothing was written."""

    def __init__(self, user_uuids: list[str]) -> None:
        super().__init__("unknown members")
        self.user_uuids = user_uuids


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a key-ordered listing; ``next_after`` resumes it (None at the end)."""

    items: list[T]
    next_after: str | None


class OrganizationStore(Protocol):
    def create_organization(self, organization: Organization, admin: Person) -> None:
        """The organization and its first admin in one transaction (UserNameTaken or
        VersionConflict when either exists)."""
        ...

    def get_organization(self, organization_uuid: str) -> Organization | None: ...
    def active_admin_count(self, organization_uuid: str) -> int | None: ...
    def set_active_admin_count(self, organization_uuid: str, count: int, expected: int | None) -> bool: ...


class PeopleStore(Protocol):
    """People (SCIM users and admins alike) with their userName claim and lookups; every
    write is conditional on the version read (VersionConflict), the claim (UserNameTaken) and,
    when it takes an active admin away, on another one staying (LastActiveAdmin)."""

    def create_person(self, person: Person) -> None: ...
    def replace_person(self, previous: Person, updated: Person) -> None: ...
    def delete_person(self, person: Person, deletion: Deletion) -> None: ...
    def get_person(self, organization_uuid: str, user_uuid: str) -> Person | None: ...
    def get_people(self, organization_uuid: str, user_uuids: list[str]) -> list[Person]: ...
    def existing_people(self, organization_uuid: str, user_uuids: list[str]) -> set[str]: ...
    def find_person_by_user_name(self, organization_uuid: str, user_name: str) -> Person | None: ...
    def user_ids_by_user_name(self, organization_uuid: str, user_name: str) -> list[str]: ...
    def user_ids_by_external_id(self, organization_uuid: str, external_id: str) -> list[str]: ...
    def user_ids_by_email(self, organization_uuid: str, email: str) -> list[str]: ...
    def count_people(self, organization_uuid: str) -> int: ...
    def list_people(self, organization_uuid: str, limit: int, after: str | None = None) -> Page[Person]: ...
    def scan_people(self) -> Iterator[Person]: ...


class GroupStore(Protocol):
    """Groups without their members, with their displayName claim and externalId lookup.
    Writes are conditioned on the version read and on no large membership change being in
    progress (VersionConflict); a change of members goes through ``MembershipStore``."""

    def create_group(self, group: Group) -> None: ...
    def replace_group(self, previous: Group, updated: Group) -> None: ...
    def delete_group(self, group: Group, deletion: Deletion) -> None: ...
    def get_group(self, organization_uuid: str, group_uuid: str) -> Group | None: ...
    def get_groups(self, organization_uuid: str, group_uuids: list[str]) -> list[Group]: ...
    def group_ids_by_display_name(self, organization_uuid: str, display_name: str) -> list[str]: ...
    def group_ids_by_external_id(self, organization_uuid: str, external_id: str) -> list[str]: ...
    def count_groups(self, organization_uuid: str) -> int: ...
    def list_groups(self, organization_uuid: str, limit: int, after: str | None = None) -> Page[Group]: ...


class MembershipStore(Protocol):
    """Memberships (one item per group and user, readable from either side) and the change
    records of the group's members; each change moves the group's version with it (small: one
    transaction; large: begin, apply, finish; see ``memberships.py``). A write whose group
    changed since it was read is a VersionConflict, one naming unknown users UnknownMembers."""

    def fits_one_transaction(self, previous: Group | None, updated: Group, change: MemberChange) -> bool: ...
    def change_members(self, previous: Group | None, updated: Group, change: MemberChange) -> None: ...
    def begin_change(self, previous: Group | None, pending: Group, change: MemberChange) -> None: ...
    def apply_change(self, group: Group, change: MemberChange) -> None: ...
    def finish_change(self, pending: Group, finished: Group, change: MemberChange) -> None: ...
    def pending_change(self, group: Group) -> MemberChange | None: ...
    def leave_group(self, previous: Group, updated: Group, user_uuid: str, change: MemberChange) -> bool: ...
    def delete_memberships(self, organization_uuid: str, group_uuid: str, user_uuids: list[str]) -> None: ...
    def members(self, organization_uuid: str, group_uuid: str, limit: int | None = None) -> list[Member]: ...
    def member_ids(self, organization_uuid: str, group_uuid: str, limit: int | None = None) -> list[str]: ...
    def group_ids_of_user(self, organization_uuid: str, user_uuid: str) -> list[str]: ...
    def scan_memberships(self) -> Iterator[tuple[str, str, str]]: ...


class PageBookmarkStore(Protocol):
    """Where served index pages of a listing ended, for a few minutes (``page_bookmarks.py``)."""

    def nearest_bookmark(self, organization_uuid: str, listing: str, position: int) -> PageBookmark | None: ...
    def remember_bookmark(
        self, organization_uuid: str, listing: str, position: int, after: str, expires_at: datetime
    ) -> None: ...


class CredentialStore(Protocol):
    """What a presented secret resolves to (SCIM tokens and API keys share the digest-keyed
    item), and when each was last used."""

    def get_credential(self, secret_digest: str) -> Credential | None: ...
    def stamp_last_used(
        self,
        organization_uuid: str,
        kind: CredentialKind,
        owner_uuid: str,
        used_at: datetime,
        unless_used_since: datetime,
    ) -> bool:
        """Set the token's or key's ``lastUsedAt`` to ``used_at`` unless it was stamped after
        ``unless_used_since`` (or the credential is gone): False when nothing was written."""
        ...


class ScimTokenStore(Protocol):
    def create_scim_token(self, token: ScimTokenMetadata, secret_digest: str) -> None: ...
    def list_scim_tokens(self, organization_uuid: str) -> list[ScimTokenMetadata]: ...
    def get_scim_token(self, organization_uuid: str, token_uuid: str) -> ScimTokenMetadata | None: ...
    def rotate_scim_token(
        self,
        token: ScimTokenMetadata,
        new_digest: str,
        new_expires_at: datetime,
        rotated_at: datetime,
        unless_rotated_since: datetime,
        retire_until: datetime,
    ) -> ScimTokenMetadata: ...
    def delete_scim_token(
        self, organization_uuid: str, token_uuid: str, revoked_at: datetime, retire_until: datetime
    ) -> ScimTokenMetadata | None:
        """Revoke the token; what it was (for the audit entry), or None when there was none."""
        ...


class ScimTokenIndexStore(Protocol):
    """What the token guardian reads: each from a sparse index the token's items carry, so only
    the tokens it has something to say about (docs/data-model.md, "Token guardian"); and the
    upgrade that gives older tokens their entries."""

    def scim_tokens_expiring(self, after: datetime, until: datetime) -> list[ScimTokenMetadata]: ...
    def scim_tokens_in_first_week(self, created_until: datetime) -> list[ScimTokenMetadata]: ...
    def end_first_week_check(self, token: ScimTokenMetadata) -> None: ...
    def scim_tokens_last_used_between(self, after: datetime, until: datetime) -> list[tuple[str, str]]: ...
    def index_scim_tokens(self) -> int: ...


class ApiKeyStore(Protocol):
    def create_api_key(self, key: ApiKeyMetadata, secret_digest: str) -> None: ...
    def list_api_keys(self, organization_uuid: str) -> list[ApiKeyMetadata]: ...
    def delete_api_key(self, organization_uuid: str, key_uuid: str) -> ApiKeyMetadata | None:
        """Revoke the key; what it was (for the audit entry), or None when there was none."""
        ...


class TokenNoticeStore(Protocol):
    """The token guardian's record of what it told: each notice claimed by one run, then sent."""

    def already_told(self, notices: list[TokenNoticeKey], stale_before: datetime) -> set[TokenNoticeKey]: ...
    def claim_notice(self, notice: TokenNoticeKey, claimed_at: datetime, stale_before: datetime) -> bool: ...
    def mark_notices_sent(self, notices: list[TokenNoticeKey], claimed_at: datetime, sent_at: datetime) -> None: ...


class ActivityStore(Protocol):
    def put_activity_entries(self, entries: list[tuple[ActivityEntry, datetime]]) -> None:
        """Write entries, each with its expiry; an entry already written is written again
        unchanged (its id is its key), so a redelivered record adds nothing."""
        ...

    def list_activity(
        self,
        organization_uuid: str,
        limit: int,
        after: str | None = None,
        status_range: tuple[int, int] | None = None,
        actions: Collection[str] | None = None,
    ) -> ActivityPage: ...


class TokenHealthStore(Protocol):
    """Per SCIM token and hour: request counts and the latest success and error, kept by the
    activity ingest for the token's health (issue 12's page and API)."""

    def add_token_hour(
        self,
        organization_uuid: str,
        token_uuid: str,
        counts: TokenHourCounts,
        last_success_at: datetime | None,
        last_error: TokenError | None,
        expires_at: datetime,
    ) -> None:
        """Add ``counts`` to the token's hour ``counts.hour``; move the hour's latest success
        and error to these unless later ones are already there."""
        ...

    def token_health(self, organization_uuid: str, token_uuid: str, since_hour: datetime) -> TokenHealth: ...


class PublishFailed(Exception):
    """Messages the bus or topic still refused after its retries. ``first_unsent``: the position,
    in the list handed to it, of the first message that may not have been sent (everything
    before it was); the ones after it may or may not have been."""

    def __init__(self, message: str, first_unsent: int = 0) -> None:
        super().__init__(message)
        self.first_unsent = first_unsent


class EventBus(Protocol):
    """The service's one event bus (EventBridge in AWS): what other systems subscribe to."""

    def publish(self, events: list[ServiceEvent]) -> None:
        """Publish every event, in order, or raise ``PublishFailed``: none is dropped silently."""
        ...


class NotificationTopic(Protocol):
    """Where people are told (an SNS topic in AWS)."""

    def notify(self, notifications: list[Notification]) -> None:
        """Send every notification, or raise."""
        ...


@dataclass(frozen=True)
class Stores:
    """Every store of the service, as ``runtime.py`` hands them to the services (each
    service takes only the ones it uses). ``repository.dynamodb.dynamodb_stores`` builds
    the DynamoDB set; the credential protocols are one implementation, named three ways."""

    organizations: OrganizationStore
    people: PeopleStore
    groups: GroupStore
    memberships: MembershipStore
    page_bookmarks: PageBookmarkStore
    credentials: CredentialStore
    scim_tokens: ScimTokenStore
    scim_token_indexes: ScimTokenIndexStore
    api_keys: ApiKeyStore
    activity: ActivityStore
    token_health: TokenHealthStore
    token_notices: TokenNoticeStore
