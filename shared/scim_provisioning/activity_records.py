"""The activity record: the one JSON line each SCIM or admin request emits before its answer
leaves, and the sink it goes to.

The request writes nothing to DynamoDB for its bookkeeping (docs/decisions.md, "Bookkeeping off
the response path"): the recorder (``http/activity_recorder.py``) builds one record and hands it
to the sink, which in Lambda is standard output, flushed at once, so the line is the runtime's
before the handler returns and survives the process being frozen or recycled. A CloudWatch
Logs subscription filter on the function's log group (template.yaml, ``FILTER_PATTERN`` below)
delivers the lines to the ActivityIngestFunction, which writes the log entry, stamps the
credential's ``lastUsedAt`` and counts the token's health (``services/activity_ingest.py``).
The dev server installs its own sink (``devserver/log_subscription.py``) that does the same
in a background thread. ``scim-admin``, which is not a Lambda function, builds the same record
for each of its admin actions and hands it to the ingest service itself (``admincli/audit.py``).

A record never holds a body, a password, a token or a credential's digest: the credential is
named by its kind and its owner's uuid (the SCIM token's or the API key's), which is what the
ingest stamps ``lastUsedAt`` by. Standard library only: it is on every request's path."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim_provisioning.activity_annotation import Action
from scim_provisioning.models import CredentialKind
from scim_provisioning.timestamps import format_timestamp, parse_timestamp

# The marker (and format version) every record carries: the subscription filter matches it.
RECORD_MARKER = "activityRecord"
RECORD_VERSION = 1
# The subscription filter of template.yaml: activity records that name an organization. Those
# of unknown credentials (no organization owns them) stay in CloudWatch, never in a table.
FILTER_PATTERN = f'{{ $.{RECORD_MARKER} = {RECORD_VERSION} && $.organizationUuid = "*" }}'

MAX_PATH_LENGTH = 512
MAX_TARGET_LENGTH = 256
MAX_DETAIL_LENGTH = 500


def new_entry_id(moment: datetime) -> str:
    """The activity entry's id, chosen by the request so that a redelivered record writes the
    same item: the ISO timestamp sorts in time order (a reverse Query is newest first), the 32
    random bits keep two requests of the same millisecond apart."""
    return f"{format_timestamp(moment)}#{secrets.token_hex(4)}"


def _clip(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]


@dataclass(frozen=True)
class ActivityRecord:
    """What one request did, for the activity log, ``lastUsedAt`` and the token's health."""

    id: str
    occurred_at: datetime
    method: str
    path: str  # without its query string: SCIM filters carry userNames
    status: int
    organization_uuid: str | None = None  # None: no organization owns the credential
    credential_kind: CredentialKind | None = None  # scim_token or api_key
    credential_uuid: str | None = None  # the SCIM token's or the API key's uuid
    authenticated: bool = False  # the credential was accepted: stamp its lastUsedAt
    actor_user_uuid: str | None = None  # the admin the API key belongs to
    operator: str | None = None  # who ran scim-admin (its records name no credential)
    action: Action | None = None  # None: nothing for the activity log (admin reads)
    target_id: str | None = None
    target_name: str | None = None
    target_user_uuid: str | None = None  # the admin whose API key an action created or revoked
    scim_type: str | None = None
    detail: str | None = None
    request_id: str | None = None
    duration_ms: int | None = None

    @property
    def token_uuid(self) -> str | None:
        """The SCIM token the request came with, when it came with one."""
        return self.credential_uuid if self.credential_kind is CredentialKind.SCIM_TOKEN else None

    def to_json(self) -> str:
        """One line of JSON (no raw newline can occur: json escapes them), fields that are
        None left out; path, target and detail clipped so that a line stays far below
        CloudWatch Logs' 256 KB event limit."""
        fields: dict[str, Any] = {
            RECORD_MARKER: RECORD_VERSION,
            "id": self.id,
            "occurredAt": format_timestamp(self.occurred_at),
            "organizationUuid": self.organization_uuid,
            "credentialKind": None if self.credential_kind is None else self.credential_kind.value,
            "credentialUuid": self.credential_uuid,
            "authenticated": self.authenticated,
            "actorUserUuid": self.actor_user_uuid,
            "operator": _clip(self.operator, MAX_TARGET_LENGTH),
            "method": self.method,
            "path": _clip(self.path, MAX_PATH_LENGTH),
            "action": None if self.action is None else self.action.value,
            "status": self.status,
            "targetId": _clip(self.target_id, MAX_TARGET_LENGTH),
            "targetName": _clip(self.target_name, MAX_TARGET_LENGTH),
            "targetUserUuid": self.target_user_uuid,
            "scimType": self.scim_type,
            "detail": _clip(self.detail, MAX_DETAIL_LENGTH),
            "requestId": self.request_id,
            "durationMs": self.duration_ms,
        }
        return json.dumps({name: value for name, value in fields.items() if value is not None}, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> ActivityRecord:
        """The record a line holds; ValueError when it is not one this version wrote."""
        try:
            fields = json.loads(line)
            if not isinstance(fields, dict) or fields.get(RECORD_MARKER) != RECORD_VERSION:
                raise ValueError("not an activity record")
            kind = fields.get("credentialKind")
            action = fields.get("action")
            return cls(
                id=_text(fields["id"]),
                occurred_at=parse_timestamp(_text(fields["occurredAt"])),
                method=_text(fields["method"]),
                path=_text(fields["path"]),
                status=_integer(fields["status"]),
                organization_uuid=_optional_text(fields.get("organizationUuid")),
                credential_kind=None if kind is None else CredentialKind(kind),
                credential_uuid=_optional_text(fields.get("credentialUuid")),
                authenticated=fields.get("authenticated") is True,
                actor_user_uuid=_optional_text(fields.get("actorUserUuid")),
                operator=_optional_text(fields.get("operator")),
                action=None if action is None else Action(action),
                target_id=_optional_text(fields.get("targetId")),
                target_name=_optional_text(fields.get("targetName")),
                target_user_uuid=_optional_text(fields.get("targetUserUuid")),
                scim_type=_optional_text(fields.get("scimType")),
                detail=_optional_text(fields.get("detail")),
                request_id=_optional_text(fields.get("requestId")),
                duration_ms=None if fields.get("durationMs") is None else _integer(fields["durationMs"]),
            )
        except (KeyError, TypeError) as error:
            raise ValueError(f"malformed activity record: {error}") from error


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, not {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _integer(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"expected an integer, not {value!r}")
    return value


# ------------------------------------------------------------------------------ sink
Sink = Callable[[str], None]


def _standard_output(line: str) -> None:
    """Lambda's runtime ships every line of standard output to the function's log group.
    Flushed at once: a buffered line would wait for the next write, and a process recycled
    after the handler returned would lose it."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


_sink: Sink = _standard_output


def emit(record: ActivityRecord) -> None:
    """Hand the record to the sink, synchronously: when this returns, the line is out."""
    _sink(record.to_json())


def install_sink(sink: Sink | None) -> None:
    """Send records to ``sink`` instead of standard output (the dev server, tests); None
    restores standard output."""
    global _sink
    _sink = sink or _standard_output
