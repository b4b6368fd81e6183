"""Per-organization rate limiting over HTTP against ``make dev`` (issue 14.7), with the limits
scaled down through the environment (ORG_RATE_LIMIT_PER_SECOND, ORG_RATE_BURST): an organization
flooding the API gets 429s with Retry-After while a second organization's requests keep their
latency. The latencies measured are printed for docs/decisions.md."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import REQUEST_TIMEOUT_SECONDS, SCIM_BASE_PATH, TOKEN_API_PATH, DevServer, mint_scim_token

pytestmark = pytest.mark.e2e

SCIM_ADMIN = Path(sys.executable).with_name("scim-admin")
RATE, BURST = 5, 5
FLOODERS = 4
FLOOD_SECONDS = 4.0
QUIET_REQUESTS = 12  # the second organization's, two a second: under its own limit


def second_organization(server: DevServer) -> str:
    """An operator's second organization on the dev server's table (scim-admin), its admin key."""
    created = subprocess.run(  # noqa: S603 - the project's own console script, fixed arguments
        [
            str(SCIM_ADMIN),
            "--endpoint-url",
            server.dynamodb_endpoint,
            "create-organization",
            "--name",
            "Quiet Corp",
            "--admin-email",
            "admin@quiet.test",
            "--admin-given-name",
            "Quinn",
            "--admin-family-name",
            "Quiet",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return str(json.loads(created.stdout)["apiKey"])


def bearer_of_other(server: DevServer, api_key: str) -> str:
    response = requests.post(
        server.url(TOKEN_API_PATH),
        json={"description": "quiet", "expiresAt": None},
        headers={"Authorization": f"ApiKey {api_key}"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["results"]["token"])


def timed_get(server: DevServer, token: str) -> tuple[int, float, str | None]:
    started = time.perf_counter()
    response = requests.get(
        server.url(f"{SCIM_BASE_PATH}/Users?count=1"),
        headers={"Authorization": f"Bearer {token}"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    return response.status_code, time.perf_counter() - started, response.headers.get("Retry-After")


def quiet_latencies(server: DevServer, token: str) -> list[float]:
    """QUIET_REQUESTS requests, two a second; each must be served."""
    latencies = []
    for _ in range(QUIET_REQUESTS):
        status, seconds, _ = timed_get(server, token)
        assert status == 200
        latencies.append(seconds)
        time.sleep(0.5)  # the second organization's own pace, not a wait for a condition
    return latencies


def flood(
    server: DevServer, token: str, until: float, statuses: Counter[int], retry_after: set[str]
) -> Callable[[], None]:
    def run() -> None:
        while time.monotonic() < until:
            status, _, after = timed_get(server, token)
            statuses[status] += 1
            if after is not None:
                retry_after.add(after)

    return run


def test_a_flooding_organization_gets_429s_while_another_keeps_its_latency(
    launch_dev_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    # Given a dev server whose per-organization limit is scaled down to 5 a second (burst 5),
    # and two organizations with a SCIM token each
    server = launch_dev_server(
        tmp_path / "state", environment={"ORG_RATE_LIMIT_PER_SECOND": str(RATE), "ORG_RATE_BURST": str(BURST)}
    )
    flooding = mint_scim_token(server, "flooding")
    quiet = bearer_of_other(server, second_organization(server))
    baseline = quiet_latencies(server, quiet)

    # When the first floods the API from 4 threads while the second goes on at its pace
    statuses: Counter[int] = Counter()
    retry_after: set[str] = set()
    until = time.monotonic() + FLOOD_SECONDS
    threads = [threading.Thread(target=flood(server, flooding, until, statuses, retry_after)) for _ in range(FLOODERS)]
    for thread in threads:
        thread.start()
    during = quiet_latencies(server, quiet)
    for thread in threads:
        thread.join()

    # Then the flood is mostly refused with 429 and Retry-After, its share served
    served_at_most = BURST + RATE * (FLOOD_SECONDS + QUIET_REQUESTS * 0.5)
    print(
        f"\nflooding organization: {dict(statuses)} in {FLOOD_SECONDS:g} s; quiet organization median latency "
        f"{statistics.median(baseline) * 1000:.0f} ms alone, {statistics.median(during) * 1000:.0f} ms during the "
        f"flood (max {max(during) * 1000:.0f} ms)"
    )
    assert statuses[429] > statuses[200] > 0
    assert statuses[200] <= served_at_most
    assert set(statuses) <= {200, 429}
    assert retry_after == {"1"}
    # And the second organization was served every time, in about its usual time (a shared,
    # loaded machine: a generous bound, the printed medians are the measurement)
    assert statistics.median(during) < max(4 * statistics.median(baseline), 0.5)
