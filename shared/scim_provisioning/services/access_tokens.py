"""SCIM access tokens: the rules of create, list, get, rotate and revoke.

The rotation checks run in the incumbent's documented order (expiry in the future, token
exists in this organization, token has an expiry, not rotated within the hour); the last one
is re-checked by the token store's conditional write, which is what makes it hold when
several rotations race.

Each operation names the token it acts on (uuid and description) in the request's activity
annotation as soon as it knows it, so that the admin action's log entry names it even when the
operation is refused afterwards (a rotation within the hour)."""

from __future__ import annotations

import math
import uuid
from datetime import datetime, timedelta
from typing import Any

from scim_provisioning import activity_annotation
from scim_provisioning.clock import Clock
from scim_provisioning.credentials import digest, new_scim_token
from scim_provisioning.errors import InvalidRequest, NotFound
from scim_provisioning.models import ScimTokenMetadata
from scim_provisioning.repository.protocols import RotationConflict, ScimTokenStore
from scim_provisioning.services.authentication import AdminPrincipal
from scim_provisioning.timestamps import format_optional, format_timestamp, truncate_to_millis

ROTATION_INTERVAL = timedelta(hours=1)

EXPIRY_IN_PAST = "Expire time must be in the future"
EXPIRY_REQUIRED_FOR_ROTATION = "expiresAt is required: a rotated token must have a new expiration date"
NO_EXPIRY_CANNOT_ROTATE = "Token with no expiration date cannot be rotated"
ROTATED_WITHIN_HOUR = "Token can only be rotated once per hour"
TOKEN_NOT_FOUND = "SCIM access token not found"


def token_document(token: ScimTokenMetadata, secret: str | None = None) -> dict[str, Any]:
    """A token as the token API returns it and the settings page shows it (never the stored
    digest); ``token`` (the secret) only in the answer that mints or rotates it."""
    document: dict[str, Any] = {
        "uuid": token.uuid,
        "organizationUuid": token.organization_uuid,
        "description": token.description,
        "createdAt": format_timestamp(token.created_at),
        "expiresAt": format_optional(token.expires_at),
        "lastUsedAt": format_optional(token.last_used_at),
        "rotatedAt": format_optional(token.rotated_at),
        "createdBy": token.created_by_user_uuid,
    }
    if secret is not None:
        document["token"] = secret
    return document


def rotation_refusal(token: ScimTokenMetadata, now: datetime) -> InvalidRequest | None:
    """Why this token may not be rotated now (the error to raise), or None when it may. A refusal
    within the hour says when the next rotation is possible, and Retry-After says it to scripts."""
    if token.expires_at is None:
        return InvalidRequest(NO_EXPIRY_CANNOT_ROTATE)
    if token.rotated_at is not None and token.rotated_at > now - ROTATION_INTERVAL:
        possible_at = token.rotated_at + ROTATION_INTERVAL
        return InvalidRequest(
            f"{ROTATED_WITHIN_HOUR}; next rotation possible after {format_timestamp(possible_at)}",
            retry_after_seconds=math.ceil((possible_at - now).total_seconds()),
        )
    return None


class AccessTokenService:
    def __init__(
        self, tokens: ScimTokenStore, clock: Clock, retired_credential_retention: timedelta = timedelta(days=30)
    ) -> None:
        self._tokens = tokens
        self._clock = clock
        # A rotated or revoked token's credential stays as a refused tombstone this long, so
        # the activity log can attribute its later use (the log's own retention).
        self._retention = retired_credential_retention

    def create(
        self, admin: AdminPrincipal, description: str, expires_at: datetime | None
    ) -> tuple[ScimTokenMetadata, str]:
        """Mint a token; the secret is returned here and never again."""
        now = truncate_to_millis(self._clock.now())
        activity_annotation.annotate(target_name=description)
        self._require_future(expires_at, now)
        secret = new_scim_token()
        token = ScimTokenMetadata(
            uuid=str(uuid.uuid4()),
            organization_uuid=admin.organization_uuid,
            description=description,
            created_at=now,
            expires_at=None if expires_at is None else truncate_to_millis(expires_at),
            last_used_at=None,
            rotated_at=None,
            created_by_user_uuid=admin.user_uuid,
        )
        self._tokens.create_scim_token(token, digest(secret))
        activity_annotation.annotate(target_id=token.uuid)
        return token, secret

    def list(self, admin: AdminPrincipal) -> list[ScimTokenMetadata]:
        return self._tokens.list_scim_tokens(admin.organization_uuid)

    def get(self, admin: AdminPrincipal, token_uuid: str) -> ScimTokenMetadata:
        token = self._tokens.get_scim_token(admin.organization_uuid, token_uuid)
        if token is None:
            # A token of another organization is looked up under this organization's key,
            # so it is simply absent: its existence is never revealed.
            raise NotFound(TOKEN_NOT_FOUND)
        activity_annotation.annotate(target_name=token.description)
        return token

    def revoke(self, admin: AdminPrincipal, token_uuid: str) -> None:
        now = truncate_to_millis(self._clock.now())
        revoked = self._tokens.delete_scim_token(admin.organization_uuid, token_uuid, now, now + self._retention)
        if revoked is None:
            raise NotFound(TOKEN_NOT_FOUND)
        activity_annotation.annotate(target_name=revoked.description)

    def rotate(
        self, admin: AdminPrincipal, token_uuid: str, expires_at: datetime | None
    ) -> tuple[ScimTokenMetadata, str]:
        now = truncate_to_millis(self._clock.now())
        if expires_at is None:
            raise InvalidRequest(EXPIRY_REQUIRED_FOR_ROTATION)
        self._require_future(expires_at, now)
        token = self.get(admin, token_uuid)
        refusal = rotation_refusal(token, now)
        if refusal is not None:
            raise refusal
        secret = new_scim_token()
        try:
            rotated = self._tokens.rotate_scim_token(
                token,
                new_digest=digest(secret),
                new_expires_at=truncate_to_millis(expires_at),
                rotated_at=now,
                unless_rotated_since=now - ROTATION_INTERVAL,
                retire_until=now + self._retention,
            )
        except RotationConflict as conflict:
            # Another request changed the token between our read and our write.
            if conflict.current is None:
                raise NotFound(TOKEN_NOT_FOUND) from conflict
            raise rotation_refusal(conflict.current, now) or InvalidRequest(ROTATED_WITHIN_HOUR) from conflict
        return rotated, secret

    @staticmethod
    def _require_future(expires_at: datetime | None, now: datetime) -> None:
        if expires_at is not None and expires_at <= now:
            raise InvalidRequest(EXPIRY_IN_PAST)
