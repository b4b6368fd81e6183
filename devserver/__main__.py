"""``make dev``: the whole service on one machine, without AWS and without Docker.

Serves every route of template.yaml over HTTP (``devserver.server``), backed by an embedded
DynamoDB whose data survives restarts (``devserver.embedded_dynamodb``) or by any
DynamoDB-compatible endpoint, delivers the requests' activity records to the activity ingest
as CloudWatch Logs would (``devserver.log_subscription``) and the table's stream to its
consumers as Lambda would (``devserver.streams``), and makes sure a local admin with an API
key exists (``devserver.bootstrap``).

Environment:
  HOST, PORT                 where the API listens (127.0.0.1:3000)
  DYNAMODB_LOCAL_PORT        port of the embedded DynamoDB (8000)
  DYNAMODB_ENDPOINT_URL      use this running DynamoDB instead of the embedded one
  SCIM_LOCAL_STATE_DIR       where data and the local admin are kept (.local)
  SCIM_LOCAL_API_KEY         make this the local admin's API key
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import sys
import threading
import time
import urllib.request
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from devserver.bootstrap import LOCAL_ADMIN_EMAIL, LocalAdmin, ensure_local_admin
from devserver.dev_only import EVENTS_PATH, GUARDIAN_RUN_PATH, dev_only_routes
from devserver.dispatch import Dispatcher
from devserver.embedded_dynamodb import EmbeddedDynamoDB, TableSnapshot
from devserver.environment import apply_lambda_environment, provide_aws_defaults
from devserver.local_events import LocalEventBus
from devserver.log_subscription import LocalLogSubscription
from devserver.server import DevHttpServer
from devserver.streams import LocalTableStream
from devserver.template import PROJECT_ROOT, create_table
from scim_provisioning import runtime
from scim_provisioning.config import LOCAL_TABLE_NAME

HEALTH_PATH = "/api/v1/health"
SCIM_BASE_PATH = "/api/v1/scim/v2/"
TOKEN_API_PATH = "/api/v1/scim/organization-access-tokens"
SETTINGS_PAGE_PATH = "/settings/scim"
EMBEDDED_DYNAMODB_HOST = "127.0.0.1"
# Saving costs ≈0.5 ms per item (moto's Scan): save at most every 2 s, and never spend more than
# a fifth of the time saving, however big the table grows.
SAVE_INTERVAL_SECONDS = 2.0
SAVE_COST_FACTOR = 4
MINTED_TOKEN_LIFETIME = timedelta(days=90)  # of the token the printed curl mints
_API_KEY_SHAPE = re.compile(r"[\x21-\x7e]{1,256}")  # printable, no spaces: pastes into a header


class StartupError(Exception):
    """Why the dev server cannot start, phrased for the developer who ran ``make dev``."""


@dataclass(frozen=True)
class DevSettings:
    host: str
    port: int
    dynamodb_port: int
    dynamodb_endpoint_url: str | None  # None: run the embedded DynamoDB
    state_dir: Path
    requested_api_key: str | None

    @classmethod
    def from_environment(cls) -> DevSettings:
        requested_api_key = os.environ.get("SCIM_LOCAL_API_KEY") or None
        if requested_api_key is not None and not _API_KEY_SHAPE.fullmatch(requested_api_key):
            raise StartupError("SCIM_LOCAL_API_KEY must be 1 to 256 printable characters without spaces")
        return cls(
            host=os.environ.get("HOST") or "127.0.0.1",
            port=_port("PORT", 3000),
            dynamodb_port=_port("DYNAMODB_LOCAL_PORT", 8000),
            dynamodb_endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
            state_dir=Path(os.environ.get("SCIM_LOCAL_STATE_DIR") or PROJECT_ROOT / ".local").resolve(),
            requested_api_key=requested_api_key,
        )

    @property
    def base_url(self) -> str:
        """The URL a client on this machine uses (a wildcard bind address is not one)."""
        host = "127.0.0.1" if self.host == "0.0.0.0" else self.host  # noqa: S104
        return f"http://{host}:{self.port}"


def _port(name: str, default: int) -> int:
    text = os.environ.get(name) or str(default)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise StartupError(f"{name} must be a port number, not {text!r}")
    return int(text)


def _start_embedded_dynamodb(port: int) -> EmbeddedDynamoDB:
    try:
        return EmbeddedDynamoDB(EMBEDDED_DYNAMODB_HOST, port).start()
    except OSError as error:
        raise StartupError(
            f"cannot serve DynamoDB on {EMBEDDED_DYNAMODB_HOST}:{port} ({error.strerror}): set "
            "DYNAMODB_LOCAL_PORT to a free port, or DYNAMODB_ENDPOINT_URL to use a running DynamoDB"
        ) from error


def _ensure_table(client: Any, endpoint_url: str) -> bool:
    """Create the template's table unless the endpoint has it; True when it was created."""
    try:
        client.describe_table(TableName=LOCAL_TABLE_NAME)
        return False
    except client.exceptions.ResourceNotFoundException:
        create_table(client, LOCAL_TABLE_NAME)
        return True
    except (BotoCoreError, ClientError) as error:
        raise StartupError(f"cannot use DynamoDB at {endpoint_url}: {error}") from error


