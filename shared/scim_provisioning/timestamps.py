"""The one timestamp format of the service: ISO 8601, UTC, milliseconds and ``Z``.

Stored items use the same string, so DynamoDB condition expressions can compare
timestamps as strings (the format sorts lexicographically in time order)."""

from __future__ import annotations

from datetime import UTC, datetime


def format_timestamp(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def format_optional(moment: datetime | None) -> str | None:
    return None if moment is None else format_timestamp(moment)


def parse_timestamp(text: str) -> datetime:
    """Parse a timestamp this service wrote (or any ISO 8601 string with an offset)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def truncate_to_millis(moment: datetime) -> datetime:
    """Drop sub-millisecond precision so a stored and re-read timestamp compares equal."""
    return moment.replace(microsecond=(moment.microsecond // 1000) * 1000)
