"""Property-based fuzzing of every route through the handlers (the dev server's dispatcher, as
API Gateway + Lambda would call them, on moto): whatever the method, path, parameters, headers
and body, the answer is never a 5xx, errors are in the route's dialect, no internal detail
leaks, and no request takes more than a bounded CPU time (``tests/fuzz/oracle.py``).

A fixed seed and a short run in ``make test``; ``make fuzz`` runs FUZZ_EXAMPLES (≥ 5,000) with
FUZZ_SEED. Every failing case a run ever found is kept in ``test_fuzz_regressions.py``."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from devserver.dispatch import Dispatcher
from tests.cpu import cpu_timed
from tests.fuzz.conftest import examples
from tests.fuzz.oracle import TALLIES, Tally, problems
from tests.fuzz.strategies import Request, Targets, requests

FUZZ_SEED = int(os.environ.get("FUZZ_SEED") or 20261130)
# FUZZ_COLLECT=1: record every failing request and go on (to survey what a long run finds)
# instead of stopping at the first and shrinking it.
COLLECT = os.environ.get("FUZZ_COLLECT") == "1"


def send(api: Dispatcher, request: Request) -> tuple[int, list[tuple[str, str]], bytes, float]:
    response, cpu_seconds = cpu_timed(lambda: api.handle(request.method, request.target, request.headers, request.body))
    return response.status, response.headers, response.body, cpu_seconds


@seed(FUZZ_SEED)
@settings(
    max_examples=examples(150),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
@given(data=st.data())
def test_no_input_gets_a_5xx_an_error_in_another_dialect_or_internal_detail(
    dispatcher: Dispatcher, targets: Targets, data: st.DataObject
) -> None:
    # Given any request to any route
    request = data.draw(requests(targets), label="request")
    tally = TALLIES.setdefault("fuzz through the handlers", Tally())

    # When the handlers answer it
    status, headers, body, cpu_seconds = send(dispatcher, request)

    # Then the answer is one a client can act on, in the route's dialect, without internals
    tally.count(request.path, status, cpu_seconds)
    found = problems(request.method, request.path, status, headers, body, cpu_seconds)
    if found:
        tally.failures.append(f"{found} <- {request!r}")
    assert COLLECT or not found, (found, body[:500])
