"""ChangeEventsFunction: fed by the table's stream (template.yaml: the records its FilterCriteria
pass: users, groups, deletion records, finished membership changes, SCIM token metadata), it
publishes the SCIM change events on the service's bus (``services/change_events.py``).

Records are published in stream order. When EventBridge still refuses an event after the
bus's retries, the answer names that event's record (``ReportBatchItemFailures``): Lambda
keeps the records before it as done and retries from it, in order, then hands the batch to
the on-failure queue (``ChangeEventsFailures``, alarmed). Nothing here reads or writes the
table: the function holds no DynamoDB permission."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scim_provisioning import runtime
from scim_provisioning.observability import tracer
from scim_provisioning.repository.stream import item_changes

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, list[dict[str, str]]]:
    unsent = runtime.current().change_events.publish(item_changes(event))
    if unsent is None:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": event["Records"][unsent]["dynamodb"]["SequenceNumber"]}]}
