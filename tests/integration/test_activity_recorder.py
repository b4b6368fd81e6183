"""The recorder around the SCIM and admin handlers: exactly one activity record per request,
out (on the sink) before the handler returns, naming the credential by kind and uuid and never
carrying a body, a password, a secret or its digest; and the request itself writes nothing to
DynamoDB for its bookkeeping."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from benchmarks.request_counter import DynamoDBRequestCounter
from devserver.dispatch import Dispatcher
from devserver.template import PROJECT_ROOT
from scim_provisioning import activity_records
from scim_provisioning.http.activity_recorder import recorded
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, call, make_admin
from tests.scim_samples import okta_user

USERS = "/api/v1/scim/v2/Users"
TOKENS = "/api/v1/scim/organization-access-tokens"
LOGS = "/api/v1/scim/request-logs"
PASSWORD_CANARY = "Canary-Passw0rd-7f3e"


@pytest.fixture
def lines() -> Iterator[list[str]]:
    """Every activity line the handlers emit, as the sink receives it (synchronously)."""
    emitted: list[str] = []
    activity_records.install_sink(emitted.append)
    yield emitted
    activity_records.install_sink(None)


def the_record(lines: list[str]) -> dict[str, Any]:
    """The one record the request emitted (there must be exactly one)."""
    (line,) = lines
    return json.loads(line)


def admin_call(api: Dispatcher, method: str, target: str, authorization: str, body: Any = None) -> int:
    headers = [("Authorization", authorization), ("Content-Type", "application/json")]
    return api.handle(method, target, headers, None if body is None else json.dumps(body)).status


# ---------------------------------------------------------------------------- SCIM
def test_a_scim_request_emits_one_record_before_its_answer_is_returned(api: Dispatcher, token: str, lines, admin):
    """Given a token, when a list request is answered, then by the time the handler has returned
    (no waiting: the sink is called on the request's thread) exactly one record is out, naming
    the organization and the token by its uuid, accepted, with the path but not the query."""
    response = call(api, "GET", f'{USERS}?filter=userName%20eq%20"jane@example.com"', token)

    record = the_record(lines)
    assert response.status == 200
    assert record["organizationUuid"] == admin.organization_uuid
    assert (record["credentialKind"], record["authenticated"]) == ("scim_token", True)
    assert (record["method"], record["path"], record["action"], record["status"]) == ("GET", USERS, "list", 200)
    assert record["requestId"] and isinstance(record["durationMs"], int)
    assert "jane" not in lines[0]


def test_the_answer_names_the_request_id_its_record_carries(api: Dispatcher, token: str, lines):
    """Given a token, when a request is answered, then its x-amzn-RequestId header (API
    Gateway's, played by the dev server) is the record's requestId: a client can find the log
    entry of every request it sent."""
    response = call(api, "GET", USERS, token)

    assert response.header("x-amzn-RequestId") == the_record(lines)["requestId"]


def test_a_refused_write_names_its_error_and_never_its_body_password_or_secret(
    api: Dispatcher, token: str, lines, app_runtime: Runtime
):
    """Given a user that exists, when the same userName is created again with a password, then the
    record carries the 409's scimType and detail and the target name, and not the password, the
    token or the token's stored digest."""
    assert call(api, "POST", USERS, token, okta_user("jane@example.com")).status == 201
    lines.clear()

    response = call(api, "POST", USERS, token, {**okta_user("JANE@example.com"), "password": PASSWORD_CANARY})

    record = the_record(lines)
    assert response.status == 409
    assert (record["action"], record["scimType"]) == ("create_user", "uniqueness")
    assert "already taken" in record["detail"]
    secret = token.removeprefix("Bearer ")
    for forbidden in (PASSWORD_CANARY, secret, hashlib.sha256(secret.encode()).hexdigest()):
        assert forbidden not in lines[0]


def test_an_unknown_token_is_recorded_without_an_organization(api: Dispatcher, lines, app_runtime: Runtime):
    """Given a well-formed token nobody minted, then its 401 is one record of no organization and no
    credential: the subscription filter leaves it in CloudWatch."""
    assert call(api, "GET", USERS, "Bearer scim_" + "0" * 32).status == 401

    record = the_record(lines)
    assert (record["action"], record["status"], record["authenticated"]) == ("auth_failure", 401, False)
    assert not {"organizationUuid", "credentialKind", "credentialUuid"} & set(record)


def test_a_rotated_or_expired_token_is_its_organizations_refused_request(
    api: Dispatcher, admin: AdminFixture, lines, app_runtime: Runtime, clock
):
    """Given a token rotated away and one that expired, then each request is recorded for the
    organization and the token's uuid, as not accepted (so no lastUsedAt), with why."""
    principal = app_runtime.authenticator.authenticate_admin(admin.authorization)
    rotated, old_secret = app_runtime.access_tokens.create(principal, "Okta", clock.now() + timedelta(days=30))
    app_runtime.access_tokens.rotate(principal, rotated.uuid, clock.now() + timedelta(days=60))
    expiring, expiring_secret = app_runtime.access_tokens.create(principal, "Entra", clock.now() + timedelta(hours=1))
    clock.advance(hours=2)

    for secret, token_uuid, detail in (
        (old_secret, rotated.uuid, "The token was rotated or revoked"),
        (expiring_secret, expiring.uuid, "SCIM token has expired"),
    ):
        lines.clear()
        assert call(api, "GET", USERS, f"Bearer {secret}").status == 401
        record = the_record(lines)
        assert (record["organizationUuid"], record["credentialUuid"]) == (admin.organization_uuid, token_uuid)
        assert (record["action"], record["authenticated"], record["detail"]) == ("auth_failure", False, detail)


def test_a_scim_request_writes_nothing_for_its_bookkeeping(api: Dispatcher, token: str, table: Table, lines):
    """Given a token used for the first time, when it reads a user that does not exist, then the
    request's only DynamoDB requests are its reads (the bearer's; the user's, with its groups'
    ids beside it, which may still be in flight when the 404 leaves): no activity entry, no
    lastUsedAt."""
    counter = DynamoDBRequestCounter(table.client)

    with counter.measure() as tally:
        assert call(api, "GET", f"{USERS}/nobody", token).status == 404

    assert tally.writes == 0 and tally.reads in (2, 3), tally.by_operation()
    assert the_record(lines)["authenticated"] is True


def test_a_handler_that_fails_is_recorded_as_the_502_api_gateway_answers(app_runtime: Runtime, lines):
    """Given a handler that raises instead of answering, then its record (status 502) is out
    before the failure propagates to Lambda."""

    def broken(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("bug")

    with pytest.raises(RuntimeError):
        recorded(broken)({"httpMethod": "GET", "path": USERS, "requestContext": {"requestId": "r1"}}, None)

    record = the_record(lines)
    assert (record["status"], record["action"], record["requestId"]) == (502, "list", "r1")


# --------------------------------------------------------------------------- admin
def test_an_admin_request_records_the_api_keys_use_and_no_log_entry(
    api: Dispatcher, admin: AdminFixture, lines, table: Table
):
    """Given an admin's API key, when the token API and the request-log API answer it, then each
    request is one record of the key (kind api_key, accepted) and of the admin it belongs to,
    without an action (a read is nothing for the activity log), and neither request writes
    anything itself."""
    counter = DynamoDBRequestCounter(table.client)

    with counter.measure() as tally:
        assert admin_call(api, "GET", TOKENS, admin.authorization) == 200
        assert admin_call(api, "GET", LOGS, admin.authorization) == 200

    assert tally.writes == 0
    assert len(lines) == 2
    for line in lines:
        record = json.loads(line)
        assert (record["organizationUuid"], record["credentialKind"], record["authenticated"]) == (
            admin.organization_uuid,
            "api_key",
            True,
        )
        assert record["actorUserUuid"] == admin.user_uuid
        assert "action" not in record
        assert admin.api_key not in line


def test_an_unknown_or_other_organizations_key_is_refused_and_attributed_accordingly(
    api: Dispatcher, admin: AdminFixture, lines, app_runtime: Runtime
):
    other = make_admin(app_runtime, "Globex", "admin@globex.test")

    assert admin_call(api, "GET", TOKENS, "ApiKey scimadm_" + "0" * 32) == 401
    assert admin_call(api, "GET", f"{TOKENS}/{admin.organization_uuid}", other.authorization) == 404

    unknown, foreign = (json.loads(line) for line in lines)
    assert "organizationUuid" not in unknown and unknown["authenticated"] is False
    assert (foreign["organizationUuid"], foreign["status"]) == (other.organization_uuid, 404)


# --------------------------------------------------------------- frozen or recycled
CHILD = textwrap.dedent(
    """
    import os, signal
    import boto3, moto
    from moto import mock_aws
    from devserver.dispatch import Dispatcher
    from devserver.template import create_table
    from scim_provisioning import runtime
    from scim_provisioning.repository.dynamodb import dynamodb_stores

    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        create_table(client, "scim-child")
        service = runtime.configure(stores=dynamodb_stores(client, "scim-child"))
        organization, admin = service.organizations.create_organization("Acme", "a@acme.test", "A", "Admin")
        _, key = service.organizations.create_api_key(organization.uuid, admin.uuid, "k")
        principal = service.authenticator.authenticate_admin(f"ApiKey {key}")
        _, secret = service.access_tokens.create(principal, "Okta", None)
        answer = Dispatcher().handle("GET", "/api/v1/scim/v2/Users", [("Authorization", f"Bearer {secret}")])
        print("written but never flushed", answer.status)
        os.kill(os.getpid(), signal.SIGKILL)  # the process is gone the instant the handler returned
    """
)


def test_the_record_is_on_standard_output_when_the_process_dies_right_after_the_answer() -> None:
    """Given a process whose standard output is a pipe (block-buffered, as in Lambda's runtime),
    when it is killed the moment the handler returned (a recycled execution environment), then
    the request's record is already in the pipe, while a line printed after it without a flush
    is lost: the sink flushed before the handler returned."""
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    environment.pop("PYTHONUNBUFFERED", None)

    child = subprocess.run(  # noqa: S603 - this interpreter running the script above
        [sys.executable, "-c", CHILD], cwd=PROJECT_ROOT, env=environment, capture_output=True, text=True, timeout=120
    )

    assert child.returncode == -9, child.stderr
    records = [json.loads(line) for line in child.stdout.splitlines() if line.startswith('{"activityRecord"')]
    assert [(record["path"], record["status"], record["authenticated"]) for record in records] == [
        ("/api/v1/scim/v2/Users", 200, True)
    ]
    assert "never flushed" not in child.stdout
