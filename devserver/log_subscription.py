"""CloudWatch Logs and its subscription filter, played locally: the sink the dev server (and the
tests that read the activity log) install for activity records.

In AWS a record is a line on a function's standard output; CloudWatch Logs matches it against
the subscription filter of template.yaml and delivers matching lines, batched, gzipped and
base64-encoded, to the ActivityIngestFunction, seconds later. Here ``LocalLogSubscription``
takes each line from ``activity_records`` (``install``), a background thread collects what
arrives within ``BATCH_SECONDS``, keeps the lines the template's filter pattern matches, wraps
them in the same event shape and invokes the same ingest handler, loaded from the template's
CodeUri. A failed delivery is retried like Lambda's asynchronous invocation (twice), then
reported on stderr and dropped. ``stop`` delivers what is still queued before it returns."""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import queue
import re
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from devserver.dispatch import load_handler
from devserver.events import LambdaContext
from devserver.template import log_subscription
from scim_provisioning import activity_records

# How long the thread waits after a line for more to batch with it: deliveries stay well
# within half a second of the request, and a burst of requests is one delivery.
BATCH_SECONDS = 0.1
DELIVERY_ATTEMPTS = 3  # Lambda's asynchronous invocation: the first and two retries
LOCAL_LOG_GROUP = "/scim-provisioning/local/devserver"

_CONDITION = re.compile(r'^\$\.(\w+)\s*=\s*(?:"([^"]*)"|(-?\d+))$')


@dataclass(frozen=True)
class FilterPattern:
    """A CloudWatch Logs JSON filter pattern of the shape the template uses: ``{ $.a = 1 &&
    $.b = "text*" }`` (top-level fields, ``=``, numbers or strings with ``*`` wildcards, joined
    by ``&&``). Any other syntax is refused when parsed, so a template change the dev server
    cannot play fails loudly instead of matching differently from AWS."""

    conditions: tuple[tuple[str, str | int], ...]

    @classmethod
    def parse(cls, pattern: str) -> FilterPattern:
        body = pattern.strip()
        if not (body.startswith("{") and body.endswith("}")):
            raise ValueError(f"not a JSON filter pattern: {pattern!r}")
        conditions = []
        for part in body[1:-1].split("&&"):
            matched = _CONDITION.match(part.strip())
            if matched is None:
                raise ValueError(f"unsupported filter condition {part.strip()!r} in {pattern!r}")
            name, text, number = matched.groups()
            conditions.append((name, text if text is not None else int(number)))
        return cls(tuple(conditions))

    def matches(self, line: str) -> bool:
        try:
            event = json.loads(line)
        except ValueError:
            return False  # not JSON: a JSON pattern never matches it
        return isinstance(event, dict) and all(_holds(event.get(name), value) for name, value in self.conditions)


def _holds(actual: Any, expected: str | int) -> bool:
    if isinstance(expected, int):
        return isinstance(actual, int | float) and not isinstance(actual, bool) and actual == expected
    if not isinstance(actual, str):
        return False
    return re.fullmatch(".*".join(map(re.escape, expected.split("*"))), actual, re.S) is not None


def subscription_event(lines: list[str], log_group: str = LOCAL_LOG_GROUP, log_stream: str = "local") -> dict[str, Any]:
    """The event CloudWatch Logs invokes a subscribed function with: ``{"awslogs": {"data":
    base64(gzip(JSON))}}`` holding the lines as log events of one log stream."""
    now = int(time.time() * 1000)
    delivery = {
        "messageType": "DATA_MESSAGE",
        "owner": "123456789012",
        "logGroup": log_group,
        "logStream": log_stream,
        "subscriptionFilters": ["ActivityRecords"],
        "logEvents": [
            {"id": f"{now}{index:08d}", "timestamp": now, "message": line} for index, line in enumerate(lines)
        ],
    }
    data = base64.b64encode(gzip.compress(json.dumps(delivery).encode("utf-8"))).decode("ascii")
    return {"awslogs": {"data": data}}


_STOP = object()


class LocalLogSubscription:
    """The template's subscription (filter pattern and ingest function), fed by a sink."""

    def __init__(self, deliver: Callable[[dict[str, Any], Any], Any] | None = None) -> None:
        subscription = log_subscription()
        self.filter_pattern = FilterPattern.parse(subscription.filter_pattern)
        code = subscription.destination
        self._deliver = deliver or load_handler(code.code_uri, code.handler, f"_local_lambda_{code.logical_id}")
        self._function_name = code.logical_id
        self._lines: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="log-subscription", daemon=True)
        self._streams = itertools.count(1)

    def __call__(self, line: str) -> None:
        """The sink: called on the request's thread, returns at once."""
        self._lines.put(line)

    def install(self) -> LocalLogSubscription:
        """Start delivering, and receive every activity record from now on."""
        self._thread.start()
        activity_records.install_sink(self)
        return self

    def stop(self) -> None:
        """Stop receiving records, deliver those still queued, and end the thread (once)."""
        if not self._thread.is_alive():
            return
        activity_records.install_sink(None)
        self._lines.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch = [self._lines.get()]
            deadline = time.monotonic() + BATCH_SECONDS
            while batch[-1] is not _STOP and (remaining := deadline - time.monotonic()) > 0:
                try:
                    batch.append(self._lines.get(timeout=remaining))
                except queue.Empty:
                    break
            stopping = batch[-1] is _STOP
            lines = [line for line in batch if isinstance(line, str) and self.filter_pattern.matches(line)]
            if lines:
                self._invoke(lines)

    def _invoke(self, lines: list[str]) -> None:
        event = subscription_event(lines, log_stream=f"local-{next(self._streams)}")
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                self._deliver(event, LambdaContext(self._function_name))
                return
            except Exception:
                sys.stderr.write(f"Activity ingest failed (attempt {attempt} of {DELIVERY_ATTEMPTS}):\n")
                traceback.print_exc()
        sys.stderr.write(f"Activity ingest gave up on {len(lines)} record(s); they are not in the table\n")
