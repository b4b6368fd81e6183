"""The table core's one way to run DynamoDB requests side by side.

On AWS a request's latency is the number of DynamoDB round trips made one after another
(3-8 ms each), not their total: reads that do not depend on each other (a person and its
groups, a group and the check of its new members, a page and its total) must run at the same
time. They do through this module only, never through an ad-hoc pool:

- ``side_by_side(calls, limit)``: run the calls at the same time, at most ``limit`` at once,
  and return their results in order (the first failure is raised once the started calls
  ended; calls not started by then are skipped).
- ``start(call)``: begin a call now and take its result later (``Pending.result()``), for a
  read that overlaps a write (the groups' names while the user's transaction commits).

One pool of ``MAX_IN_FLIGHT`` threads per execution environment, and the client's
connection pool sized to match (``table.CLIENT_CONFIG``), so a fan-out of 100 queries keeps
its connections instead of opening 90 beyond botocore's default 10 and discarding them. The
caller takes part in the work: it runs every call no worker has begun, so a fan-out made
inside another (the 100-key chunks of a batched read that itself runs beside a GetItem)
finishes even when every worker is busy, and can never deadlock the pool. Each call runs in a
copy of its caller's context, so what the request annotates (``activity_annotation``) and
logs keeps its request."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar, cast

T = TypeVar("T")

# The largest fan-out the service makes: the groups of a list page of 100 users (one GSI1
# query each). Threads wait on the network, so on Lambda's one or two vCPUs they cost memory
# (≈8 MB of stack reserved each, little of it touched), not CPU.
MAX_IN_FLIGHT = 100

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _shared_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=MAX_IN_FLIGHT, thread_name_prefix="dynamodb")
    return _pool


class _Calls(Generic[T]):
    """The calls of one ``side_by_side``: each is claimed by exactly one runner (a worker or
    the caller), in order."""

    def __init__(self, calls: Sequence[Callable[[], T]]) -> None:
        self._calls = list(calls)
        self._context = contextvars.copy_context()
        self._next = 0
        self._lock = threading.Lock()
        self.results: list[T | None] = [None] * len(self._calls)
        self.failure: BaseException | None = None

    def _claim(self) -> int | None:
        with self._lock:
            if self._next >= len(self._calls) or self.failure is not None:
                return None
            index = self._next
            self._next += 1
            return index

    def run(self) -> None:
        """Run unclaimed calls until none is left (or one failed)."""
        while (index := self._claim()) is not None:
            try:
                self.results[index] = self._context.copy().run(self._calls[index])
            except BaseException as error:  # handed to the caller, which raises it
                with self._lock:
                    if self.failure is None:
                        self.failure = error


def side_by_side(calls: Sequence[Callable[[], T]], limit: int = MAX_IN_FLIGHT) -> list[T]:
    """The results of ``calls``, run at the same time, at most ``limit`` at once (see the
    module doc). One call, or a limit of 1, runs in the caller's thread alone."""
    work = _Calls(calls)
    helpers: list[Future[None]] = []
    if len(calls) > 1 and limit > 1:
        pool = _shared_pool()
        helpers = [pool.submit(work.run) for _ in range(min(limit, len(calls)) - 1)]
    work.run()
    for helper in helpers:
        # A helper no worker has picked up has nothing left to do: cancelled, never awaited
        # (waiting for it could wait on a pool whose workers all wait on us).
        if not helper.cancel():
            helper.result()
    if work.failure is not None:
        raise work.failure
    return cast("list[T]", work.results)  # every call ran and returned


class Pending(Generic[T]):
    """A call begun by ``start``; ``result()`` waits for it, or runs it in the caller's thread
    when no worker has begun it yet (so a busy pool delays it, never deadlocks it). Either way
    the call runs once: its outcome is kept for every later ``result()``, from any thread (a
    user's group ids are asked for before its write, after it, and by the read of their names)."""

    def __init__(self, call: Callable[[], T]) -> None:
        self._call = call
        self._context = contextvars.copy_context()
        self._lock = threading.Lock()
        self._future: Future[T] = _shared_pool().submit(self._context.copy().run, call)

    def result(self) -> T:
        with self._lock:
            if self._future.cancel():
                self._future = self._run_here()
        return self._future.result()

    def _run_here(self) -> Future[T]:
        """The call run in this thread, its outcome held as a finished future."""
        ran: Future[T] = Future()
        try:
            ran.set_result(self._context.copy().run(self._call))
        except BaseException as error:  # kept for every result(), as a worker's would be
            ran.set_exception(error)
        return ran


def start(call: Callable[[], T]) -> Pending[T]:
    """Begin ``call`` now, beside what the caller does next; its result (or its error) comes
    from ``Pending.result()``."""
    return Pending(call)
