"""Sequential DynamoDB depth per operation: how many round trips happen one after another
before the answer leaves (issue 11).

On AWS a DynamoDB round trip costs 3-8 ms, so an operation's latency is set by its longest
chain of requests that wait for each other, not by how many it sends. Here every request goes
through ``devserver.dynamodb_proxy.DynamoDBProxy``, which holds it for ``DELAY_SECONDS`` and
records its operation, start and end (``time.monotonic``). The service runs in this process as
the dev server runs it (its handlers behind ``DevHttpServer``, its DynamoDB client built from
the environment, pointed at the proxy), over the embedded DynamoDB, with a clock standing still.

For each operation and round: the proxy is cleared, the HTTP request is sent and its answer
read; then the request's activity record is delivered to the activity ingest (as CloudWatch
Logs does, after the answer), through the proxy too. The depth is the longest chain of
requests, each starting after the previous ended, among those that ended before the answer was
received (``sequential_depth``). Requests that end after the answer (the ingest's entry,
``lastUsedAt`` and token-hour writes) are counted apart.

Two cross-checks from wall times (medians of ``ROUNDS`` rounds, printed, not asserted):
``(wall with delay - wall without) / delay`` and ``(wall with twice the delay - wall with
delay) / delay``. Both equal the depth when requests cost nothing but their delay. The first
comes out low for operations that fan out: without a delay, moto's own time (it serves one
request at a time) adds up along the fan-out, with one it hides behind the other requests'
delays; the second compares two runs where it hides alike.

Asserted (``make bench`` exits 1 above them): each row's requests before the answer (the
most seen) and its depth (the median of the runs with a delay), at ceilings equal to the
floor its data dependencies allow (the floor column names the dependency where it is above
issue 11's figure), and no bookkeeping write (activity entry, ``lastUsedAt``, token health)
before any answer.

Why the delay is 200 ms: the requests of a fan-out do not leave at the same instant. Building
and signing one takes about half a millisecond of Python (under the GIL, which the proxy and
moto share in this process), and moto serves them one at a time, so the last of 100 queries
starts tens of milliseconds after the first and may end hundreds later. With a delay shorter
than that spread, a late starter begins after an early one ended and the chain counts a round
trip that DynamoDB would not add; at 200 ms the spread stays inside one delay, and the depth
is the structure's (the median absorbs a round that load from elsewhere spreads further)."""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import statistics
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3
import requests

from benchmarks import format_table
from benchmarks.harness import FixedClock, bulk_load_members, bulk_load_people, member_people
from devserver.dispatch import Dispatcher, load_handler
from devserver.dynamodb_proxy import DATA_OPERATIONS, DynamoDBProxy, Exchange
from devserver.embedded_dynamodb import EmbeddedDynamoDB
from devserver.environment import apply_lambda_environment, provide_aws_defaults
from devserver.events import LambdaContext
from devserver.log_subscription import subscription_event
from devserver.server import DevHttpServer
from devserver.template import create_table, log_subscription
from scim_provisioning import activity_records, runtime
from scim_provisioning.repository.table import Table

TABLE_NAME = "scim-provisioning-depth-bench"
DELAY_SECONDS = 0.2  # see the module doc: well above a fan-out's spread of start times
ROUNDS = 3
SETTLE_SECONDS = 0.3  # quiet time after an answer before its bookkeeping counts as done
SCIM = "/api/v1/scim/v2"
SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PAGE = 100
LARGE_ADD = 1_000
GROUPS_OF_DELETED_USER = 50
LONER_NAME = "loner00000@depth.test"  # the user in no group (``_Service.people`` names them so)


# ------------------------------------------------------------------------------ the calculation
def sequential_depth(intervals: Iterable[tuple[float, float]]) -> int:
    """The most intervals in a chain where each starts at or after the previous one's end."""
    ordered = sorted(intervals)
    longest: list[int] = []
    for index, (start, _) in enumerate(ordered):
        before = [longest[earlier] for earlier in range(index) if ordered[earlier][1] <= start]
        longest.append(1 + max(before, default=0))
    return max(longest, default=0)


