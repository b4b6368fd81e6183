"""What the token guardian has told about each SCIM token: one item per notice, so that each is
sent exactly once however many runs see it (docs/data-model.md, "Token guardian"):

  ORG#<org> / TOKEN_NOTICE#<token>#<subject>    state (sending | sent), claimedAt, sentAt, TTL

A run claims a notice with a conditional write before sending it and marks it sent afterwards.
Of runs racing for the same notice exactly one claims it. A run that died between the two
leaves a claim older than the lease, which a later run takes over and sends: exactly once
unless a run dies after sending and before marking, then at least once (docs/decisions.md)."""

from __future__ import annotations

from datetime import datetime

from scim_provisioning.models import TokenNoticeKey
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.items import epoch, org_pk, serialize
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_timestamp

_SENDING = "sending"
_SENT = "sent"


def _notice_sk(notice: TokenNoticeKey) -> str:
    return f"TOKEN_NOTICE#{notice.token_uuid}#{notice.subject}"


class DynamoDBTokenNoticeStore:
    """Implements ``TokenNoticeStore``."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def already_told(self, notices: list[TokenNoticeKey], stale_before: datetime) -> set[TokenNoticeKey]:
        """The notices sent, or claimed since ``stale_before`` by a run still sending them: read
        (BatchGetItem, 100 a request) so that a run claims only the others, and a run with
        nothing new writes nothing, though it sees the same warnings due hour after hour."""
        by_key = {(org_pk(notice.organization_uuid), _notice_sk(notice)): notice for notice in notices}
        stale = format_timestamp(stale_before)
        return {
            by_key[(item["PK"], item["SK"])]
            for item in self._table.get_items(list(by_key))
            if item.get("state") == _SENT or item.get("claimedAt", "") >= stale
        }

    def claim_notice(self, notice: TokenNoticeKey, claimed_at: datetime, stale_before: datetime) -> bool:
        """Claim the notice for this run: True when it was never claimed, or claimed before
        ``stale_before`` by a run that never marked it sent; False when it is sent or another
        run holds it."""
        try:
            self._table.update_item(
                org_pk(notice.organization_uuid),
                _notice_sk(notice),
                UpdateExpression="SET #state = :sending, claimedAt = :now, entity = :entity, expiresAtEpoch = :ttl",
                ConditionExpression="attribute_not_exists(PK) OR (#state = :sending AND claimedAt < :stale)",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":sending": {"S": _SENDING},
                    ":now": {"S": format_timestamp(claimed_at)},
                    ":stale": {"S": format_timestamp(stale_before)},
                    ":entity": {"S": "TokenNotice"},
                    ":ttl": {"N": str(epoch(notice.keep_until))},
                },
            )
        except ConditionFailed:
            return False
        return True

    def mark_notices_sent(self, notices: list[TokenNoticeKey], claimed_at: datetime, sent_at: datetime) -> None:
        """Mark claimed notices sent (BatchWriteItem, 25 a request): no run takes them over
        again. Unconditional: the claim is this run's until its lease ends, far beyond a run."""
        self._table.batch_write(
            [
                {
                    "PutRequest": {
                        "Item": serialize(
                            {
                                "PK": org_pk(notice.organization_uuid),
                                "SK": _notice_sk(notice),
                                "entity": "TokenNotice",
                                "state": _SENT,
                                "claimedAt": format_timestamp(claimed_at),
                                "sentAt": format_timestamp(sent_at),
                                "expiresAtEpoch": epoch(notice.keep_until),
                            }
                        )
                    }
                }
                for notice in notices
            ]
        )
