"""Make moto's DynamoDB read what DynamoDB reads: one partition per Query, one page per Scan,
and no whole-table copy per transaction.

Why: moto 5.2.5 answers every Query by sorting the whole table and walking it from the first
item, every Scan page by sorting the table again and walking to its ExclusiveStartKey, and
every TransactWriteItems by deep-copying each table it names (once per item of the
transaction) as its rollback point. At 10,000 users (≈50,000 items) a list page of 100 users
with their groups took minutes and ended in read timeouts, and saving the dev server's
snapshot (Scan pages of 200) was quadratic. DynamoDB's cost is the partition, not the table;
so is the dev server's now.

How, without rewriting moto's query logic (its answers stay moto's own):

- **Sorted runs.** For each table the patch keeps every item in key order (a "run": sorted
  keys and the items beside them), and for each global index with one hash and one range key
  one run per index partition. Write hooks keep them exact: ``Table.put_item`` and
  ``Table.delete_item`` (every write path of moto ends in one of them, PartiQL and batches
  included) and the backend's ``update_item`` (which changes an item in place, index keys
  included). A run is built on the table's first Query or Scan, from the items then stored.
- **Query.** Before moto's ``Table.query`` runs, the patch picks the slice of the run that
  moto's walk can use: the queried partition, cut to the sort-key condition and to the
  ExclusiveStartKey by binary search, plus the first item after the condition's range (moto
  decides ``LastEvaluatedKey`` by looking at the next item). ``Table.all_items`` hands that
  slice to moto instead of the whole table, and moto filters, sorts, pages, projects and
  counts it exactly as before.
- **Scan** of a table (not of an index) hands moto the items from its ExclusiveStartKey on,
  already in moto's order, so a page costs its own size.
- **TransactWriteItems.** While a transaction runs, ``copy.deepcopy`` of one of its tables
  (moto's rollback point) returns a copy-on-write snapshot instead: the partitions the
  transaction writes are copied, the items it updates in place are deep-copied, everything
  else is shared (no other item can change during the transaction). A rolled-back
  transaction leaves the snapshot as the table, and the runs are carried over to it.

One intended difference from moto: moto counts items *outside* the key condition toward its
1 MB page limit when it walks past them; DynamoDB never reads them, and the patch does not
hand them to moto (only the first one after the range). A page can differ only when it would
end by that limit on non-matching items, which no query of this service comes near. And one
fix: a rolled-back transaction keeps the table's stream shard (moto gives the restored table
a new one, so a shard iterator obtained before the rollback never sees a later record; the
dev server's stream consumers poll with such iterators). The shard's records are the same.

Everything else is checked against unpatched moto by tests/integration/test_moto_partitions.py
(``plain_moto()`` turns the patch off for a block): hypothesis drives two twin tables through
the same puts, in-place updates, deletes, batches and transactions (failing ones too), one
with the patch and one without, and compares every Query and Scan answer page by page on
base-table and index queries with every key condition, Limit/ExclusiveStartKey paging, both
scan directions, filters, projections and consistent reads.

Requests must be serialized (moto is not thread-safe, and neither are the runs), so
installing this also installs ``devserver.moto_atomicity``. To drop the patch when moto reads
one partition itself: delete this module and its call sites (``EmbeddedDynamoDB``, the
integration conftest, the benchmarks), run ``make bench``'s dev-server check, and keep the
self-test's twin-table comparison only if moto still needs it (docs/decisions.md)."""

from __future__ import annotations

import copy
import threading
import weakref
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

from devserver.moto_atomicity import make_moto_dynamodb_atomic
from devserver.moto_tables import stored_item, stored_items

_Key = tuple[Any, ...]  # a run's sort key: cast values, compared as moto compares DynamoTypes


class _Unsupported(Exception):
    """A request shape the patch does not narrow: moto answers it on its own."""


