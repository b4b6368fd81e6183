"""Benchmarks run by ``make bench`` (``python -m benchmarks``).

Two kinds of numbers, kept apart on purpose: DynamoDB request counts per operation
(deterministic, asserted against ceilings: a new request on a hot path must be a decision)
and cold-start wall times (machine-dependent, printed for information only)."""

from __future__ import annotations

import os
from collections.abc import Sequence

# The benchmarks measure the service's own costs, not the per-organization rate limit (which
# makes no DynamoDB request): it is off for the handlers and dev servers any of them runs
# (``make bench`` or one part alone), and measured on its own (rate_limit_accuracy).
os.environ.setdefault("ORG_RATE_LIMIT_PER_SECOND", "0")


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table with left-aligned columns, readable in a terminal and in CI logs."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    rule = "-+-".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])
