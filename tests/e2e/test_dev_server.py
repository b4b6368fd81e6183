"""The dev server itself (``make dev``): what it prints, how it serves HTTP, and that its data
and its local admin survive a restart, a Ctrl-C and even a kill."""

from __future__ import annotations

import http.client
import json
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import requests
from moto.server import ThreadedMotoServer

from scim_provisioning.config import LOCAL_TABLE_NAME
from tests.e2e.helpers import KNOWN_API_KEY, REQUEST_TIMEOUT_SECONDS, DevServer, free_port, mint_scim_token

pytestmark = pytest.mark.e2e

TOKENS = "/api/v1/scim/organization-access-tokens"
SCIM_USERS = "/api/v1/scim/v2/Users"
API_GATEWAY_BODY_LIMIT = 10 * 1024 * 1024


def create_token(server: DevServer, api_key: str) -> dict[str, str]:
    response = requests.post(
        server.url(TOKENS),
        json={"description": "Okta SCIM token", "expiresAt": None},
        headers={"Authorization": f"ApiKey {api_key}"},
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert response.status_code == 201, response.text
    return response.json()["results"]


def listed_token_uuids(server: DevServer, api_key: str) -> list[str]:
    response = requests.get(
        server.url(TOKENS), headers={"Authorization": f"ApiKey {api_key}"}, timeout=REQUEST_TIMEOUT_SECONDS
    )
    assert response.status_code == 200, response.text
    return [token["uuid"] for token in response.json()["results"]]


def scim_status(server: DevServer, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    return requests.get(server.url(SCIM_USERS), headers=headers, timeout=REQUEST_TIMEOUT_SECONDS).status_code


def organization_count(server: DevServer) -> int:
    return sum(item["entity"]["S"] == "Organization" for item in server.scan())


# ------------------------------------------------------------------------------ startup
def test_startup_output_says_how_to_use_it(dev_server: DevServer) -> None:
    """Given a started dev server, when a developer reads its output, then it names the SCIM
    base URL, the token API URL, the admin API key, the DynamoDB endpoint and the table."""
    output = dev_server.log()

    assert f"{dev_server.base_url}/api/v1/scim/v2/" in output
    assert f"{dev_server.base_url}{TOKENS}" in output
    assert f"Admin API key:     {KNOWN_API_KEY}" in output
    assert dev_server.dynamodb_endpoint in output
    assert dev_server.table_name in output
    assert re.search(r"^Ready", output, re.MULTILINE)


@pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl command")
def test_the_printed_curl_mints_a_token_that_can_be_rotated(dev_server: DevServer) -> None:
    """Given the curl command the dev server prints, when it is pasted into a shell, then it
    mints a SCIM token with an expiry (about 90 days ahead), which can therefore be rotated."""
    curl = re.search(r"^\s*(curl .*?'\{.*?\}')$", dev_server.log(), re.MULTILINE | re.DOTALL)
    assert curl, dev_server.log()

    result = subprocess.run(  # noqa: S603 - the command under test is our own output
        ["bash", "-c", curl.group(1)],  # noqa: S607 - found on PATH like a developer's shell does
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    assert re.search(r'"token": "scim_[0-9a-f]{32}"', result.stdout), result.stdout
    minted = json.loads(result.stdout)["results"]
    expires_at = datetime.fromisoformat(minted["expiresAt"])
    assert timedelta(days=89) < expires_at - datetime.now(UTC) <= timedelta(days=90)
    rotation = requests.patch(
        dev_server.url(f"{TOKENS}/{minted['uuid']}/rotate"),
        json={"expiresAt": (expires_at + timedelta(days=30)).isoformat()},
        headers=dev_server.admin_headers,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert rotation.status_code == 200, rotation.text


# --------------------------------------------------------------------------------- HTTP
@pytest.mark.parametrize(
    ("method", "path", "status", "message"),
    [
        ("GET", "/api/v1/health", 200, None),
        ("GET", "/api/v1/no-such-route", 403, "Missing Authentication Token"),
        ("POST", "/api/v1/health", 403, "Missing Authentication Token"),
        ("GET", "/not-the-api", 404, "Missing Authentication Token"),
        ("GET", "/api/v1/scim/v2/NoSuchResource", 404, None),
    ],
    ids=["health", "unknown-api-path", "method-without-route", "outside-the-api", "unknown-scim-path"],
)
def test_routes_are_those_of_the_template(
    dev_server: DevServer, method: str, path: str, status: int, message: str | None
) -> None:
    """Given the template's routes, when a path or method no route declares is requested, then
    the answer is API Gateway's own (403/404 "Missing Authentication Token"), except under
    /api/v1/scim/v2/ whose catch-all route answers a SCIM 404."""
    response = requests.request(method, dev_server.url(path), timeout=REQUEST_TIMEOUT_SECONDS)

    assert response.status_code == status, response.text
    if message is not None:
        assert response.json() == {"message": message}
    if path.startswith("/api/v1/scim/v2/"):
        assert response.headers["Content-Type"].startswith("application/scim+json")


def test_a_body_over_api_gateways_limit_is_413(dev_server: DevServer) -> None:
    """Given a request announcing a body over 10 MB, when it arrives, then 413 before the body is
    read, and the connection is closed."""
    connection = http.client.HTTPConnection("127.0.0.1", dev_server.port, timeout=REQUEST_TIMEOUT_SECONDS)
    connection.putrequest("POST", TOKENS)
    connection.putheader("Content-Length", str(API_GATEWAY_BODY_LIMIT + 1))
    connection.endheaders()

    response = connection.getresponse()

    assert response.status == 413
    assert response.getheader("Connection") == "close"
    connection.close()


def test_connections_are_kept_alive(dev_server: DevServer) -> None:
    """Given one HTTP/1.1 connection, when several requests are sent over it, then each is
    answered on that same connection."""
    connection = http.client.HTTPConnection("127.0.0.1", dev_server.port, timeout=REQUEST_TIMEOUT_SECONDS)
    for _ in range(3):
        connection.request("GET", "/api/v1/health")
        response = connection.getresponse()
        assert response.status == 200
        assert response.read() == b'{"status": "ok"}'
    connection.close()


SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("HEAD", SCIM_USERS, "GET, POST"),
        ("TRACE", SCIM_USERS, "GET, POST"),
        ("get", "/api/v1/scim/v2/Users/.search", "POST"),
        ("PROPFIND", "/api/v1/scim/v2/Schemas", "GET"),
        ("HEAD", TOKENS, "GET, POST"),
        ("TRACE", f"{TOKENS}/5c3f/rotate", "PATCH"),
        ("delete", "/api/v1/scim/request-logs", "GET"),
        ("BREW", "/api/v1/scim/request-logs", "GET"),
        ("POST", "/settings/scim", "GET"),
    ],
)
def test_any_method_on_a_known_path_is_a_405_in_its_apis_dialect(
    dev_server: DevServer, method: str, path: str, allow: str
) -> None:
    """Given a path the template routes, when a method it does not serve arrives (HEAD, TRACE, an
    unknown or a lower-case one, as a client may send it), then the function answers 405 with
    Allow in its API's dialect (a SCIM error, the admin APIs' envelope, plain text for the page),
    never http.server's HTML 501; a HEAD answer has no body and the connection stays usable."""
    headers = {"Authorization": f"ApiKey {KNOWN_API_KEY}"}
    if path.startswith("/api/v1/scim/v2/"):
        headers = {"Authorization": f"Bearer {mint_scim_token(dev_server, 'methods')}"}
    connection = http.client.HTTPConnection("127.0.0.1", dev_server.port, timeout=REQUEST_TIMEOUT_SECONDS)

    connection.request(method, path, headers=headers)
    response = connection.getresponse()
    body = response.read()

    assert response.status == 405, body
    assert response.getheader("Allow") == allow
    content_type = response.getheader("Content-Type")
    assert "html" not in content_type
    if method == "HEAD":
        assert body == b"" and int(response.getheader("Content-Length")) > 0
    elif path.startswith("/api/v1/scim/v2/"):
        assert content_type.startswith("application/scim+json")
        assert json.loads(body)["schemas"] == [SCIM_ERROR]
    elif path.startswith("/api/"):
        assert json.loads(body)["error"]["statusCode"] == 405
    else:
        assert content_type.startswith("text/plain")
    connection.request("GET", "/api/v1/health")
    assert connection.getresponse().read() == b'{"status": "ok"}'
    connection.close()


def test_twenty_concurrent_clients_are_all_served(dev_server: DevServer) -> None:
    """Given 20 clients starting together, each with its own keep-alive connection, when each
    sends a burst of requests that reach DynamoDB, then every request gets its expected answer
    and no connection is refused or reset."""
    clients, requests_per_client = 20, 5
    start_together = threading.Barrier(clients)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def client() -> None:
        with requests.Session() as session:
            start_together.wait()
            try:
                for _ in range(requests_per_client):
                    for path, headers in (
                        (TOKENS, dev_server.admin_headers),
                        (SCIM_USERS, {"Authorization": "Bearer scim_" + "0" * 32}),
                    ):
                        response = session.get(dev_server.url(path), headers=headers, timeout=REQUEST_TIMEOUT_SECONDS)
                        statuses.append(response.status_code)
            except requests.RequestException as failure:
                failures.append(failure)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sorted(statuses) == [200] * (clients * requests_per_client) + [401] * (clients * requests_per_client)


# -------------------------------------------------------------------------- persistence
def test_data_and_admin_survive_a_restart(launch_dev_server: Callable[..., DevServer], tmp_path: Path) -> None:
    """Given a dev server started without SCIM_LOCAL_API_KEY that minted a token, when it is
    stopped with SIGTERM and started again on the same state directory and ports, then the same
    generated API key is printed, the token is still listed and still authenticates, and there
    is still one organization. Ctrl-C (SIGINT) stops it cleanly too."""
    state_dir = tmp_path / "state"
    first = launch_dev_server(state_dir)
    token = create_token(first, first.api_key)
    assert first.stop(signal.SIGTERM) == 0, first.log()

    second = launch_dev_server(state_dir, port=first.port, dynamodb_port=first.dynamodb_port)

    assert second.api_key == first.api_key
    assert token["uuid"] in listed_token_uuids(second, second.api_key)
    assert scim_status(second, token["token"]) != 401
    assert organization_count(second) == 1
    assert second.stop(signal.SIGINT) == 0, second.log()


def test_a_requested_api_key_is_added_to_the_existing_admin(
    launch_dev_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    """Given a local organization made on a first start, when the dev server starts again with
    SCIM_LOCAL_API_KEY, then that key is printed and manages the same organization's tokens, and
    the generated key keeps working."""
    state_dir = tmp_path / "state"
    first = launch_dev_server(state_dir)
    token = create_token(first, first.api_key)
    assert first.stop() == 0, first.log()

    second = launch_dev_server(state_dir, api_key=KNOWN_API_KEY)

    assert second.api_key == KNOWN_API_KEY
    assert token["uuid"] in listed_token_uuids(second, KNOWN_API_KEY)
    assert token["uuid"] in listed_token_uuids(second, first.api_key)
    assert organization_count(second) == 1


def test_a_killed_server_keeps_what_was_saved_while_running(
    launch_dev_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    """Given a dev server that minted a token and then saved its table on its own (it saves
    every few seconds when data changed), when it is killed without a chance to save, then a new
    start still has the token."""
    state_dir = tmp_path / "state"
    first = launch_dev_server(state_dir, api_key=KNOWN_API_KEY)
    token = create_token(first, KNOWN_API_KEY)
    deadline = time.monotonic() + 15
    while not any(token["uuid"] in path.read_text() for path in state_dir.glob("*.json")):
        assert time.monotonic() < deadline, f"not saved within 15 s: {sorted(state_dir.iterdir())}"
        time.sleep(0.2)
    first.process.kill()
    first.process.wait()

    second = launch_dev_server(state_dir, api_key=KNOWN_API_KEY)

    assert token["uuid"] in listed_token_uuids(second, KNOWN_API_KEY)
    assert scim_status(second, token["token"]) != 401


# --------------------------------------------------------------------- external DynamoDB
def test_an_existing_dynamodb_endpoint_replaces_the_embedded_one(
    launch_dev_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    """Given a DynamoDB-compatible server already running (moto's, without the table), when the
    dev server starts with DYNAMODB_ENDPOINT_URL pointing at it, then it creates the table there,
    keeps its data there, serves no DynamoDB of its own and writes no snapshot."""
    external = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    external.start()
    host, port = external.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    try:
        server = launch_dev_server(tmp_path / "state", environment={"DYNAMODB_ENDPOINT_URL": endpoint_url})
        token = create_token(server, server.api_key)

        assert f"Created table {LOCAL_TABLE_NAME} at {endpoint_url}" in server.log()
        assert f"DynamoDB endpoint: {endpoint_url} (external" in server.log()
        client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1")
        items = client.scan(TableName=LOCAL_TABLE_NAME)["Items"]
        assert any(item.get("uuid", {}).get("S") == token["uuid"] for item in items)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", server.dynamodb_port), timeout=2)
        assert server.stop() == 0, server.log()
        assert not (tmp_path / "state" / f"{LOCAL_TABLE_NAME}.json").exists()
    finally:
        external.stop()
