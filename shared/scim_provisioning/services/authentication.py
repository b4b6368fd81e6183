"""Who is calling: SCIM bearer tokens for identity providers, personal API keys for admins.

Both resolve with one consistent key read of the secret's digest, so a revoked or rotated
secret fails on the very next request: there is no cache to outlive it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from scim_provisioning import activity_annotation
from scim_provisioning.clock import Clock
from scim_provisioning.credentials import digest, is_well_formed_scim_token
from scim_provisioning.errors import Forbidden, Unauthenticated
from scim_provisioning.models import Credential, CredentialKind, OrganizationRole
from scim_provisioning.repository.protocols import CredentialStore, PeopleStore

# lastUsedAt is written at most once per credential per this interval.
LAST_USED_RESOLUTION = timedelta(minutes=1)
_MAX_API_KEY_LENGTH = 256


@dataclass(frozen=True)
class ScimPrincipal:
    """An identity provider acting for one organization through one SCIM token."""

    organization_uuid: str
    token_uuid: str


@dataclass(frozen=True)
class AdminPrincipal:
    """An active organization admin acting through a personal API key."""

    organization_uuid: str
    user_uuid: str
    api_key_uuid: str


def _credential_from_header(authorization: str | None, scheme: str) -> str:
    if not authorization:
        raise Unauthenticated(f"Missing Authorization header: expected '{scheme} <credential>'")
    presented_scheme, _, value = authorization.strip().partition(" ")
    if presented_scheme.lower() != scheme.lower() or not value.strip():
        raise Unauthenticated(f"Invalid Authorization header: expected '{scheme} <credential>'")
    return value.strip()


class Authenticator:
    def __init__(self, credentials: CredentialStore, people: PeopleStore, clock: Clock) -> None:
        self._credentials = credentials
        self._people = people
        self._clock = clock

    def authenticate_scim(self, authorization: str | None) -> ScimPrincipal:
        token = _credential_from_header(authorization, "Bearer")
        if not is_well_formed_scim_token(token):
            raise Unauthenticated("Invalid SCIM token")
        secret_digest = digest(token)
        credential = self._credentials.get_credential(secret_digest)
        if credential is None or credential.kind not in (CredentialKind.SCIM_TOKEN, CredentialKind.RETIRED):
            raise Unauthenticated("Invalid SCIM token")
        # Known to belong to an organization, even when refused below: the activity log
        # records the request for that organization (an unknown token is only logged).
        activity_annotation.annotate(organization_uuid=credential.organization_uuid, token_uuid=credential.owner_uuid)
        if credential.kind is CredentialKind.RETIRED:
            activity_annotation.annotate(detail="The token was rotated or revoked")
            raise Unauthenticated("Invalid SCIM token")
        if self._expired(credential):
            raise Unauthenticated("SCIM token has expired")
        self._record_use(secret_digest, credential)
        return ScimPrincipal(organization_uuid=credential.organization_uuid, token_uuid=credential.owner_uuid)

    def authenticate_admin(self, authorization: str | None) -> AdminPrincipal:
        api_key = _credential_from_header(authorization, "ApiKey")
        if len(api_key) > _MAX_API_KEY_LENGTH:
            raise Unauthenticated("Invalid API key")
        secret_digest = digest(api_key)
        credential = self._credentials.get_credential(secret_digest)
        if credential is None or credential.kind is not CredentialKind.API_KEY or credential.user_uuid is None:
            raise Unauthenticated("Invalid API key")
        if self._expired(credential):
            raise Unauthenticated("API key has expired")
        person = self._people.get_person(credential.organization_uuid, credential.user_uuid)
        if person is None or not person.active:
            # A deactivated person is unable to use the platform, keys included.
            raise Unauthenticated("Invalid API key")
        if person.role is not OrganizationRole.ADMIN:
            raise Forbidden("Only organization admins can manage SCIM access tokens")
        self._record_use(secret_digest, credential)
        return AdminPrincipal(
            organization_uuid=credential.organization_uuid,
            user_uuid=person.uuid,
            api_key_uuid=credential.owner_uuid,
        )

    def _expired(self, credential: Credential) -> bool:
        return credential.expires_at is not None and credential.expires_at <= self._clock.now()

    def _record_use(self, secret_digest: str, credential: Credential) -> None:
        now = self._clock.now()
        since = now - LAST_USED_RESOLUTION
        if credential.last_used_at is not None and credential.last_used_at > since:
            return
        self._credentials.record_credential_use(secret_digest, credential, now, since)