# ------------------------------------------------------------------------------ runs
class _Run:
    """Items in key order, keys alongside for binary search.

    A write changes an existing key in place; a new key or a removal waits until the next read
    (``settle``): a bulk load of 100,000 items into one partition would otherwise move the
    whole list on every insert. A few waiting changes are inserted one by one, many are merged
    with one sort of two sorted runs."""

    __slots__ = ("_added", "_removed", "items", "keys")

    def __init__(self, pairs: Iterable[tuple[_Key, Item]] = ()) -> None:
        self._store(pairs)
        self._added: dict[_Key, Item] = {}
        self._removed: set[_Key] = set()

    def _store(self, pairs: Iterable[tuple[_Key, Item]]) -> None:
        ordered = sorted(pairs, key=lambda pair: pair[0])
        self.keys: list[_Key] = [key for key, _ in ordered]
        self.items: list[Item] = [item for _, item in ordered]

    def __len__(self) -> int:
        return len(self.keys) - len(self._removed) + len(self._added)

    def _position(self, key: _Key) -> int | None:
        position = bisect_left(self.keys, key)
        return position if position < len(self.keys) and self.keys[position] == key else None

    def put(self, key: _Key, item: Item) -> None:
        position = self._position(key)
        if position is None:
            self._added[key] = item
        else:
            self._removed.discard(key)
            self.items[position] = item

    def remove(self, key: _Key) -> None:
        if self._added.pop(key, None) is None and self._position(key) is not None:
            self._removed.add(key)

    def settle(self) -> _Run:
        """Apply the waiting changes; ``keys`` and ``items`` are then the run."""
        if len(self._added) + len(self._removed) > _ONE_BY_ONE:
            kept = [(key, item) for key, item in zip(self.keys, self.items, strict=True) if key not in self._removed]
            self._store(kept + list(self._added.items()))
        else:
            for key in self._removed:
                position = bisect_left(self.keys, key)
                del self.keys[position], self.items[position]
            for key, item in self._added.items():
                position = bisect_left(self.keys, key)
                self.keys.insert(position, key)
                self.items.insert(position, item)
        self._added.clear()
        self._removed.clear()
        return self


_ONE_BY_ONE = 32  # waiting changes applied by insertion; more are merged by one sort


def _cast(value: DynamoType) -> Any:
    """What moto orders and compares key values by (DynamoType's ``__lt__``/``__eq__``)."""
    return value.cast_value


def _bucket(value: DynamoType) -> tuple[str, Any]:
    """An index partition's name: equal exactly when moto's ``DynamoType.__eq__`` says so.
    Not the DynamoType itself, which moto may change in place."""
    return value.type, value.cast_value


@dataclass
class _IndexRuns:
    """One global index: a run per index partition, and where each table key sits."""

    hash_attr: str
    range_attr: str
    runs: dict[tuple[str, Any], _Run] = field(default_factory=dict)
    placed: dict[_Key, tuple[tuple[str, Any], _Key]] = field(default_factory=dict)

    def place(self, table_key: _Key, item: Item | None) -> None:
        previous = self.placed.pop(table_key, None)
        if previous is not None:
            bucket, key = previous
            self.runs[bucket].remove(key)
            if not self.runs[bucket]:
                del self.runs[bucket]
        if item is None:
            return
        hash_value, range_value = item.attrs.get(self.hash_attr), item.attrs.get(self.range_attr)
        if hash_value is None or range_value is None:
            return  # not in the index, as moto (and DynamoDB) see it
        bucket, key = _bucket(hash_value), (_cast(range_value), *table_key)
        self.runs.setdefault(bucket, _Run()).put(key, item)
        self.placed[table_key] = bucket, key


def _signature(table: Table) -> tuple[Any, ...]:
    return (
        table.hash_key_attr,
        table.range_key_attr,
        tuple(
            (index.name, tuple((key["AttributeName"], key["KeyType"]) for key in index.schema))
            for index in table.global_indexes
        ),
    )


def _simple_indexes(table: Table) -> dict[str, _IndexRuns]:
    """The global indexes with one hash and one range key; others are left to moto."""
    indexes = {}
    for index in table.global_indexes:
        hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
        ranges = [k["AttributeName"] for k in index.schema if k["KeyType"] == "RANGE"]
        if len(hashes) == 1 and len(ranges) == 1:
            indexes[index.name] = _IndexRuns(hashes[0], ranges[0])
    return indexes


