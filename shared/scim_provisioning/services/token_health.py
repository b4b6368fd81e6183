"""Each SCIM token's health as its admins read it (the settings page's health column and banner,
``GET …/organization-access-tokens/{uuid}/health``): a plain-language status, the last success,
the last 24 hours' requests and failures (the identity provider's 4xx apart from the service's
5xx), the most recent error, and what to do.

Read from the hourly counters the activity ingest keeps per token (``TokenHealthStore``): one
Query per token, at most 192 small items whatever the traffic, and no request pays a write for
it (docs/decisions.md, "Token health: the ingest's counters, read per token")."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from scim_provisioning.clock import Clock
from scim_provisioning.errors import NotFound
from scim_provisioning.models import ScimTokenMetadata, TokenError, TokenHealth
from scim_provisioning.repository.protocols import ScimTokenStore, TokenHealthStore
from scim_provisioning.services.access_tokens import TOKEN_NOT_FOUND
from scim_provisioning.services.activity_ingest import TOKEN_HOURS_RETENTION
from scim_provisioning.services.authentication import AdminPrincipal
from scim_provisioning.services.token_guardian import DAY, GuardianPolicy
from scim_provisioning.timestamps import format_optional, format_timestamp

WINDOW = timedelta(hours=24)
# A token fails when its latest request failed, or when this share of the day's requests did.
FAILING_SHARE = 0.1
# Answers an identity provider meets in a healthy sync (a delete of someone already gone, a
# create racing its own lookup): the latest request alone failing with one is no failure.
_ROUTINE_STATUSES = frozenset({404, 409})


class TokenStatus(StrEnum):
    """Most urgent first: a token has the first that applies."""

    EXPIRED = "expired"
    FAILING = "failing"
    EXPIRING = "expiring"
    NEVER_USED = "never_used"
    IDLE = "idle"
    HEALTHY = "healthy"


@dataclass(frozen=True)
class TokenHealthReport:
    token: ScimTokenMetadata
    status: TokenStatus
    last_success_at: datetime | None
    requests_24h: int
    identity_provider_failures_24h: int  # 4xx: the identity provider's request or credential
    service_failures_24h: int  # 5xx: the service's fault
    last_error: TokenError | None
    action: str | None  # what the admin should do; None when nothing

    @property
    def failures_24h(self) -> int:
        return self.identity_provider_failures_24h + self.service_failures_24h


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _error_cause(error: TokenError) -> str:
    return "service" if error.status >= 500 else "identity_provider"


def _failing(health: TokenHealth, requests: int, failures: int, since: datetime) -> bool:
    error = health.last_error
    if error is None or error.occurred_at < since:
        return False
    latest_failed = health.last_success_at is None or health.last_success_at < error.occurred_at
    if latest_failed and error.status not in _ROUTINE_STATUSES:
        return True
    return requests > 0 and failures >= FAILING_SHARE * requests


def _failing_action(error: TokenError) -> str:
    """What to change, from the most recent error: the detail names the attribute or cause."""
    if error.status >= 500:
        return (
            "The service failed these requests (our side, not your configuration); your identity provider "
            "retries them. If this lasts, contact support with the time of the last error."
        )
    if error.status == 401:
        return (
            "Your identity provider sends a token that is no longer valid (rotated, revoked or mistyped). "
            "Paste this token's current secret (shown when it was generated or last rotated) into the identity "
            "provider's provisioning settings; if you no longer have it, rotate the token (once an hour) and "
            "paste the new one."
        )
    if error.status == 429:
        return "Your identity provider sends more requests than the service accepts; it slows down by itself."
    detail = f" The last refusal: {error.detail}" if error.detail else ""
    if error.scim_type == "uniqueness":
        return (
            "Your identity provider creates people or groups that already exist: match them on userName or "
            f"displayName.{detail}"
        )
    return f"Fix the attribute mapping in your identity provider: it sends values this service refuses.{detail}"


class TokenHealthService:
    def __init__(self, tokens: ScimTokenStore, health: TokenHealthStore, clock: Clock, policy: GuardianPolicy) -> None:
        self._tokens = tokens
        self._health = health
        self._clock = clock
        self._policy = policy

    def token_health(self, admin: AdminPrincipal, token_uuid: str) -> TokenHealthReport:
        """One token's health: its organization's tokens (one Query: the token, and whether
        another is in use) and its hours (one Query). Another organization's token is absent."""
        tokens = self._tokens.list_scim_tokens(admin.organization_uuid)
        token = next((token for token in tokens if token.uuid == token_uuid), None)
        if token is None:
            raise NotFound(TOKEN_NOT_FOUND)
        return self._report(token, tokens, self._clock.now())

    def _report(self, token: ScimTokenMetadata, tokens: list[ScimTokenMetadata], now: datetime) -> TokenHealthReport:
        health = self._health.token_health(token.organization_uuid, token.uuid, now - TOKEN_HOURS_RETENTION)
        # The current hour and the 23 before it.
        since = now.replace(minute=0, second=0, microsecond=0) - (WINDOW - timedelta(hours=1))
        day = [hour for hour in health.hours if hour.hour >= since]
        requests = sum(hour.requests for hour in day)
        by_idp = sum(hour.failures_4xx for hour in day)
        by_service = sum(hour.failures_5xx for hour in day)
        status, action = self._status(token, tokens, health, requests, by_idp + by_service, now)
        return TokenHealthReport(
            token, status, health.last_success_at, requests, by_idp, by_service, health.last_error, action
        )

    def _status(
        self,
        token: ScimTokenMetadata,
        tokens: list[ScimTokenMetadata],
        health: TokenHealth,
        requests: int,
        failures: int,
        now: datetime,
    ) -> tuple[TokenStatus, str | None]:
        expires_at = token.expires_at
        if expires_at is not None and expires_at <= now:
            return TokenStatus.EXPIRED, (
                f"Rotate this token (it expired on {_day(expires_at)}) and paste the new one into your identity "
                "provider: provisioning has stopped."
            )
        if _failing(health, requests, failures, now - WINDOW):
            assert health.last_error is not None
            return TokenStatus.FAILING, _failing_action(health.last_error)
        if expires_at is not None and expires_at - now <= self._policy.earliest_warning:
            return TokenStatus.EXPIRING, (
                f"Rotate this token before {_day(expires_at)} and paste the new one into your identity provider."
            )
        last_use = max((moment for moment in (token.last_used_at, health.last_success_at) if moment), default=None)
        if last_use is None:
            return TokenStatus.NEVER_USED, (
                "Paste this token into your identity provider's provisioning settings and test the connection; "
                "if another token is used instead, revoke this one."
            )
        if now - last_use >= self._policy.idle_after:
            days = math.floor((now - last_use) / DAY)
            busy = [
                other.description
                for other in tokens
                if other.uuid != token.uuid
                and other.last_used_at is not None
                and now - other.last_used_at < self._policy.idle_after
            ]
            if busy:
                return TokenStatus.IDLE, (
                    f'No request for {days} days while "{busy[0]}" is in use: if this identity provider was '
                    "replaced, revoke this token; if not, check that its provisioning is on."
                )
            return TokenStatus.IDLE, (
                f"No request for {days} days: nothing to do if nobody joined or left; otherwise check that "
                "provisioning is on in your identity provider."
            )
        return TokenStatus.HEALTHY, None


def health_document(report: TokenHealthReport) -> dict[str, Any]:
    """The token API's ``results`` for a token's health, and what the settings page shows."""
    error = report.last_error
    return {
        "tokenUuid": report.token.uuid,
        "description": report.token.description,
        "status": report.status.value,
        "action": report.action,
        "expiresAt": format_optional(report.token.expires_at),
        "lastUsedAt": format_optional(report.token.last_used_at),
        "lastSuccessAt": format_optional(report.last_success_at),
        "requests24h": report.requests_24h,
        "failures24h": report.failures_24h,
        "failures24hByCause": {
            "identityProvider": report.identity_provider_failures_24h,
            "service": report.service_failures_24h,
        },
        "lastError": None
        if error is None
        else {
            "occurredAt": format_timestamp(error.occurred_at),
            "status": error.status,
            "scimType": error.scim_type,
            "detail": error.detail,
            "cause": _error_cause(error),
        },
    }
