"""E2E fixtures: the real dev server (``python -m devserver``, what ``make dev`` runs) in a
subprocess on free ports with its own state directory, driven over real HTTP.

Nothing here starts moto's in-process mock: the tests talk to the dev server, and when they
must look underneath (scan the table, age a token) they talk to its embedded DynamoDB over HTTP,
as any other DynamoDB client would."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, sync_playwright

from tests.e2e.helpers import DOCS_SCREENSHOTS, KNOWN_API_KEY, DevServer, chromium_path, start_dev_server


@pytest.fixture(scope="module")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """One dev server per test module, admin key ``KNOWN_API_KEY``; it must stop cleanly."""
    directory = tmp_path_factory.mktemp("dev-server")
    server = start_dev_server(directory / "state", directory / "dev-server.log", api_key=KNOWN_API_KEY)
    yield server
    assert server.stop(signal.SIGTERM) == 0, server.log()


@pytest.fixture
def launch_dev_server(tmp_path: Path) -> Iterator[Callable[..., DevServer]]:
    """Start dev servers of the test's own (``start_dev_server``'s arguments); any still running
    at the end of the test is killed."""
    launched: list[DevServer] = []

    def launch(state_dir: Path, **options: Any) -> DevServer:
        log_path = tmp_path / f"dev-server-{len(launched) + 1}.log"
        server = start_dev_server(state_dir, log_path, **options)
        launched.append(server)
        return server

    yield launch
    for server in launched:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


# ------------------------------------------------------------- the settings page
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        # --no-sandbox: CI and this machine run as root, where Chromium's sandbox cannot start.
        launched = playwright.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def screenshots(tmp_path: Path) -> Path:
    """Where a browser test saves its screenshots: docs/screenshots/ (which the README shows)
    with ``UPDATE_SCREENSHOTS=1`` (``make screenshots``), else the test's temporary directory."""
    directory = DOCS_SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def context(browser: Browser, dev_server: DevServer) -> Iterator[BrowserContext]:
    created = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    created.grant_permissions(["clipboard-read", "clipboard-write"], origin=dev_server.base_url)
    yield created
    created.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on any console error (a CSP violation is one)."""
    opened = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # The 400 (second rotation) and 401s the journey provokes are the API's answers,
        # which the page shows; any other error (a 404 asset, a CSP violation) is a bug.
        expected = "Failed to load resource" in message.text and re.search(r"status of 40[01]\b", message.text)
        if message.type == "error" and not expected:
            errors.append(message.text)

    opened.on("console", on_console)
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    assert errors == []
