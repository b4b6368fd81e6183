"""Credentials: SCIM tokens and personal API keys, each a metadata item in its organization's
partition and a credential item keyed by the secret's digest, written together:

  ORG#<org> / SCIM_TOKEN#<uuid>  or  API_KEY#<uuid>   the metadata the APIs list
  CREDENTIAL#<sha256(secret)> / CREDENTIAL            what authentication reads (one GetItem)

A rotated or revoked SCIM token's credential is replaced by a ``retired`` tombstone under the
same key, so its later use is refused *and* attributed to its organization.

Three sparse index entries let the token guardian read only the tokens it has something to say
about (docs/data-model.md, "Token guardian"):

  credential of a live token with an expiry   GSI1 SCIM_TOKEN_EXPIRY / <expiresAt>#<token>
  metadata, until its first week is checked   GSI1 SCIM_TOKEN_FIRST_WEEK / <createdAt>#<token>
  metadata, once used                         GSI2 SCIM_TOKEN / lastUsedAt (KEYS_ONLY)

A rotation writes a new credential (the new expiry's entry) and tombstones the old one (no
entry); a revocation removes all three."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any, TypeVar

from scim_provisioning.models import ApiKeyMetadata, Credential, CredentialKind, ScimTokenMetadata
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.items import Item, Operation, epoch, optional_time, org_pk
from scim_provisioning.repository.protocols import RotationConflict
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_optional, format_timestamp, parse_timestamp

_CREDENTIAL_SK = "CREDENTIAL"
_SCIM_TOKEN_PREFIX = "SCIM_TOKEN#"
_API_KEY_PREFIX = "API_KEY#"
# The token guardian's index partitions (GSI1PK / GSI2PK values).
_EXPIRY_INDEX = "SCIM_TOKEN_EXPIRY"
_FIRST_WEEK_INDEX = "SCIM_TOKEN_FIRST_WEEK"
_LAST_USED_INDEX = "SCIM_TOKEN"
# Sorts after "#", so "<time>~" bounds every "<time>#<token>" of that instant.
_AFTER_EVERY_TOKEN = "~"

Metadata = TypeVar("Metadata", ScimTokenMetadata, ApiKeyMetadata)


def _credential_pk(secret_digest: str) -> str:
    return f"CREDENTIAL#{secret_digest}"


def _scim_token_from_item(item: Item) -> ScimTokenMetadata:
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


def _index_key(moment: datetime, token_uuid: str) -> str:
    return f"{format_timestamp(moment)}#{token_uuid}"


def _index_bound(moment: datetime) -> str:
    """The greatest key of ``moment``: ``<= bound`` takes every token of that instant."""
    return format_timestamp(moment) + _AFTER_EVERY_TOKEN


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
        item |= {"GSI1PK": _EXPIRY_INDEX, "GSI1SK": _index_key(expires_at, owner_uuid)}
    return item


def scim_token_items(token: ScimTokenMetadata, secret_digest: str) -> tuple[Item, Item]:
    """A new token's metadata and credential items, as its creation writes them (also what
    benchmarks load in bulk). The metadata enters the first-week and last-use indexes."""
    metadata = {
        "PK": org_pk(token.organization_uuid),
        "SK": _SCIM_TOKEN_PREFIX + token.uuid,
        "entity": "ScimToken",
        "uuid": token.uuid,
        "organizationUuid": token.organization_uuid,
        "description": token.description,
        "createdAt": format_timestamp(token.created_at),
        "expiresAt": format_optional(token.expires_at),
        "lastUsedAt": format_optional(token.last_used_at),
        "createdByUserUuid": token.created_by_user_uuid,
        "credentialDigest": secret_digest,
        "GSI1PK": _FIRST_WEEK_INDEX,
        "GSI1SK": _index_key(token.created_at, token.uuid),
        "GSI2PK": _LAST_USED_INDEX,
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
        prefix = _SCIM_TOKEN_PREFIX if kind is CredentialKind.SCIM_TOKEN else _API_KEY_PREFIX
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
        items = self._table.query_prefix(org_pk(organization_uuid), _SCIM_TOKEN_PREFIX)
        return sorted((_scim_token_from_item(item) for item in items), key=lambda token: (token.created_at, token.uuid))

    def get_scim_token(self, organization_uuid: str, token_uuid: str) -> ScimTokenMetadata | None:
        item = self._table.get(org_pk(organization_uuid), _SCIM_TOKEN_PREFIX + token_uuid)
        return None if item is None else _scim_token_from_item(item)

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
            _SCIM_TOKEN_PREFIX + token.uuid,
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
            raise RotationConflict(None if current is None else _scim_token_from_item(current)) from failure
        return replace(token, expires_at=new_expires_at, rotated_at=rotated_at, credential_digest=new_digest)

    def delete_scim_token(
        self, organization_uuid: str, token_uuid: str, revoked_at: datetime, retire_until: datetime
    ) -> ScimTokenMetadata | None:
        def tombstone(secret_digest: str) -> Operation:
            return self._retire_credential(secret_digest, organization_uuid, token_uuid, revoked_at, retire_until)

        return self._delete_with_credential(
            organization_uuid, _SCIM_TOKEN_PREFIX + token_uuid, _scim_token_from_item, tombstone
        )

    # --------------------------------------------------------------- token guardian
    def scim_tokens_expiring(self, after: datetime, until: datetime) -> list[ScimTokenMetadata]:
        """Live tokens whose credential expires in [after, until]: one Query of that range of
        the expiry index, then the tokens' metadata (BatchGetItem, consistent: the current
        description, expiry and lastUsedAt). A token rotated since the index was written comes
        back as it is now; a revoked one not at all."""
        entries = self._table.query_index_range(
            "GSI1", "GSI1PK", _EXPIRY_INDEX, "GSI1SK", format_timestamp(after), _index_bound(until)
        )
        keys = [(org_pk(entry["organizationUuid"]), _SCIM_TOKEN_PREFIX + entry["ownerUuid"]) for entry in entries]
        tokens = (_scim_token_from_item(item) for item in self._table.get_items(keys))
        return sorted(tokens, key=lambda token: (token.expires_at or token.created_at, token.uuid))

    def scim_tokens_in_first_week(self, created_until: datetime) -> list[ScimTokenMetadata]:
        """Tokens created at or before ``created_until`` whose first week has not been checked
        (``end_first_week_check``): the index holds only those, so this reads nothing else."""
        items = self._table.query_index_range(
            "GSI1", "GSI1PK", _FIRST_WEEK_INDEX, "GSI1SK", None, _index_bound(created_until)
        )
        return [_scim_token_from_item(item) for item in items]

    def end_first_week_check(self, token: ScimTokenMetadata) -> None:
        """Take the token out of the first-week index; a token revoked meanwhile stays gone."""
        with contextlib.suppress(ConditionFailed):
            self._table.update_item(
                org_pk(token.organization_uuid),
                _SCIM_TOKEN_PREFIX + token.uuid,
                UpdateExpression="REMOVE GSI1PK, GSI1SK",
                ConditionExpression="attribute_exists(PK)",
            )

    def scim_tokens_last_used_between(self, after: datetime, until: datetime) -> list[tuple[str, str]]:
        """(organization, token) of the tokens last used in [after, until], from the last-use
        index (keys only): the tokens that went quiet in that span and no others."""
        items = self._table.query_index_range(
            "GSI2", "GSI2PK", _LAST_USED_INDEX, "lastUsedAt", format_timestamp(after), format_timestamp(until)
        )
        return [(item["PK"].removeprefix("ORG#"), item["SK"].removeprefix(_SCIM_TOKEN_PREFIX)) for item in items]

    def index_scim_tokens(self) -> int:
        """Give the tokens that releases before 2026-12-01 wrote the token guardian's index
        entries: the expiry entry on each live token's credential, the last-use entry on its
        metadata (a first-week entry is not added: those tokens are past their first week or
        nearly). A Scan of the whole table, for ``scim-admin upgrade`` only; the items written
        (none on a second run)."""
        request = {
            "FilterExpression": "(#entity = :token AND attribute_not_exists(GSI2PK)) OR "
            "(#kind = :scim AND attribute_exists(expiresAt) AND attribute_not_exists(GSI1PK))",
            "ExpressionAttributeNames": {"#entity": "entity", "#kind": "kind"},
            "ExpressionAttributeValues": {
                ":token": {"S": "ScimToken"},
                ":scim": {"S": CredentialKind.SCIM_TOKEN.value},
            },
        }
        indexed = 0
        for item in self._table.scan(request):
            update: dict[str, Any]
            if item.get("entity") == "ScimToken":
                update = {
                    "UpdateExpression": "SET GSI2PK = :index",
                    "ConditionExpression": "attribute_exists(PK)",  # not revoked meanwhile
                    "ExpressionAttributeValues": {":index": {"S": _LAST_USED_INDEX}},
                }
            else:
                expiry = _index_key(parse_timestamp(item["expiresAt"]), item["ownerUuid"])
                update = {
                    "UpdateExpression": "SET GSI1PK = :index, GSI1SK = :expiry",
                    "ConditionExpression": "#kind = :scim",  # not retired meanwhile
                    "ExpressionAttributeNames": {"#kind": "kind"},
                    "ExpressionAttributeValues": {
                        ":index": {"S": _EXPIRY_INDEX},
                        ":expiry": {"S": expiry},
                        ":scim": {"S": CredentialKind.SCIM_TOKEN.value},
                    },
                }
            try:
                self._table.update_item(item["PK"], item["SK"], **update)
            except ConditionFailed:
                continue
            indexed += 1
        return indexed

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
