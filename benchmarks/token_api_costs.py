"""DynamoDB requests per operation of the token API and of authentication, with ceilings.

Authentication runs on every SCIM request an identity provider makes, so its request count is
the service's dominant cost and latency term; the token API rows show what an admin's action
costs. Everything runs in-process on moto with a fixed clock, through the real handlers
(``devserver.dispatch.Dispatcher``) and the real stores, so the counts are exactly what
the deployed code would send. The token API rows include the ApiKey authentication of the
request (two reads). No request writes its own bookkeeping: its activity record goes to the
activity ingest, whose cost per delivery is measured on its own row."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import boto3
import moto  # noqa: F401 - imported before any boto3 client exists, so none escapes the mock
from moto import mock_aws

from admincli.audit import OperatorAudit
from admincli.main import build_parser
from benchmarks import format_table
from benchmarks.harness import FixedClock, collected_activity
from benchmarks.request_counter import Ceiling, DynamoDBRequestCounter, Tally
from devserver.dispatch import Dispatcher, load_handler
from devserver.events import LambdaContext
from devserver.log_subscription import subscription_event
from devserver.moto_partitions import make_moto_dynamodb_partitioned
from devserver.template import create_table, log_subscription
from scim_provisioning import runtime
from scim_provisioning.errors import Unauthenticated
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.timestamps import format_timestamp

TABLE_NAME = "scim-provisioning-bench"
TOKENS = "/api/v1/scim/organization-access-tokens"
USERS = "/api/v1/scim/v2/Users"
REQUEST_LOGS = "/api/v1/scim/request-logs"
LISTED_TOKENS = 50
INGESTED_RECORDS = 25  # one BatchWriteItem's worth


# The most read and write requests each operation may make. Authentication's are the design's
# promise (one key read for a SCIM bearer, two for an ApiKey: credential then person; no write:
# lastUsedAt is stamped by the activity ingest); the others are what the code made when this
# benchmark was written. Raising one is a design decision: say why in the commit.
CEILINGS: dict[str, Ceiling] = {
    "create organization (scim-admin)": Ceiling(reads=0, writes=1),
    "create API key (scim-admin)": Ceiling(reads=1, writes=1),
    # The command: organization and admin looked up, the key, then its audit entry (one write).
    "scim-admin create-api-key, with its audit entry": Ceiling(reads=3, writes=2),
    "ApiKey auth": Ceiling(reads=2, writes=0),
    "POST token (create)": Ceiling(reads=2, writes=1),
    "GET tokens (list), 1 token": Ceiling(reads=3, writes=0),
    f"GET tokens (list), {LISTED_TOKENS} tokens": Ceiling(reads=3, writes=0),
    "GET token": Ceiling(reads=3, writes=0),
    # The ApiKey authentication, the organization's tokens, the token's hours (issue 12).
    "GET token health": Ceiling(reads=4, writes=0),
    "PATCH token/rotate": Ceiling(reads=3, writes=1),
    "DELETE token (revoke)": Ceiling(reads=3, writes=1),
    "SCIM bearer": Ceiling(reads=1, writes=0),
    "SCIM bearer, expired token": Ceiling(reads=1, writes=0),
    "SCIM bearer, unknown token": Ceiling(reads=1, writes=0),
    "SCIM bearer, malformed token": Ceiling(reads=0, writes=0),
    # Whole SCIM requests through the Users handler with the activity recorder around it: the
    # record is a log line, so the request writes nothing for it, whoever's token it is. After
    # the token, the person and its groups are read side by side (one round trip, issue 11), so
    # a 404 has paid for the groups' Query too.
    "SCIM GET /Users/{id} (404), recorded": Ceiling(reads=3, writes=0),
    "SCIM request, rotated token (auth_failure recorded)": Ceiling(reads=1, writes=0),
    "SCIM request, unknown token (not stored)": Ceiling(reads=1, writes=0),
    "GET request-logs (one page)": Ceiling(reads=3, writes=0),
    "GET request-logs, admin actions (one page, from their index)": Ceiling(reads=3, writes=0),
    # The ingest, off the response path: one BatchWriteItem for the entries, one UpdateItem for
    # the token's hour, one for lastUsedAt (docs/decisions.md, cost per million requests).
    f"activity ingest: one delivery of {INGESTED_RECORDS} records of one token": Ceiling(reads=0, writes=3),
}


@dataclass(frozen=True)
class Row:
    operation: str
    tally: Tally

    @property
    def ceiling(self) -> Ceiling:
        return CEILINGS[self.operation]

    @property
    def exceeded(self) -> bool:
        return self.ceiling.exceeded_by(self.tally)


class _Session:
    """The benchmark's table, clock, handlers and the rows measured so far."""

    def __init__(self, counter: DynamoDBRequestCounter, clock: FixedClock) -> None:
        self.counter = counter
        self.clock = clock
        self.api = Dispatcher()
        self.rows: list[Row] = []
        self.api_key = ""
        self.lines: list[str] = []  # the activity records the handlers emitted (collected_activity)

    def measure(self, operation: str, action: Callable[[], Any]) -> Any:
        with self.counter.measure() as tally:
            result = action()
        self.rows.append(Row(operation, tally))
        return result

    def call(self, method: str, path: str, expected_status: int, body: dict[str, Any] | None = None) -> Any:
        """One token API request; anything but the expected answer stops the benchmark, since
        the request count of a failed request says nothing about the operation."""
        response = self.api.handle(
            method,
            path,
            [("Authorization", f"ApiKey {self.api_key}"), ("Content-Type", "application/json")],
            None if body is None else json.dumps(body),
        )
        if response.status != expected_status:
            raise RuntimeError(f"{method} {path}: {response.status} {response.body!r}")
        return json.loads(response.body)["results"]

    def scim(self, method: str, path: str, bearer: str, expected_status: int) -> None:
        """One SCIM request through its handler (and so through the activity recorder)."""
        response = self.api.handle(method, path, [("Authorization", bearer)])
        if response.status != expected_status:
            raise RuntimeError(f"{method} {path}: {response.status} {response.body!r}")

    def expiry(self, **delta: float) -> str:
        return format_timestamp(self.clock.now() + timedelta(**delta))


