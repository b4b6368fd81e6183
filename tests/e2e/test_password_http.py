"""Passwords never at rest, end to end: a canary password sent over HTTP through every user
write path of ``make dev`` is in no item of its DynamoDB, no line of its log, and not in the
table export the dev server writes to its state directory."""

from __future__ import annotations

import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.e2e.helpers import DevServer, Scim, mint_scim_token
from tests.scim_samples import entra_user, okta_user, patch_op

pytestmark = pytest.mark.e2e

CANARY = "Canary-Http-Pa55word-91b2"


def test_a_canary_password_is_in_no_item_log_or_export(
    launch_dev_server: Callable[..., DevServer], tmp_path: Path
) -> None:
    # Given a dev server of this test's own and an identity provider's token
    state_dir = tmp_path / "state"
    server = launch_dev_server(state_dir)
    scim = Scim(server, mint_scim_token(server, "Password sync"))

    # When the canary is sent through every user write path
    okta = scim.ok("POST", "/Users", okta_user("okta@acme.test", password=CANARY), status=201)
    entra = scim.ok("POST", "/Users", entra_user("entra@acme.test", password=CANARY), status=201)
    scim.ok("PUT", f"/Users/{okta['id']}", {**okta, "password": CANARY})
    scim.ok("PATCH", f"/Users/{okta['id']}", patch_op({"op": "replace", "value": {"password": CANARY}}))
    scim.ok("PATCH", f"/Users/{entra['id']}", patch_op({"op": "Replace", "path": "password", "value": CANARY}))
    scim.ok("PATCH", f"/Users/{entra['id']}", patch_op({"op": "add", "path": "password", "value": CANARY}))

    # Then no stored item holds it
    assert CANARY not in repr(server.scan())
    # And after a clean stop, neither the log nor the table export in the state directory does
    assert server.stop(signal.SIGTERM) == 0
    assert CANARY not in server.log()
    exports = list(state_dir.glob("*.json"))
    assert exports, "the dev server saves its table to the state directory"
    assert all(CANARY not in export.read_text(encoding="utf-8") for export in exports)