def is_bookkeeping_write(exchange: Exchange) -> bool:
    """A write of the request's bookkeeping: an activity entry (into ``ORG#…#ACTIVITY``), a
    token's hour (``ORG#…#HEALTH``), or a ``lastUsedAt`` stamp."""
    request = exchange.request()
    if exchange.operation == "PutItem":
        keys = [request.get("Item", {})]
    elif exchange.operation == "BatchWriteItem":
        writes = [write for table in request.get("RequestItems", {}).values() for write in table]
        keys = [write.get("PutRequest", {}).get("Item", {}) for write in writes]
    elif exchange.operation == "UpdateItem":
        keys = [request.get("Key", {})]
        if "lastUsedAt" in request.get("UpdateExpression", ""):
            return True
    elif exchange.operation == "TransactWriteItems":
        return "lastUsedAt" in json.dumps(request)
    else:
        return False
    return any(key.get("PK", {}).get("S", "").endswith(("#ACTIVITY", "#HEALTH")) for key in keys)


@dataclass(frozen=True)
class Observation:
    """One operation, once: what the proxy saw and how long the client waited."""

    before_answer: list[Exchange]
    after_answer: list[Exchange]
    wall_seconds: float

    @property
    def depth(self) -> int:
        return sequential_depth((e.started, e.ended) for e in self.before_answer)

    @property
    def bookkeeping_before_answer(self) -> bool:
        return any(is_bookkeeping_write(e) for e in self.before_answer)


def observe(proxy: DynamoDBProxy, send: Callable[[], None], after_answer: Callable[[], None]) -> Observation:
    """``send`` the request, then run ``after_answer`` (the bookkeeping) once it is answered."""
    proxy.clear()
    started = time.monotonic()
    send()
    answered = time.monotonic()
    after_answer()
    seen = -1
    while seen != len(proxy.exchanges()):  # until the proxy has been quiet for SETTLE_SECONDS
        seen = len(proxy.exchanges())
        time.sleep(SETTLE_SECONDS)
    exchanges = [e for e in proxy.exchanges() if e.operation in DATA_OPERATIONS and e.started >= started]
    return Observation(
        [e for e in exchanges if e.ended <= answered],
        [e for e in exchanges if e.ended > answered],
        answered - started,
    )


# ------------------------------------------------------------------------------ the rows
@dataclass(frozen=True)
class Ceiling:
    requests: int
    depth: int


@dataclass(frozen=True)
class Operation:
    """A row of issue 11's table. ``prepare(k)`` readies the k-th run (not measured) and
    returns what ``send`` needs; each run gets fresh targets, so every run does the same work."""

    name: str
    floor: str
    ceiling: Ceiling
    prepare: Callable[[int], Any]
    send: Callable[[Any], None]


DELAYS = (DELAY_SECONDS, 0.0, 2 * DELAY_SECONDS)  # each round runs every row at each delay


@dataclass
class Row:
    operation: Operation
    observations: dict[float, list[Observation]] = field(default_factory=lambda: {delay: [] for delay in DELAYS})

    @property
    def delayed(self) -> list[Observation]:
        """The runs with a delay (both of them): the ones whose chains the proxy's times show."""
        return [o for delay, runs in self.observations.items() if delay for o in runs]

    @property
    def requests(self) -> int:
        return max(len(o.before_answer) for o in self.delayed)

    @property
    def after_answer(self) -> int:
        return max(len(o.after_answer) for o in self.delayed)

    @property
    def depth(self) -> int:
        """The median chain: a fan-out through a thread pool lengthens by a link or two when
        the machine's load lets one thread take more than its share of the tasks."""
        return int(statistics.median_high(o.depth for o in self.delayed))

    @property
    def depth_range(self) -> str:
        depths = [o.depth for o in self.delayed]
        return str(min(depths)) if min(depths) == max(depths) else f"{min(depths)}-{max(depths)}"

    def _wall(self, delay: float) -> float:
        return statistics.median(o.wall_seconds for o in self.observations[delay])

    @property
    def estimate_from_zero(self) -> float:
        return (self._wall(DELAY_SECONDS) - self._wall(0.0)) / DELAY_SECONDS

    @property
    def estimate_from_delay(self) -> float:
        return (self._wall(2 * DELAY_SECONDS) - self._wall(DELAY_SECONDS)) / DELAY_SECONDS

    @property
    def bookkeeping_before_answer(self) -> bool:
        return any(o.bookkeeping_before_answer for delay in DELAYS for o in self.observations[delay])

    @property
    def exceeded(self) -> bool:
        ceiling = self.operation.ceiling
        return self.requests > ceiling.requests or self.depth > ceiling.depth or self.bookkeeping_before_answer


