"""What the fault tests share: which requests the proxy breaks, and how many times botocore
sends one. Fixtures are in ``conftest.py``."""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

from devserver.dynamodb_proxy import Fault

# botocore's standard mode as the service configures it (``max_attempts: 4`` counts the
# retries): the first attempt and four retries.
ATTEMPTS = 5


@dataclass
class NextRequests:
    """Fault the next ``count`` requests of ``operation`` with ``fault``, whenever they come."""

    operation: str
    fault: Fault
    count: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    def choose(self, operation: str, occurrence: int) -> Fault | None:
        with self.lock:
            if operation != self.operation or self.count == 0:
                return None
            self.count -= 1
            return self.fault


@dataclass
class FromNow:
    """Fault ``count`` requests of ``operation`` with ``fault``, starting with the one that
    is the ``index``-th of that operation from now on (0: the next): a request and the
    retries botocore sends after it, when ``count`` is ATTEMPTS."""

    operation: str
    index: int
    fault: Fault
    count: int = ATTEMPTS
    seen: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def choose(self, operation: str, occurrence: int) -> Fault | None:
        with self.lock:
            position = self.seen[operation]
            self.seen[operation] += 1
        if operation == self.operation and self.index <= position < self.index + self.count:
            return self.fault
        return None
