"""scim-admin's admin actions in the organization's activity log: API-key create and revoke,
refusals included, as entries of the same shape the token API's actions get.

The token API's functions emit activity records that a CloudWatch Logs subscription delivers to
the activity ingest. scim-admin is not a Lambda function: it builds the same record and hands it
to the ingest service itself, which writes the entry through the activity store (one
BatchWriteItem). The actor is the operator who ran it (``operator_identity``): scim-admin works
with AWS credentials, not with an admin's API key. ``method`` is ``scim-admin`` and ``path``
the command.

The entry is written after the action, so the action may succeed and its entry fail (DynamoDB
unavailable after botocore's retries, a missing permission). Then the command's result is still
printed and its exit code is still 0: the action happened, an API key's secret exists only in
that output, and a failure code would invite a retry that mints a second key. The entry that
could not be written goes to stderr as a warning (``auditWarnings``), an activity record the
operator can keep or replay through the ingest (docs/operations.md). Refusals are recorded
only for an organization that exists: an unknown organization has no log."""

from __future__ import annotations

import getpass
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from scim_provisioning.activity_annotation import Action
from scim_provisioning.activity_records import ActivityRecord, new_entry_id
from scim_provisioning.clock import Clock
from scim_provisioning.errors import ServiceError
from scim_provisioning.services.activity_ingest import ActivityIngestService
from scim_provisioning.timestamps import truncate_to_millis

METHOD = "scim-admin"
# STS answers in milliseconds; a machine that cannot reach it should not hang the command.
_STS_CONFIG = Config(connect_timeout=5, read_timeout=5, retries={"mode": "standard", "max_attempts": 2})


def _local_identity() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in the environment nor the password database
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def operator_identity(endpoint_url: str | None, region: str) -> str:
    """Who runs scim-admin, for its entries. On AWS, the ARN of the caller's credentials (STS
    GetCallerIdentity needs no permission): the IAM user or assumed role an auditor can look up.
    Against a local endpoint, or when STS cannot answer, the local user and host."""
    if endpoint_url:
        return _local_identity()
    try:
        return str(boto3.client("sts", region_name=region, config=_STS_CONFIG).get_caller_identity()["Arn"])
    except (BotoCoreError, ClientError):
        return f"{_local_identity()} (AWS identity unknown)"


@dataclass
class AuditedAction:
    """What one command did, filled in by the command as it learns it."""

    organization_uuid: str
    action: Action
    command: str
    status: int = 200
    target_id: str | None = None  # the API key's uuid
    target_name: str | None = None  # its description
    target_user_uuid: str | None = None  # the admin it belongs to


class OperatorAudit:
    def __init__(self, ingest: ActivityIngestService, clock: Clock, identify_operator: Callable[[], str]) -> None:
        self._ingest = ingest
        self._clock = clock
        # Asked once, at the first entry: commands that record nothing make no STS request.
        self._identify_operator = identify_operator
        self._operator: str | None = None
        # Entries that could not be written: reported on stderr, never a reason to fail.
        self.warnings: list[dict[str, Any]] = []

    @contextmanager
    def action(self, organization_uuid: str, action: Action, command: str) -> Iterator[AuditedAction]:
        """Record what the block does to ``organization_uuid`` (which must exist): its outcome
        when it returns, or its refusal (a ``ServiceError``, re-raised) with status and message.
        Other failures (DynamoDB's) are the command's error and are not recorded."""
        started = time.perf_counter()
        audited = AuditedAction(organization_uuid, action, command)
        try:
            yield audited
        except ServiceError as refusal:
            self._write(audited, started, refusal.status, refusal.message)
            raise
        self._write(audited, started, audited.status, None)

    def _write(self, audited: AuditedAction, started: float, status: int, detail: str | None) -> None:
        now = truncate_to_millis(self._clock.now())
        if self._operator is None:
            self._operator = self._identify_operator()
        record = ActivityRecord(
            id=new_entry_id(now),
            occurred_at=now,
            method=METHOD,
            path=audited.command,
            status=status,
            organization_uuid=audited.organization_uuid,
            operator=self._operator,
            action=audited.action,
            target_id=audited.target_id,
            target_name=audited.target_name,
            target_user_uuid=audited.target_user_uuid,
            detail=detail,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        try:
            self._ingest.ingest([record])
        except (ServiceError, ClientError, BotoCoreError) as error:
            reason = error.message if isinstance(error, ServiceError) else str(error)
            self.warnings.append(
                {
                    "warning": f"The {audited.action.value} entry of the activity log could not be written "
                    f"({reason}); keep this record of it",
                    "auditRecord": json.loads(record.to_json()),
                }
            )
