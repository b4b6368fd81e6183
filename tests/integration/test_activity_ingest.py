"""The ActivityIngestFunction on moto: a CloudWatch Logs subscription event (base64 gzip JSON)
of activity records becomes exactly the activity-log entries, the ``lastUsedAt`` stamps and the
SCIM tokens' hourly health the records say; delivered twice, entries, stamps and latest outcomes
do not change (the hourly counts are added again: docs/decisions.md); concurrent deliveries add
up; a failure raises, so that Lambda retries the batch."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from benchmarks.request_counter import DynamoDBRequestCounter
from devserver.dispatch import load_handler
from devserver.events import LambdaContext
from devserver.log_subscription import subscription_event
from devserver.template import log_subscription
from scim_provisioning.activity_annotation import Action
from scim_provisioning.activity_records import ActivityRecord, new_entry_id
from scim_provisioning.errors import ServiceUnavailable
from scim_provisioning.models import CredentialKind, TokenError, TokenHourCounts
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from scim_provisioning.services.activity_ingest import LAST_USED_RESOLUTION
from scim_provisioning.services.activity_log import entry_document
from scim_provisioning.timestamps import format_timestamp
from tests.conftest import TEST_NOW
from tests.integration.helpers import AdminFixture, run_in_threads

USERS = "/api/v1/scim/v2/Users"
NOON = TEST_NOW.replace(minute=0)


@pytest.fixture
def ingest(app_runtime: Runtime) -> Any:
    """The ingest handler, loaded from the template's ActivityIngestFunction as Lambda loads it."""
    code = log_subscription().destination
    return load_handler(code.code_uri, code.handler, "_ingest_under_test")


def deliver(ingest: Any, *lines: str) -> dict[str, int]:
    return ingest(subscription_event(list(lines)), LambdaContext("ActivityIngestFunction"))


class Credentials:
    """The admin's organization with a SCIM token and the admin's API key."""

    def __init__(self, app_runtime: Runtime, admin: AdminFixture) -> None:
        self.runtime = app_runtime
        self.organization = admin.organization_uuid
        principal = app_runtime.authenticator.authenticate_admin(admin.authorization)
        self.token, _ = app_runtime.access_tokens.create(principal, "Okta", None)
        (self.api_key,) = app_runtime.organizations.list_api_keys(admin.organization_uuid)
        self.principal = principal

    def scim(self, at: datetime, status: int = 200, **fields: Any) -> ActivityRecord:
        """A SCIM request's record made with the token (accepted unless said otherwise)."""
        values: dict[str, Any] = {
            "id": new_entry_id(at),
            "occurred_at": at,
            "method": "GET",
            "path": USERS,
            "status": status,
            "organization_uuid": self.organization,
            "credential_kind": CredentialKind.SCIM_TOKEN,
            "credential_uuid": self.token.uuid,
            "authenticated": True,
            "action": Action.LIST,
            "request_id": f"request-{at.isoformat()}",
            "duration_ms": 12,
        }
        return ActivityRecord(**{**values, **fields})

    def admin(self, at: datetime) -> ActivityRecord:
        """An admin-API request's record: the API key's use, nothing for the log."""
        return ActivityRecord(
            new_entry_id(at),
            at,
            "GET",
            "/api/v1/scim/organization-access-tokens",
            200,
            self.organization,
            CredentialKind.API_KEY,
            self.api_key.uuid,
            authenticated=True,
        )

    def token_last_used(self) -> datetime | None:
        return self.runtime.access_tokens.get(self.principal, self.token.uuid).last_used_at

    def api_key_last_used(self) -> datetime | None:
        (key,) = self.runtime.organizations.list_api_keys(self.organization)
        return key.last_used_at

    def entries(self) -> list[dict[str, Any]]:
        return [
            entry_document(entry)
            for entry in self.runtime.stores.activity.list_activity(self.organization, 200).entries
        ]

    def health(self) -> Any:
        return self.runtime.stores.token_health.token_health(self.organization, self.token.uuid, NOON)


@pytest.fixture
def credentials(app_runtime: Runtime, admin: AdminFixture) -> Credentials:
    return Credentials(app_runtime, admin)


def minutes(count: float) -> datetime:
    return NOON + timedelta(minutes=count)


