"""The activity ingest: what requests no longer write themselves, written from their activity
records (``activity_records.py``) after the answers left (docs/decisions.md, "Bookkeeping off
the response path").

For one delivery of records (a CloudWatch Logs subscription batch in AWS, a background thread's
batch on the dev server) it writes, in this order:

1. the activity-log entries (BatchWriteItem): records with an organization and an action;
   idempotent, since each entry's id is the one its request chose;
2. ``lastUsedAt`` of each credential the records accepted, once per credential and delivery,
   at the latest use, conditional: monotonic and at most one write a minute, as before;
   idempotent too;
3. each SCIM token's health, one write per token and hour: the hour's counts (requests, 4xx,
   5xx) and its latest success and error. The latest ones are conditional (idempotent); the
   counts are ``ADD``s, so a delivery ingested twice counts its requests twice
   (docs/decisions.md says when that happens).

Written last, the counts are the only part a retried delivery can repeat; everything before
them converges."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from scim_provisioning.activity_records import ActivityRecord
from scim_provisioning.models import ActivityEntry, CredentialKind, TokenError, TokenHourCounts
from scim_provisioning.repository.protocols import ActivityStore, CredentialStore, TokenHealthStore

# lastUsedAt is written at most once per credential per this interval.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# How long a token's hourly counts are kept: a day for the health page, a week for a trend.
TOKEN_HOURS_RETENTION = timedelta(days=8)


@dataclass(frozen=True)
class IngestSummary:
    """What one delivery wrote, for the ingest function's log line and the tests."""

    records: int
    entries: int
    last_used_stamps: int
    token_hours: int


def _entry(record: ActivityRecord) -> ActivityEntry:
    assert record.organization_uuid is not None and record.action is not None
    return ActivityEntry(
        id=record.id,
        organization_uuid=record.organization_uuid,
        occurred_at=record.occurred_at,
        token_uuid=record.token_uuid,
        method=record.method,
        path=record.path,
        action=record.action.value,
        status=record.status,
        target_id=record.target_id,
        target_name=record.target_name,
        target_user_uuid=record.target_user_uuid,
        api_key_uuid=record.credential_uuid if record.credential_kind is CredentialKind.API_KEY else None,
        actor_user_uuid=record.actor_user_uuid,
        operator=record.operator,
        scim_type=record.scim_type,
        detail=record.detail,
        request_id=record.request_id,
        duration_ms=record.duration_ms,
    )


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@dataclass
class _TokenHour:
    """One token's hour, as far as one delivery tells."""

    requests: int = 0
    failures_4xx: int = 0
    failures_5xx: int = 0
    last_success_at: datetime | None = None
    last_error: TokenError | None = None

    def count(self, record: ActivityRecord) -> None:
        self.requests += 1
        if record.status < 400:
            if self.last_success_at is None or self.last_success_at < record.occurred_at:
                self.last_success_at = record.occurred_at
            return
        if record.status < 500:
            self.failures_4xx += 1
        else:
            self.failures_5xx += 1
        if self.last_error is None or self.last_error.occurred_at < record.occurred_at:
            self.last_error = TokenError(record.occurred_at, record.status, record.scim_type, record.detail)


class ActivityIngestService:
    def __init__(
        self,
        activity: ActivityStore,
        token_health: TokenHealthStore,
        credentials: CredentialStore,
        retention: timedelta,
    ) -> None:
        self._activity = activity
        self._token_health = token_health
        self._credentials = credentials
        # How long entries are kept (DynamoDB TTL from each entry's time).
        self._retention = retention

    def ingest(self, records: list[ActivityRecord]) -> IngestSummary:
        """Write what ``records`` say (see the module doc). Records that name no organization
        (unknown credentials) are skipped: no organization's table may hold them."""
        attributed = [record for record in records if record.organization_uuid is not None]
        logged = [record for record in attributed if record.action is not None]
        entries = [(_entry(record), record.occurred_at + self._retention) for record in logged]
        if entries:
            self._activity.put_activity_entries(entries)
        stamps = self._stamp_last_used(attributed)
        token_hours = self._count_token_health(attributed)
        return IngestSummary(len(records), len(entries), stamps, token_hours)

    def _stamp_last_used(self, records: list[ActivityRecord]) -> int:
        latest: dict[tuple[str, CredentialKind, str], datetime] = {}
        for record in records:
            if record.authenticated and record.credential_kind is not None and record.credential_uuid is not None:
                assert record.organization_uuid is not None
                credential = (record.organization_uuid, record.credential_kind, record.credential_uuid)
                latest[credential] = max(record.occurred_at, latest.get(credential, record.occurred_at))
        stamped = 0
        for (organization_uuid, kind, owner_uuid), used_at in latest.items():
            stamped += self._credentials.stamp_last_used(
                organization_uuid, kind, owner_uuid, used_at, used_at - LAST_USED_RESOLUTION
            )
        return stamped

    def _count_token_health(self, records: list[ActivityRecord]) -> int:
        hours: dict[tuple[str, str, datetime], _TokenHour] = defaultdict(_TokenHour)
        for record in records:
            if record.token_uuid is not None:
                assert record.organization_uuid is not None
                hours[(record.organization_uuid, record.token_uuid, _hour(record.occurred_at))].count(record)
        for (organization_uuid, token_uuid, hour_start), hour in hours.items():
            self._token_health.add_token_hour(
                organization_uuid,
                token_uuid,
                TokenHourCounts(hour_start, hour.requests, hour.failures_4xx, hour.failures_5xx),
                hour.last_success_at,
                hour.last_error,
                hour_start + TOKEN_HOURS_RETENTION,
            )
        return len(hours)
