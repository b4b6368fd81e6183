"""E2E fixtures: the real dev server (``python -m devserver``, what ``make dev`` runs) in a
subprocess on free ports with its own state directory, driven over real HTTP.

Nothing here starts moto's in-process mock: the tests talk to the dev server, and when they
must look underneath (scan the table, age a token) they talk to its embedded DynamoDB over HTTP,
as any other DynamoDB client would."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import KNOWN_API_KEY, DevServer, start_dev_server


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