def _bootstrap_record_path(settings: DevSettings) -> Path:
    """One record per store: switching DYNAMODB_ENDPOINT_URL back and forth finds each
    store's own local admin again."""
    if settings.dynamodb_endpoint_url is None:
        return settings.state_dir / "local-admin.json"
    store = re.sub(r"[^A-Za-z0-9]+", "-", settings.dynamodb_endpoint_url).strip("-")
    return settings.state_dir / f"local-admin-{store}.json"


def _bind_http_server(settings: DevSettings, bus: LocalEventBus) -> DevHttpServer:
    """Take the API's port first, so that a port in use fails the start before any data is
    touched; requests wait in the accept queue until the server is serving."""
    dispatcher = Dispatcher(host=settings.base_url.removeprefix("http://"), dev_only=dev_only_routes(bus))
    try:
        return DevHttpServer((settings.host, settings.port), dispatcher)
    except OSError as error:
        raise StartupError(
            f"cannot listen on {settings.host}:{settings.port} ({error.strerror}): set PORT to a free port"
        ) from error


def _wait_until_healthy(health_url: str, timeout_seconds: float = 30) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            # urlopen raises for any error status, so getting here means the route answered.
            with urllib.request.urlopen(health_url, timeout=5):  # noqa: S310 - our own http URL
                return
        except OSError as error:
            if time.monotonic() > deadline:
                raise StartupError(f"{health_url} does not answer: {error}") from error
        time.sleep(0.1)


def _print_banner(settings: DevSettings, admin: LocalAdmin, endpoint_url: str, region: str) -> None:
    token_api_url = settings.base_url + TOKEN_API_PATH
    store = "embedded, kept in " + str(settings.state_dir) if settings.dynamodb_endpoint_url is None else "external"
    # With an expiry, so that the token can be rotated (one without can never be).
    expires_at = (datetime.now(UTC) + MINTED_TOKEN_LIFETIME).strftime("%Y-%m-%dT00:00:00.000Z")
    curl = (
        f"curl -sS -X POST {token_api_url} \\\n"
        f"    -H {shlex.quote('Authorization: ApiKey ' + admin.api_key)} \\\n"
        "    -H 'Content-Type: application/json' \\\n"
        f"""    -d '{{"description": "Okta SCIM token", "expiresAt": "{expires_at}"}}'"""
    )
    print(
        "SCIM provisioning dev server\n"
        f"  SCIM base URL:     {settings.base_url}{SCIM_BASE_PATH}\n"
        f"  Token API URL:     {token_api_url}\n"
        f"  Settings page:     {settings.base_url}{SETTINGS_PAGE_PATH} (sign in with the API key below)\n"
        f"  Token guardian:    POST {settings.base_url}{GUARDIAN_RUN_PATH}?now=<ISO 8601> (dev only)\n"
        f"  Events published:  GET {settings.base_url}{EVENTS_PATH} (dev only; one line each below)\n"
        f"  Admin API key:     {admin.api_key}\n"
        f"  Admin:             {LOCAL_ADMIN_EMAIL}, organization {admin.organization_uuid}\n"
        f"  DynamoDB endpoint: {endpoint_url} ({store}, region {region})\n"
        f"  Table:             {LOCAL_TABLE_NAME}\n"
        f"Mint a SCIM token valid {MINTED_TOKEN_LIFETIME.days} days (an expiry lets you rotate it; "
        "paste it into Okta or Entra ID with the SCIM base URL):\n"
        f"  {curl}",
        flush=True,
    )