def _table_key(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> _Key:
    return (_cast(hash_key),) if table.range_key_attr is None else (_cast(hash_key), _cast(range_key))  # type: ignore[arg-type]


class _TableRuns:
    """The runs of one table, built from what it stores and kept by the write hooks."""

    def __init__(self, table: Table) -> None:
        self.signature = _signature(table)
        self.indexes = _simple_indexes(table)
        pairs = [(_table_key(table, item.hash_key, item.range_key), item) for item in stored_items(table)]
        self.table = _Run(pairs)
        for key, item in pairs:
            for index in self.indexes.values():
                index.place(key, item)

    def refresh(self, table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
        """Make every run agree with what ``table`` now stores under this key."""
        key, item = _table_key(table, hash_key, range_key), stored_item(table, hash_key, range_key)
        if item is None:
            self.table.remove(key)
        else:
            self.table.put(key, item)
        for index in self.indexes.values():
            index.place(key, item)


_runs: weakref.WeakKeyDictionary[Table, _TableRuns] = weakref.WeakKeyDictionary()
_runs_lock = threading.RLock()  # requests are serialized; this only guards against misuse


def _runs_of(table: Table) -> _TableRuns:
    runs = _runs.get(table)
    if runs is None or runs.signature != _signature(table):  # new table, or its indexes changed
        runs = _runs[table] = _TableRuns(table)
    return runs


def _refresh(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> None:
    runs = _runs.get(table)
    if runs is None:
        return  # built from the stored items on first use
    try:
        runs.refresh(table, hash_key, range_key)
    except TypeError:  # keys of mixed types (moto accepts a wrong-typed index key): stop narrowing
        _runs.pop(table, None)


# ------------------------------------------------------------------------------ narrowing
_bypass: ContextVar[bool] = ContextVar("plain_moto", default=False)
_narrowed: ContextVar[tuple[Table, list[Item]] | None] = ContextVar("narrowed_items", default=None)


@contextmanager
def plain_moto() -> Iterator[None]:
    """Within this block moto reads and rolls back on its own (the self-test's reference);
    writes still keep the runs up to date."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def _bisect_prefix_end(keys: list[_Key], component: int, prefix: Any, low: int, high: int) -> int:
    """First position in [low, high) whose component does not start with ``prefix``, given
    that those that do are contiguous from ``low`` (they are, in key order)."""
    while low < high:
        middle = (low + high) // 2
        if keys[middle][component].startswith(prefix):
            low = middle + 1
        else:
            high = middle
    return low


def _condition_span(
    keys: list[_Key], component: int, comparison: str, values: list[DynamoType], low: int, high: int
) -> tuple[int, int]:
    """The positions in [low, high) whose sort key meets moto's key condition."""

    def left(value: Any) -> int:
        return bisect_left(keys, value, low, high, key=lambda key: key[component])

    def right(value: Any) -> int:
        return bisect_right(keys, value, low, high, key=lambda key: key[component])

    casts = [_cast(value) for value in values]
    operator = comparison.upper()
    if operator in ("=", "EQ"):
        return left(casts[0]), right(casts[0])
    if operator in ("<", "LT"):
        return low, left(casts[0])
    if operator in ("<=", "LE"):
        return low, right(casts[0])
    if operator in (">", "GT"):
        return right(casts[0]), high
    if operator in (">=", "GE"):
        return left(casts[0]), high
    if operator == "BETWEEN":
        start = left(casts[0])
        return start, max(start, right(casts[1]))
    if operator == "BEGINS_WITH":
        start = left(casts[0])
        return start, _bisect_prefix_end(keys, component, casts[0], start, high)
    raise _Unsupported(comparison)


def _slice(
    run: _Run,
    low: int,
    high: int,
    span: tuple[int, int] | None,
    start_key: _Key | None,
    forward: bool,
    limit: int | None,
) -> list[Item]:
    """What moto's walk over [low, high) can use: the items matching the key condition
    (``span``) from the ExclusiveStartKey on, in the scan direction, up to ``limit`` of them
    and one more (moto inspects the next item to decide on ``LastEvaluatedKey``), plus the
    item at the ExclusiveStartKey itself, which moto skips."""
    first, last = span if span is not None else (low, high)
    walk = None if limit is None else limit + 1 + (start_key is not None)
    if forward:
        start = first if start_key is None else max(first, bisect_left(run.keys, start_key, low, high))
        stop = min(last + 1, high)
        if walk is not None:
            stop = min(stop, start + walk)
    else:
        start = max(first - 1, low)
        stop = last if start_key is None else min(last, bisect_right(run.keys, start_key, low, high))
        if walk is not None:
            start = max(start, stop - walk)
    return run.items[start:stop] if start < stop else []


def _start_key(start: dict[str, Any] | None, attributes: list[str]) -> _Key | None:
    """The ExclusiveStartKey as a run key, ``None`` when there is none."""
    if start is None:
        return None
    return tuple(_cast(DynamoType(start[name])) for name in attributes)


def _query_candidates(
    table: Table,
    hash_key: DynamoType | None,
    range_comparison: str | None,
    range_values: list[DynamoType],
    start: dict[str, Any] | None,
    forward: bool,
    limit: int | None,
    index_name: str | None,
    hash_conditions: list[tuple[str, DynamoType]],
    range_conditions: list[tuple[str, str, list[DynamoType]]],
    legacy_filter: bool,
) -> list[Item]:
    runs = _runs_of(table)
    table_attributes = [name for name in (table.hash_key_attr, table.range_key_attr) if name]
    if index_name is None:
        if hash_key is None:
            raise _Unsupported("no partition")
        run, component, partition, key_names = runs.table.settle(), 1, _cast(hash_key), table_attributes
    else:
        index = runs.indexes.get(index_name)
        if index is None or [name for name, _ in hash_conditions] != [index.hash_attr]:
            raise _Unsupported(index_name)
        run = index.runs.get(_bucket(hash_conditions[0][1]), _Run()).settle()
        if range_conditions and [name for name, _, _ in range_conditions] != [index.range_attr]:
            raise _Unsupported(range_conditions)
        component, partition = 0, None
        key_names = [index.range_attr, *table_attributes]
        if start is not None and _bucket(DynamoType(start[index.hash_attr])) != _bucket(hash_conditions[0][1]):
            start = None  # moto then skips all or nothing: it still decides, on the same items
    low, high = 0, len(run.keys)
    if partition is not None:
        low = bisect_left(run.keys, partition, key=lambda key: key[0])
        high = bisect_right(run.keys, partition, low, key=lambda key: key[0])
        if start is not None and _cast(DynamoType(start[table.hash_key_attr])) != partition:
            start = None
    if table.range_key_attr is None and index_name is None:
        return run.items[low:high]  # at most one item
    if legacy_filter:
        # QueryFilter's ScannedCount counts every item of the partition: hand moto all of it.
        return run.items[low:high]
    span = None
    if range_comparison:
        span = _condition_span(run.keys, component, range_comparison, range_values, low, high)
    return _slice(run, low, high, span, _start_key(start, key_names), forward, limit)


def _narrowing(table: Table, candidates: Callable[[], list[Item]]) -> Any:
    """Run moto with ``all_items`` answering ``candidates()``, or as is when not narrowable."""
    if _bypass.get():
        return None
    try:
        with _runs_lock:
            return _narrowed.set((table, candidates()))
    except (_Unsupported, KeyError, TypeError, AttributeError, ValueError):
        return None  # moto answers (or refuses) the request on its own


# ------------------------------------------------------------------------------ rollback
@dataclass
class _RollbackPlan:
    """What one TransactWriteItems writes, per table: enough to snapshot only that."""

    written: dict[int, set[tuple[DynamoType, DynamoType | None]]] = field(default_factory=dict)
    updated: dict[int, set[tuple[DynamoType, DynamoType | None]]] = field(default_factory=dict)
    snapshots: dict[int, tuple[Table, Table]] = field(default_factory=dict)  # id(live) -> (live, copy)

    def snapshot(self, table: Table) -> Table:
        if id(table) in self.snapshots:
            return self.snapshots[id(table)][1]
        # object.__new__, not copy.copy: moto's BaseModel.__new__ keeps every instance forever.
        snapshot = object.__new__(type(table))
        snapshot.__dict__.update(table.__dict__)
        items: Any = copy.copy(table.items)  # the partitions' mapping; partitions still shared
        written = self.written.get(id(table), set())
        if table.range_key_attr is not None:
            for hash_key in {hash_key for hash_key, _ in written}:
                if hash_key in items:
                    items[hash_key] = dict(items[hash_key])
        for hash_key, range_key in self.updated.get(id(table), set()):
            current = stored_item(table, hash_key, range_key)
            if current is None:
                continue
            if table.range_key_attr is None:
                items[hash_key] = copy.deepcopy(current)
            else:
                items[hash_key][range_key] = copy.deepcopy(current)
        snapshot.items = items
        if table.stream_shard is not None:
            shard = object.__new__(type(table.stream_shard))
            shard.__dict__.update(table.stream_shard.__dict__)
            shard.items = list(table.stream_shard.items)
            shard.table = snapshot
            snapshot.stream_shard = shard
        self.snapshots[id(table)] = table, snapshot
        return snapshot


_rollback_plan: ContextVar[_RollbackPlan | None] = ContextVar("rollback_plan", default=None)


def _plan(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> _RollbackPlan:
    plan = _RollbackPlan()
    for entry in transact_items:
        for kind, operation in entry.items():
            table = backend.tables.get(operation.get("TableName"))
            if table is None or kind == "ConditionCheck":
                continue
            attributes = operation["Item"] if kind == "Put" else operation["Key"]
            hash_key = DynamoType(attributes[table.hash_key_attr])
            range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
            plan.written.setdefault(id(table), set()).add((hash_key, range_key))
            if kind == "Update":
                plan.updated.setdefault(id(table), set()).add((hash_key, range_key))
    return plan


def _adopt_rolled_back(backend: DynamoDBBackend, plan: _RollbackPlan) -> None:
    """After a rollback moto's table is the snapshot: carry the runs over, re-reading the
    keys the transaction wrote, and keep the live stream shard (its records as before the
    transaction). moto hands a new shard to the restored table, so every shard iterator a
    stream reader holds (the dev server's consumers poll with one) would read a shard no
    longer written to: every record after the first rollback would be lost to it."""
    for live, snapshot in plan.snapshots.values():
        if backend.tables.get(live.name) is not snapshot:
            continue
        if live.stream_shard is not None and snapshot.stream_shard is not None:
            live.stream_shard.items[:] = snapshot.stream_shard.items
            live.stream_shard.table = snapshot
            snapshot.stream_shard = live.stream_shard
        runs = _runs.pop(live, None)
        if runs is None:
            continue
        _runs[snapshot] = runs
        for hash_key, range_key in plan.written.get(id(live), ()):
            _refresh(snapshot, hash_key, range_key)


# ------------------------------------------------------------------------------ install
def make_moto_dynamodb_partitioned() -> None:
    """Idempotent: patches moto's Table and DynamoDB backend as described above."""
    if getattr(Table.query, "_partitioned", False):
        return
    if "__deepcopy__" in vars(Table):
        raise RuntimeError("moto's Table defines __deepcopy__ now: revisit devserver/moto_partitions.py")
    make_moto_dynamodb_atomic()
    original_query, original_scan, original_all_items = Table.query, Table.scan, Table.all_items
    original_put, original_delete = Table.put_item, Table.delete_item
    original_update, original_transact = DynamoDBBackend.update_item, DynamoDBBackend.transact_write_items

    def all_items(self: Table) -> list[Item]:
        narrowed = _narrowed.get()
        if narrowed is not None and narrowed[0] is self:
            return list(narrowed[1])
        return original_all_items(self)

    def query(
        self: Table,
        hash_key: DynamoType | None,
        range_comparison: str | None,
        range_objs: list[DynamoType],
        limit: int,
        exclusive_start_key: dict[str, Any],
        scan_index_forward: bool,
        projection_expressions: list[list[str]] | None,
        index_name: str | None = None,
        consistent_read: bool = False,
        filter_expression: Any = None,
        hash_key_conditions: list[tuple[str, DynamoType]] | None = None,
        range_key_conditions: list[tuple[str, str, list[DynamoType]]] | None = None,
        **filter_kwargs: Any,
    ) -> Any:
        token = _narrowing(
            self,
            lambda: _query_candidates(
                self,
                hash_key,
                range_comparison,
                range_objs,
                exclusive_start_key,
                scan_index_forward is not False,
                limit,
                index_name,
                hash_key_conditions or [],
                range_key_conditions or [],
                bool(filter_kwargs),
            ),
        )
        try:
            return original_query(
                self,
                hash_key,
                range_comparison,
                range_objs,
                limit,
                exclusive_start_key,
                scan_index_forward,
                projection_expressions,
                index_name,
                consistent_read,
                filter_expression,
                hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions,
                **filter_kwargs,
            )
        finally:
            if token is not None:
                _narrowed.reset(token)

    def scan(self: Table, filters: Any, limit: Any, exclusive_start_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[1] if len(args) > 1 else None)

        def candidates() -> list[Item]:
            if index_name:
                raise _Unsupported(index_name)
            run = _runs_of(self).table.settle()
            names = [name for name in (self.hash_key_attr, self.range_key_attr) if name]
            start = _start_key(exclusive_start_key, names)
            return run.items[bisect_left(run.keys, start) :] if start is not None else list(run.items)

        token = _narrowing(self, candidates)
        try:
            return original_scan(self, filters, limit, exclusive_start_key, *args, **kwargs)
        finally:
            if token is not None:
                _narrowed.reset(token)

    def put_item(self: Table, *args: Any, **kwargs: Any) -> Item:
        item = original_put(self, *args, **kwargs)
        with _runs_lock:
            _refresh(self, item.hash_key, item.range_key)
        return item

    def delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
        item = original_delete(self, hash_key, range_key)
        if item is not None:
            with _runs_lock:
                _refresh(self, item.hash_key, item.range_key)
        return item

    def update_item(self: DynamoDBBackend, table_name: str, key: dict[str, Any], *args: Any, **kwargs: Any) -> Item:
        try:
            return original_update(self, table_name, key, *args, **kwargs)
        finally:  # moto may have changed the item before refusing the update
            table = self.tables.get(table_name)
            if table is not None and table in _runs:
                with _runs_lock:
                    try:
                        hash_key = DynamoType(key[table.hash_key_attr])
                        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
                    except (KeyError, TypeError, IndexError):
                        _runs.pop(table, None)  # a key shape moto accepts and we cannot read: rebuild
                    else:
                        _refresh(table, hash_key, range_key)

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        if _bypass.get():
            return original_transact(self, transact_items)
        try:
            plan = _plan(self, transact_items)
        except (KeyError, TypeError, AttributeError, IndexError, StopIteration):
            return original_transact(self, transact_items)  # malformed: moto refuses it its own way
        token = _rollback_plan.set(plan)
        try:
            return original_transact(self, transact_items)
        finally:
            _rollback_plan.reset(token)
            with _runs_lock:
                _adopt_rolled_back(self, plan)

    def table_deepcopy(self: Table, memo: dict[int, Any]) -> Table:
        plan = _rollback_plan.get()
        if plan is not None:
            return plan.snapshot(self)
        # What copy.deepcopy does for a class without __deepcopy__ (moto's backups use it).
        copied: Table = type(self).__new__(type(self))  # type: ignore[assignment]
        memo[id(self)] = copied
        copied.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return copied

    query._partitioned = True  # type: ignore[attr-defined]
    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    Table.scan = scan  # type: ignore[method-assign]
    Table.put_item = put_item  # type: ignore[method-assign]
    Table.delete_item = delete_item  # type: ignore[method-assign]
    Table.__deepcopy__ = table_deepcopy  # type: ignore[attr-defined]
    DynamoDBBackend.update_item = update_item  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
