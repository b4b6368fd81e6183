"""What the end-to-end tests share: starting the real dev server (``python -m devserver``,
what ``make dev`` runs) in a subprocess, minting a SCIM token through its token API, and
talking SCIM to it as an identity provider does. Fixtures live in ``conftest.py``; test
modules import from here, never from each other."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from playwright.sync_api import Page, expect

from devserver.template import PROJECT_ROOT
from scim_provisioning.config import LOCAL_TABLE_NAME
from tests.polling import eventually
from tests.scim_samples import ERROR_SCHEMA, LIST_RESPONSE

PAGE = "/settings/scim"  # the settings page
DOCS_SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"
STARTUP_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 30
REQUEST_TIMEOUT_SECONDS = 10  # a hung dev server fails a test instead of hanging the run
# The admin API key the shared servers are started with (SCIM_LOCAL_API_KEY).
KNOWN_API_KEY = "scimadm_0123456789abcdef0123456789abcdef"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class DevServer:
    """One running ``python -m devserver`` and what a test needs to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    dynamodb_port: int
    log_path: Path  # stdout and stderr together, as a developer's terminal shows them
    api_key: str = ""  # as printed in the startup banner

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.dynamodb_port}"

    @property
    def table_name(self) -> str:
        return LOCAL_TABLE_NAME

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"ApiKey {self.api_key}"}

    def url(self, path: str) -> str:
        return self.base_url + path

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def dynamodb(self) -> Any:
        """A client of the dev server's embedded DynamoDB."""
        return boto3.client("dynamodb", endpoint_url=self.dynamodb_endpoint, region_name="us-east-1")

    def scan(self) -> list[dict[str, Any]]:
        client, items, request = self.dynamodb(), [], {"TableName": self.table_name}
        while True:
            page = client.scan(**request)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        """Signal the server as Ctrl-C (SIGINT) or a process manager (SIGTERM) would; its exit code."""
        self.process.send_signal(signum)
        return self.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    def wait_until_ready(self) -> None:
        """Until /api/v1/health answers 200 and the banner's "Ready" line is out."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dev server exited with {self.process.returncode}:\n{self.log()}")
            try:
                healthy = requests.get(self.url("/api/v1/health"), timeout=2).status_code == 200
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or restoring data
                healthy = False
            if healthy and "Ready" in self.log():
                match = re.search(r"Admin API key:\s+(\S+)", self.log())
                assert match, self.log()
                self.api_key = match.group(1)
                return
            time.sleep(0.1)
        raise RuntimeError(f"dev server not ready after {STARTUP_TIMEOUT_SECONDS} s:\n{self.log()}")


def start_dev_server(
    state_dir: Path,
    log_path: Path,
    api_key: str | None = None,
    port: int | None = None,
    dynamodb_port: int | None = None,
    environment: dict[str, str] | None = None,
) -> DevServer:
    """Start ``python -m devserver`` and wait until it is ready; ``environment`` adds variables."""
    process_environment = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port or free_port()),
        "DYNAMODB_LOCAL_PORT": str(dynamodb_port or free_port()),
        "SCIM_LOCAL_STATE_DIR": str(state_dir),
        "PYTHONUNBUFFERED": "1",
    }
    for inherited in ("DYNAMODB_ENDPOINT_URL", "SCIM_LOCAL_API_KEY", "TABLE_NAME"):
        process_environment.pop(inherited, None)
    if api_key is not None:
        process_environment["SCIM_LOCAL_API_KEY"] = api_key
    process_environment.update(environment or {})
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devserver"],
            cwd=PROJECT_ROOT,
            env=process_environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = DevServer(
        process=process,
        port=int(process_environment["PORT"]),
        dynamodb_port=int(process_environment["DYNAMODB_LOCAL_PORT"]),
        log_path=log_path,
    )
    try:
        server.wait_until_ready()
    except BaseException:
        process.kill()
        process.wait()
        raise
    return server


SCIM_BASE_PATH = "/api/v1/scim/v2"
TOKEN_API_PATH = "/api/v1/scim/organization-access-tokens"
REQUEST_LOGS_PATH = "/api/v1/scim/request-logs"


def activity_entries(server: DevServer, query: str = "") -> list[dict[str, Any]]:
    """The first page of the admin's activity log (``query`` as given, e.g. ``?status=failure``)."""
    response = requests.get(
        server.url(REQUEST_LOGS_PATH + query), headers=server.admin_headers, timeout=REQUEST_TIMEOUT_SECONDS
    )
    assert response.status_code == 200, response.text
    return response.json()["results"]["entries"]


