"""The token guardian: SCIM provisioning most often dies of an expired token that nobody saw
coming, so a scheduled run warns before each token expires (by default 14, 7 and 1 days
before), says when one has expired, and flags tokens never used in their first week (the
identity provider was probably never configured) or gone quiet while the rest of their
organization's traffic continues (docs/decisions.md, "Token guardian").

Each finding is an event on the service's bus; expiry warnings also notify people through the
notices topic, with what to do. Every notice is sent once per token and subject (an expiry's
threshold, the first week, a last use), however many runs see it and even when runs race: a
conditional write claims it first (``TokenNoticeStore``). A rotation gives the token a new
expiry, hence new subjects: its warnings start again for the new date.

A run reads only what it has something to say about, from sparse indexes (``ScimTokenIndexStore``):
tokens expiring within the earliest warning or expired in the last ``EXPIRED_LOOKBACK``, tokens
whose first week has just ended, tokens last used just over the idle time ago. Its cost does
not grow with the organizations or tokens that are none of these (``make bench``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from scim_provisioning.clock import Clock
from scim_provisioning.config import DEFAULT_TOKEN_EXPIRY_WARNING_DAYS, DEFAULT_TOKEN_IDLE_DAYS, Settings
from scim_provisioning.models import Notification, ScimTokenMetadata, ServiceEvent, TokenNoticeKey
from scim_provisioning.repository.protocols import (
    EventBus,
    NotificationTopic,
    ScimTokenIndexStore,
    ScimTokenStore,
    TokenNoticeStore,
)
from scim_provisioning.timestamps import format_optional, format_timestamp, truncate_to_millis

DAY = timedelta(days=1)
# The rule: a token not used within 7 days of its creation was probably never set up.
NEVER_USED_AFTER = timedelta(days=7)
# How long after its expiry a token is still "just expired", and how long after going idle a
# token is still found for it: a run that failed or was skipped is caught up by the next one
# within this span. (Each notice is still sent once: its record outlives the span.)
EXPIRED_LOOKBACK = timedelta(days=2)
IDLE_LOOKBACK = timedelta(days=2)
# A claim older than this whose notice was never marked sent belongs to a run that died: a
# later run takes it over. Far longer than a run may last (the function's timeout, 5 minutes).
CLAIM_LEASE = timedelta(minutes=15)
# How long a notice's record outlives the span in which its token can be found for it.
NOTICE_RETENTION = timedelta(days=30)
# Notices claimed, published and marked sent together: one BatchWriteItem marks them all.
NOTICES_PER_CHUNK = 25


class NoticeKind(StrEnum):
    """The event's ``detail-type``."""

    EXPIRING = "ScimTokenExpiring"
    EXPIRED = "ScimTokenExpired"
    NEVER_USED = "ScimTokenNeverUsed"
    IDLE = "ScimTokenIdle"


@dataclass(frozen=True)
class GuardianPolicy:
    """What the guardian warns about: ``warning_days`` before an expiry (any order), a token
    idle after ``idle_after`` without use; ``settings_page_url`` is where messages send people."""

    warning_days: tuple[int, ...] = DEFAULT_TOKEN_EXPIRY_WARNING_DAYS
    idle_after: timedelta = timedelta(days=DEFAULT_TOKEN_IDLE_DAYS)
    settings_page_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> GuardianPolicy:
        return cls(
            warning_days=settings.token_expiry_warning_days,
            idle_after=timedelta(days=settings.token_idle_days),
            settings_page_url=settings.settings_page_url,
        )

    @property
    def earliest_warning(self) -> timedelta:
        return timedelta(days=max(self.warning_days))


def expiry_threshold(expires_at: datetime, now: datetime, warning_days: tuple[int, ...]) -> int | None:
    """The most urgent threshold a token expiring at ``expires_at`` has crossed at ``now``: 0
    once it has expired (at ``expires_at`` itself, as authentication refuses it then), else
    the smallest horizon h (days) with at most h days left; None before the earliest one.

    Only the most urgent is due: a token created 3 days before its expiry gets the 7-day
    warning, not the 14-day one as well, and since time only moves forward a threshold passed
    over is never due later."""
    left = expires_at - now
    if left <= timedelta(0):
        return 0
    crossed = [days for days in warning_days if left <= timedelta(days=days)]
    return min(crossed) if crossed else None


def days_left(expires_at: datetime, now: datetime) -> int:
    """Whole days left, rounded up ("expires within 3 days"); 0 once expired."""
    return max(0, math.ceil((expires_at - now) / DAY))


