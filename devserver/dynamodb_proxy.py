"""An HTTP proxy in front of a DynamoDB endpoint (normally the embedded one) that delays, records
and, on request, breaks DynamoDB requests the way the real service and the network do.

Two uses:

- **Depth** (``make bench``): with a fixed delay per request, the requests of one API call and
  their start and end times (``time.monotonic``) show how many round trips happen one after
  another. On AWS each round trip costs 3-8 ms; in moto the calls are too fast to tell a chain
  from a fan-out, the delay makes the difference visible.
- **Faults** (``make chaos``, issue 14): a seeded share of the requests is answered as DynamoDB
  or the network would answer it: throttling (HTTP 400 ``ProvisionedThroughputExceededException``
  or ``ThrottlingException``), HTTP 500 ``InternalServerError``, an answer held past the
  client's read timeout after the request was applied, a connection dropped before forwarding
  (nothing applied) and one dropped after forwarding (applied, but the client never hears).

Because a retried request after a dropped or late answer is the normal case under faults, the
proxy does for ``TransactWriteItems`` what DynamoDB does and moto does not: a repeat of a
transaction with the same ``ClientRequestToken`` (botocore sends the same token on every
retry) within 10 minutes is answered with the first success without being applied again;
with different parameters it is refused (``IdempotentParameterMismatchException``), and while
the first is still running it is refused too (``TransactionInProgressException``). A first
attempt that failed is not remembered: its retry is a new transaction (DynamoDB keeps only
completed ones, and a failed transaction changed nothing).

Usage::

    with DynamoDBProxy(embedded.endpoint_url, delay_seconds=0.05) as proxy:
        client = boto3.client("dynamodb", endpoint_url=proxy.endpoint_url)
        ...
        exchanges = proxy.exchanges()

    proxy.faults = FaultPolicy(rate=0.3, seed=7)  # from now on: 30 % of requests, any fault
    proxy.faults = ScriptedFaults({("TransactWriteItems", 0): Fault.DROP_AFTER})  # exactly this one
"""

from __future__ import annotations

import enum
import hashlib
import http.client
import json
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol
from urllib.parse import urlsplit

_JSON = "application/x-amz-json-1.0"
_ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length"})
IDEMPOTENCY_WINDOW_SECONDS = 600.0  # DynamoDB keeps a ClientRequestToken for 10 minutes
# DynamoDB's data-plane operations, what the service's code sends: anything else through the
# proxy (the dev server's stream poller's GetRecords, a DescribeTable) is not a request's work.
DATA_OPERATIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)


class Fault(enum.Enum):
    """What the proxy can do instead of (or besides) forwarding a request."""

    THROTTLED = "ProvisionedThroughputExceededException (HTTP 400)"
    THROTTLING = "ThrottlingException (HTTP 400)"
    INTERNAL_ERROR = "InternalServerError (HTTP 500)"
    SLOW_ANSWER = "applied, answered after the client's read timeout"
    DROP_BEFORE = "connection dropped, request not forwarded"
    DROP_AFTER = "request applied, connection dropped before the answer"


# The error answers DynamoDB sends (JSON 1.0 protocol: ``__type`` names the error).
_ERROR_ANSWERS: dict[Fault, tuple[int, str, str]] = {
    Fault.THROTTLED: (
        400,
        "ProvisionedThroughputExceededException",
        "The level of configured provisioned throughput for the table was exceeded. "
        "Consider increasing your provisioning level with the UpdateTable API.",
    ),
    Fault.THROTTLING: (400, "ThrottlingException", "Rate of requests exceeds the allowed throughput."),
    Fault.INTERNAL_ERROR: (500, "InternalServerError", "Internal server error"),
}


class Faults(Protocol):
    """Decides which requests fail. ``occurrence`` counts the earlier requests of the same
    operation since the proxy started, so a decision never depends on other operations'
    interleaving."""

    def choose(self, operation: str, occurrence: int) -> Fault | None: ...


