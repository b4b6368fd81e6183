"""``make dev`` with realistic data: 10,000 users and one 10,000-member group.

The real dev server (``python -m devserver``, as ``make dev`` runs it) in a subprocess with a
fresh state directory; the users and the memberships are written straight into its embedded
DynamoDB with the bulk writers (the items a POST and a PATCH write, without their
conditions), everything else goes over HTTP as an identity provider sends it.

Asserted: no request fails (every answer is the expected 2xx, within API Gateway's 29 s, past
which a client would get a 504 instead). Reported against its target, not asserted: a list page
of 100 users with their groups in under 2 s once the dev server has served one (the first
imports the Users handler and may build the patched moto's sorted runs). Like every wall time
here it measures this machine's load as much as the code (a benchmark asserts counts and
depths, never wall time); the regression it watches for, whole-table reads, shows as tens of
seconds. Reported too: every request's time, the longest wait of a small request while the
server saves its snapshot on its own, the time to stop (the final save) and to start again on
the saved state (the restore)."""

from __future__ import annotations

import re
import statistics
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import requests

from benchmarks import format_table
from benchmarks.harness import bulk_load_members, bulk_load_people
from devserver.environment import provide_aws_defaults
from scim_provisioning.clock import SystemClock
from scim_provisioning.config import LOCAL_TABLE_NAME
from scim_provisioning.models import OrganizationRole, Person
from scim_provisioning.repository.table import Table
from tests.e2e.helpers import SCIM_BASE_PATH, SCIM_JSON, DevServer, mint_scim_token, start_dev_server

USERS = 10_000
PAGE = 100
LIST_PAGE_TARGET_SECONDS = 2.0  # reported, not asserted: wall time
REQUEST_TIMEOUT_SECONDS = 29.0  # API Gateway's integration timeout
SAVE_WATCH_SECONDS = 12.0
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"


@dataclass(frozen=True)
class Timed:
    request: str
    status: int
    seconds: float
    expected: int = 200
    target: float | None = None

    @property
    def failed(self) -> bool:
        return self.status != self.expected or self.seconds > REQUEST_TIMEOUT_SECONDS

    @property
    def check(self) -> str:
        if self.failed:
            return "FAILED"
        if self.target is not None and self.seconds > self.target:
            return f"over the {self.target:.0f} s target"
        return "ok"


@dataclass
class Results:
    users: int
    seeding_seconds: float = 0.0
    requests: list[Timed] = field(default_factory=list)
    save_watch: list[float] = field(default_factory=list)  # small requests' seconds while saving
    stop_seconds: float = 0.0
    restart_seconds: float = 0.0
    restored_items: int = 0

    @property
    def failures(self) -> list[str]:
        return [
            f"dev server at {self.users:,} users: {t.request} {t.status} in {t.seconds:.2f} s"
            for t in self.requests
            if t.failed
        ]


class _Client:
    """An identity provider's connection to the dev server."""

    def __init__(self, server: DevServer, token: str, results: Results) -> None:
        self.base, self.results = server.url(SCIM_BASE_PATH), results
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {token}", "Content-Type": SCIM_JSON})

    def call(
        self, label: str, method: str, path: str, body: Any = None, expected: int = 200, target: float | None = None
    ) -> Any:
        started = time.perf_counter()
        response = self.session.request(method, self.base + path, json=body, timeout=REQUEST_TIMEOUT_SECONDS)
        seconds = time.perf_counter() - started
        self.results.requests.append(Timed(label, response.status_code, seconds, expected, target))
        return response.json() if response.content else None


def _organization_uuid(server: DevServer) -> str:
    match = re.search(r"organization ([0-9a-f-]{36})", server.log())
    assert match, server.log()
    return match.group(1)


def _seed(server: DevServer, scim: _Client, users: int) -> tuple[list[str], str]:
    """``users`` people and one group holding all of them; their ids and the group's."""
    organization = _organization_uuid(server)
    provide_aws_defaults()  # dummy credentials unless the shell has some: the store is local
    client = boto3.client("dynamodb", endpoint_url=server.dynamodb_endpoint, region_name="us-east-1")
    table = Table(client, LOCAL_TABLE_NAME)
    now = SystemClock().now()
    people = []
    for number in range(users):
        user_name = f"user{number:06d}@scale.test"
        resource = {
            "schemas": [USER_SCHEMA],
            "userName": user_name,
            "name": {"givenName": "Scale", "familyName": f"User {number}"},
            "emails": [{"value": user_name, "type": "work", "primary": True}],
            "active": True,
        }
        people.append(
            Person(
                uuid=str(uuid.uuid4()),
                organization_uuid=organization,
                user_name=user_name,
                active=True,
                role=OrganizationRole.MEMBER,
                created_at=now,
                last_modified=now,
                resource=resource,
                external_id=f"ext-{number:06d}",
            )
        )
    bulk_load_people(table, organization, people)
    group = scim.call("POST /Groups", "POST", "/Groups", {"displayName": "Everyone"}, expected=201)["id"]
    bulk_load_members(table, organization, group, [person.uuid for person in people])
    return sorted(person.uuid for person in people), group


def _list_pages(scim: _Client, when: str) -> None:
    """The list page with groups: first cold (it imports the Users handler in the connection's
    thread of the dev server, as a Lambda cold start would, and builds the embedded DynamoDB's
    sorted runs of the table if nothing has read it yet), then three times as a client keeps
    paging, each against the target."""
    scim.call(f"GET /Users?count={PAGE} (with groups), first{when}", "GET", f"/Users?count={PAGE}")
    for attempt in (1, 2, 3):
        scim.call(
            f"GET /Users?count={PAGE} (with groups), #{attempt}{when}",
            "GET",
            f"/Users?count={PAGE}",
            target=LIST_PAGE_TARGET_SECONDS,
        )


