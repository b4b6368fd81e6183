"""The token guardian on the real dev server, over HTTP: a token minted through the token API,
then the dev-only route run at chosen times, as a developer trying the warnings would."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from devserver.dev_only import GUARDIAN_RUN_PATH
from scim_provisioning.timestamps import format_timestamp, parse_timestamp
from tests.e2e.helpers import REQUEST_TIMEOUT_SECONDS, TOKEN_API_PATH, DevServer


def run_guardian(server: DevServer, now: datetime | str) -> requests.Response:
    moment = now if isinstance(now, str) else format_timestamp(now)
    return requests.post(server.url(f"{GUARDIAN_RUN_PATH}?now={moment}"), timeout=REQUEST_TIMEOUT_SECONDS)


def about(answer: requests.Response, token_uuid: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The events and notifications of one run that concern ``token_uuid`` (the server is shared
    by the module's tests)."""
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert set(document) == {"events", "notifications"}
    events = [event for event in document["events"] if event["detail"]["tokenUuid"] == token_uuid]
    notifications = [notice for notice in document["notifications"] if token_uuid in notice["message"]]
    return events, notifications


def test_the_dev_route_warns_once_per_threshold_as_the_clock_it_is_given_moves(dev_server: DevServer) -> None:
    """Given a token minted through the token API to expire in 10 days, when the dev route runs
    the guardian now (twice), at 7 days before, 1 day before and at the expiry, then the first run
    answers one 14-day warning event and one e-mail linking the dev server's settings page, the
    second nothing, and the later ones the 7-day and 1-day warnings (with the flag of a token
    never used in its first week), then ScimTokenExpired."""
    minted = requests.post(
        dev_server.url(TOKEN_API_PATH),
        json={"description": "Okta (guardian)", "expiresAt": format_timestamp(datetime.now(UTC) + timedelta(days=10))},
        headers=dev_server.admin_headers,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert minted.status_code == 201, minted.text
    token = minted.json()["results"]
    expires_at = parse_timestamp(token["expiresAt"])

    first_events, first_notifications = about(run_guardian(dev_server, datetime.now(UTC)), token["uuid"])
    again = about(run_guardian(dev_server, datetime.now(UTC)), token["uuid"])
    later = [about(run_guardian(dev_server, expires_at - timedelta(days=days)), token["uuid"])[0] for days in (7, 1, 0)]

    (event,) = first_events
    assert (event["source"], event["detail-type"]) == ("scim-provisioning", "ScimTokenExpiring")
    assert event["detail"]["thresholdDays"] == 14 and event["detail"]["expiresAt"] == token["expiresAt"]
    (notification,) = first_notifications
    assert dev_server.url("/settings/scim") in notification["message"]
    assert notification["subject"] == "SCIM token expires within 10 days"
    assert again == ([], [])
    # Never used by an identity provider, it is flagged too once its first week is over.
    assert [[(event["detail-type"], event["detail"].get("thresholdDays")) for event in run] for run in later] == [
        [("ScimTokenExpiring", 7)],
        [("ScimTokenExpiring", 1), ("ScimTokenNeverUsed", None)],
        [("ScimTokenExpired", None)],
    ]


def test_the_dev_route_refuses_a_time_it_cannot_read(dev_server: DevServer) -> None:
    """Given the dev route, when `now` is not an ISO 8601 time, then it answers 400 saying so."""
    answer = run_guardian(dev_server, "next-tuesday")

    assert answer.status_code == 400
    assert "ISO 8601" in answer.json()["message"]
