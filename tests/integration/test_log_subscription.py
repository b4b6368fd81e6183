"""The dev server's stand-in for CloudWatch Logs and the subscription filter: activity records
reach the ingest handler from a background thread, as CloudWatch-Logs-shaped events (base64
gzip JSON), within about half a second; only the records the template's filter matches; failed
deliveries retried as Lambda retries them; everything queued delivered on stop."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from devserver.dispatch import Dispatcher
from devserver.log_subscription import DELIVERY_ATTEMPTS, LocalLogSubscription
from functions.activity_ingest.handler import log_events
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, call
from tests.polling import eventually

USERS = "/api/v1/scim/v2/Users"
LOGS = "/api/v1/scim/request-logs"
RECORD = '{"activityRecord":1,"organizationUuid":"%s","id":"x"}'


class Deliveries:
    """A stand-in for the ingest handler: what it was invoked with, failing on demand."""

    def __init__(self, failures: int = 0) -> None:
        self.events: list[tuple[float, list[str]]] = []
        self.attempts = 0
        self.failures = failures
        self.lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> None:
        with self.lock:
            self.attempts += 1
            if self.failures:
                self.failures -= 1
                raise RuntimeError("DynamoDB is down")
            self.events.append((time.monotonic(), [log_event["message"] for log_event in log_events(event)]))

    @property
    def lines(self) -> list[str]:
        with self.lock:
            return [line for _, batch in self.events for line in batch]


@pytest.fixture
def subscription_with(app_runtime: Runtime) -> Iterator[Any]:
    started: list[LocalLogSubscription] = []

    def start(deliveries: Deliveries) -> LocalLogSubscription:
        subscription = LocalLogSubscription(deliveries).install()
        started.append(subscription)
        return subscription

    yield start
    for subscription in started:
        subscription.stop()


def test_a_record_is_delivered_within_half_a_second_as_a_cloudwatch_logs_event(subscription_with):
    """Given the subscription, when a record is emitted, then the ingest is invoked with a
    subscription event its own decoder reads back to that line, within half a second."""
    deliveries = Deliveries()
    subscription = subscription_with(deliveries)
    line = RECORD % "org-1"

    emitted = time.monotonic()
    subscription(line)
    eventually(lambda: deliveries.lines, lambda lines: lines == [line])

    ((delivered_at, batch),) = deliveries.events
    assert batch == [line]
    assert delivered_at - emitted < 0.5


def test_only_records_the_templates_filter_matches_are_delivered(subscription_with):
    """Given a record of an organization, one of an unknown credential and other log lines, then
    only the first reaches the ingest, as in CloudWatch Logs."""
    deliveries = Deliveries()
    subscription = subscription_with(deliveries)

    for line in (RECORD % "org-1", '{"activityRecord":1,"id":"unknown"}', '{"level":"INFO"}', "REPORT x"):
        subscription(line)
    subscription.stop()

    assert deliveries.lines == [RECORD % "org-1"]


def test_a_burst_is_batched_and_stop_delivers_what_is_still_queued(subscription_with):
    """Given 200 records emitted at once, when the subscription stops right away, then every one
    was delivered before stop returned, in few deliveries, none lost or repeated."""
    deliveries = Deliveries()
    subscription = subscription_with(deliveries)
    lines = [RECORD % f"org-{index}" for index in range(200)]

    for line in lines:
        subscription(line)
    subscription.stop()

    assert deliveries.lines == lines
    assert len(deliveries.events) <= 5


def test_a_failed_delivery_is_retried_twice_then_dropped_and_the_next_one_still_goes(
    subscription_with, capsys: pytest.CaptureFixture[str]
):
    """Given an ingest failing twice, then the batch is delivered on the third attempt; failing
    three times, the batch is reported and dropped, and the next batch is delivered anyway."""
    flaky = Deliveries(failures=DELIVERY_ATTEMPTS - 1)
    subscription = subscription_with(flaky)
    subscription(RECORD % "org-1")
    subscription.stop()
    down = Deliveries(failures=DELIVERY_ATTEMPTS)
    subscription = subscription_with(down)
    subscription(RECORD % "org-2")
    eventually(lambda: down.attempts, lambda attempts: attempts == DELIVERY_ATTEMPTS)
    subscription(RECORD % "org-3")  # after the last attempt: a batch of its own
    subscription.stop()

    assert (flaky.attempts, flaky.lines) == (DELIVERY_ATTEMPTS, [RECORD % "org-1"])
    assert (down.attempts, down.lines) == (DELIVERY_ATTEMPTS + 1, [RECORD % "org-3"])
    assert "gave up on 1 record(s)" in capsys.readouterr().err


@pytest.mark.usefixtures("activity_ingest")
def test_a_requests_entry_is_listed_half_a_second_after_its_answer(api: Dispatcher, token: str, admin: AdminFixture):
    """Given the real ingest behind the subscription, when a SCIM request is answered, then the
    request-log API lists its entry about half a second later at most (polled, never a fixed
    wait): the batching window, the ingest's writes and the poll."""
    answered = call(api, "GET", f"{USERS}/missing", token)
    answered_at = time.monotonic()

    def entries() -> list[dict[str, Any]]:
        response = api.handle("GET", LOGS, [("Authorization", admin.authorization)])
        return json.loads(response.body)["results"]["entries"]

    (entry,) = eventually(entries, lambda found: len(found) == 1)
    assert answered.status == 404 and (entry["targetId"], entry["status"]) == ("missing", 404)
    # 0.12-0.23 s measured here; the bound leaves room for a loaded machine.
    assert time.monotonic() - answered_at < 1.0