@dataclass(frozen=True)
class FaultPolicy:
    """A share of the requests fails, each with one of ``kinds``. The decision for a request is
    a pure function of the seed, its operation and its occurrence: the same seed and the same
    requests break the same ones."""

    rate: float
    kinds: tuple[Fault, ...] = tuple(Fault)
    seed: int = 0
    operations: Collection[str] | None = None  # only these operations (None: every one)

    def choose(self, operation: str, occurrence: int) -> Fault | None:
        if self.operations is not None and operation not in self.operations:
            return None
        chance = random.Random(f"{self.seed}:{operation}:{occurrence}")  # noqa: S311 - not security
        if chance.random() >= self.rate:
            return None
        return chance.choice(self.kinds)


@dataclass(frozen=True)
class ScriptedFaults:
    """Exactly the listed requests fail: ``{("TransactWriteItems", 0): Fault.DROP_AFTER}`` drops
    the answer of the first transaction and nothing else."""

    script: Mapping[tuple[str, int], Fault]

    def choose(self, operation: str, occurrence: int) -> Fault | None:
        return self.script.get((operation, occurrence))


@dataclass(frozen=True)
class Exchange:
    """One request as the proxy saw it. ``ended`` is when its answer was sent (or the connection
    closed); ``status`` is None when the client got no answer."""

    operation: str
    started: float
    ended: float
    status: int | None
    fault: Fault | None
    replayed: bool  # answered from the idempotency record, not forwarded
    body: bytes = field(repr=False)

    def request(self) -> dict[str, Any]:
        """The request's parameters (DynamoDB JSON)."""
        return json.loads(self.body or b"{}")


@dataclass
class _Answer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


@dataclass
class _TokenRecord:
    fingerprint: str
    answer: _Answer | None  # None while the first attempt runs
    at: float


class _Drop(Exception):
    """Close the client's connection without an answer."""