def test_a_delivery_becomes_exactly_its_entries_stamps_and_token_health(ingest, credentials: Credentials):
    """Given one delivery holding six SCIM requests over two hours (successes, a 400, a 503, a
    rotated token's 401), an admin request, an unknown token's request and a line that is no
    record, when the ingest takes it, then the six are the log's entries field for field, the
    token's lastUsedAt is its latest accepted request and the key's its request, and the token's
    hours count its requests and failures with their latest success and error."""
    c = credentials
    scim = [
        c.scim(minutes(10)),
        c.scim(minutes(20), 201, method="POST", action=Action.CREATE_USER, target_id="u1", target_name="jane"),
        c.scim(minutes(30), 400, method="POST", action=Action.CREATE_USER, scim_type="invalidValue", detail="bad"),
        c.scim(minutes(65), 503, detail="DynamoDB refused"),
        c.scim(minutes(66)),
        c.scim(minutes(67), 401, action=Action.AUTH_FAILURE, authenticated=False, detail="rotated"),
    ]
    unknown = ActivityRecord(new_entry_id(minutes(68)), minutes(68), "GET", USERS, 401, action=Action.AUTH_FAILURE)

    written = deliver(
        ingest, *(record.to_json() for record in scim), c.admin(minutes(15)).to_json(), unknown.to_json(), "START x"
    )

    assert written == {"records": 8, "entries": 6, "lastUsedStamps": 2, "tokenHours": 2}
    expected = [
        {
            "id": record.id,
            "occurredAt": format_timestamp(record.occurred_at),
            "tokenUuid": c.token.uuid,
            "actorUserUuid": None,
            "apiKeyUuid": None,
            "operator": None,
            "method": record.method,
            "path": record.path,
            "action": record.action,
            "status": record.status,
            "targetId": record.target_id,
            "targetName": record.target_name,
            "targetUserUuid": None,
            "scimType": record.scim_type,
            "detail": record.detail,
            "requestId": record.request_id,
            "durationMs": 12,
        }
        for record in reversed(scim)
    ]
    assert c.entries() == expected
    assert c.token_last_used() == minutes(66)
    assert c.api_key_last_used() == minutes(15)
    health = c.health()
    assert health.hours == [TokenHourCounts(NOON, 3, 1, 0), TokenHourCounts(minutes(60), 3, 1, 1)]
    assert health.last_success_at == minutes(66)
    assert health.last_error == TokenError(minutes(67), 401, None, "rotated")


def test_a_redelivered_batch_changes_no_entry_stamp_or_latest_outcome_and_counts_again(
    ingest, credentials: Credentials
):
    """Given a delivery ingested once, when Lambda delivers it again (a retry after a failure),
    then the entries are the same items (ids chosen by the requests), lastUsedAt and the latest
    success and error do not move, and the hour's counts are added a second time: the one
    documented over-count (docs/decisions.md)."""
    c = credentials
    lines = [c.scim(minutes(1)).to_json(), c.scim(minutes(2), 409, scim_type="uniqueness").to_json()]
    deliver(ingest, *lines)
    before = (c.entries(), c.token_last_used(), c.health())

    again = deliver(ingest, *lines)

    after = (c.entries(), c.token_last_used(), c.health())
    assert again["lastUsedStamps"] == 0
    assert after[:2] == before[:2]
    assert (after[2].last_success_at, after[2].last_error) == (before[2].last_success_at, before[2].last_error)
    assert before[2].hours == [TokenHourCounts(NOON, 2, 1, 0)]
    assert after[2].hours == [TokenHourCounts(NOON, 4, 2, 0)]


def test_last_used_is_stamped_at_most_once_a_minute_and_never_moves_back(ingest, credentials: Credentials):
    """Given deliveries of one token's requests at 0 s, 30 s, 61 s and then a late one of 10 s,
    then lastUsedAt is written for 0 s and 61 s only (two writes), and the late delivery does not
    move it back."""
    c = credentials
    seen = []
    for at in (minutes(0), minutes(0.5), minutes(61 / 60), minutes(10 / 60)):
        stamped = deliver(ingest, c.scim(at).to_json())["lastUsedStamps"]
        seen.append((stamped, c.token_last_used()))

    assert seen == [(1, minutes(0)), (0, minutes(0)), (1, minutes(61 / 60)), (0, minutes(61 / 60))]