class _Service:
    """The service over HTTP, its DynamoDB behind the proxy, and a direct table for setup."""

    def __init__(self, database: EmbeddedDynamoDB, proxy: DynamoDBProxy) -> None:
        provide_aws_defaults()
        direct = boto3.client("dynamodb", endpoint_url=database.endpoint_url, region_name="us-east-1")
        create_table(direct, TABLE_NAME)
        self._direct = direct
        self.table = Table(direct, TABLE_NAME)
        os.environ["POWERTOOLS_LOG_LEVEL"] = "WARNING"  # the handlers' request logs would bury the table
        apply_lambda_environment(TABLE_NAME, proxy.endpoint_url)
        current = runtime.configure(clock=FixedClock())
        self.clock = current.clock
        organization, admin = current.organizations.create_organization("Depth", "admin@depth.test", "Depth", "Admin")
        self.organization = organization.uuid
        _, api_key = current.organizations.create_api_key(organization.uuid, admin.uuid, "depth")
        principal = current.authenticator.authenticate_admin(f"ApiKey {api_key}")
        _, secret = current.access_tokens.create(principal, "depth", None)
        self.http = DevHttpServer(("127.0.0.1", 0), Dispatcher())
        threading.Thread(target=self.http.serve_forever, name="depth-http", daemon=True).start()
        host, port = self.http.server_address[:2]
        self.base = f"http://{host!s}:{port}{SCIM}"
        self.session = requests.Session()  # one connection: the handlers stay warm in its thread
        self.session.headers.update({"Authorization": f"Bearer {secret}", "Content-Type": SCIM_JSON})
        code = log_subscription().destination
        self._ingest = load_handler(code.code_uri, code.handler, "_depth_activity_ingest")
        self._ingest_context = LambdaContext(code.logical_id)
        self.records: list[str] = []
        activity_records.install_sink(self.records.append)

    def stop(self) -> None:
        activity_records.install_sink(None)
        self.session.close()  # or the server's thread for it times out later, into the output
        self.http.shutdown()
        self.http.server_close()
        self._direct.delete_table(TableName=TABLE_NAME)  # moto's tables outlive the server in this process

    def ingest(self) -> None:
        """Deliver the records emitted since the last delivery to the activity ingest, in this
        thread: its writes end after the answer, and before the next operation starts."""
        if self.records:
            lines, self.records[:] = list(self.records), []
            self._ingest(subscription_event(lines), self._ingest_context)

    def call(self, method: str, path: str, body: Any = None, expected: int = 200) -> Any:
        response = self.session.request(method, self.base + path, data=None if body is None else json.dumps(body))
        if response.status_code != expected:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text[:300]}")
        return response.json() if response.content else None

    def people(self, count: int, prefix: str) -> list[str]:
        """``count`` users stored as a POST stores them; their ids."""
        names = (f"{prefix}{number:05d}@depth.test" for number in range(count))
        people = member_people(self.organization, names, self.clock.now())
        bulk_load_people(self.table, self.organization, people)
        return [person.uuid for person in people]

    def group(self, name: str) -> str:
        return str(self.call("POST", "/Groups", {"displayName": name}, expected=201)["id"])


def _add(user_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": u} for u in user_ids]}],
    }


