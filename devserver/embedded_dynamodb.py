"""The dev server's own DynamoDB: moto's server mode in a background thread, and a snapshot of
the table on disk so that ``make dev`` keeps its data across restarts.

Why not ``moto.server.ThreadedMotoServer`` as is: it serves requests on concurrent threads and
moto's DynamoDB backend is not thread-safe. ``transact_write_items`` deep-copies the whole table
as its rollback point while other threads write to it, and restores that copy on failure. With
8 concurrent conditional transactions on one item we measured two winners of one condition, a
committed write that vanished, the write of a refused transaction that stayed, and 500s
("dictionary changed size during iteration"). Real DynamoDB executes each request atomically;
``EmbeddedDynamoDB`` restores that by serving moto's WSGI application (the same one
ThreadedMotoServer serves) behind one lock. One request costs ≈5 ms, so serializing them is
far from a bottleneck for local development.

Why a JSON snapshot of the items and not a pickle of moto's backend: the snapshot is read back
through the public DynamoDB API into a table freshly created from template.yaml, so it survives a
moto upgrade and picks up a new index of the template; it is also readable when debugging.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from devserver.state_files import read_json, write_private_json

# Operations that cannot change the table; any other one (including one this list does not know
# yet) marks the data as changed, so the worst a new operation can cause is one extra save.
_READ_ONLY_OPERATIONS = frozenset(
    {
        "BatchGetItem",
        "DescribeContinuousBackups",
        "DescribeEndpoints",
        "DescribeLimits",
        "DescribeTable",
        "DescribeTimeToLive",
        "GetItem",
        "ListTables",
        "ListTagsOfResource",
        "Query",
        "Scan",
        "TransactGetItems",
    }
)
_BATCH_WRITE_LIMIT = 25  # items per BatchWriteItem request
_SCAN_PAGE_ITEMS = 200  # ≈100 ms of moto's time per page
_SNAPSHOT_FORMAT = 1

WsgiApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _OneRequestAtATime:
    """WSGI middleware: runs each DynamoDB request alone, as if it were atomic, and counts
    the requests that may have changed data."""

    def __init__(self, application: WsgiApplication) -> None:
        self._application = application
        self._lock = threading.Lock()
        self.changes = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        with self._lock:
            # moto builds the whole response inside the call; nothing is computed lazily later.
            response = self._application(environ, start_response)
            if operation not in _READ_ONLY_OPERATIONS:
                self.changes += 1
        return response


class EmbeddedDynamoDB:
    """moto's DynamoDB served over HTTP on ``host:port`` from a daemon thread."""

    def __init__(self, host: str, port: int) -> None:
        self._application = _OneRequestAtATime(DomainDispatcherApplication(create_backend_app))
        # moto's request handler logs every request through werkzeug's logger: keep errors only.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        # Bound here, not by werkzeug: werkzeug exits the process when a port is taken, and the
        # dev server wants an OSError it can explain.
        with socket.create_server((host, port)) as listening:
            self._server: BaseWSGIServer = make_server(
                host,
                port,
                self._application,
                threaded=True,
                request_handler=MotoRequestHandler,
                fd=listening.fileno(),  # werkzeug serves a duplicate of this socket
            )
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-dynamodb", daemon=True)

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def changes(self) -> int:
        """How many requests so far may have changed data; grows, never resets."""
        return self._application.changes

    def start(self) -> EmbeddedDynamoDB:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class TableSnapshot:
    """All items of one table in a JSON file of the state directory.

    moto scans at roughly 0.5 ms per item, and each Scan request holds the lock that serializes
    all requests: small pages keep a save from stalling the API for long. Each page is atomic, so
    a save taken while requests run may tear between pages; the save at shutdown runs after the
    HTTP server has stopped."""

    def __init__(self, database: EmbeddedDynamoDB, client: Any, table_name: str, path: Path) -> None:
        self._database = database
        self._client = client
        self._table_name = table_name
        self.path = path
        self._saved_changes = database.changes

    def has_unsaved_changes(self) -> bool:
        return self._database.changes != self._saved_changes

    def _items(self) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "ConsistentRead": True,
            "Limit": _SCAN_PAGE_ITEMS,
        }
        while True:
            page = self._client.scan(**request)
            yield from page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def save(self) -> int:
        """Write every item to the file; returns how many."""
        changes = self._database.changes  # read first: a change made while scanning is unsaved
        items = list(self._items())
        document = {"format": _SNAPSHOT_FORMAT, "table": self._table_name, "items": items}
        write_private_json(self.path, document, default=_encode_binary)
        self._saved_changes = changes
        return len(items)

    def restore(self) -> int:
        """Write the file's items into the (new, empty) table; returns how many."""
        document = read_json(self.path, object_hook=_decode_binary)
        items = [] if document is None else document["items"]
        for start in range(0, len(items), _BATCH_WRITE_LIMIT):
            batch = items[start : start + _BATCH_WRITE_LIMIT]
            pending: dict[str, Any] = {self._table_name: [{"PutRequest": {"Item": item}} for item in batch]}
            while pending:
                pending = self._client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
        self._saved_changes = self._database.changes  # what was just read back needs no saving
        return len(items)


# Binary attributes (B, BS) come back from boto3 as bytes, which JSON cannot hold.
_BINARY_MARKER = "__base64__"


def _encode_binary(value: Any) -> Any:
    if isinstance(value, bytes):
        return {_BINARY_MARKER: base64.b64encode(value).decode("ascii")}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode_binary(mapping: dict[str, Any]) -> Any:
    if mapping.keys() == {_BINARY_MARKER}:
        return base64.b64decode(mapping[_BINARY_MARKER])
    return mapping
