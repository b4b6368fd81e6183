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
far from a bottleneck for local development. ``devserver.moto_partitions`` keeps a request's
cost at the size of what it reads, not of the table.

Why a JSON snapshot of the items and not a pickle of moto's backend: the snapshot holds the
items in DynamoDB's own JSON and is read back into a table freshly created from template.yaml,
so it survives a moto upgrade and picks up a new index of the template; it is also readable
when debugging. It reads and writes moto's in-memory table directly, under the same lock as
requests, rather than through Scan and BatchWriteItem: moto spends about 1 ms per item turning
an item into and out of a request, so at 10,000 users (≈50,000 items) a save through the API took
39 s and a restore 19 s, against about 1 s and 3 s directly.
"""

from __future__ import annotations

import base64
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server

from devserver.moto_partitions import make_moto_dynamodb_partitioned
from devserver.moto_tables import moto_table, stored_item, stored_items
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
# Items read or written per hold of the request lock: ≈10 to 20 ms each, so a save or a restore
# never makes a request wait long.
_ITEMS_PER_LOCK = 1_000
# 1: boto3's view of the items (binary values as {"__base64__": …}), written through Scan.
# 2: DynamoDB's JSON as moto stores it (binary values are base64 strings, as on the wire).
_SNAPSHOT_FORMAT = 2

WsgiApplication = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _OneRequestAtATime:
    """WSGI middleware: runs each DynamoDB request alone, as if it were atomic, and counts
    the requests that may have changed data."""

    def __init__(self, application: WsgiApplication) -> None:
        self._application = application
        self.lock = threading.Lock()
        self.changes = 0

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        operation = environ.get("HTTP_X_AMZ_TARGET", "").rpartition(".")[2]
        with self.lock:
            # moto builds the whole response inside the call; nothing is computed lazily later.
            response = self._application(environ, start_response)
            if operation not in _READ_ONLY_OPERATIONS:
                self.changes += 1
        return response


class EmbeddedDynamoDB:
    """moto's DynamoDB served over HTTP on ``host:port`` from a daemon thread."""

    def __init__(self, host: str, port: int) -> None:
        make_moto_dynamodb_partitioned()
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

    def read_items(self, table_arn: str) -> list[dict[str, Any]]:
        """Every item of the table, in DynamoDB's JSON. Read in chunks between requests, each
        item whole: an item written while this runs may be read before or after the write."""
        with self._application.lock:
            keys = [(item.hash_key, item.range_key) for item in stored_items(moto_table(table_arn))]
        items = []
        for start in range(0, len(keys), _ITEMS_PER_LOCK):
            with self._application.lock:
                table = moto_table(table_arn)  # a failed transaction replaces moto's table object
                for hash_key, range_key in keys[start : start + _ITEMS_PER_LOCK]:
                    item = stored_item(table, hash_key, range_key)
                    if item is not None:
                        items.append(item.to_json()["Attributes"])
        return items

    def write_items(self, table_arn: str, items: list[dict[str, Any]]) -> None:
        """Store ``items`` (DynamoDB's JSON) as PutItem would, without a condition."""
        for start in range(0, len(items), _ITEMS_PER_LOCK):
            with self._application.lock:
                table = moto_table(table_arn)
                for item in items[start : start + _ITEMS_PER_LOCK]:
                    table.put_item(item)
            self._application.changes += 1

    def start(self) -> EmbeddedDynamoDB:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class TableSnapshot:
    """All items of one table in a JSON file of the state directory.

    A save taken while requests run may tear between items (never within one); the save at
    shutdown runs after the HTTP server has stopped."""

    def __init__(self, database: EmbeddedDynamoDB, client: Any, table_name: str, path: Path) -> None:
        self._database = database
        self._client = client
        self._table_name = table_name
        self.path = path
        self._saved_changes = database.changes
        self._table_arn: str | None = None

    def has_unsaved_changes(self) -> bool:
        return self._database.changes != self._saved_changes

    @property
    def table_arn(self) -> str:
        if self._table_arn is None:
            self._table_arn = self._client.describe_table(TableName=self._table_name)["Table"]["TableArn"]
        return self._table_arn

    def save(self) -> int:
        """Write every item to the file; returns how many."""
        changes = self._database.changes  # read first: a change made while reading is unsaved
        items = self._database.read_items(self.table_arn)
        document = {"format": _SNAPSHOT_FORMAT, "table": self._table_name, "items": items}
        write_private_json(self.path, document, default=_encode_nested_binary)
        self._saved_changes = changes
        return len(items)

    def restore(self) -> int:
        """Write the file's items into the (new, empty) table; returns how many."""
        document = read_json(self.path, object_hook=_decode_format_1_binary)
        items = [] if document is None else document["items"]
        self._database.write_items(self.table_arn, items)
        self._saved_changes = self._database.changes  # what was just read back needs no saving
        return len(items)


def _encode_nested_binary(value: Any) -> Any:
    """moto hands binary values nested in lists and maps back as bytes: write them as DynamoDB's
    JSON does, in base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode_format_1_binary(mapping: dict[str, Any]) -> Any:
    """Format 1 wrote binary values as ``{"__base64__": …}``: the base64 text is DynamoDB's JSON."""
    if mapping.keys() == {"__base64__"}:
        return mapping["__base64__"]
    return mapping
