"""``make chaos``: the Okta- and Entra-shaped workloads against the dev server with DynamoDB
faults at 5% and at 30% (fixed seeds), each run checked and reported; exit status 1 when any
run found an inconsistency.

Environment: CHAOS_SEED (default 14) picks other faults and operations; CHAOS_RATES
(default "0.05,0.3") the rates."""

from __future__ import annotations

import os
import sys
import warnings

from chaos.run import FULL, chaos_run


def main() -> int:
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    seed = int(os.environ.get("CHAOS_SEED") or 14)
    rates = [float(rate) for rate in (os.environ.get("CHAOS_RATES") or "0.05,0.3").split(",")]
    clean = True
    for rate in rates:
        report = chaos_run(rate, seed, FULL)
        print("\n".join(report.lines()), flush=True)
        clean = clean and report.clean
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