def _operations(service: _Service, runs: int) -> list[Operation]:
    """Issue 11's rows with their data: a page of 100 users each in two groups, 50 groups."""
    listed = sorted(service.people(PAGE + 20, "listed"))
    groups = [service.group(f"Group {number:02d}") for number in range(GROUPS_OF_DELETED_USER)]
    for group in groups[:2]:
        bulk_load_members(service.table, service.organization, group, listed)
    spare = service.people(runs, "spare")
    pool = service.people(LARGE_ADD, "pool")
    leaving = service.people(runs, "leaving")
    deactivated = service.people(runs, "inactive")
    (loner,) = service.people(1, "loner")

    def delete_prepared(run: int) -> str:
        for group in groups:
            bulk_load_members(service.table, service.organization, group, [leaving[run]])
        return leaving[run]

    def new_user(run: int) -> dict[str, Any]:
        return {"schemas": [USER_SCHEMA], "userName": f"new{run:03d}-{uuid.uuid4().hex[:6]}@depth.test"}

    deactivate = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    members_off = "?excludedAttributes=members"
    groups_display = "+1 with groups: their displayName is on the group items GSI1 names"
    return [
        Operation(
            "POST /Users",
            "2 (auth, then the transaction)",
            Ceiling(requests=2, depth=2),
            new_user,
            lambda body: service.call("POST", "/Users", body, expected=201),
        ),
        Operation(
            "GET /Users/{id} (in no group)",
            "2 (auth, then the person and its group ids side by side)",
            Ceiling(requests=3, depth=2),
            lambda run: loner,
            lambda user: service.call("GET", f"/Users/{user}"),
        ),
        Operation(
            "GET /Users/{id} (in 2 groups)",
            f"3: 2, {groups_display}",
            Ceiling(requests=4, depth=3),
            lambda run: listed[0],
            lambda user: service.call("GET", f"/Users/{user}"),
        ),
        Operation(
            "filter userName eq (in no group)",
            "3 (auth, the claim, then the person and its group ids side by side)",
            Ceiling(requests=4, depth=3),
            lambda run: f"/Users?filter=userName%20eq%20%22{LONER_NAME}%22",
            lambda path: service.call("GET", path),
        ),
        Operation(
            "filter userName eq (in 2 groups)",
            f"4: 3, {groups_display}",
            Ceiling(requests=5, depth=4),
            lambda run: "/Users?filter=userName%20eq%20%22listed00001@depth.test%22",
            lambda path: service.call("GET", path),
        ),
        Operation(
            "PATCH /Users active false",
            "3 (auth, the person beside its group ids, the transaction)",
            Ceiling(requests=4, depth=3),
            lambda run: deactivated[run],
            lambda user: service.call("PATCH", f"/Users/{user}", deactivate),
        ),
        Operation(
            "PATCH group, add 1 member",
            "3 (auth, the group beside its members, the transaction beside the members' users)",
            Ceiling(requests=5, depth=3),
            lambda run: (groups[10], spare[run]),
            lambda target: service.call("PATCH", f"/Groups/{target[0]}", _add([target[1]])),
        ),
        Operation(
            f"PATCH group, add {LARGE_ADD:,} members",
            "5 (auth, the group beside the users' check, the intent, the memberships, the finish)",
            Ceiling(requests=54, depth=5),
            lambda run: service.group(f"Large {run}"),
            lambda group: service.call("PATCH", f"/Groups/{group}{members_off}", _add(pool)),
        ),
        Operation(
            f"GET /Users?count={PAGE} (with groups)",
            "4 (auth, the page beside the total, the group ids, the groups' names; the page's bookmark beside them)",
            Ceiling(requests=105, depth=4),
            lambda run: None,
            lambda _: service.call("GET", f"/Users?count={PAGE}"),
        ),
        Operation(
            f"GET /Users?startIndex={PAGE + 1}&count={PAGE} (with groups), the next page",
            "5: 4, +1 for the bookmark of where the previous page ended, which the page's query starts from",
            Ceiling(requests=106, depth=5),
            lambda run: service.call("GET", f"/Users?count={PAGE}&excludedAttributes=groups"),
            lambda _: service.call("GET", f"/Users?startIndex={PAGE + 1}&count={PAGE}"),
        ),
        Operation(
            f"DELETE a user in {GROUPS_OF_DELETED_USER} groups",
            "4 (auth, the person beside its group ids, its transaction beside the groups, one per group)",
            Ceiling(requests=55, depth=4),
            delete_prepared,
            lambda user: service.call("DELETE", f"/Users/{user}", expected=204),
        ),
    ]