def test_a_revoked_tokens_late_records_are_logged_without_bringing_its_metadata_back(
    ingest, credentials: Credentials, app_runtime: Runtime
):
    c = credentials
    app_runtime.access_tokens.revoke(c.principal, c.token.uuid)

    written = deliver(ingest, c.scim(minutes(1)).to_json())

    assert (written["entries"], written["lastUsedStamps"]) == (1, 0)
    assert app_runtime.stores.scim_tokens.get_scim_token(c.organization, c.token.uuid) is None


def test_a_late_delivery_of_older_requests_adds_its_counts_and_moves_nothing_back(ingest, credentials: Credentials):
    """Given a delivery of 12:40 (a success and a 404), when an older one of the same hour
    arrives after it (another log stream, slower), then its counts are added and the hour's
    latest success and error stay those of 12:40."""
    c = credentials
    deliver(ingest, c.scim(minutes(40)).to_json(), c.scim(minutes(41), 404, detail="newer").to_json())

    deliver(ingest, c.scim(minutes(5)).to_json(), c.scim(minutes(6), 500, detail="older").to_json())

    health = c.health()
    assert health.hours == [TokenHourCounts(NOON, 4, 1, 1)]
    assert health.last_success_at == minutes(40)
    assert health.last_error == TokenError(minutes(41), 404, None, "newer")


def test_concurrent_deliveries_add_up_and_keep_the_latest_outcomes(ingest, credentials: Credentials):
    """Given eight log streams delivering at once (real threads), 25 requests each in the same
    hour of the same token, then all 200 are entries and counted, the latest success and
    error are the latest of all, whatever order the deliveries landed in, and lastUsedAt is
    within its one-minute resolution of the latest use: a delivery whose newest record is
    less than a minute after the stamp already written does not write it again."""
    c = credentials
    batches = []
    for stream in range(8):
        batch = []
        for index in range(25):
            at = minutes(1) + timedelta(seconds=stream * 25 + index)
            status = 404 if index == 24 else 200
            batch.append(c.scim(at, status).to_json())
        batches.append(batch)

    run_in_threads([lambda batch=batch: deliver(ingest, *batch) for batch in batches])

    health = c.health()
    assert len(c.entries()) == 200
    assert health.hours == [TokenHourCounts(NOON, 200, 8, 0)]
    assert health.last_success_at == minutes(1) + timedelta(seconds=7 * 25 + 23)
    assert health.last_error is not None and health.last_error.occurred_at == minutes(1) + timedelta(seconds=199)
    latest_use = minutes(1) + timedelta(seconds=199)
    last_used = c.token_last_used()
    assert last_used is not None and latest_use - LAST_USED_RESOLUTION <= last_used <= latest_use


def test_cloudwatchs_control_message_writes_nothing(ingest, credentials: Credentials):
    """Given the message CloudWatch Logs sends when a subscription is created, then nothing is
    written and the invocation succeeds."""
    message = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logEvents": [{"id": "", "message": "x"}]}
    control = {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(message).encode())).decode()}}

    assert ingest(control, LambdaContext("ActivityIngestFunction"))["records"] == 0
    assert credentials.entries() == []


def test_a_failed_write_fails_the_invocation_so_that_lambda_retries_it(
    ingest, credentials: Credentials, app_runtime: Runtime, monkeypatch: pytest.MonkeyPatch
):
    """Given DynamoDB refusing the entries' batch after the client's retries, then the handler
    raises (Lambda retries the delivery, then queues it), instead of dropping the batch."""

    def refused(entries: object) -> None:
        raise ServiceUnavailable("DynamoDB left batched writes unprocessed after retries")

    monkeypatch.setattr(app_runtime.stores.activity, "put_activity_entries", refused)

    with pytest.raises(ServiceUnavailable):
        deliver(ingest, credentials.scim(minutes(1)).to_json())


def test_a_tokens_health_is_one_query_for_a_week_of_hours(ingest, credentials: Credentials, table: Table):
    """Given a token used every hour for a week, when its health is read, then it is one Query
    (all 168 hours, about 35 KB) and the latest outcomes come from the newest hours."""
    c = credentials
    deliver(ingest, *(c.scim(minutes(60 * hour + 1), 500 if hour == 100 else 200).to_json() for hour in range(168)))
    counter = DynamoDBRequestCounter(table.client)

    with counter.measure() as tally:
        health = c.health()

    assert dict(tally.requests) == {"Query": 1}
    assert len(health.hours) == 168 and sum(hour.requests for hour in health.hours) == 168
    assert health.last_success_at == minutes(60 * 167 + 1)
    assert health.last_error is not None and health.last_error.status == 500
