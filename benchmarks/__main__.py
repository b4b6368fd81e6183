"""``make bench``: prints the DynamoDB request tables (token API, SCIM Users, SCIM Groups, the token
guardian's run), a walk of 10,000 users by startIndex, the sequential depth of issue 11's
operations, the dev server at 10,000 users, and the cold-start tables.

Exits 1 when an operation makes more DynamoDB requests than its ceiling allows, or its
sequential depth exceeds its ceiling, or the walk by startIndex reads more than linearly, or
when a Users lookup or cursor page costs more at 100,000 users than at 10, or the token guardian's
run costs more beside 10,000 organizations with nothing to report than beside 10, or a one-member
change costs more in a group of 100,000 than in one of 10, or when the dev server at 10,000
users fails a request (an answer other than the expected 2xx, or none within API Gateway's 29 s).
Wall times never fail the run, since they measure the machine as much as the code: the dev
server's list page is reported against its 2 s target."""

from __future__ import annotations

import argparse
import sys

from benchmarks import (
    cold_start,
    depth,
    devserver_scale,
    groups_costs,
    guardian_costs,
    paging,
    rate_limit_accuracy,
    token_api_costs,
    users_costs,
)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument(
        "--group-size",
        type=int,
        default=groups_costs.DEFAULT_GROUP_SIZE,
        help="members of the large group (default %(default)s; smaller for a quick run)",
    )
    parser.add_argument(
        "--user-count",
        type=int,
        default=users_costs.LARGE,
        help="users of the large organization (default %(default)s; smaller for a quick run)",
    )
    parser.add_argument(
        "--dev-server-users",
        type=int,
        default=devserver_scale.USERS,
        help="users in the dev server check (default %(default)s; smaller for a quick run)",
    )
    parser.add_argument(
        "--paging-users",
        type=int,
        default=paging.ORGANIZATION_SIZE,
        help="users walked by startIndex (default %(default)s; smaller for a quick run)",
    )
    parser.add_argument(
        "--guardian-organizations",
        type=int,
        default=guardian_costs.SIZES[-1],
        help="organizations beside the token guardian's run (default %(default)s; smaller for a quick run)",
    )
    options = parser.parse_args()
    rows = token_api_costs.measure_all()
    print(token_api_costs.report(rows), end="\n\n", flush=True)
    users = users_costs.measure_all(options.user_count)
    print(users_costs.report(users), end="\n\n", flush=True)
    group_rows, group_failures = groups_costs.measure_all(options.group_size)
    print(groups_costs.report(group_rows), end="\n\n", flush=True)
    walk = paging.measure(options.paging_users)
    print(paging.report(walk), end="\n\n", flush=True)
    guardian_rows = guardian_costs.measure_all((10, options.guardian_organizations))
    print(guardian_costs.report(guardian_rows), end="\n\n", flush=True)
    depth_rows = depth.measure_all()
    print(depth.report(depth_rows), end="\n\n", flush=True)
    scale = devserver_scale.measure(options.dev_server_users)
    print(devserver_scale.report(scale), end="\n\n", flush=True)
    print(rate_limit_accuracy.report(rate_limit_accuracy.measure_all()), end="\n\n", flush=True)
    print(cold_start.report())
    exceeded = [row.operation for row in rows if row.exceeded] + users.failures + group_failures + walk.failures
    exceeded += guardian_costs.failures(guardian_rows) + depth.failures(depth_rows) + scale.failures
    if exceeded:
        print(f"\nBenchmark checks failed: {', '.join(exceeded)}", file=sys.stderr)
        return 1
    return 0


sys.exit(main())
