"""Credentials: SCIM tokens and personal API keys, each a metadata item in its organization's
partition and a credential item keyed by the secret's digest, written together:

  ORG#<org> / SCIM_TOKEN#<uuid>  or  API_KEY#<uuid>   the metadata the APIs list
  CREDENTIAL#<sha256(secret)> / CREDENTIAL            what authentication reads (one GetItem)

A rotated or revoked SCIM token's credential is replaced by a ``retired`` tombstone under the
same key, so its later use is refused *and* attributed to its organization.

Three sparse index entries, written here with the token, let the token guardian read only the
tokens it has something to say about (its reads: ``scim_token_indexes.py``; docs/data-model.md,
"Token guardian"):

  credential of a live token with an expiry   GSI1 SCIM_TOKEN_EXPIRY / <expiresAt>#<token>
  metadata, until its first week is checked   GSI1 SCIM_TOKEN_FIRST_WEEK / <createdAt>#<token>
  metadata, once used                         GSI2 SCIM_TOKEN / lastUsedAt (KEYS_ONLY)

A rotation writes a new credential (the new expiry's entry) and tombstones the old one (no
entry); a revocation removes all three."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from scim_provisioning.models import ApiKeyMetadata, Credential, CredentialKind, ScimTokenMetadata
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.items import Item, Operation, epoch, optional_time, org_pk
from scim_provisioning.repository.protocols import RotationConflict
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_optional, format_timestamp, parse_timestamp

_CREDENTIAL_SK = "CREDENTIAL"
SCIM_TOKEN_PREFIX = "SCIM_TOKEN#"
_API_KEY_PREFIX = "API_KEY#"
# The token guardian's index partitions (GSI1PK / GSI2PK values), read by scim_token_indexes.py.
EXPIRY_INDEX = "SCIM_TOKEN_EXPIRY"
FIRST_WEEK_INDEX = "SCIM_TOKEN_FIRST_WEEK"
LAST_USED_INDEX = "SCIM_TOKEN"

Metadata = TypeVar("Metadata", ScimTokenMetadata, ApiKeyMetadata)


def _credential_pk(secret_digest: str) -> str:
    return f"CREDENTIAL#{secret_digest}"


def scim_token_from_item(item: Item) -> ScimTokenMetadata:
    return ScimTokenMetadata(
        uuid=item["uuid"],
        organization_uuid=item["organizationUuid"],
        description=item["description"],
        created_at=parse_timestamp(item["createdAt"]),
        expires_at=optional_time(item, "expiresAt"),
        last_used_at=optional_time(item, "lastUsedAt"),
        rotated_at=optional_time(item, "rotatedAt"),
        created_by_user_uuid=item.get("createdByUserUuid"),
        credential_digest=item.get("credentialDigest"),
    )


def _api_key_from_item(item: Item) -> ApiKeyMetadata:
    return ApiKeyMetadata(
        uuid=item["uuid"],
        organization_uuid=item["organizationUuid"],
        user_uuid=item["userUuid"],
        description=item["description"],
        created_at=parse_timestamp(item["createdAt"]),
        expires_at=optional_time(item, "expiresAt"),
        last_used_at=optional_time(item, "lastUsedAt"),
        credential_digest=item.get("credentialDigest"),
    )


def index_key(moment: datetime, token_uuid: str) -> str:
    return f"{format_timestamp(moment)}#{token_uuid}"


def _credential_item(
    secret_digest: str,
    kind: CredentialKind,
    organization_uuid: str,
    owner_uuid: str,
    expires_at: datetime | None,
    user_uuid: str | None = None,
) -> Item:
    item: Item = {
        "PK": _credential_pk(secret_digest),
        "SK": _CREDENTIAL_SK,
        "entity": "Credential",
        "kind": kind.value,
        "organizationUuid": organization_uuid,
        "ownerUuid": owner_uuid,
        "userUuid": user_uuid,
        "expiresAt": format_optional(expires_at),
    }
    if kind is CredentialKind.SCIM_TOKEN and expires_at is not None:
        # Never written again until rotation replaces it: the index entry costs no write
        # beyond the token's own, unlike one on the metadata (stamped with lastUsedAt).
        item |= {"GSI1PK": EXPIRY_INDEX, "GSI1SK": index_key(expires_at, owner_uuid)}
    return item


def scim_token_items(token: ScimTokenMetadata, secret_digest: str) -> tuple[Item, Item]:
    """A new token's metadata and credential items, as its creation writes them (also what
    benchmarks load in bulk). The metadata enters the first-week and last-use indexes."""
    metadata = {
        "PK": org_pk(token.organization_uuid),
        "SK": SCIM_TOKEN_PREFIX + token.uuid,
        "entity": "ScimToken",
        "uuid": token.uuid,
        "organizationUuid": token.organization_uuid,
        "description": token.description,
        "createdAt": format_timestamp(token.created_at),
        "expiresAt": format_optional(token.expires_at),
        "lastUsedAt": format_optional(token.last_used_at),
        "createdByUserUuid": token.created_by_user_uuid,
        "credentialDigest": secret_digest,
        "GSI1PK": FIRST_WEEK_INDEX,
        "GSI1SK": index_key(token.created_at, token.uuid),
        "GSI2PK": LAST_USED_INDEX,
    }
    credential = _credential_item(
        secret_digest, CredentialKind.SCIM_TOKEN, token.organization_uuid, token.uuid, token.expires_at
    )
    return metadata, credential


class DynamoDBCredentialStore:
    """Implements ``CredentialStore``, ``ScimTokenStore`` and ``ApiKeyStore``: one item
    family, whose metadata and credential items change only together."""

    def __init__(self, table: Table) -> None:
        self._table = table

    # ------------------------------------------------------------- authentication
    def get_credential(self, secret_digest: str) -> Credential | None:
        item = self._table.get(_credential_pk(secret_digest), _CREDENTIAL_SK)
        if item is None:
            return None
        return Credential(
            kind=CredentialKind(item["kind"]),
            organization_uuid=item["organizationUuid"],
            owner_uuid=item["ownerUuid"],
            user_uuid=item.get("userUuid"),
            expires_at=optional_time(item, "expiresAt"),
        )

    def stamp_last_used(
        self,
        organization_uuid: str,
        kind: CredentialKind,
        owner_uuid: str,
        used_at: datetime,
        unless_used_since: datetime,
    ) -> bool:
        """Stamp lastUsedAt on the token's or key's metadata item, keyed by its owner's uuid
        (what activity records carry; never the secret's digest). The condition makes the stamp
        monotonic and at most one write a minute, whatever order concurrent ingest invocations
        run in, and skips a revoked credential (its metadata is gone) without recreating it."""
        prefix = SCIM_TOKEN_PREFIX if kind is CredentialKind.SCIM_TOKEN else _API_KEY_PREFIX
        try:
            self._table.update_item(
                org_pk(organization_uuid),
                prefix + owner_uuid,
                UpdateExpression="SET lastUsedAt = :now",
                ConditionExpression="attribute_exists(PK) AND "
                "(attribute_not_exists(lastUsedAt) OR lastUsedAt <= :since)",
                ExpressionAttributeValues={
                    ":now": {"S": format_timestamp(used_at)},
                    ":since": {"S": format_timestamp(unless_used_since)},
                },
            )
        except ConditionFailed:
            return False
        return True

    def _retire_credential(
        self, secret_digest: str, organization_uuid: str, owner_uuid: str, retired_at: datetime, keep_until: datetime
    ) -> Operation:
        """Replace a SCIM token's credential by a tombstone under the same key: authentication
        still finds it in its one GetItem, refuses it (kind ``retired``), and can tell the
        activity log which organization and token the refused request came with. TTL removes
        it with the log entries it explains."""
        item = {
            "PK": _credential_pk(secret_digest),
            "SK": _CREDENTIAL_SK,
            "entity": "Credential",
            "kind": CredentialKind.RETIRED.value,
            "organizationUuid": organization_uuid,
            "ownerUuid": owner_uuid,
            "retiredAt": format_timestamp(retired_at),
            "expiresAtEpoch": epoch(keep_until),
        }
        return self._table.put(item, condition=None)

    def _delete_with_credential(
        self,
        organization_uuid: str,
        sort_key: str,
        from_item: Callable[[Item], Metadata],
        replacement: Callable[[str], Operation] | None = None,
    ) -> Metadata | None:
        """Delete a token's or key's metadata and its credential together; the condition on the
        digest makes a concurrent rotation and revocation unable to leave a live credential.
        ``replacement(digest)``, when given, is the operation that takes the credential's place
        (a SCIM token's tombstone) instead of deleting it. The metadata deleted (read for its
        digest anyway: its description goes into the audit entry), or None when absent."""
        item = self._table.get(org_pk(organization_uuid), sort_key)
        if item is None:
            return None
        digest = item["credentialDigest"]
        credential_operation = (
            self._table.delete(_credential_pk(digest), _CREDENTIAL_SK) if replacement is None else replacement(digest)
        )
        metadata_delete = self._table.delete(
            org_pk(organization_uuid), sort_key, "credentialDigest = :digest", {":digest": {"S": digest}}
        )
        try:
            self._table.transact([metadata_delete, credential_operation])
        except ConditionFailed:
            # Rotated or deleted meanwhile: look again and delete what is there now.
            return self._delete_with_credential(organization_uuid, sort_key, from_item, replacement)
        return from_item(item)

    # ----------------------------------------------------------- SCIM access tokens
    def create_scim_token(self, token: ScimTokenMetadata, secret_digest: str) -> None:
        metadata, credential = scim_token_items(token, secret_digest)
        self._table.transact([self._table.put(metadata), self._table.put(credential)])

    def list_scim_tokens(self, organization_uuid: str) -> list[ScimTokenMetadata]:
        items = self._table.query_prefix(org_pk(organization_uuid), SCIM_TOKEN_PREFIX)
        return sorted((scim_token_from_item(item) for item in items), key=lambda token: (token.created_at, token.uuid))

    def get_scim_token(self, organization_uuid: str, token_uuid: str) -> ScimTokenMetadata | None:
        item = self._table.get(org_pk(organization_uuid), SCIM_TOKEN_PREFIX + token_uuid)
        return None if item is None else scim_token_from_item(item)

    def rotate_scim_token(
        self,
        token: ScimTokenMetadata,
        new_digest: str,
        new_expires_at: datetime,
        rotated_at: datetime,
        unless_rotated_since: datetime,
        retire_until: datetime,
    ) -> ScimTokenMetadata:
        """Swap the token's secret in one transaction: the metadata update carries the
        once-per-hour rule and the expected old digest as its condition, so of N concurrent
        rotations exactly one commits and the old secret stops working at that instant."""
        old_digest = token.credential_digest or ""
        credential = _credential_item(
            new_digest, CredentialKind.SCIM_TOKEN, token.organization_uuid, token.uuid, new_expires_at
        )
        metadata_update = self._table.update(
            org_pk(token.organization_uuid),
            SCIM_TOKEN_PREFIX + token.uuid,
            UpdateExpression="SET credentialDigest = :new, expiresAt = :expires, rotatedAt = :now",
            ConditionExpression="credentialDigest = :old AND (attribute_not_exists(rotatedAt) OR rotatedAt <= :since)",
            ExpressionAttributeValues={
                ":new": {"S": new_digest},
                ":old": {"S": old_digest},
                ":expires": {"S": format_timestamp(new_expires_at)},
                ":now": {"S": format_timestamp(rotated_at)},
                ":since": {"S": format_timestamp(unless_rotated_since)},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        retired = self._retire_credential(old_digest, token.organization_uuid, token.uuid, rotated_at, retire_until)
        try:
            self._table.transact([metadata_update, retired, self._table.put(credential)])
        except ConditionFailed as failure:
            current = failure.old_item(0)
            raise RotationConflict(None if current is None else scim_token_from_item(current)) from failure
        return replace(token, expires_at=new_expires_at, rotated_at=rotated_at, credential_digest=new_digest)

    def delete_scim_token(
        self, organization_uuid: str, token_uuid: str, revoked_at: datetime, retire_until: datetime
    ) -> ScimTokenMetadata | None:
        def tombstone(secret_digest: str) -> Operation:
            return self._retire_credential(secret_digest, organization_uuid, token_uuid, revoked_at, retire_until)

        return self._delete_with_credential(
            organization_uuid, SCIM_TOKEN_PREFIX + token_uuid, scim_token_from_item, tombstone
        )

    # ------------------------------------------------------------ personal API keys
    def create_api_key(self, key: ApiKeyMetadata, secret_digest: str) -> None:
        metadata = {
            "PK": org_pk(key.organization_uuid),
            "SK": _API_KEY_PREFIX + key.uuid,
            "entity": "ApiKey",
            "uuid": key.uuid,
            "organizationUuid": key.organization_uuid,
            "userUuid": key.user_uuid,
            "description": key.description,
            "createdAt": format_timestamp(key.created_at),
            "expiresAt": format_optional(key.expires_at),
            "credentialDigest": secret_digest,
        }
        credential = _credential_item(
            secret_digest, CredentialKind.API_KEY, key.organization_uuid, key.uuid, key.expires_at, key.user_uuid
        )
        self._table.transact([self._table.put(metadata), self._table.put(credential)])

    def list_api_keys(self, organization_uuid: str) -> list[ApiKeyMetadata]:
        items = self._table.query_prefix(org_pk(organization_uuid), _API_KEY_PREFIX)
        return sorted((_api_key_from_item(item) for item in items), key=lambda key: (key.created_at, key.uuid))

    def delete_api_key(self, organization_uuid: str, key_uuid: str) -> ApiKeyMetadata | None:
        return self._delete_with_credential(organization_uuid, _API_KEY_PREFIX + key_uuid, _api_key_from_item)