def _refused(action: Callable[[], Any]) -> Callable[[], None]:
    def expect_refusal() -> None:
        try:
            action()
        except Unauthenticated:
            return
        raise RuntimeError("authentication should have been refused")

    return expect_refusal


def _scenario(session: _Session) -> None:
    current = runtime.current()
    organization, admin = session.measure(
        "create organization (scim-admin)",
        lambda: current.organizations.create_organization("Bench", "admin@bench.test", "Bench", "Admin"),
    )
    _, session.api_key = session.measure(
        "create API key (scim-admin)",
        lambda: current.organizations.create_api_key(organization.uuid, admin.uuid, "bench"),
    )
    audit = OperatorAudit(current.activity_ingest, session.clock, lambda: "operator@bench")
    command = build_parser().parse_args(
        ["create-api-key", "--organization-uuid", organization.uuid, "--user-uuid", admin.uuid]
    )
    session.measure("scim-admin create-api-key, with its audit entry", lambda: command.command(current, audit, command))
    authorization = f"ApiKey {session.api_key}"
    principal = session.measure("ApiKey auth", lambda: current.authenticator.authenticate_admin(authorization))

    token = session.measure(
        "POST token (create)",
        lambda: session.call("POST", TOKENS, 201, {"description": "Okta", "expiresAt": session.expiry(days=90)}),
    )
    session.measure("GET tokens (list), 1 token", lambda: session.call("GET", TOKENS, 200))
    session.measure("GET token", lambda: session.call("GET", f"{TOKENS}/{token['uuid']}", 200))
    session.measure("GET token health", lambda: session.call("GET", f"{TOKENS}/{token['uuid']}/health", 200))

    bearer = f"Bearer {token['token']}"
    session.measure("SCIM bearer", lambda: current.authenticator.authenticate_scim(bearer))
    unknown = "Bearer scim_" + "0" * 32
    session.measure("SCIM bearer, unknown token", _refused(lambda: current.authenticator.authenticate_scim(unknown)))
    session.measure(
        "SCIM bearer, malformed token",
        _refused(lambda: current.authenticator.authenticate_scim("Bearer not-a-token")),
    )
    session.measure("SCIM GET /Users/{id} (404), recorded", lambda: session.scim("GET", f"{USERS}/nobody", bearer, 404))
    session.lines.clear()
    for _ in range(INGESTED_RECORDS):
        session.scim("GET", f"{USERS}/nobody", bearer, 404)
    code = log_subscription().destination
    ingest = load_handler(code.code_uri, code.handler, "_bench_activity_ingest")
    delivery = subscription_event(session.lines)
    session.measure(
        f"activity ingest: one delivery of {INGESTED_RECORDS} records of one token",
        lambda: ingest(delivery, LambdaContext(code.logical_id)),
    )
    session.measure(
        "SCIM request, unknown token (not stored)", lambda: session.scim("GET", f"{USERS}/nobody", unknown, 401)
    )

    for number in range(LISTED_TOKENS - 1):
        current.access_tokens.create(principal, f"filler {number}", None)
    session.measure(f"GET tokens (list), {LISTED_TOKENS} tokens", lambda: session.call("GET", TOKENS, 200))
    session.measure(
        "PATCH token/rotate",
        lambda: session.call("PATCH", f"{TOKENS}/{token['uuid']}/rotate", 200, {"expiresAt": session.expiry(days=180)}),
    )
    session.measure(
        "SCIM request, rotated token (auth_failure recorded)",
        lambda: session.scim("GET", f"{USERS}/nobody", bearer, 401),
    )
    session.measure("GET request-logs (one page)", lambda: session.call("GET", f"{REQUEST_LOGS}?limit=50", 200))
    session.measure(
        "GET request-logs, admin actions (one page, from their index)",
        lambda: session.call("GET", f"{REQUEST_LOGS}?limit=50&category=admin", 200),
    )
    session.measure("DELETE token (revoke)", lambda: session.call("DELETE", f"{TOKENS}/{token['uuid']}", 200))

    # Last, because it moves the clock past the expiry.
    _, short_lived = current.access_tokens.create(principal, "short-lived", session.clock.now() + timedelta(hours=1))
    session.clock.advance(hours=2)
    session.measure(
        "SCIM bearer, expired token",
        _refused(lambda: current.authenticator.authenticate_scim(f"Bearer {short_lived}")),
    )


