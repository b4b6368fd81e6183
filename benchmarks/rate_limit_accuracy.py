"""How accurate the per-organization rate limit is across concurrent function instances.

The limiter is a token bucket per (warm instance, organization), in memory: each instance
admits up to ``rate`` requests a second of one organization, whatever the others do. Here
several processes (each an instance, with its own limiter) share one organization's flood,
each offered the same number of requests a second for a few seconds, and the requests
admitted by all of them together are counted. One instance admits the limit; N instances
that all see the organization's traffic admit about N times it. That is the figure
docs/decisions.md reports ("Rate limiting per organization")."""

from __future__ import annotations

import multiprocessing
import time
from dataclasses import dataclass

from scim_provisioning.rate_limit import OrganizationRateLimiter

RATE = 20.0
BURST = 20
OFFERED_PER_INSTANCE = 200  # requests a second each instance receives from the flooding organization
SECONDS = 3.0
INSTANCE_COUNTS = (1, 2, 4)


def _instance(admitted: multiprocessing.Queue, start_at: float) -> None:
    """One warm instance: its own limiter, offered OFFERED_PER_INSTANCE requests a second."""
    limiter = OrganizationRateLimiter(RATE, BURST)
    while time.time() < start_at:
        time.sleep(0.001)
    count, interval, sent = 0, 1.0 / OFFERED_PER_INSTANCE, 0
    while time.time() < start_at + SECONDS:
        if limiter.admit("flooding-organization") is None:
            count += 1
        sent += 1
        pause = start_at + sent * interval - time.time()
        if pause > 0:
            time.sleep(pause)
    admitted.put(count)


@dataclass(frozen=True)
class Accuracy:
    instances: int
    offered: int
    admitted: int

    @property
    def admitted_per_second(self) -> float:
        return self.admitted / SECONDS

    @property
    def ratio_to_limit(self) -> float:
        """Admitted over what one bucket allows in the run (its burst, then RATE a second)."""
        return self.admitted / (BURST + RATE * SECONDS)


def measure_one(instances: int) -> Accuracy:
    queue: multiprocessing.Queue = multiprocessing.Queue()
    start_at = time.time() + 0.5
    processes = [multiprocessing.Process(target=_instance, args=(queue, start_at)) for _ in range(instances)]
    for process in processes:
        process.start()
    admitted = sum(queue.get(timeout=SECONDS + 30) for _ in processes)
    for process in processes:
        process.join()
    return Accuracy(instances, int(OFFERED_PER_INSTANCE * SECONDS * instances), admitted)


def measure_all() -> list[Accuracy]:
    return [measure_one(count) for count in INSTANCE_COUNTS]


def report(rows: list[Accuracy]) -> str:
    lines = [
        f"### Per-organization rate limit across instances (rate {RATE:g}/s, burst {BURST}, "
        f"{SECONDS:g} s, {OFFERED_PER_INSTANCE}/s offered to each instance)",
        "",
        "| instances | offered | admitted | admitted/s | admitted ÷ one bucket's allowance |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.instances} | {row.offered:,} | {row.admitted:,} | {row.admitted_per_second:.1f} "
            f"| {row.ratio_to_limit:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(report(measure_all()))
