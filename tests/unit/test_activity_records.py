"""The activity record: one JSON line per request, read back by the ingest exactly as written,
and the subscription filter (as the dev server plays it) that picks these lines out of a log."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from devserver.log_subscription import FilterPattern
from scim_provisioning.activity_annotation import Action
from scim_provisioning.activity_records import (
    FILTER_PATTERN,
    MAX_DETAIL_LENGTH,
    MAX_PATH_LENGTH,
    MAX_TARGET_LENGTH,
    ActivityRecord,
    new_entry_id,
)
from scim_provisioning.models import CredentialKind

NOW = datetime(2026, 11, 28, 12, 0, 0, 123000, tzinfo=UTC)
ORGANIZATION = "5be289a0-1295-477f-a6e6-e2fbe4547197"
TOKEN = "24bc4849-a64e-42a5-abd7-bcec9979b780"


def record(**fields: object) -> ActivityRecord:
    defaults: dict[str, object] = {
        "id": new_entry_id(NOW),
        "occurred_at": NOW,
        "method": "POST",
        "path": "/api/v1/scim/v2/Users",
        "status": 409,
        "organization_uuid": ORGANIZATION,
        "credential_kind": CredentialKind.SCIM_TOKEN,
        "credential_uuid": TOKEN,
        "authenticated": True,
        "action": Action.CREATE_USER,
        "target_name": "jane@example.com",
        "scim_type": "uniqueness",
        "detail": "userName jane@example.com is already taken",
        "request_id": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "duration_ms": 31,
    }
    return ActivityRecord(**{**defaults, **fields})  # type: ignore[arg-type]


def test_a_record_reads_back_exactly_as_written() -> None:
    """Given a record with every field, when it is written as a line and read back, then it is
    the same record, and its token is the credential's uuid."""
    written = record(target_id="2819c223")

    line = written.to_json()

    assert ActivityRecord.from_json(line) == written
    assert written.token_uuid == TOKEN
    assert "\n" not in line


@pytest.mark.parametrize(
    "fields",
    [
        {  # an admin's action through the token API: the admin and the API key they used
            "credential_kind": CredentialKind.API_KEY,
            "actor_user_uuid": "0c9d1a4e-3d1c-4f57-9b8e-0f1e2d3c4b5a",
            "action": Action.ROTATE_TOKEN,
            "target_id": TOKEN,
            "target_name": "Okta SCIM token",
        },
        {  # an operator's action through scim-admin: no credential, the API key as its target
            "credential_kind": None,
            "credential_uuid": None,
            "authenticated": False,
            "operator": "arn:aws:sts::123456789012:assumed-role/Operators/alice",
            "action": Action.REVOKE_API_KEY,
            "target_id": "8b1f6c1e-2f43-4e0b-9a57-7d9c1e0f2a3b",
            "target_name": "Created with scim-admin",
            "target_user_uuid": "0c9d1a4e-3d1c-4f57-9b8e-0f1e2d3c4b5a",
        },
    ],
)
def test_an_admin_actions_record_reads_back_with_its_actor_and_target(fields: dict[str, object]) -> None:
    written = record(**fields)

    assert ActivityRecord.from_json(written.to_json()) == written


def test_fields_without_a_value_are_left_out_of_the_line() -> None:
    """Given an unknown token's request (no organization, no credential), then its line names
    neither, and reads back as a record of no organization."""
    unattributed = record(
        organization_uuid=None, credential_kind=None, credential_uuid=None, authenticated=False, scim_type=None
    )

    fields = json.loads(unattributed.to_json())

    assert not {"organizationUuid", "credentialKind", "credentialUuid", "scimType", "targetId"} & set(fields)
    assert ActivityRecord.from_json(unattributed.to_json()).organization_uuid is None


def test_an_api_key_is_no_token() -> None:
    assert record(credential_kind=CredentialKind.API_KEY, action=None).token_uuid is None


