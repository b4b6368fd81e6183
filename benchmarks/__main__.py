"""``make bench``: prints the DynamoDB request tables (token API, SCIM Users) and the
cold-start tables.

Exits 1 only when an operation makes more DynamoDB requests than its ceiling allows, or
when a Users lookup or cursor page costs more at 100,000 users than at 10; wall times never
fail the run, since they measure the machine as much as the code."""

from __future__ import annotations

import sys

from benchmarks import cold_start, token_api_costs, users_costs


def main() -> int:
    rows = token_api_costs.measure_all()
    print(token_api_costs.report(rows), end="\n\n", flush=True)
    users = users_costs.measure_all()
    print(users_costs.report(users), end="\n\n", flush=True)
    print(cold_start.report())
    exceeded = [row.operation for row in rows if row.exceeded] + users.failures
    if exceeded:
        print(f"\nDynamoDB request ceiling exceeded: {', '.join(exceeded)}", file=sys.stderr)
        return 1
    return 0


sys.exit(main())
