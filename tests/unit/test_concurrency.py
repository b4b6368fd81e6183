"""The table core's concurrency helper, with real threads: calls really run at the same time,
bounded, nested without deadlock, in their caller's context."""

from __future__ import annotations

import contextvars
import threading
import time

import pytest

from scim_provisioning.repository.concurrency import MAX_IN_FLIGHT, side_by_side, start

WAIT = 5.0  # seconds a test waits for threads that should meet at once before it fails


def test_a_fan_out_of_max_in_flight_calls_runs_all_at_once():
    # given calls that can only finish once all of them are running together
    barrier = threading.Barrier(MAX_IN_FLIGHT, timeout=WAIT)

    # when they run side by side
    results = side_by_side([lambda index=index: (barrier.wait(), index)[1] for index in range(MAX_IN_FLIGHT)])

    # then each met the others, and the results keep the calls' order
    assert results == list(range(MAX_IN_FLIGHT))


def test_a_limit_bounds_the_calls_in_flight():
    # given 12 calls that note how many run at the same moment
    lock, running, most = threading.Lock(), [0], [0]

    def call() -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with lock:
            running[0] -= 1

    # when they run with a limit of 3
    side_by_side([call] * 12, limit=3)

    # then never more than 3 ran at once, and 3 did
    assert most[0] == 3


def test_fan_outs_inside_a_full_pool_still_finish():
    # given as many outer calls as the pool has threads, each making a fan-out of its own
    def outer(index: int) -> int:
        return sum(side_by_side([lambda: 1] * 5)) + index

    # when they run
    finished = threading.Event()
    results: list[int] = []

    def run() -> None:
        results.extend(side_by_side([lambda index=index: outer(index) for index in range(MAX_IN_FLIGHT * 2)]))
        finished.set()

    threading.Thread(target=run, daemon=True).start()

    # then the caller's own work lets every nested fan-out finish
    assert finished.wait(30), "deadlocked"
    assert results == [5 + index for index in range(MAX_IN_FLIGHT * 2)]


def test_the_first_failure_is_raised_and_calls_not_begun_are_skipped():
    # given a failing first call and many calls after it, one at a time
    ran: list[int] = []

    def fail() -> None:
        raise ValueError("first")

    # when they run with a limit of 1
    with pytest.raises(ValueError, match="first"):
        side_by_side([fail, *[lambda index=index: ran.append(index) for index in range(10)]], limit=1)

    # then nothing after the failure ran
    assert ran == []


def test_a_started_call_runs_beside_the_caller():
    # given a call that waits for the caller to reach a point
    reached = threading.Event()
    pending = start(lambda: reached.wait(WAIT))

    # when the caller reaches it, then the call, already running, sees it
    reached.set()
    assert pending.result() is True


def test_a_started_call_runs_in_the_caller_when_every_worker_is_busy():
    # given a pool whose every worker is blocked
    release = threading.Event()
    blockers = [start(lambda: release.wait(WAIT)) for _ in range(MAX_IN_FLIGHT)]

    # when another call is started and its result asked for at once
    began = time.monotonic()
    result = start(lambda: threading.current_thread().name).result()

    # then the caller ran it without waiting for a worker
    assert result == threading.current_thread().name
    assert time.monotonic() - began < 1
    release.set()
    assert all(blocker.result() for blocker in blockers)


def test_a_started_call_run_by_its_caller_runs_once_for_every_result():
    # given a pool whose every worker is blocked, and a call started behind them
    release = threading.Event()
    blockers = [start(lambda: release.wait(WAIT)) for _ in range(MAX_IN_FLIGHT)]
    runs: list[str] = []
    pending = start(lambda: runs.append(threading.current_thread().name) or len(runs))

    # when its result is asked for again and again, from this thread and from others
    results = [pending.result(), pending.result()]
    others = [threading.Thread(target=lambda: results.append(pending.result())) for _ in range(4)]
    for other in others:
        other.start()
    for other in others:
        other.join(WAIT)

    # then the call ran once, in the caller, and every result is that run's
    assert runs == [threading.current_thread().name] and results == [1] * 6
    release.set()
    assert all(blocker.result() for blocker in blockers)


def test_a_failure_of_a_call_run_by_its_caller_is_raised_again_without_running_it_again():
    # given a pool whose every worker is blocked, and a failing call started behind them
    release = threading.Event()
    blockers = [start(lambda: release.wait(WAIT)) for _ in range(MAX_IN_FLIGHT)]
    runs: list[int] = []

    def failing() -> None:
        runs.append(1)
        raise LookupError("gone")

    pending = start(failing)

    # when its result is asked for twice
    for _ in range(2):
        with pytest.raises(LookupError):
            pending.result()

    # then it ran once and both asked got its failure
    assert runs == [1]
    release.set()
    assert all(blocker.result() for blocker in blockers)


def test_calls_run_in_their_callers_context():
    # given a context variable set by the caller
    request = contextvars.ContextVar[str]("request")
    request.set("request-1")

    # when calls read it from workers
    seen = side_by_side([request.get] * 4)
    started = start(request.get).result()

    # then each saw the caller's value
    assert seen == ["request-1"] * 4 and started == "request-1"