def _restore_environment(saved: dict[str, str]) -> None:
    os.environ.clear()
    os.environ.update(saved)


def measure_all() -> list[Row]:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    with contextlib.ExitStack() as cleanup:  # undone in reverse: environment, DynamoDB, proxy, service
        cleanup.callback(_restore_environment, dict(os.environ))  # the service's is set for this run only
        cleanup.enter_context(contextlib.redirect_stderr(io.StringIO()))  # the HTTP server's request log
        database = EmbeddedDynamoDB("127.0.0.1", 0).start()
        cleanup.callback(database.stop)
        proxy = DynamoDBProxy(database.endpoint_url).start()
        cleanup.callback(proxy.stop)
        service = _Service(database, proxy)
        cleanup.callback(service.stop)
        cleanup.callback(runtime.reset)
        runs = len(DELAYS) * ROUNDS
        operations = _operations(service, runs)
        # Warms the handlers and the table core's threads up (a page of 100 fans out to 100 queries):
        # depth is a warm function's; starting a cold one, threads included, is the cold start's cost.
        service.call("GET", f"/Users?count={PAGE}")
        service.ingest()
        rows = [Row(operation) for operation in operations]
        for run in range(runs):
            delay = DELAYS[run % len(DELAYS)]  # interleaved, so load on the machine falls on all alike
            for row in rows:
                target = row.operation.prepare(run)
                service.ingest()  # the preparation's own records, before the proxy is cleared
                proxy.delay_seconds = delay
                observation = observe(proxy, functools.partial(row.operation.send, target), service.ingest)
                proxy.delay_seconds = 0.0
                row.observations[delay].append(observation)
        return rows


def report(rows: list[Row]) -> str:
    table = format_table(
        [
            "operation",
            "requests before answer (+ after)",
            "depth (runs)",
            "(wall - wall at 0) / delay",
            "(wall at 2x - wall) / delay",
            "bookkeeping before answer",
            "ceiling req/depth",
            "floor (what the data dependencies force)",
            "check",
        ],
        [
            [
                row.operation.name,
                f"{row.requests} (+{row.after_answer})",
                f"{row.depth} ({row.depth_range})",
                f"{row.estimate_from_zero:.1f}",
                f"{row.estimate_from_delay:.1f}",
                "yes" if row.bookkeeping_before_answer else "no",
                f"{row.operation.ceiling.requests}/{row.operation.ceiling.depth}",
                row.operation.floor,
                "EXCEEDED" if row.exceeded else "ok",
            ]
            for row in rows
        ],
    )
    return (
        f"Sequential DynamoDB depth per operation (each request held {DELAY_SECONDS * 1000:.0f} ms by a proxy;\n"
        f"the service over HTTP in this process, its handlers as the dev server runs them; {ROUNDS} rounds).\n"
        "depth: the longest chain of requests each starting after the previous ended, among those\n"
        "that ended before the answer, the median of the runs with a delay (their range in brackets);\n"
        "(+ after): the activity ingest's writes, after the answer. Asserted: requests before the\n"
        "answer and depth at or under their ceilings, and no bookkeeping write (activity entry,\n"
        "lastUsedAt, token health) before an answer.\n"
        f"{table}"
    )


def failures(rows: list[Row]) -> list[str]:
    return [
        f"{row.operation.name}: {row.requests} requests, depth {row.depth}"
        + (", bookkeeping before the answer" if row.bookkeeping_before_answer else "")
        for row in rows
        if row.exceeded
    ]


if __name__ == "__main__":  # python -m benchmarks.depth: this table alone
    measured = measure_all()
    print(report(measured), flush=True)
    raise SystemExit(1 if failures(measured) else 0)
