"""An independent, third-party SCIM conformance checker (scim2-tester) against the dev server.

Our own tests encode our reading of RFC 7643/7644; scim2-tester encodes someone else's. It
discovers the server through /ServiceProviderConfig, /ResourceTypes and /Schemas, then
creates, reads, queries, replaces, patches and deletes Users with values it generates from
the published schemas, over real HTTP with a bearer token minted through the token API."""

from __future__ import annotations

from collections import Counter

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

from tests.e2e.conftest import SCIM_BASE_PATH, DevServer, mint_scim_token

pytestmark = pytest.mark.e2e

# Statuses that mean "conforms": MUST (SUCCESS), SHOULD (COMPLIANT) and MAY (ACCEPTABLE).
PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
# Checks the checker may skip, each for a reason that is a decision, not a fault:
JUSTIFIED_SKIPS = {
    # POST /.search at the root searches every resource type at once, which RFC 7644 §3.4.3
    # leaves optional. We answer 501 (RFC 7644 §3.12), which the checker reads as "not
    # supported". POST /Users/.search is served; the checker does not call it, so
    # tests/integration/test_scim_users_handler.py::test_search_posts_a_search_request does.
    "search_with_attributes",
}


def summary(results: list[CheckResult]) -> str:
    counts = Counter(result.status.name for result in results)
    lines = [f"scim2-tester: {len(results)} checks, " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))]
    lines += [
        f"  {result.status.name:<10} {result.resource_type or '-':<6} {result.title}: {result.reason or ''}"
        for result in results
    ]
    return "\n".join(lines)


def test_scim2_tester_finds_no_fault(dev_server: DevServer) -> None:
    token = mint_scim_token(dev_server, "scim2-tester")
    http = httpx2.Client(
        base_url=dev_server.url(SCIM_BASE_PATH),
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    with http:
        # Discovery, misc and every User check. Group checks are left out only because /Groups
        # answers 501 until the Groups work (issue 4, another branch) lands: add "Group" here
        # then. Discovery still publishes the Group resource type and schema, and is checked.
        results = check_server(SyncSCIMClient(http), raise_exceptions=False, resource_types=["User"])

    print(summary(results))
    justified = [r for r in results if r.status is Status.SKIPPED and r.title in JUSTIFIED_SKIPS]
    failed = [result for result in results if result.status not in PASSED and result not in justified]
    assert failed == [], summary(failed)
    assert sum(result.status in PASSED for result in results) >= 50, "the checker ran far fewer checks than it does"
