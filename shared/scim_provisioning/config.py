"""Settings read once from the environment the template (or the dev server) sets."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LOCAL_TABLE_NAME = "scim-provisioning-local"
DEFAULT_ACTIVITY_LOG_RETENTION_DAYS = 30


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

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            table_name=os.environ.get("TABLE_NAME", LOCAL_TABLE_NAME),
            dynamodb_endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
            region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            activity_log_retention_days=activity_log_retention_days(os.environ),
        )
