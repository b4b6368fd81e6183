"""Settings read once from the environment the template (or the dev server) sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LOCAL_TABLE_NAME = "scim-provisioning-local"
DEFAULT_ACTIVITY_LOG_RETENTION_DAYS = 30
# The token guardian's defaults (template parameters TokenExpiryWarningDays, TokenIdleDays).
DEFAULT_TOKEN_EXPIRY_WARNING_DAYS = (14, 7, 1)
DEFAULT_TOKEN_IDLE_DAYS = 14


def _days(text: str | None, default: tuple[int, ...]) -> tuple[int, ...]:
    """``"14,7,1"`` as (14, 7, 1); unset or empty is the default."""
    if not text:
        return default
    return tuple(int(part) for part in text.split(","))


def activity_log_retention_days(environ: Mapping[str, str]) -> int:
    """``ACTIVITY_LOG_RETENTION_DAYS`` (the stack's ``ActivityLogRetentionDays``), else 30."""
    return int(environ.get("ACTIVITY_LOG_RETENTION_DAYS") or DEFAULT_ACTIVITY_LOG_RETENTION_DAYS)


@dataclass(frozen=True)
class Settings:
    table_name: str
    dynamodb_endpoint_url: str | None
    region: str
    # How long activity entries and retired credentials are kept (DynamoDB TTL).
    activity_log_retention_days: int = DEFAULT_ACTIVITY_LOG_RETENTION_DAYS
    # The token guardian: warnings this many days before a token expires, idle after that many
    # days without use, where its events and notifications go, and the page its messages link.
    token_expiry_warning_days: tuple[int, ...] = DEFAULT_TOKEN_EXPIRY_WARNING_DAYS
    token_idle_days: int = DEFAULT_TOKEN_IDLE_DAYS
    event_bus_name: str = ""
    token_notices_topic_arn: str = ""
    settings_page_url: str = ""

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            table_name=os.environ.get("TABLE_NAME", LOCAL_TABLE_NAME),
            dynamodb_endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            activity_log_retention_days=activity_log_retention_days(os.environ),
            token_expiry_warning_days=_days(
                os.environ.get("TOKEN_EXPIRY_WARNING_DAYS"), DEFAULT_TOKEN_EXPIRY_WARNING_DAYS
            ),
            token_idle_days=int(os.environ.get("TOKEN_IDLE_DAYS") or DEFAULT_TOKEN_IDLE_DAYS),
            event_bus_name=os.environ.get("EVENT_BUS_NAME") or "",
            token_notices_topic_arn=os.environ.get("TOKEN_NOTICES_TOPIC_ARN") or "",
            settings_page_url=os.environ.get("SETTINGS_PAGE_URL") or "",
        )