def _open_embedded_table(
    settings: DevSettings, region: str, on_exit: contextlib.ExitStack
) -> tuple[str, TableSnapshot]:
    """Start the embedded DynamoDB, create the table and read back the saved items; the table
    is saved again on exit. Returns the endpoint and the table's snapshot."""
    database = _start_embedded_dynamodb(settings.dynamodb_port)
    on_exit.callback(database.stop)
    client = boto3.client("dynamodb", endpoint_url=database.endpoint_url, region_name=region)
    _ensure_table(client, database.endpoint_url)
    snapshot = TableSnapshot(database, client, LOCAL_TABLE_NAME, settings.state_dir / f"{LOCAL_TABLE_NAME}.json")
    try:
        restored = snapshot.restore()
    except (ValueError, KeyError, TypeError, BotoCoreError, ClientError) as error:
        raise StartupError(
            f"cannot restore {snapshot.path} ({error}); move it away to start with an empty table"
        ) from error
    # Registered only now: saving after a failed restore would overwrite the good data.
    on_exit.callback(_save_on_exit, snapshot)
    if restored:
        print(f"Restored {restored} items from {snapshot.path}", flush=True)
    return database.endpoint_url, snapshot


def _open_external_table(endpoint_url: str, region: str) -> str:
    client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
    if _ensure_table(client, endpoint_url):
        print(f"Created table {LOCAL_TABLE_NAME} at {endpoint_url}", flush=True)
    return endpoint_url


def _save_on_exit(snapshot: TableSnapshot) -> None:
    count = snapshot.save()
    print(f"Saved {count} items to {snapshot.path}", flush=True)


def _wait_for_stop(stop_requested: threading.Event, snapshot: TableSnapshot | None) -> None:
    """Wait for Ctrl-C or SIGTERM, saving the embedded table whenever it changed, so that even a
    killed dev server loses at most the last seconds of data."""
    wait_seconds = SAVE_INTERVAL_SECONDS
    while not stop_requested.wait(wait_seconds):
        if snapshot is None or not snapshot.has_unsaved_changes():
            continue
        started = time.monotonic()
        try:
            snapshot.save()
        except OSError as error:
            print(f"Could not save the local table to {snapshot.path}: {error}", file=sys.stderr)
            continue
        wait_seconds = max(SAVE_INTERVAL_SECONDS, SAVE_COST_FACTOR * (time.monotonic() - started))


def run(settings: DevSettings, stop_requested: threading.Event) -> None:
    region = provide_aws_defaults()
    bus = LocalEventBus(region)
    http_server = _bind_http_server(settings, bus)
    with contextlib.ExitStack() as on_exit:  # undone in reverse: HTTP, activity, save, DynamoDB, socket
        on_exit.callback(http_server.server_close)
        snapshot = None
        if settings.dynamodb_endpoint_url is None:
            endpoint_url, snapshot = _open_embedded_table(settings, region, on_exit)
        else:
            endpoint_url = _open_external_table(settings.dynamodb_endpoint_url, region)

        apply_lambda_environment(LOCAL_TABLE_NAME, endpoint_url)
        # The handlers' runtime, built from the environment just set, publishing to the local bus.
        admin = ensure_local_admin(
            runtime.configure(bus=bus), _bootstrap_record_path(settings), settings.requested_api_key
        )
        # Activity records reach the ingest as CloudWatch Logs would deliver them; stopped after
        # the HTTP server, so that the last requests' entries are written before the table is saved.
        on_exit.callback(LocalLogSubscription().install().stop)
        # The table's stream reaches its consumers (the membership janitor, the change events) as
        # Lambda's event source mappings would deliver it.
        on_exit.callback(LocalTableStream(endpoint_url, LOCAL_TABLE_NAME, region).start().stop)

        threading.Thread(target=http_server.serve_forever, name="http", daemon=True).start()
        on_exit.callback(http_server.shutdown)
        _print_banner(settings, admin, endpoint_url, region)
        _wait_until_healthy(settings.base_url + HEALTH_PATH)
        print(f"Ready on {settings.base_url} (Ctrl-C to stop)", flush=True)
        _wait_for_stop(stop_requested, snapshot)
        print("Stopping", flush=True)


def main() -> int:
    stop_requested = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop_requested.set())
    # Handlers that publish no metric make Powertools warn on every request.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    try:
        run(DevSettings.from_environment(), stop_requested)
    except StartupError as error:
        print(f"make dev: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
