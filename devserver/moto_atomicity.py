"""Make moto's DynamoDB linearizable, as the real service is.

DynamoDB evaluates a condition expression and applies the write atomically; moto checks the
condition and then writes in plain Python, so two threads can both pass the same condition.
The rules of this service (one winner among concurrent rotations, unique userName, no lost
update) are only testable against an emulator that keeps that promise, so the dev server and
the tests serialize every DynamoDB request moto handles. Moto is an in-memory emulator; one
request at a time costs it nothing noticeable."""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_request_lock = threading.RLock()


def make_moto_dynamodb_atomic() -> None:
    """Idempotent: wraps ``DynamoHandler.call_action`` with one process-wide lock."""
    if getattr(DynamoHandler.call_action, "_serialized", False):
        return
    original = DynamoHandler.call_action

    @functools.wraps(original)
    def serialized_call_action(self: DynamoHandler, *args: Any, **kwargs: Any) -> Any:
        with _request_lock:
            return original(self, *args, **kwargs)

    serialized_call_action._serialized = True  # type: ignore[attr-defined]
    DynamoHandler.call_action = serialized_call_action  # type: ignore[method-assign]