@dataclass(frozen=True)
class TokenNotice:
    kind: NoticeKind
    token: ScimTokenMetadata
    key: TokenNoticeKey
    detail: dict[str, Any]


@dataclass(frozen=True)
class GuardianRun:
    """What one run sent, and each organization's days to its earliest expiry among the tokens
    it read (0 for one expired within ``EXPIRED_LOOKBACK``): the CloudWatch metric's values."""

    events: list[ServiceEvent]
    notifications: list[Notification]
    earliest_expiry_days: dict[str, float]
    already_told: int  # notices due but sent before, or being sent by a concurrent run


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


class TokenGuardian:
    def __init__(
        self,
        tokens: ScimTokenStore,
        indexes: ScimTokenIndexStore,
        notices: TokenNoticeStore,
        bus: EventBus,
        topic: NotificationTopic,
        clock: Clock,
        policy: GuardianPolicy,
    ) -> None:
        self._tokens = tokens
        self._indexes = indexes
        self._notices = notices
        self._bus = bus
        self._topic = topic
        self._clock = clock
        self._policy = policy

    def run(self) -> GuardianRun:
        """Find what is due now, then per chunk of ``NOTICES_PER_CHUNK``: claim each notice,
        publish the claimed ones, mark them sent. Then close the first-week checks it made. A
        run cut short (a failure to publish, the timeout) has sent the chunks it finished; the
        claims of the one it was in are sent by a run after ``CLAIM_LEASE``."""
        now = truncate_to_millis(self._clock.now())
        notices, earliest = self._expiry_notices(now)
        first_week = self._indexes.scim_tokens_in_first_week(now - NEVER_USED_AFTER)
        notices += [self._never_used_notice(token, now) for token in first_week if token.last_used_at is None]
        notices += self._idle_notices(now)
        events: list[ServiceEvent] = []
        notifications: list[Notification] = []
        for start in range(0, len(notices), NOTICES_PER_CHUNK):
            sent_events, sent_notifications = self._send(notices[start : start + NOTICES_PER_CHUNK], now)
            events += sent_events
            notifications += sent_notifications
        for token in first_week:
            self._indexes.end_first_week_check(token)
        return GuardianRun(events, notifications, earliest, already_told=len(notices) - len(events))

    def _send(self, notices: list[TokenNotice], now: datetime) -> tuple[list[ServiceEvent], list[Notification]]:
        """Claim, publish and mark one chunk. Notices already told are read first, not claimed:
        a failed claim costs a write, and the same warnings are due run after run."""
        told = self._notices.already_told([notice.key for notice in notices], now - CLAIM_LEASE)
        claimed = [
            notice
            for notice in notices
            if notice.key not in told and self._notices.claim_notice(notice.key, now, now - CLAIM_LEASE)
        ]
        events = [ServiceEvent(notice.kind.value, notice.detail, now) for notice in claimed]
        notifications = [
            self._notification(notice, now)
            for notice in claimed
            if notice.kind in (NoticeKind.EXPIRING, NoticeKind.EXPIRED)
        ]
        self._bus.publish(events)
        self._topic.notify(notifications)
        if claimed:
            self._notices.mark_notices_sent([notice.key for notice in claimed], now, now)
        return events, notifications

    # ------------------------------------------------------------------- findings
    def _expiry_notices(self, now: datetime) -> tuple[list[TokenNotice], dict[str, float]]:
        notices = []
        earliest: dict[str, float] = {}
        for token in self._indexes.scim_tokens_expiring(now - EXPIRED_LOOKBACK, now + self._policy.earliest_warning):
            if token.expires_at is None:
                continue
            threshold = expiry_threshold(token.expires_at, now, self._policy.warning_days)
            if threshold is None:
                continue  # rotated since the index entry was read: its new expiry is further off
            remaining = max(0.0, (token.expires_at - now) / DAY)
            earliest[token.organization_uuid] = min(earliest.get(token.organization_uuid, remaining), remaining)
            kind = NoticeKind.EXPIRED if threshold == 0 else NoticeKind.EXPIRING
            detail = self._detail(token) | {"daysLeft": days_left(token.expires_at, now)}
            if threshold:
                detail["thresholdDays"] = threshold
            subject = f"EXPIRY#{format_timestamp(token.expires_at)}#{threshold}"
            keep_until = token.expires_at + EXPIRED_LOOKBACK + NOTICE_RETENTION
            notices.append(self._notice(kind, token, subject, keep_until, detail))
        return notices, earliest

    def _never_used_notice(self, token: ScimTokenMetadata, now: datetime) -> TokenNotice:
        keep_until = token.created_at + NEVER_USED_AFTER + NOTICE_RETENTION
        return self._notice(NoticeKind.NEVER_USED, token, "NEVER_USED", keep_until, self._detail(token))

    def _idle_notices(self, now: datetime) -> list[TokenNotice]:
        """Tokens last used just over ``idle_after`` ago whose organization has another token
        used since: an identity provider that stopped while another carries on (a replaced
        or forgotten connection). When the whole organization is quiet nothing is flagged:
        an identity provider sends nothing while nobody changes, which is no token problem."""
        quiet_since = now - self._policy.idle_after
        candidates: dict[str, set[str]] = {}
        for organization_uuid, token_uuid in self._indexes.scim_tokens_last_used_between(
            quiet_since - IDLE_LOOKBACK, quiet_since
        ):
            candidates.setdefault(organization_uuid, set()).add(token_uuid)
        notices = []
        for organization_uuid, token_uuids in candidates.items():
            tokens = self._tokens.list_scim_tokens(organization_uuid)
            for token in tokens:
                if token.uuid not in token_uuids or token.last_used_at is None or token.last_used_at > quiet_since:
                    continue  # used again since the index was read
                if token.expires_at is not None and token.expires_at <= now:
                    continue  # dead, and said so by the expiry notices
                others = [
                    other.last_used_at
                    for other in tokens
                    if other.uuid != token.uuid and other.last_used_at is not None and other.last_used_at > quiet_since
                ]
                if not others:
                    continue
                detail = self._detail(token) | {
                    "idleDays": math.floor((now - token.last_used_at) / DAY),
                    "organizationLastUsedAt": format_timestamp(max(others)),
                }
                subject = f"IDLE#{format_timestamp(token.last_used_at)}"
                keep_until = token.last_used_at + self._policy.idle_after + IDLE_LOOKBACK + NOTICE_RETENTION
                notices.append(self._notice(NoticeKind.IDLE, token, subject, keep_until, detail))
        return notices

    # ------------------------------------------------------------------- messages
    def _notice(
        self, kind: NoticeKind, token: ScimTokenMetadata, subject: str, keep_until: datetime, detail: dict[str, Any]
    ) -> TokenNotice:
        key = TokenNoticeKey(token.organization_uuid, token.uuid, subject, keep_until)
        return TokenNotice(kind, token, key, detail | {"noticeId": f"{token.uuid}#{subject}"})

    def _detail(self, token: ScimTokenMetadata) -> dict[str, Any]:
        """What every event says of its token (never its secret or digest)."""
        return {
            "organizationUuid": token.organization_uuid,
            "tokenUuid": token.uuid,
            "description": token.description,
            "createdAt": format_timestamp(token.created_at),
            "expiresAt": format_optional(token.expires_at),
            "lastUsedAt": format_optional(token.last_used_at),
            "settingsPageUrl": self._policy.settings_page_url,
        }

    def _notification(self, notice: TokenNotice, now: datetime) -> Notification:
        """An e-mail an admin can act on: which token, when, what stops, how to rotate."""
        token = notice.token
        assert token.expires_at is not None
        if notice.kind is NoticeKind.EXPIRED:
            subject = "SCIM token expired: provisioning has stopped"
            opening = (
                f'The SCIM token "{token.description}" expired on {_when(token.expires_at)}. Your identity '
                "provider's provisioning requests are refused since: new people are not created, and people "
                "who left keep their access."
            )
        else:
            left = days_left(token.expires_at, now)
            subject = f"SCIM token expires within {_plural(left, 'day')}"
            opening = (
                f'The SCIM token "{token.description}" expires on {_when(token.expires_at)}, within '
                f"{_plural(left, 'day')}. Then your identity provider's provisioning stops: new people are not "
                "created, and people who leave keep their access."
            )
        last_use = "never" if token.last_used_at is None else _when(token.last_used_at)
        message = "\n\n".join(
            [
                opening,
                f"Rotate it now: open the SCIM settings page ({self._policy.settings_page_url}), choose Rotate "
                f'next to "{token.description}" with a new expiry date, and paste the new token into your identity '
                "provider (Okta: the application's Provisioning > Integration > API Token; Entra ID: the "
                "application's Provisioning > Admin Credentials > Secret Token), then test the connection. The "
                "old token stops working as soon as you rotate.",
                f"Token: {token.uuid}\nOrganization: {token.organization_uuid}\nLast used: {last_use}",
            ]
        )
        return Notification(subject, message, {"organizationUuid": token.organization_uuid, "kind": notice.kind.value})
