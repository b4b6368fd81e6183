"""An independent, third-party SCIM conformance checker (scim2-tester) against the dev server.

Our own tests encode our reading of RFC 7643/7644; scim2-tester encodes someone else's. It
discovers the server through /ServiceProviderConfig, /ResourceTypes and /Schemas, then
creates, reads, queries, replaces, patches and deletes Users and Groups with values it generates from
the published schemas, over real HTTP with a bearer token minted through the token API."""

from __future__ import annotations

from collections import Counter

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

from tests.e2e.helpers import SCIM_BASE_PATH, DevServer, mint_scim_token

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


def differs_only_in_member_display(result: CheckResult) -> bool:
    """scim2-tester 0.5.2 patches ``members`` with values it generates without ``display`` (a
    read-only sub-attribute) and then demands the PATCH answer back verbatim. RFC 7643 §2.2 has
    the service provider set read-only attributes, and we fill each member's ``display`` from
    the user (§4.2's example does the same). This accepts exactly that difference: the same
    members, value, $ref and type, with only ``display`` filled in by the server."""
    data = result.data or {}
    if result.resource_type != "Group" or data.get("urn") != "members" or "modify_actual" not in data:
        return False
    sent = [member.model_dump(exclude={"display"}) for member in data["expected"]]
    answered = [member.model_dump(exclude={"display"}) for member in data["modify_actual"] or []]
    return sent == answered and all(member.display for member in data["modify_actual"])


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
        # Discovery, misc, and every User and Group check.
        results = check_server(SyncSCIMClient(http), raise_exceptions=False, resource_types=["User", "Group"])

    print(summary(results))
    justified = [r for r in results if r.status is Status.SKIPPED and r.title in JUSTIFIED_SKIPS]
    server_filled = [r for r in results if r.status is Status.ERROR and differs_only_in_member_display(r)]
    failed = [r for r in results if r.status not in PASSED and r not in justified and r not in server_filled]
    assert failed == [], summary(failed)
    assert sum(result.status in PASSED for result in results) >= 50, "the checker ran far fewer checks than it does"
