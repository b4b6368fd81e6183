"""Per-organization rate limiting: a token bucket per (warm function instance, organization),
in memory (docs/decisions.md, "Rate limiting per organization").

Each organization may send ``ORG_RATE_LIMIT_PER_SECOND`` requests a second to one function
instance, in bursts of up to ``ORG_RATE_BURST``; above that its requests are answered 429 with
``Retry-After`` (in the API's dialect) right after authentication, before any other work. It
costs a dictionary lookup and a few float operations under a lock: no DynamoDB request, no
write, nothing that fails. The limit is per instance: an organization whose requests spread
over N warm instances of a function gets up to N times it (measured in the decision).

Refusals are sampled for the activity log: the first of each second per organization and
instance is recorded with the count of those left out since, the others are not, so that a
flood does not become a flood of log entries for the ingest to write."""

from __future__ import annotations

import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from scim_provisioning import activity_annotation
from scim_provisioning.errors import ServiceError

DEFAULT_RATE_PER_SECOND = 25.0
DEFAULT_BURST = 50
# Buckets kept per instance: the least recently used organization's is dropped beyond this (it
# starts full again when the organization returns, which only ever admits more).
MAX_ORGANIZATIONS = 10_000


class RateLimited(ServiceError):
    status = 429
    name = "TooManyRequestsError"


@dataclass
class _Bucket:
    tokens: float
    updated: float
    logged_second: int = -1
    unlogged: int = 0


@dataclass(frozen=True)
class Refusal:
    """An organization over its rate: when to retry, and whether to log this refusal (with how
    many were left out of the log since the last one logged)."""

    retry_after_seconds: int
    logged: bool
    unlogged_before: int


class OrganizationRateLimiter:
    """Token buckets by organization, shared by every request this process serves."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        now: Callable[[], float] = time.monotonic,
        max_organizations: int = MAX_ORGANIZATIONS,
    ) -> None:
        self.rate_per_second = rate_per_second
        self.burst = burst
        self._now = now
        self._max_organizations = max_organizations
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def from_environment(cls) -> OrganizationRateLimiter:
        """The limits the template gives every function (``ORG_RATE_LIMIT_PER_SECOND``,
        ``ORG_RATE_BURST``); a rate of 0 turns limiting off."""
        rate = float(os.environ.get("ORG_RATE_LIMIT_PER_SECOND") or DEFAULT_RATE_PER_SECOND)
        burst = int(os.environ.get("ORG_RATE_BURST") or DEFAULT_BURST)
        return cls(rate, burst)

    def admit(self, organization_uuid: str) -> Refusal | None:
        """Take one request from the organization's bucket: None when admitted, else a Refusal."""
        if self.rate_per_second <= 0:
            return None
        with self._lock:
            now = self._now()
            bucket = self._buckets.get(organization_uuid)
            if bucket is None:
                bucket = self._buckets[organization_uuid] = _Bucket(float(self.burst), now)
                if len(self._buckets) > self._max_organizations:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(organization_uuid)
                bucket.tokens = min(float(self.burst), bucket.tokens + (now - bucket.updated) * self.rate_per_second)
                bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            retry_after = max(1, math.ceil((1.0 - bucket.tokens) / self.rate_per_second))
            second = int(now)
            if bucket.logged_second == second:
                bucket.unlogged += 1
                return Refusal(retry_after, logged=False, unlogged_before=0)
            unlogged, bucket.unlogged, bucket.logged_second = bucket.unlogged, 0, second
            return Refusal(retry_after, logged=True, unlogged_before=unlogged)


_limiter: OrganizationRateLimiter | None = None
_limiter_lock = threading.Lock()


def limiter() -> OrganizationRateLimiter:
    """This process's limiter, made from the environment on first use (one per warm instance;
    one for the whole dev server, which plays one instance of every function)."""
    global _limiter
    with _limiter_lock:
        if _limiter is None:
            _limiter = OrganizationRateLimiter.from_environment()
        return _limiter


def enforce(organization_uuid: str) -> None:
    """Let the organization's request through, or answer it 429 with Retry-After (RateLimited,
    which both dialects render). A refusal left out of the activity log is marked so."""
    refusal = limiter().admit(organization_uuid)
    if refusal is None:
        return
    rate = limiter().rate_per_second
    detail = (
        f"Too many requests from this organization: at most {rate:g} a second (in bursts of "
        f"{limiter().burst}); retry after {refusal.retry_after_seconds} s"
    )
    if not refusal.logged:
        activity_annotation.annotate(unrecorded=True)
    elif refusal.unlogged_before:
        activity_annotation.annotate(
            detail=f"{detail} ({refusal.unlogged_before} more refused since the last one logged)"
        )
    raise RateLimited(detail, retry_after_seconds=refusal.retry_after_seconds)


def reset() -> None:
    """Forget every bucket and re-read the environment (tests)."""
    global _limiter
    with _limiter_lock:
        _limiter = None
