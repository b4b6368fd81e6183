"""Optimistic writes of users and groups: ETags and If-Match (RFC 7644 §3.14), and the one
read/check/write/retry loop every update and delete of a versioned resource goes through.

Each write names the version it read, and the store refuses it (VersionConflict) if the
resource changed meanwhile. Without If-Match the write is re-read and re-applied, so
concurrent PATCHes all land and none is lost; with If-Match it is a 412."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from scim_provisioning.errors import PreconditionFailed, StillChanging
from scim_provisioning.repository.protocols import VersionConflict
from scim_provisioning.scim.representation import etag

# How often a write that lost an optimistic-lock race is re-read and retried before giving up
# with 409 (docs/decisions.md, "Concurrent writes retry with jitter").
WRITE_ATTEMPTS = 25
RETRY_PAUSE_SECONDS = 0.004


class ChangeInProgress(Exception):
    """The resource has an unfinished large change that its writer is still finishing
    (``services/memberships.py``): retried after a pause, whatever If-Match says, since the
    version has not moved."""


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)
R = TypeVar("R")


def pause_before_retry(attempt: int) -> None:
    """Nothing before the first attempt; then a random pause of up to ``attempt`` steps."""
    if attempt:
        time.sleep(random.uniform(0, RETRY_PAUSE_SECONDS * attempt))  # noqa: S311 - jitter, not a secret


def check_precondition(version: int, if_match: str | None, what: str) -> None:
    """RFC 7644 §3.14: a write with If-Match proceeds only on the version it names."""
    if if_match is None or if_match.strip() == "*":
        return
    accepted = {tag.strip() for tag in if_match.split(",")}
    if etag(version) not in accepted and etag(version).removeprefix("W/") not in accepted:
        raise PreconditionFailed(
            f"If-Match {if_match} does not match the current version of the {what} {etag(version)}"
        )


def write_optimistically(read: Callable[[], V], write: Callable[[V], R], if_match: str | None, what: str) -> R:
    """``write(read())``, retried from a fresh read while ``write`` raises VersionConflict.

    ``read`` raises NotFound when the resource is gone; the current version must match
    If-Match; ``write`` may return early without writing. A conflict under If-Match is a
    412; one that outlasts WRITE_ATTEMPTS is a 409 (StillChanging), never a lost write, and
    so is a change in progress that outlasts them."""
    for attempt in range(WRITE_ATTEMPTS):
        pause_before_retry(attempt)
        current = read()
        check_precondition(current.version, if_match, what)
        try:
            return write(current)
        except ChangeInProgress:
            continue
        except VersionConflict:
            if if_match is not None:
                raise PreconditionFailed(f"The {what} changed since the version given in If-Match") from None
    raise StillChanging(f"The {what} kept changing; retry the request")
