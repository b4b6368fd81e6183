"""Who is calling: SCIM bearer tokens for identity providers, personal API keys for admins.

Both resolve with one consistent key read of the secret's digest, so a revoked or rotated
secret fails on the very next request: there is no cache to outlive it. Authentication writes
nothing: it annotates the request with the credential it found and whether it accepted it, and
the ActivityIngestFunction stamps ``lastUsedAt`` from the request's activity record, off the
response path (``services/activity_ingest.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from scim_provisioning import activity_annotation
from scim_provisioning.clock import Clock
from scim_provisioning.credentials import digest, is_well_formed_scim_token
from scim_provisioning.errors import Forbidden, Unauthenticated
from scim_provisioning.models import Credential, CredentialKind, OrganizationRole
from scim_provisioning.repository.protocols import CredentialStore, PeopleStore

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
        credential = self._credentials.get_credential(digest(token))
        if credential is None or credential.kind not in (CredentialKind.SCIM_TOKEN, CredentialKind.RETIRED):
            raise Unauthenticated("Invalid SCIM token")
        # Known to belong to an organization, even when refused below: the activity log
        # records the request for that organization (an unknown token is only logged).
        activity_annotation.annotate(
            organization_uuid=credential.organization_uuid,
            credential_kind=CredentialKind.SCIM_TOKEN,
            credential_uuid=credential.owner_uuid,
        )
        if credential.kind is CredentialKind.RETIRED:
            activity_annotation.annotate(detail="The token was rotated or revoked")
            raise Unauthenticated("Invalid SCIM token")
        if self._expired(credential):
            raise Unauthenticated("SCIM token has expired")
        activity_annotation.annotate(authenticated=True)
        return ScimPrincipal(organization_uuid=credential.organization_uuid, token_uuid=credential.owner_uuid)

    def authenticate_admin(self, authorization: str | None) -> AdminPrincipal:
        api_key = _credential_from_header(authorization, "ApiKey")
        if len(api_key) > _MAX_API_KEY_LENGTH:
            raise Unauthenticated("Invalid API key")
        credential = self._credentials.get_credential(digest(api_key))
        if credential is None or credential.kind is not CredentialKind.API_KEY or credential.user_uuid is None:
            raise Unauthenticated("Invalid API key")
        # The actor, for the admin actions' log entries: named even when refused below (an
        # expired key, a deactivated admin, a member's 403).
        activity_annotation.annotate(
            organization_uuid=credential.organization_uuid,
            credential_kind=CredentialKind.API_KEY,
            credential_uuid=credential.owner_uuid,
            actor_user_uuid=credential.user_uuid,
        )
        if self._expired(credential):
            raise Unauthenticated("API key has expired")
        person = self._people.get_person(credential.organization_uuid, credential.user_uuid)
        if person is None or not person.active:
            # A deactivated person is unable to use the platform, keys included.
            raise Unauthenticated("Invalid API key")
        if person.role is not OrganizationRole.ADMIN:
            raise Forbidden("Only organization admins can manage SCIM access tokens")
        activity_annotation.annotate(authenticated=True)
        return AdminPrincipal(
            organization_uuid=credential.organization_uuid,
            user_uuid=person.uuid,
            api_key_uuid=credential.owner_uuid,
        )

    def _expired(self, credential: Credential) -> bool:
        return credential.expires_at is not None and credential.expires_at <= self._clock.now()