def test_long_values_are_clipped_so_that_a_line_stays_small() -> None:
    """Given a path, target and detail far over their limits, then the line holds each clipped."""
    huge = record(path="/x" * 2000, target_id="i" * 5000, target_name="n" * 5000, detail="d" * 5000)

    back = ActivityRecord.from_json(huge.to_json())

    assert (len(back.path), len(back.target_id or ""), len(back.target_name or ""), len(back.detail or "")) == (
        MAX_PATH_LENGTH,
        MAX_TARGET_LENGTH,
        MAX_TARGET_LENGTH,
        MAX_DETAIL_LENGTH,
    )
    assert len(huge.to_json()) < 4096


@pytest.mark.parametrize(
    "line",
    [
        "START RequestId: 6f2c Version: 7",
        '{"level":"INFO","message":"Activity ingested","service":"scim-provisioning"}',
        '{"activityRecord":2,"id":"x"}',
        '{"activityRecord":1,"id":"x"}',
        json.dumps({**json.loads(record().to_json()), "status": "409"}),
        json.dumps({**json.loads(record().to_json()), "action": "drop_tables"}),
        json.dumps({**json.loads(record().to_json()), "credentialKind": "password"}),
        json.dumps({**json.loads(record().to_json()), "occurredAt": "yesterday"}),
        "[1, 2]",
    ],
)
def test_a_line_that_is_not_a_record_of_this_version_is_refused(line: str) -> None:
    with pytest.raises(ValueError):
        ActivityRecord.from_json(line)


def test_entry_ids_sort_in_time_order_and_differ_within_a_millisecond() -> None:
    ids = {new_entry_id(NOW) for _ in range(100)}

    assert len(ids) == 100
    assert all(entry_id.startswith("2026-11-28T12:00:00.123Z#") for entry_id in ids)


# ------------------------------------------------------------- the subscription filter
def test_the_filter_delivers_records_of_an_organization_and_nothing_else() -> None:
    """Given the template's filter pattern, then it matches a record that names an
    organization, and neither an unknown token's record nor the functions' other lines."""
    pattern = FilterPattern.parse(FILTER_PATTERN)

    assert pattern.matches(record().to_json())
    assert pattern.matches(record(credential_kind=CredentialKind.API_KEY, action=None).to_json())
    assert not pattern.matches(record(organization_uuid=None, credential_kind=None, credential_uuid=None).to_json())
    assert not pattern.matches('{"level":"INFO","message":"Activity ingested","organizationUuid":"x"}')
    assert not pattern.matches("REPORT RequestId: 6f2c Duration: 12.3 ms")
    assert not pattern.matches(json.dumps({**json.loads(record().to_json()), "activityRecord": 2}))


@pytest.mark.parametrize(
    ("pattern", "line", "matches"),
    [
        ("{ $.a = 1 }", '{"a": 1}', True),
        ("{ $.a = 1 }", '{"a": "1"}', False),
        ("{ $.a = 1 }", '{"a": true}', False),
        ('{ $.a = "x*" }', '{"a": "xyz"}', True),
        ('{ $.a = "x*" }', '{"a": "yx"}', False),
        ('{ $.a = "*" }', '{"b": "x"}', False),
        ('{ $.a = "*" && $.b = 2 }', '{"a": "x", "b": 2}', True),
        ('{ $.a = "*" && $.b = 2 }', '{"a": "x", "b": 3}', False),
    ],
)
def test_the_local_filter_evaluates_the_syntax_the_template_uses(pattern: str, line: str, matches: bool) -> None:
    assert FilterPattern.parse(pattern).matches(line) is matches


@pytest.mark.parametrize("pattern", ["ERROR", "{ $.a > 1 }", "{ $.a = 1 || $.b = 2 }", "{ $.a.b = 1 }", "{ }"])
def test_a_pattern_the_dev_server_cannot_play_is_refused(pattern: str) -> None:
    """Given syntax beyond what the template uses, then parsing fails loudly instead of the dev
    server matching differently from CloudWatch Logs."""
    with pytest.raises(ValueError):
        FilterPattern.parse(pattern)