def measure_all() -> list[Row]:
    """Run the scenario on a fresh moto table; one row per operation, in the order measured."""
    # Handlers flush Powertools metrics on every request: keep the EMF lines and the
    # "no metrics to publish" warnings out of the report.
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    make_moto_dynamodb_partitioned()  # moto reading one partition, as the dev server's does
    with mock_aws(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        client = boto3.client("dynamodb", region_name="us-east-1")
        counter = DynamoDBRequestCounter(client)
        create_table(client, TABLE_NAME)
        clock = FixedClock()
        runtime.configure(stores=dynamodb_stores(client, TABLE_NAME), clock=clock)
        session = _Session(counter, clock)
        try:
            with collected_activity() as session.lines:
                _scenario(session)
        finally:
            runtime.reset()
    missing = set(CEILINGS) - {row.operation for row in session.rows}
    if missing:
        raise RuntimeError(f"ceilings without a measurement: {sorted(missing)}")
    return session.rows


def report(rows: list[Row]) -> str:
    table = format_table(
        ["operation", "requests by type", "total", "reads/writes (ceiling)", "consumed (moto)", "check"],
        [
            [
                row.operation,
                row.tally.by_operation(),
                str(row.tally.total),
                f"{row.tally.reads}/{row.tally.writes} ({row.ceiling.reads}/{row.ceiling.writes})",
                row.tally.capacity(),
                "EXCEEDED" if row.exceeded else "ok",
            ]
            for row in rows
        ],
    )
    return (
        "DynamoDB requests per operation (moto in-process, fixed clock). Token API rows go through the\n"
        "AccessTokens handler and include its ApiKey auth; auth rows call the Authenticator that\n"
        "every handler calls first.\n"
        f"{table}\n"
        "Consumed capacity is moto's own estimate (it answers 0.5 for a consistent read and nothing "
        "for transactions), not DynamoDB's bill; the request counts are exact."
    )
