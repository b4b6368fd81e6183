"""A short, fixed-seed slice of ``make chaos`` (``chaos.run``): the dev server with 30% of its
DynamoDB requests faulted, an Okta- and an Entra-shaped workload at once over HTTP (deletes
racing adds among them), then the consistency checker over the whole table.

The slice leaves out answers held past the read timeout: each holds a request five seconds,
and ``tests/integration/faults/test_write_paths.py`` holds every write path's commit that way;
``make chaos`` sends every kind at 5% and at 30% with larger workloads."""

from __future__ import annotations

from pathlib import Path

from chaos.run import SLICE, chaos_run
from devserver.dynamodb_proxy import Fault

SEED = 14
QUICK_FAULTS = tuple(fault for fault in Fault if fault is not Fault.SLOW_ANSWER)


def test_a_chaos_slice_at_30_percent_leaves_no_inconsistency(tmp_path: Path):
    # given the dev server behind the fault proxy, when both workloads run at 30% faults
    report = chaos_run(0.3, SEED, SLICE, QUICK_FAULTS, tmp_path)

    # then faults were injected, and the checker found nothing: no broken rule, no orphaned
    # membership, no lost activity entry, no answer but 2xx/4xx or 503/429 with Retry-After
    summary = "\n".join(report.lines())
    assert sum(report.faults.values()) > 0.2 * report.dynamodb_requests, summary
    assert report.clean, summary
