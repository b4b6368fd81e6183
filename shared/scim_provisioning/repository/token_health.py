"""Per-token health: what the activity ingest counts of each SCIM token's requests, one item
per token and hour in the organization's health partition:

  ORG#<org>#HEALTH / TOKEN#<token>#HOUR#<YYYY-MM-DDTHH>
      requests, failures4xx, failures5xx        counts of the hour (ADD)
      lastSuccessAt                              the hour's latest success
      lastErrorAt, lastError {status, scimType, detail}   the hour's latest failure
      expiresAtEpoch                             TTL

One write per token and hour of a delivery (docs/data-model.md). Hours are sort keys, so one
Query newest first reads a token's recent hours; the newest hour that has a success (or an
error) holds the token's last one, since every record counts in the hour it happened."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from scim_provisioning.models import TokenError, TokenHealth, TokenHourCounts
from scim_provisioning.repository.failures import ConditionFailed
from scim_provisioning.repository.items import Item, deserialize, epoch, optional_time
from scim_provisioning.repository.table import Table
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

_HOUR_FORMAT = "%Y-%m-%dT%H"
_COUNTS = "ADD #requests :requests, #failures4xx :failures4xx, #failures5xx :failures5xx"
_COUNT_NAMES = {"#requests": "requests", "#failures4xx": "failures4xx", "#failures5xx": "failures5xx"}


def _health_pk(organization_uuid: str) -> str:
    return f"ORG#{organization_uuid}#HEALTH"


def _hour_sk(token_uuid: str, hour: datetime) -> str:
    return f"TOKEN#{token_uuid}#HOUR#{hour.astimezone(UTC).strftime(_HOUR_FORMAT)}"


def _hour_counts(item: Item) -> TokenHourCounts:
    return TokenHourCounts(
        hour=datetime.strptime(item["SK"].rsplit("#", 1)[1], _HOUR_FORMAT).replace(tzinfo=UTC),
        requests=int(item.get("requests", 0)),
        failures_4xx=int(item.get("failures4xx", 0)),
        failures_5xx=int(item.get("failures5xx", 0)),
    )


def _last_error(item: Item) -> TokenError | None:
    error = item.get("lastError")
    if error is None:
        return None
    return TokenError(
        occurred_at=parse_timestamp(item["lastErrorAt"]),
        status=int(error["status"]),
        scim_type=error.get("scimType"),
        detail=error.get("detail"),
    )


class _Latest:
    """One "latest" attribute group of an hour item: SET only if later than what is there."""

    def __init__(self, stamp: str, occurred_at: datetime, extra: dict[str, Any] | None = None) -> None:
        key = stamp.removeprefix("last")
        self.names = {f"#{key}": stamp}
        self.values: dict[str, Any] = {f":{key}": {"S": format_timestamp(occurred_at)}}
        assignments = [f"#{key} = :{key}"]
        for name, value in (extra or {}).items():
            self.names[f"#{name}"] = name
            self.values[f":{name}"] = value
            assignments.append(f"#{name} = :{name}")
        self.assignments = ", ".join(assignments)
        self.condition = f"(attribute_not_exists(#{key}) OR #{key} < :{key})"


class DynamoDBTokenHealthStore:
    """Implements ``TokenHealthStore``."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def add_token_hour(
        self,
        organization_uuid: str,
        token_uuid: str,
        counts: TokenHourCounts,
        last_success_at: datetime | None,
        last_error: TokenError | None,
        expires_at: datetime,
    ) -> None:
        """Add one delivery's counts of a token's hour and move its latest success and error
        forward, in one UpdateItem: ``ADD`` never conflicts with a concurrent delivery, and the
        latest ones are set only if later than what is stored. When another delivery stored a
        later one first (its condition fails), the counts are added alone and each latest one
        is tried on its own: three writes, only on that race."""
        latest = []
        if last_success_at is not None:
            latest.append(_Latest("lastSuccessAt", last_success_at))
        if last_error is not None:
            details: dict[str, Any] = {"status": {"N": str(last_error.status)}}
            if last_error.scim_type is not None:
                details["scimType"] = {"S": last_error.scim_type}
            if last_error.detail is not None:
                details["detail"] = {"S": last_error.detail}
            latest.append(_Latest("lastErrorAt", last_error.occurred_at, {"lastError": {"M": details}}))
        pk, sk = _health_pk(organization_uuid), _hour_sk(token_uuid, counts.hour)
        values = {
            ":requests": {"N": str(counts.requests)},
            ":failures4xx": {"N": str(counts.failures_4xx)},
            ":failures5xx": {"N": str(counts.failures_5xx)},
            ":expires": {"N": str(epoch(expires_at))},
            ":entity": {"S": "TokenHour"},
        }
        names = {**_COUNT_NAMES, "#expires": "expiresAtEpoch", "#entity": "entity"}
        sets = "SET #expires = :expires, #entity = :entity"
        request: dict[str, Any] = {
            "UpdateExpression": f"{_COUNTS} {', '.join([sets, *(part.assignments for part in latest)])}",
            "ExpressionAttributeNames": {**names, **{k: v for part in latest for k, v in part.names.items()}},
            "ExpressionAttributeValues": {**values, **{k: v for part in latest for k, v in part.values.items()}},
        }
        if latest:
            request["ConditionExpression"] = " AND ".join(part.condition for part in latest)
        try:
            self._table.update_item(pk, sk, **request)
            return
        except ConditionFailed:
            pass  # another delivery stored a later success or error of this hour first
        self._table.update_item(
            pk,
            sk,
            UpdateExpression=f"{_COUNTS} {sets}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
        for part in latest:
            with contextlib.suppress(ConditionFailed):  # a later one is already there
                self._table.update_item(
                    pk,
                    sk,
                    UpdateExpression=f"SET {part.assignments}",
                    ConditionExpression=part.condition,
                    ExpressionAttributeNames=part.names,
                    ExpressionAttributeValues=part.values,
                )

    def token_health(self, organization_uuid: str, token_uuid: str, since_hour: datetime) -> TokenHealth:
        """The token's hours from ``since_hour`` on (oldest first), and its last success and
        error among them: one Query (≤ 1 MB: 192 hours of a week are ≈40 KB)."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":pk": {"S": _health_pk(organization_uuid)},
                ":first": {"S": _hour_sk(token_uuid, since_hour)},
                ":last": {"S": f"TOKEN#{token_uuid}#HOUR#~"},
            },
        }
        items = [deserialize(item) for item in self._table.query_pages(request)]
        newest_first = list(reversed(items))
        success = next((item for item in newest_first if "lastSuccessAt" in item), {})
        error = next((item for item in newest_first if "lastError" in item), {})
        return TokenHealth(
            token_uuid=token_uuid,
            hours=[_hour_counts(item) for item in items],
            last_success_at=optional_time(success, "lastSuccessAt"),
            last_error=_last_error(error),
        )
