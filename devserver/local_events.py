"""The service's event bus on ``make dev``: what the functions publish (the change events of
ChangeEventsFunction, fed by the table's stream as in AWS) is kept in memory, each event as an
EventBridge rule hands it to its target, and printed one line each. ``GET /api/v1/dev/events``
(``devserver/dev_only.py``) answers the last ``KEPT`` in the order published, so a developer
sees what a consumer would receive."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from collections import deque
from datetime import UTC
from typing import Any, TextIO

from scim_provisioning.models import ServiceEvent
from scim_provisioning.repository.messaging import EVENT_SOURCE

KEPT = 1_000
# The account an event names locally (moto's default account, as the dev server's ARNs use).
LOCAL_ACCOUNT = "123456789012"


def delivered(event: ServiceEvent, region: str) -> dict[str, Any]:
    """``event`` as EventBridge delivers it to a rule's target: its envelope (a new id per
    delivery, the time to the second, no resources) around the detail, which went through JSON."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": event.detail_type,
        "source": EVENT_SOURCE,
        "account": LOCAL_ACCOUNT,
        "time": event.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [],
        "detail": json.loads(json.dumps(event.detail)),
    }


def summary_line(document: dict[str, Any]) -> str:
    """The dev server's line for a published event: its kind and what it is about (no names:
    the terminal, like the request log, shows ids only)."""
    detail = document["detail"]
    about = " ".join(str(part) for part in (detail.get("resourceType"), detail.get("resourceId")) if part is not None)
    version = f" version {detail['version']}" if "version" in detail else ""
    return f"event {document['detail-type']} {about}{version}".rstrip()


class LocalEventBus:
    """Implements ``EventBus`` for the dev server: nothing is refused, the last ``KEPT`` events
    are kept (thread-safe: the stream's consumers and the requests publish from their threads)."""

    def __init__(self, region: str, out: TextIO | None = None) -> None:
        self._region = region
        self._out = out
        self._events: deque[dict[str, Any]] = deque(maxlen=KEPT)
        self._lock = threading.Lock()

    def publish(self, events: list[ServiceEvent]) -> None:
        documents = [delivered(event, self._region) for event in events]
        with self._lock:
            self._events.extend(documents)
        out = self._out or sys.stdout
        for document in documents:
            out.write(summary_line(document) + "\n")
        out.flush()

    def delivered(self) -> list[dict[str, Any]]:
        """The events kept, oldest first."""
        with self._lock:
            return list(self._events)
