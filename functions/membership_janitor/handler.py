"""MembershipJanitorFunction: fed by the table's stream (template.yaml: the records its
FilterCriteria pass: memberships written, users and groups deleted, large membership changes
begun), it removes memberships that point to nothing and completes unfinished large changes
(``services/janitor.py``).

A failure raises: Lambda retries the batch (halving it on each failure to isolate a bad record),
then hands what still fails to the on-failure queue (``MembershipJanitorFailures``, alarmed).
Every repair is idempotent, so a retried batch does no harm. An alarm on the stream's iterator
age says when the janitor falls behind (docs/operations.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scim_provisioning import runtime
from scim_provisioning.observability import tracer
from scim_provisioning.repository.stream import item_changes

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    changes = item_changes(event)
    runtime.current().janitor.handle(changes, lambda: context.get_remaining_time_in_millis() / 1000)
    return {"records": len(changes)}
