"""Counts the DynamoDB requests a piece of code makes, per operation, from botocore's events.

Request counts are what DynamoDB bills and throttles, and unlike wall time they are the same
on every machine and on moto, so they can be asserted. The counter hooks the client's own
event system (no wrapper around the stores), so it sees exactly the calls the real code
makes; it also asks for ``ReturnConsumedCapacity=TOTAL`` and sums what comes back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

READ_OPERATIONS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"})
WRITE_OPERATIONS = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})


@dataclass
class Tally:
    """What one measured block sent to DynamoDB."""

    requests: Counter[str] = field(default_factory=Counter)
    # Items the reads returned or evaluated (a Query's or Scan's ScannedCount, a batch's
    # items, a GetItem's one): what a read costs as it grows with the data.
    items_read: int = 0
    read_units: float = 0.0
    write_units: float = 0.0
    # Operations whose answer carried no ConsumedCapacity (moto reports none for transactions):
    # their units are unknown, so the sums above are incomplete for that kind.
    unreported: set[str] = field(default_factory=set)

    @property
    def reads(self) -> int:
        return sum(count for operation, count in self.requests.items() if operation in READ_OPERATIONS)

    @property
    def writes(self) -> int:
        return sum(count for operation, count in self.requests.items() if operation in WRITE_OPERATIONS)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def by_operation(self) -> str:
        return ", ".join(f"{operation}={count}" for operation, count in sorted(self.requests.items())) or "-"

    def capacity(self) -> str:
        """``RCU x / WCU y``: ``-`` for a kind with no request, ``n/a`` when one of its
        requests reported nothing."""
        return f"RCU {self._units(READ_OPERATIONS, self.reads, self.read_units)} / " + (
            f"WCU {self._units(WRITE_OPERATIONS, self.writes, self.write_units)}"
        )

    def _units(self, kind: frozenset[str], requests: int, units: float) -> str:
        if not requests:
            return "-"
        return "n/a" if self.unreported & kind else f"{units:g}"


@dataclass(frozen=True)
class Ceiling:
    """The most read and write requests an operation may make: more is a regression unless
    the commit that raises the ceiling says why."""

    reads: int
    writes: int

    def exceeded_by(self, tally: Tally) -> bool:
        return tally.reads > self.reads or tally.writes > self.writes


class DynamoDBRequestCounter:
    """Attach to one DynamoDB client; ``with counter.measure() as tally:`` fills ``tally``."""

    def __init__(self, client: Any) -> None:
        self._tally = Tally()
        events = client.meta.events
        events.register("provide-client-params.dynamodb.*", self._ask_for_consumed_capacity)
        # Counted once the answer is in: after-call is emitted for every call that got one,
        # error answers and stubbed ones included, whereas before-call stops at the first
        # handler that answers it (botocore's Stubber does).
        events.register("after-call.dynamodb.*", self._record_answer)

    @contextmanager
    def measure(self) -> Iterator[Tally]:
        tally = self._tally = Tally()
        try:
            yield tally
        finally:
            self._tally = Tally()

    @staticmethod
    def _ask_for_consumed_capacity(params: dict[str, Any], model: Any, **_: Any) -> None:
        if "ReturnConsumedCapacity" in model.input_shape.members:
            params.setdefault("ReturnConsumedCapacity", "TOTAL")

    def _record_answer(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        self._tally.requests[model.name] += 1
        self._tally.items_read += _items_read(model.name, parsed)
        consumed = parsed.get("ConsumedCapacity")
        entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
        if not entries:
            if "ReturnConsumedCapacity" in model.input_shape.members:
                self._tally.unreported.add(model.name)
            return
        for entry in entries:
            if "ReadCapacityUnits" in entry or "WriteCapacityUnits" in entry:
                self._tally.read_units += entry.get("ReadCapacityUnits", 0.0)
                self._tally.write_units += entry.get("WriteCapacityUnits", 0.0)
            elif model.name in READ_OPERATIONS:
                self._tally.read_units += entry.get("CapacityUnits", 0.0)
            else:
                self._tally.write_units += entry.get("CapacityUnits", 0.0)


def _items_read(operation: str, parsed: dict[str, Any]) -> int:
    if operation in ("Query", "Scan"):
        return int(parsed.get("ScannedCount", parsed.get("Count", 0)))
    if operation == "BatchGetItem":
        return sum(len(items) for items in parsed.get("Responses", {}).values())
    if operation == "GetItem":
        return 1 if "Item" in parsed else 0
    return 0
