"""Organizations, their first admin, and personal API keys (what ``scim-admin`` drives)."""

from __future__ import annotations

import uuid
from datetime import datetime

from scim_provisioning.clock import Clock
from scim_provisioning.credentials import digest, new_api_key
from scim_provisioning.errors import Conflict, InvalidRequest, NotFound
from scim_provisioning.models import ApiKeyMetadata, Organization, OrganizationRole, Person
from scim_provisioning.repository.interface import Repository, UserNameTaken, VersionConflict
from scim_provisioning.timestamps import truncate_to_millis


class OrganizationService:
    def __init__(self, repository: Repository, clock: Clock) -> None:
        self._repository = repository
        self._clock = clock

    def create_organization(
        self, name: str, admin_email: str, organization_uuid: str | None = None
    ) -> tuple[Organization, Person]:
        """Create an organization with its first admin, whose userName is the email."""
        if not name.strip():
            raise InvalidRequest("Organization name must not be empty")
        if "@" not in admin_email:
            raise InvalidRequest("Admin email must be an email address")
        now = truncate_to_millis(self._clock.now())
        organization = Organization(uuid=organization_uuid or str(uuid.uuid4()), name=name.strip(), created_at=now)
        admin = Person(
            uuid=str(uuid.uuid4()),
            organization_uuid=organization.uuid,
            user_name=admin_email,
            active=True,
            role=OrganizationRole.ADMIN,
            created_at=now,
            last_modified=now,
            resource={"emails": [{"value": admin_email, "type": "work", "primary": True}]},
        )
        try:
            self._repository.create_organization(organization, admin)
        except (UserNameTaken, VersionConflict) as taken:
            raise Conflict(f"Organization {organization.uuid} already exists") from taken
        return organization, admin

    def get_organization(self, organization_uuid: str) -> Organization:
        organization = self._repository.get_organization(organization_uuid)
        if organization is None:
            raise NotFound(f"Organization {organization_uuid} not found")
        return organization

    def find_person(self, organization_uuid: str, user_uuid: str | None, user_name: str | None) -> Person:
        person = (
            self._repository.get_person(organization_uuid, user_uuid)
            if user_uuid
            else self._repository.find_person_by_user_name(organization_uuid, user_name or "")
        )
        if person is None:
            raise NotFound("User not found in this organization")
        return person

    def create_api_key(
        self,
        organization_uuid: str,
        user_uuid: str,
        description: str,
        expires_at: datetime | None = None,
        secret: str | None = None,
    ) -> tuple[ApiKeyMetadata, str]:
        """Issue a personal API key; the secret is returned here and never again.

        ``secret`` lets the local dev server make its admin's key a value the developer chose."""
        now = truncate_to_millis(self._clock.now())
        if expires_at is not None and expires_at <= now:
            raise InvalidRequest("Expire time must be in the future")
        self.find_person(organization_uuid, user_uuid, None)
        secret = secret or new_api_key()
        key = ApiKeyMetadata(
            uuid=str(uuid.uuid4()),
            organization_uuid=organization_uuid,
            user_uuid=user_uuid,
            description=description,
            created_at=now,
            expires_at=None if expires_at is None else truncate_to_millis(expires_at),
            last_used_at=None,
        )
        self._repository.create_api_key(key, digest(secret))
        return key, secret

    def list_api_keys(self, organization_uuid: str) -> list[ApiKeyMetadata]:
        return self._repository.list_api_keys(organization_uuid)

    def revoke_api_key(self, organization_uuid: str, key_uuid: str) -> None:
        if not self._repository.delete_api_key(organization_uuid, key_uuid):
            raise NotFound(f"API key {key_uuid} not found")
