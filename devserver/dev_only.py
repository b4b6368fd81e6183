"""Routes only the dev server has: what a developer needs to see a scheduled job do its work
now, instead of waiting for its schedule, and what the service publishes. Not in
template.yaml, so never deployed (tests/unit/test_template.py holds the API to that).

``POST /api/v1/dev/guardian/run?now=<ISO 8601>`` runs the token guardian (the scheduled
function's code: the same service on the same table) as if the clock said ``now`` (default:
the real time), and answers what it sent, ``{"events": [...], "notifications": [...]}``, events
as an EventBridge rule's target would get them. Locally nothing else receives them.

``GET /api/v1/dev/events`` answers ``{"events": [...]}``: the last 1,000 events published on
the local bus (``devserver/local_events.py``; the change events), in the order published,
each as an EventBridge rule's target would get it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from benchmarks.harness import FixedClock
from devserver.dispatch import HttpResponse
from devserver.local_events import LocalEventBus, delivered
from scim_provisioning import runtime
from scim_provisioning.models import Notification, ServiceEvent
from scim_provisioning.services.token_guardian import GuardianPolicy, TokenGuardian
from scim_provisioning.timestamps import parse_timestamp

GUARDIAN_RUN_PATH = "/api/v1/dev/guardian/run"
EVENTS_PATH = "/api/v1/dev/events"
SETTINGS_PAGE_PATH = "/settings/scim"

DevRoute = Callable[[str, str], HttpResponse]
"""A dev-only route's handler: (query string, the server's base URL) → answer."""


@dataclass
class RecordingOutbox:
    """The bus and topic of a dev-only run: what the guardian sends is kept to be answered."""

    events: list[ServiceEvent] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)

    def publish(self, events: list[ServiceEvent]) -> None:
        self.events.extend(events)

    def notify(self, notifications: list[Notification]) -> None:
        self.notifications.extend(notifications)


def _json(status: int, document: Any) -> HttpResponse:
    return HttpResponse(status, [("Content-Type", "application/json")], json.dumps(document).encode("utf-8"))


def run_token_guardian(query: str, base_url: str) -> HttpResponse:
    values = parse_qs(query).get("now", [])
    try:
        now = parse_timestamp(values[-1]) if values else datetime.now(UTC)
    except ValueError:
        return _json(400, {"message": f"now must be an ISO 8601 time, e.g. 2026-12-01T09:00:00Z, not {values[-1]!r}"})
    current = runtime.current()
    outbox = RecordingOutbox()
    policy = GuardianPolicy.from_settings(current.settings)
    guardian = TokenGuardian(
        current.stores.scim_tokens,
        current.stores.scim_token_indexes,
        current.stores.token_notices,
        outbox,
        outbox,
        FixedClock(now),
        GuardianPolicy(policy.warning_days, policy.idle_after, base_url + SETTINGS_PAGE_PATH),
    )
    guardian.run()
    return _json(
        200,
        {
            "events": [delivered(event, current.settings.region) for event in outbox.events],
            "notifications": [
                {"subject": notice.subject, "message": notice.message, "attributes": notice.attributes}
                for notice in outbox.notifications
            ],
        },
    )


def dev_only_routes(bus: LocalEventBus) -> dict[tuple[str, str], DevRoute]:
    """The dev server's own routes, ``bus`` being the local bus the functions publish to."""
    return {
        ("POST", GUARDIAN_RUN_PATH): run_token_guardian,
        ("GET", EVENTS_PATH): lambda _query, _base_url: _json(200, {"events": bus.delivered()}),
    }
