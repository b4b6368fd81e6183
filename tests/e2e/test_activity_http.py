"""The activity log over real HTTP on the dev server, whose requests' records reach the
activity ingest from a background thread as CloudWatch Logs would deliver them: a request's
entry and its token's lastUsedAt show within seconds, stopping the server right after a burst
of requests loses none of their entries, and the admin actions of the token API and of
scim-admin (run against the dev server's DynamoDB) are one log under the ``admin`` category."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.e2e.helpers import (
    KNOWN_API_KEY,
    REQUEST_TIMEOUT_SECONDS,
    TOKEN_API_PATH,
    DevServer,
    Scim,
    activity_entries,
    mint_scim_token,
    token_last_used,
)
from tests.polling import eventually

pytestmark = pytest.mark.e2e


def token_uuid(server: DevServer, description: str) -> str:
    response = requests.get(server.url(TOKEN_API_PATH), headers=server.admin_headers, timeout=REQUEST_TIMEOUT_SECONDS)
    (token,) = [token for token in response.json()["results"] if token["description"] == description]
    return token["uuid"]


def test_a_requests_entry_and_its_tokens_last_use_show_within_seconds(dev_server: DevServer) -> None:
    """Given a token, when an identity provider reads a user that does not exist, then the
    request-log API lists the request (its 404, its target) and the token API its lastUsedAt,
    a few seconds at most after the answer."""
    scim = Scim(dev_server, mint_scim_token(dev_server, "Okta, activity over HTTP"))

    answer = scim.request("GET", "/Users/not-there")
    answered_at = time.monotonic()
    entries = eventually(
        lambda: activity_entries(dev_server, "?status=404"),
        lambda found: any(entry["targetId"] == "not-there" for entry in found),
    )
    listed_after = time.monotonic() - answered_at

    assert answer.status_code == 404
    assert [(entry["action"], entry["path"]) for entry in entries if entry["targetId"] == "not-there"] == [
        ("lookup", "/api/v1/scim/v2/Users/not-there")
    ]
    assert listed_after < 3.0  # 0.1-0.3 s measured here
    assert token_last_used(dev_server, token_uuid(dev_server, "Okta, activity over HTTP")) is not None


def test_stopping_right_after_a_burst_keeps_every_entry(
    launch_dev_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    """Given 30 SCIM requests answered, when the dev server is stopped at once (SIGTERM, as
    Ctrl-C), then it delivers the records still queued before saving its table: the restarted
    server lists all 30 entries without any wait."""
    state_dir = tmp_path / "state"
    first = launch_dev_server(state_dir, api_key=KNOWN_API_KEY)
    scim = Scim(first, mint_scim_token(first, "Entra"))
    for index in range(30):
        assert scim.request("GET", f"/Users/missing-{index}").status_code == 404

    assert first.stop(signal.SIGTERM) == 0, first.log()
    second = launch_dev_server(state_dir, api_key=KNOWN_API_KEY)

    listed = {entry["targetId"] for entry in activity_entries(second, "?limit=200")}
    assert {f"missing-{index}" for index in range(30)} <= listed


def test_the_token_apis_and_scim_admins_actions_are_one_log_of_admin_actions(dev_server: DevServer) -> None:
    """Given a token minted by the dev server's admin, when an operator issues that admin a second
    API key with scim-admin against the dev server's DynamoDB, then the request-log API's admin
    actions are both, newest first: the operator's, then the admin's (whose record arrives
    through the log subscription), and a SCIM request is not among them."""
    created = requests.post(
        dev_server.url(TOKEN_API_PATH),
        json={"description": "Okta, audited"},
        headers=dev_server.admin_headers,
        timeout=REQUEST_TIMEOUT_SECONDS,
    ).json()["results"]
    assert Scim(dev_server, created["token"]).request("GET", "/Users").status_code == 200
    eventually(
        lambda: activity_entries(dev_server, "?category=admin"),
        lambda entries: any(entry["targetId"] == created["uuid"] for entry in entries),
    )

    issued = subprocess.run(  # noqa: S603 - our own console script
        [
            str(Path(sys.executable).with_name("scim-admin")),
            "--endpoint-url",
            dev_server.dynamodb_endpoint,
            "create-api-key",
            "--organization-uuid",
            created["organizationUuid"],
            "--user-uuid",
            created["createdBy"],
            "--description",
            "Terraform",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert issued.returncode == 0, issued.stderr
    key = json.loads(issued.stdout)

    admin_actions = activity_entries(dev_server, "?category=admin")
    assert {entry["action"] for entry in admin_actions} == {"create_token", "create_api_key"}
    operator_action, admin_action = admin_actions[:2]
    assert (operator_action["action"], operator_action["status"], operator_action["targetId"]) == (
        "create_api_key",
        201,
        key["uuid"],
    )
    assert (operator_action["targetName"], operator_action["targetUserUuid"]) == ("Terraform", created["createdBy"])
    assert operator_action["operator"] and operator_action["method"] == "scim-admin"
    assert (admin_action["action"], admin_action["targetId"], admin_action["targetName"]) == (
        "create_token",
        created["uuid"],
        "Okta, audited",
    )
    assert admin_action["actorUserUuid"] == created["createdBy"] and admin_action["apiKeyUuid"]
    assert key["apiKey"] not in json.dumps([operator_action, admin_action])
