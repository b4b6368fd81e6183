"""The CPU time one call takes, for the tests that bound a request's work (hostile input, fuzz).

Thread CPU time, not wall time, so that other processes on a loaded machine do not count. The
garbage collector's view of what existed before the call is frozen for its duration: late in a
whole test run the process holds millions of objects (moto's tables, earlier tests' fixtures),
and a full collection triggered by the call's own allocations would walk them all, charging the
request for a heap a Lambda function never has. The call's own objects are still collected."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")


def cpu_timed(call: Callable[[], Result]) -> tuple[Result, float]:
    """``call()``'s result and the thread CPU seconds it took."""
    gc.freeze()
    try:
        started = time.thread_time()
        result = call()
        return result, time.thread_time() - started
    finally:
        gc.unfreeze()
