"""Organizations, their first admin, and personal API keys (what ``scim-admin`` drives)."""

from __future__ import annotations

import uuid
from datetime import datetime

from scim_provisioning.clock import Clock
from scim_provisioning.credentials import digest, new_api_key
from scim_provisioning.errors import Conflict, InvalidRequest, NotFound
from scim_provisioning.models import ApiKeyMetadata, Organization, OrganizationRole, Person, ResourceDocument
from scim_provisioning.repository.protocols import (
    ApiKeyStore,
    OrganizationStore,
    PeopleStore,
    UserNameTaken,
    VersionConflict,
)
from scim_provisioning.scim.resources import normalize_resource, require_attributes
from scim_provisioning.scim.schema import USER_RESOURCE_TYPE
from scim_provisioning.services.users import person_from_resource
from scim_provisioning.timestamps import truncate_to_millis


def admin_resource(email: str, given_name: str, family_name: str) -> ResourceDocument:
    """The SCIM User of an organization's first admin, in canonical form: what Okta or Entra
    would have created for them (userName = work email, name, displayName, active), plus the
    admin role. Checked by the same schema rules as any SCIM write."""
    email, given_name, family_name = email.strip(), given_name.strip(), family_name.strip()
    if "@" not in email:
        raise InvalidRequest("Admin email must be an email address")
    if not given_name or not family_name:
        raise InvalidRequest("The admin's given name and family name must not be empty")
    full_name = f"{given_name} {family_name}"
    document = {
        "userName": email,
        "name": {"givenName": given_name, "familyName": family_name, "formatted": full_name},
        "displayName": full_name,
        "emails": [{"value": email, "type": "work", "primary": True}],
        "active": True,
        "roles": [{"value": OrganizationRole.ADMIN.value, "primary": True}],
    }
    resource = normalize_resource(document, USER_RESOURCE_TYPE)
    require_attributes(resource, USER_RESOURCE_TYPE)
    return resource


class OrganizationService:
    def __init__(
        self, organizations: OrganizationStore, people: PeopleStore, api_keys: ApiKeyStore, clock: Clock
    ) -> None:
        self._organizations = organizations
        self._people = people
        self._api_keys = api_keys
        self._clock = clock

    def create_organization(
        self,
        name: str,
        admin_email: str,
        admin_given_name: str,
        admin_family_name: str,
        organization_uuid: str | None = None,
    ) -> tuple[Organization, Person]:
        """Create an organization with its first admin: a complete SCIM user (``admin_resource``)
        whose userName is the email, so that an identity provider assigning that person
        finds and links them instead of failing to create a duplicate."""
        if not name.strip():
            raise InvalidRequest("Organization name must not be empty")
        now = truncate_to_millis(self._clock.now())
        organization = Organization(uuid=organization_uuid or str(uuid.uuid4()), name=name.strip(), created_at=now)
        resource = admin_resource(admin_email, admin_given_name, admin_family_name)
        admin = person_from_resource(resource, str(uuid.uuid4()), organization.uuid, now, now, 1)
        try:
            self._organizations.create_organization(organization, admin)
        except (UserNameTaken, VersionConflict) as taken:
            raise Conflict(f"Organization {organization.uuid} already exists") from taken
        return organization, admin

    def get_organization(self, organization_uuid: str) -> Organization:
        organization = self._organizations.get_organization(organization_uuid)
        if organization is None:
            raise NotFound(f"Organization {organization_uuid} not found")
        return organization

    def find_person(self, organization_uuid: str, user_uuid: str | None, user_name: str | None) -> Person:
        person = (
            self._people.get_person(organization_uuid, user_uuid)
            if user_uuid
            else self._people.find_person_by_user_name(organization_uuid, user_name or "")
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
        self._api_keys.create_api_key(key, digest(secret))
        return key, secret

    def list_api_keys(self, organization_uuid: str) -> list[ApiKeyMetadata]:
        return self._api_keys.list_api_keys(organization_uuid)

    def revoke_api_key(self, organization_uuid: str, key_uuid: str) -> ApiKeyMetadata:
        """Revoke a key; what it was (its description and owner name it in the audit entry)."""
        revoked = self._api_keys.delete_api_key(organization_uuid, key_uuid)
        if revoked is None:
            raise NotFound(f"API key {key_uuid} not found")
        return revoked
