"""Root fixtures. AWS credentials are fake everywhere: no test may reach a real account."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "POWERTOOLS_METRICS_NAMESPACE": "ScimProvisioningTests",
        "POWERTOOLS_SERVICE_NAME": "scim-provisioning",
        "POWERTOOLS_METRICS_DISABLED": "true",
        # Rate limiting off: tests send bursts (races, floods of their own) that are not what they
        # test; the rate-limit tests configure their own limits (and the dev servers they start).
        "ORG_RATE_LIMIT_PER_SECOND": "0",
    }
)

from benchmarks.harness import FixedClock

TEST_NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing still at TEST_NOW until a test moves it."""
    return FixedClock(TEST_NOW)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """What the fuzz tests sent and got (tests/fuzz, tests/e2e/test_fuzz_http.py), when they ran."""
    from tests.fuzz.oracle import TALLIES

    for name, tally in TALLIES.items():
        terminalreporter.write_line(tally.summary(name))
        for failure in tally.failures[:20]:
            terminalreporter.write_line(f"  {failure}")
