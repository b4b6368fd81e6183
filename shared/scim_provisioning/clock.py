"""An injectable clock, so that time rules (expiry, once-per-hour rotation, last-used
throttling) are tested by moving a fake clock instead of sleeping (``benchmarks.harness.FixedClock``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