class _ProxyServer(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a fan-out of 40 new connections at once (a
    # 1,000-member change's batched writes) would see some SYNs dropped and resent a second
    # later, which shows as depth that DynamoDB's front end would not add.
    request_queue_size = 256


class DynamoDBProxy:
    """Serves on ``endpoint_url`` and forwards to ``upstream_url``; a daemon thread per client
    connection, like DynamoDB's front end, so concurrent requests stay concurrent."""

    def __init__(
        self,
        upstream_url: str,
        host: str = "127.0.0.1",
        port: int = 0,
        delay_seconds: float = 0.0,
        faults: Faults | None = None,
        slow_answer_seconds: float = 6.0,  # past the 5 s read timeout the service gives botocore
    ) -> None:
        self.delay_seconds = delay_seconds
        self.faults = faults
        self.slow_answer_seconds = slow_answer_seconds
        upstream = urlsplit(upstream_url)
        self._upstream = upstream.hostname or "127.0.0.1", upstream.port or 80
        self._exchanges: list[Exchange] = []
        self._occurrences: Counter[str] = Counter()
        self._tokens: dict[str, _TokenRecord] = {}
        self._lock = threading.Lock()
        self._server = _ProxyServer((host, port), _handler_class(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="dynamodb-proxy", daemon=True
        )

    # -- lifecycle
    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DynamoDBProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def __enter__(self) -> DynamoDBProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    # -- records
    def exchanges(self) -> list[Exchange]:
        """What was recorded since the start or the last ``clear()``, in the order answered."""
        with self._lock:
            return list(self._exchanges)

    def clear(self) -> None:
        with self._lock:
            self._exchanges.clear()

    def _record(self, exchange: Exchange) -> None:
        with self._lock:
            self._exchanges.append(exchange)

    def _fault_for(self, operation: str) -> Fault | None:
        faults = self.faults
        with self._lock:
            occurrence = self._occurrences[operation]
            self._occurrences[operation] += 1
        return None if faults is None else faults.choose(operation, occurrence)

    # -- ClientRequestToken
    def _claim_token(self, body: bytes) -> tuple[str | None, _Answer | None]:
        """For a TransactWriteItems: (its token, to record its answer under) or (None, the
        answer DynamoDB gives a repeat without applying it)."""
        request = json.loads(body or b"{}")
        token = request.get("ClientRequestToken")
        if not token:
            return None, None
        fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            record = self._tokens.get(token)
            if record is not None and now - record.at > IDEMPOTENCY_WINDOW_SECONDS:
                record = None
            if record is None:
                self._tokens[token] = _TokenRecord(fingerprint, None, now)
                return token, None
        if record.fingerprint != fingerprint:
            return None, _error_answer(
                400, "IdempotentParameterMismatchException", "Request parameters do not match the request token"
            )
        if record.answer is None:
            return None, _error_answer(400, "TransactionInProgressException", "Transaction is in progress")
        return None, record.answer

    def _settle_token(self, token: str, answer: _Answer | None) -> None:
        with self._lock:
            if answer is not None and answer.status == 200:
                self._tokens[token] = _TokenRecord(self._tokens[token].fingerprint, answer, time.monotonic())
            else:
                self._tokens.pop(token, None)  # a failed transaction changed nothing: a retry is new

    # -- one request
    def answer(self, operation: str, headers: list[tuple[str, str]], body: bytes, upstream: _Upstream) -> _Answer:
        """The answer to send; raises ``_Drop`` to close the connection instead."""
        started = time.monotonic()
        fault = self._fault_for(operation)
        answer: _Answer | None = None
        replayed = False
        try:
            if self.delay_seconds:
                time.sleep(self.delay_seconds)
            if fault is Fault.DROP_BEFORE:
                raise _Drop
            if fault in _ERROR_ANSWERS:
                answer = _error_answer(*_ERROR_ANSWERS[fault])
                return answer
            token = None
            if operation == "TransactWriteItems":
                token, answer = self._claim_token(body)
                if answer is not None:
                    replayed = True
                    return answer
            try:
                answer = upstream.forward(headers, body)
            finally:
                if token is not None:
                    self._settle_token(token, answer)
            if fault is Fault.DROP_AFTER:
                raise _Drop
            if fault is Fault.SLOW_ANSWER:
                time.sleep(self.slow_answer_seconds)
            return answer
        finally:
            heard = answer is not None and fault not in (Fault.DROP_BEFORE, Fault.DROP_AFTER)
            status = answer.status if heard and answer is not None else None
            self._record(Exchange(operation, started, time.monotonic(), status, fault, replayed, body))


def _error_answer(status: int, code: str, message: str) -> _Answer:
    body = json.dumps({"__type": _ERROR_PREFIX + code, "message": message}).encode()
    return _Answer(status, [("Content-Type", _JSON), ("x-amzn-RequestId", str(uuid.uuid4()))], body)


class _Upstream:
    """One keep-alive connection to the upstream endpoint, per client connection."""

    def __init__(self, address: tuple[str, int]) -> None:
        self._address = address
        self._connection: http.client.HTTPConnection | None = None

    def forward(self, headers: list[tuple[str, str]], body: bytes) -> _Answer:
        for attempt in (1, 2):  # the upstream may have closed an idle connection
            if self._connection is None:
                self._connection = http.client.HTTPConnection(*self._address, timeout=120)
            try:
                self._connection.request("POST", "/", body=body, headers=dict(headers))
                response = self._connection.getresponse()
                payload = response.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.will_close:
                self.close()
            kept = [(name, value) for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP]
            return _Answer(response.status, kept, payload)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _handler_class(proxy: DynamoDBProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def setup(self) -> None:
            super().setup()
            self.upstream = _Upstream(proxy._upstream)

        def finish(self) -> None:
            self.upstream.close()
            super().finish()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            operation = (self.headers.get("X-Amz-Target") or "").rpartition(".")[2]
            headers = [(name, value) for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP]
            headers.append(("Content-Length", str(len(body))))
            try:
                answer = proxy.answer(operation, headers, body, self.upstream)
            except _Drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            try:
                self.send_response_only(answer.status)
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up waiting (a slow answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the exchanges are the log."""

    return Handler