def _exercise(scim: _Client, ids: list[str], group: str, users: int) -> None:
    def quoted(expression: str) -> str:
        return "filter=" + quote(expression)

    _list_pages(scim, "")
    middle = users // 2
    scim.call(f"GET /Users?startIndex={middle + 1}&count={PAGE}", "GET", f"/Users?startIndex={middle + 1}&count={PAGE}")
    scim.call("GET /Users?filter=userName eq", "GET", "/Users?" + quoted(f'userName eq "user{middle:06d}@scale.test"'))
    scim.call("GET /Users/{id}", "GET", f"/Users/{ids[middle]}")
    created = scim.call(
        "POST /Users", "POST", "/Users", {"schemas": [USER_SCHEMA], "userName": "new@scale.test"}, expected=201
    )
    deactivate = {"schemas": [PATCH_OP], "Operations": [{"op": "replace", "value": {"active": False}}]}
    scim.call("PATCH /Users/{id} active false", "PATCH", f"/Users/{ids[middle]}", deactivate)
    scim.call("GET /Groups/{id}?excludedAttributes=members", "GET", f"/Groups/{group}?excludedAttributes=members")
    add = {"schemas": [PATCH_OP], "Operations": [{"op": "add", "path": "members", "value": [{"value": created["id"]}]}]}
    scim.call("PATCH /Groups/{id} add 1 member", "PATCH", f"/Groups/{group}?excludedAttributes=members", add)
    scim.call(
        f"GET /Users?filter=groups.value eq&count={PAGE}",
        "GET",
        f"/Users?count={PAGE}&" + quoted(f'groups.value eq "{group}"'),
    )
    scim.call(f"GET /Groups?count={PAGE}&excludedAttributes=members", "GET", "/Groups?excludedAttributes=members")


def _watch_saves(scim: _Client, ids: list[str], results: Results) -> None:
    """Small requests back to back for a while, with a write every second so that the server
    has something to save: how long the longest one waited shows what a save costs the API."""
    stop = threading.Event()

    def write() -> None:
        for number in range(int(SAVE_WATCH_SECONDS)):
            body = {"schemas": [USER_SCHEMA], "userName": f"watch{number}@scale.test"}
            scim.session.post(scim.base + "/Users", json=body, timeout=REQUEST_TIMEOUT_SECONDS)
            if stop.wait(1):
                return

    writer = threading.Thread(target=write)
    writer.start()
    reader = requests.Session()
    reader.headers.update(scim.session.headers)
    deadline = time.monotonic() + SAVE_WATCH_SECONDS
    while time.monotonic() < deadline:
        started = time.perf_counter()
        reader.get(f"{scim.base}/Users/{ids[0]}?excludedAttributes=groups", timeout=REQUEST_TIMEOUT_SECONDS)
        results.save_watch.append(time.perf_counter() - started)
    stop.set()
    writer.join()


def measure(users: int = USERS) -> Results:
    results = Results(users)
    with tempfile.TemporaryDirectory(prefix="devserver-scale-") as scratch:
        state, log = Path(scratch, "state"), Path(scratch, "dev-server.log")
        server = start_dev_server(state, log)
        try:
            scim = _Client(server, mint_scim_token(server, "scale"), results)
            started = time.perf_counter()
            ids, group = _seed(server, scim, users)
            results.seeding_seconds = time.perf_counter() - started
            _exercise(scim, ids, group, users)
            _watch_saves(scim, ids, results)
            started = time.perf_counter()
            server.stop()
            results.stop_seconds = time.perf_counter() - started
            started = time.perf_counter()
            server = start_dev_server(state, Path(scratch, "restarted.log"), api_key=server.api_key)
            results.restart_seconds = time.perf_counter() - started
            restored = re.search(r"Restored (\d+) items", server.log())
            results.restored_items = int(restored.group(1)) if restored else 0
            scim = _Client(server, mint_scim_token(server, "after restart"), results)
            _list_pages(scim, ", after a restart")
        finally:
            if server.process.poll() is None:
                server.stop()
    return results


def report(results: Results) -> str:
    table = format_table(
        ["request", "status", "seconds", "check"],
        [[t.request, str(t.status), f"{t.seconds:.2f}", t.check] for t in results.requests],
    )
    watch = sorted(results.save_watch)
    waited = (
        f"{len(watch)} small requests over {SAVE_WATCH_SECONDS:.0f} s while the server saved on its own: "
        f"median {statistics.median(watch) * 1000:.0f} ms, longest {watch[-1] * 1000:.0f} ms"
        if watch
        else "no small request measured"
    )
    return (
        f"The dev server (python -m devserver) at {results.users:,} users and one group of "
        f"{results.users:,} members, over HTTP.\n"
        f"Asserted: every answer the expected 2xx within {REQUEST_TIMEOUT_SECONDS:.0f} s. Target, reported: a list "
        f"page of {PAGE} with groups under {LIST_PAGE_TARGET_SECONDS:.0f} s after the first.\n"
        f"Seeding (bulk writes into the embedded DynamoDB) took {results.seeding_seconds:.1f} s.\n"
        f"{table}\n"
        f"{waited}.\n"
        f"Stop (final snapshot save) {results.stop_seconds:.1f} s; start again on the saved state "
        f"{results.restart_seconds:.1f} s (restored {results.restored_items:,} items)."
    )


if __name__ == "__main__":  # python -m benchmarks.devserver_scale: this check alone
    measured = measure()
    print(report(measured), flush=True)
    raise SystemExit(1 if measured.failures else 0)
