"""Per-organization rate limiting through the handlers (issue 14.7): an organization over its
rate gets 429 with Retry-After in the API's dialect, right after authentication and before any
other work, while another organization is served; refusals are sampled into the activity log."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from devserver.dispatch import Dispatcher
from devserver.log_subscription import LocalLogSubscription
from scim_provisioning import rate_limit
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, call, make_admin, scim_error, scim_token
from tests.polling import eventually

USERS = "/api/v1/scim/v2/Users"
TOKENS = "/api/v1/scim/organization-access-tokens"
LOGS = "/api/v1/scim/request-logs"


@pytest.fixture
def scaled_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Limits of one request a second in bursts of 3, with the clock standing still (no token
    comes back during the test)."""
    monkeypatch.setenv("ORG_RATE_LIMIT_PER_SECOND", "1")
    monkeypatch.setenv("ORG_RATE_BURST", "3")
    rate_limit.reset()
    monkeypatch.setattr(rate_limit.limiter(), "_now", lambda: 5000.0)
    yield
    rate_limit.reset()


def test_an_organization_over_its_rate_gets_429_while_another_is_served(
    api: Dispatcher, app_runtime: Runtime, admin: AdminFixture, token: str, scaled_down: None
):
    # Given a second organization with its own token
    other = scim_token(app_runtime, make_admin(app_runtime, "Other", "admin@other.test"))

    # When the first organization sends more than its burst
    answers = [call(api, "GET", f"{USERS}?count=1", token) for _ in range(5)]

    # Then its burst is served and the rest is a SCIM 429 saying when to retry
    assert [answer.status for answer in answers] == [200, 200, 200, 429, 429]
    error = scim_error(answers[3], 429)
    assert "at most 1 a second" in error["detail"] and "retry after 1 s" in error["detail"]
    assert answers[3].header("Retry-After") == "1"

    # And the other organization is served as if nothing happened
    assert [call(api, "GET", f"{USERS}?count=1", other).status for _ in range(3)] == [200, 200, 200]


def test_a_request_without_a_valid_token_is_a_401_not_counted(api: Dispatcher, token: str, scaled_down: None):
    # Unknown credentials name no organization: they are refused as before and use no one's share
    for _ in range(5):
        assert call(api, "GET", USERS, "Bearer scim_" + "0" * 32).status == 401
    assert call(api, "GET", USERS, token).status == 200


def test_the_admin_apis_share_the_organizations_rate_and_answer_in_their_envelope(
    api: Dispatcher, admin: AdminFixture, token: str, scaled_down: None
):
    # Given an organization that spent its burst on SCIM
    for _ in range(3):
        call(api, "GET", USERS, token)

    # When its admin lists tokens and the activity log
    tokens = api.handle("GET", TOKENS, [("Authorization", admin.authorization)])
    logs = api.handle("GET", LOGS, [("Authorization", admin.authorization)])

    # Then both are 429 in the admin envelope, with Retry-After
    for answer in (tokens, logs):
        assert answer.status == 429, answer.body
        document = json.loads(answer.body)
        assert document["error"]["name"] == "TooManyRequestsError"
        assert answer.header("Retry-After") == "1"


def test_refusals_are_logged_once_a_second_with_the_count_left_out(
    api: Dispatcher, admin: AdminFixture, token: str, scaled_down: None, activity_ingest: LocalLogSubscription
):
    # Given an organization that sends 3 requests over its burst within one second
    answers = [call(api, "GET", USERS, token) for _ in range(6)]
    assert [answer.status for answer in answers].count(429) == 3

    # When the admin reads the log, polled until the ingest wrote it (the limit lifted, so that
    # the polling itself is never refused)
    rate_limit.limiter().rate_per_second = 0

    def refused() -> list[dict]:
        response = api.handle("GET", f"{LOGS}?status=429", [("Authorization", admin.authorization)])
        return json.loads(response.body)["results"]["entries"]

    entries = eventually(refused, lambda found: len(found) >= 1)

    # Then one refusal of that second is in the log, not three
    assert len(entries) == 1, entries
    assert entries[0]["status"] == 429
