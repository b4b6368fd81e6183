"""The fuzz suite's slice over real HTTP against ``make dev`` (issue 14.4): the same strategies
and oracle as ``tests/fuzz`` (the handlers), through the dev server's own HTTP layer, which also
parses the request line, headers and body and must answer every method, HEAD without a body.
A short fixed-seed slice in ``make test``; ``make fuzz`` runs FUZZ_HTTP_EXAMPLES."""

from __future__ import annotations

import http.client
import json
import os
import time

import pytest
import requests as http_requests
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from tests.e2e.helpers import DevServer, mint_scim_token
from tests.fuzz.oracle import TALLIES, Tally, problems
from tests.fuzz.strategies import Request, Targets, requests

pytestmark = pytest.mark.e2e

FUZZ_SEED = int(os.environ.get("FUZZ_SEED") or 20261130)
# Far inside the function's 28 s: a request that took longer than this did unbounded work.
WALL_SECONDS_PER_REQUEST = 10.0


def send(server: DevServer, request: Request) -> tuple[int, list[tuple[str, str]], bytes, float]:
    """The request exactly as drawn (any method, any header, any bytes) on a fresh connection."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    started = time.monotonic()
    try:
        names = {name.lower() for name, _ in request.headers}
        connection.putrequest(request.method, request.target, skip_host="host" in names, skip_accept_encoding=True)
        for name, value in request.headers:
            connection.putheader(name, value.encode("utf-8"))
        connection.putheader("Content-Length", str(len(request.body or b"")))
        connection.endheaders(request.body)
        response = connection.getresponse()
        body = response.read()
        return response.status, response.getheaders(), body, time.monotonic() - started
    finally:
        connection.close()


@pytest.fixture(scope="module")
def http_targets(dev_server: DevServer) -> Targets:
    """A token, users, groups and spare tokens on the dev server, made over HTTP."""
    bearer = f"Bearer {mint_scim_token(dev_server, 'fuzzer')}"
    scim = {"Authorization": bearer, "Content-Type": "application/scim+json"}
    base = dev_server.url("/api/v1/scim/v2")
    users = [
        http_requests.post(f"{base}/Users", json={"userName": f"fuzz{n}@http.test"}, headers=scim, timeout=30).json()[
            "id"
        ]
        for n in range(3)
    ]
    group = http_requests.post(
        f"{base}/Groups", json={"displayName": "fuzzed", "members": [{"value": users[0]}]}, headers=scim, timeout=30
    )
    spare = http_requests.post(
        dev_server.url("/api/v1/scim/organization-access-tokens"),
        data=json.dumps({"description": "spare"}),
        headers={**dev_server.admin_headers, "Content-Type": "application/json"},
        timeout=30,
    )
    return Targets(bearer, dev_server.api_key, users, [group.json()["id"]], [spare.json()["results"]["uuid"]])


@seed(FUZZ_SEED)
@settings(
    max_examples=int(os.environ.get("FUZZ_HTTP_EXAMPLES") or 40),
    deadline=None,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
        HealthCheck.function_scoped_fixture,
    ],
)
@given(data=st.data())
def test_no_request_over_http_gets_a_5xx_an_error_in_another_dialect_or_internal_detail(
    dev_server: DevServer, http_targets: Targets, data: st.DataObject
) -> None:
    # Given any request, sent over HTTP to make dev
    request = data.draw(requests(http_targets), label="request")
    tally = TALLIES.setdefault("fuzz over HTTP", Tally())

    # When the dev server answers it
    status, headers, body, seconds = send(dev_server, request)

    # Then the answer holds what the oracle demands, HEAD has no body, and it came in time
    tally.count(request.path, status, 0.0)
    found = problems(request.method, request.path, status, headers, body, 0.0, over_http=True)
    if seconds > WALL_SECONDS_PER_REQUEST:
        found.append(f"{seconds:.1f} s")
    if found:
        tally.failures.append(f"{found} <- {request!r}")
    assert not found, (found, body[:500])