def token_last_used(server: DevServer, token_uuid: str) -> str | None:
    """The token's ``lastUsedAt`` once the activity ingest stamped it (None at the deadline)."""

    def read() -> str | None:
        response = requests.get(
            server.url(f"{TOKEN_API_PATH}/{token_uuid}"), headers=server.admin_headers, timeout=REQUEST_TIMEOUT_SECONDS
        )
        assert response.status_code == 200, response.text
        return response.json()["results"]["lastUsedAt"]

    return eventually(read, lambda last_used: last_used is not None)


def mint_scim_token(server: DevServer, description: str) -> str:
    """A SCIM bearer secret minted through the token API, as an admin does before pasting it
    into Okta or Entra: the SCIM tests authenticate exactly as an identity provider would."""
    response = requests.post(
        server.url(TOKEN_API_PATH),
        json={"description": description, "expiresAt": None},
        headers=server.admin_headers,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )
    assert response.status_code == 201, response.text
    return response.json()["results"]["token"]


SCIM_JSON = "application/scim+json"


class Scim:
    """An identity provider's connection: base URL plus ``Authorization: Bearer <token>``."""

    def __init__(self, server: DevServer, token: str) -> None:
        self.base = server.url(SCIM_BASE_PATH)
        self.headers = {"Authorization": f"Bearer {token}", "Accept": SCIM_JSON, "Content-Type": SCIM_JSON}

    def request(self, method: str, path: str, body: Any = None, **options: Any) -> requests.Response:
        # A session per call: concurrent tests share no connection, as separate IdP workers don't.
        return requests.request(
            method,
            self.base + path,
            json=body,
            headers={**self.headers, **options.pop("headers", {})},
            timeout=REQUEST_TIMEOUT_SECONDS,
            **options,
        )

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> dict[str, Any]:
        response = self.request(method, path, body)
        assert response.status_code == status, response.text
        assert response.headers["Content-Type"].startswith(SCIM_JSON)
        return response.json()

    def listed(self, query: str) -> dict[str, Any]:
        """``GET /Users?<query>`` with the query string exactly as given (already encoded)."""
        found = self.ok("GET", f"/Users?{query}")
        assert found["schemas"] == [LIST_RESPONSE]
        return found


def assert_scim_error(response: requests.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith(SCIM_JSON)
    error = response.json()
    assert error["schemas"] == [ERROR_SCHEMA]
    assert error["status"] == str(status)
    if scim_type is not None:
        assert error.get("scimType") == scim_type, error
    return error


def unique_name(prefix: str) -> str:
    """Each test provisions its own people: the module shares one organization."""
    return f"{prefix}.{uuid.uuid4().hex[:8]}@acme.test"


# ------------------------------------------------------------------ the browser
def chromium_path() -> str:
    """Debian's chromium (``make browser`` installs it); CHROMIUM_PATH overrides. Never skipped:
    a missing browser fails the run with the way to fix it."""
    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.fail(
            f"Chromium not found at {path}: run `make browser` (apt-get install -y chromium) "
            "or set CHROMIUM_PATH; the settings page tests need a real browser"
        )
    return path


def sign_in(page: Page, dev_server: DevServer) -> None:
    """Open the settings page and sign in with the server's admin key, until the console and
    the activity log's first page are in."""
    page.goto(dev_server.url(PAGE))
    page.get_by_label("Admin API key").fill(dev_server.api_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#console")).to_be_visible()
    expect(page.locator("#activity-status")).not_to_be_empty()  # the log's first page is in
