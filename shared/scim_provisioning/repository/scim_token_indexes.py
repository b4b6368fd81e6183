"""What the token guardian reads, and the upgrade that backfills it: the SCIM tokens it has
something to say about, each set from a sparse index entry the credentials store writes with
the token (``credentials.py`` says which item carries which entry; docs/data-model.md, "Token
guardian").

A store of its own, beside ``DynamoDBCredentialStore``, because only the guardian (and
``scim-admin upgrade``) reads these ranges: the token API's services never see them, and a new
finding (a range of an index) is added here without touching how tokens are written."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from scim_provisioning.models import CredentialKind, ScimTokenMetadata
from scim_provisioning.repository.credentials import (
    EXPIRY_INDEX,
    FIRST_WEEK_INDEX,
    LAST_USED_INDEX,
    SCIM_TOKEN_PREFIX,
    index_key,
    scim_token_from_item,
)
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.items import org_pk
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

# Sorts after "#", so "<time>~" bounds every "<time>#<token>" of that instant.
_AFTER_EVERY_TOKEN = "~"


def _index_bound(moment: datetime) -> str:
    """The greatest key of ``moment``: ``<= bound`` takes every token of that instant."""
    return format_timestamp(moment) + _AFTER_EVERY_TOKEN


class DynamoDBScimTokenIndexStore:
    """Implements ``ScimTokenIndexStore`` on the entries ``DynamoDBCredentialStore`` writes."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def scim_tokens_expiring(self, after: datetime, until: datetime) -> list[ScimTokenMetadata]:
        """Live tokens whose credential expires in [after, until]: one Query of that range of
        the expiry index, then the tokens' metadata (BatchGetItem, consistent: the current
        description, expiry and lastUsedAt). A token rotated since the index was written comes
        back as it is now; a revoked one not at all."""
        entries = self._table.query_index_range(
            "GSI1", "GSI1PK", EXPIRY_INDEX, "GSI1SK", format_timestamp(after), _index_bound(until)
        )
        keys = [(org_pk(entry["organizationUuid"]), SCIM_TOKEN_PREFIX + entry["ownerUuid"]) for entry in entries]
        tokens = (scim_token_from_item(item) for item in self._table.get_items(keys))
        return sorted(tokens, key=lambda token: (token.expires_at or token.created_at, token.uuid))

    def scim_tokens_in_first_week(self, created_until: datetime) -> list[ScimTokenMetadata]:
        """Tokens created at or before ``created_until`` whose first week has not been checked
        (``end_first_week_check``): the index holds only those, so this reads nothing else."""
        items = self._table.query_index_range(
            "GSI1", "GSI1PK", FIRST_WEEK_INDEX, "GSI1SK", None, _index_bound(created_until)
        )
        return [scim_token_from_item(item) for item in items]

    def end_first_week_check(self, token: ScimTokenMetadata) -> None:
        """Take the token out of the first-week index; a token revoked meanwhile stays gone."""
        with contextlib.suppress(ConditionFailed):
            self._table.update_item(
                org_pk(token.organization_uuid),
                SCIM_TOKEN_PREFIX + token.uuid,
                UpdateExpression="REMOVE GSI1PK, GSI1SK",
                ConditionExpression="attribute_exists(PK)",
            )

    def scim_tokens_last_used_between(self, after: datetime, until: datetime) -> list[tuple[str, str]]:
        """(organization, token) of the tokens last used in [after, until], from the last-use
        index (keys only): the tokens that went quiet in that span and no others."""
        items = self._table.query_index_range(
            "GSI2", "GSI2PK", LAST_USED_INDEX, "lastUsedAt", format_timestamp(after), format_timestamp(until)
        )
        return [(item["PK"].removeprefix("ORG#"), item["SK"].removeprefix(SCIM_TOKEN_PREFIX)) for item in items]

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
                    "ExpressionAttributeValues": {":index": {"S": LAST_USED_INDEX}},
                }
            else:
                expiry = index_key(parse_timestamp(item["expiresAt"]), item["ownerUuid"])
                update = {
                    "UpdateExpression": "SET GSI1PK = :index, GSI1SK = :expiry",
                    "ConditionExpression": "#kind = :scim",  # not retired meanwhile
                    "ExpressionAttributeNames": {"#kind": "kind"},
                    "ExpressionAttributeValues": {
                        ":index": {"S": EXPIRY_INDEX},
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
