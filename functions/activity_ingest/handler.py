"""ActivityIngestFunction: fed by CloudWatch Logs subscription filters on the SCIM and admin
functions' log groups (template.yaml), it writes what their requests' activity records say:
log entries, ``lastUsedAt`` and the SCIM tokens' health (``services/activity_ingest.py``).

CloudWatch Logs invokes it asynchronously with ``{"awslogs": {"data": <base64 of gzip of JSON>}}``
holding a batch of log events of one log stream. A line that is not an activity record is
logged and skipped, never retried: it would fail every retry the same way. Any other failure
raises, so that Lambda retries the whole batch (twice) and then hands it to the on-failure
queue (``ActivityIngestFailures``), where it waits to be replayed (docs/operations.md)."""

from __future__ import annotations

import base64
import gzip
import json
from typing import TYPE_CHECKING, Any

from scim_provisioning import runtime
from scim_provisioning.activity_records import ActivityRecord
from scim_provisioning.observability import logger, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext


def log_events(event: dict[str, Any]) -> list[dict[str, Any]]:
    """The log events of a CloudWatch Logs subscription delivery (none for its CONTROL_MESSAGE,
    the test message CloudWatch sends when the subscription is created)."""
    delivery = json.loads(gzip.decompress(base64.b64decode(event["awslogs"]["data"])))
    if delivery.get("messageType") != "DATA_MESSAGE":
        return []
    return list(delivery.get("logEvents", []))


@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    records = []
    for log_event in log_events(event):
        try:
            records.append(ActivityRecord.from_json(log_event["message"]))
        except ValueError as error:
            logger.warning(
                "Skipped a line that is not an activity record",
                extra={"eventId": log_event.get("id"), "error": str(error)},
            )
    summary = runtime.current().activity_ingest.ingest(records)
    written = {
        "records": summary.records,
        "entries": summary.entries,
        "lastUsedStamps": summary.last_used_stamps,
        "tokenHours": summary.token_hours,
    }
    logger.debug("Activity ingested", extra=written)
    return written
