"""What the services may ask of the store. Services depend on this protocol, never on boto3."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from scim_provisioning.models import (
    ActivityEntry,
    ActivityPage,
    ApiKeyMetadata,
    Credential,
    Organization,
    Person,
    ScimTokenMetadata,
)


class RotationConflict(Exception):
    """The conditional write of a rotation lost: ``current`` is the token as it is now
    (None when it no longer exists), so the service can say why."""

    def __init__(self, current: ScimTokenMetadata | None) -> None:
        super().__init__("rotation condition failed")
        self.current = current


class UserNameTaken(Exception):
    """Another person of the organization already holds this userName (case-insensitively)."""


class VersionConflict(Exception):
    """The item changed (or vanished) since it was read: the optimistic-lock condition failed."""


@dataclass(frozen=True)
class Page:
    """One page of a key-ordered listing; ``next_after`` resumes it (None at the end)."""

    items: list[Person]
    next_after: str | None


class Repository(Protocol):
    # Organizations and people
    def create_organization(self, organization: Organization, admin: Person) -> None: ...
    def get_organization(self, organization_uuid: str) -> Organization | None: ...
    def create_person(self, person: Person) -> None: ...
    def replace_person(self, previous: Person, updated: Person) -> None: ...
    def delete_person(self, person: Person) -> None: ...
    def get_person(self, organization_uuid: str, user_uuid: str) -> Person | None: ...
    def get_people(self, organization_uuid: str, user_uuids: list[str]) -> list[Person]: ...
    def find_person_by_user_name(self, organization_uuid: str, user_name: str) -> Person | None: ...
    def find_people_by_external_id(self, organization_uuid: str, external_id: str) -> list[Person]: ...
    def find_people_by_email(self, organization_uuid: str, email: str) -> list[Person]: ...
    def count_people(self, organization_uuid: str) -> int: ...
    def list_people(self, organization_uuid: str, limit: int, after: str | None = None) -> Page: ...

    # Credentials (SCIM tokens and API keys share the digest-keyed item)
    def get_credential(self, secret_digest: str) -> Credential | None: ...
    def record_credential_use(
        self, secret_digest: str, credential: Credential, used_at: datetime, unless_used_since: datetime
    ) -> bool: ...

    # SCIM access tokens
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
    ) -> bool: ...

    # Personal API keys
    def create_api_key(self, key: ApiKeyMetadata, secret_digest: str) -> None: ...
    def list_api_keys(self, organization_uuid: str) -> list[ApiKeyMetadata]: ...
    def delete_api_key(self, organization_uuid: str, key_uuid: str) -> bool: ...

    # SCIM activity log
    def put_activity(self, entry: ActivityEntry, expires_at: datetime) -> None: ...
    def list_activity(
        self,
        organization_uuid: str,
        limit: int,
        after: str | None = None,
        status_range: tuple[int, int] | None = None,
        action: str | None = None,
    ) -> ActivityPage: ...
