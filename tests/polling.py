"""Waiting for what is written after an answer: the activity ingest's log entries, lastUsedAt
and token health arrive a moment after the request (within about half a second on the dev
server, seconds on AWS). Tests poll for the condition with a deadline, never sleep a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

# Ten times what the dev server's subscription needs on a quiet machine: a loaded one is slow.
INGEST_DEADLINE_SECONDS = 5.0
_POLL_INTERVAL_SECONDS = 0.02

T = TypeVar("T")


def eventually(read: Callable[[], T], done: Callable[[T], bool], timeout: float = INGEST_DEADLINE_SECONDS) -> T:
    """``read()`` again until ``done`` holds for its value or ``timeout`` seconds passed; the
    last value either way, for the test's own assertion to show what was there."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() >= deadline:
            return value
        time.sleep(_POLL_INTERVAL_SECONDS)
