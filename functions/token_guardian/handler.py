"""The token guardian's scheduled run (EventBridge Scheduler, ``TokenGuardianSchedule``): one
run of ``TokenGuardian`` on the system clock. Each organization with a token expiring soon
gets its days to that expiry as the CloudWatch metric ``DaysToEarliestTokenExpiry`` (an EMF log
line: no API call), which the ``token-expiry`` alarm watches."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from scim_provisioning import runtime
from scim_provisioning.observability import METRICS_NAMESPACE, logger, tracer

if TYPE_CHECKING:  # typing only: the class costs a cold start nothing then
    from aws_lambda_powertools.utilities.typing import LambdaContext

EARLIEST_EXPIRY_METRIC = "DaysToEarliestTokenExpiry"


@logger.inject_lambda_context
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    run = runtime.current().token_guardian.run()
    stage = os.environ.get("STAGE", "dev")
    for organization_uuid, days in sorted(run.earliest_expiry_days.items()):
        with single_metric(
            name=EARLIEST_EXPIRY_METRIC,
            unit=MetricUnit.NoUnit,
            value=round(days, 3),
            namespace=METRICS_NAMESPACE,
            default_dimensions={"Stage": stage},
        ) as metric:
            metric.add_dimension(name="OrganizationUuid", value=organization_uuid)
    summary = {
        "events": len(run.events),
        "notifications": len(run.notifications),
        "alreadyTold": run.already_told,
        "organizationsExpiringSoon": len(run.earliest_expiry_days),
    }
    logger.info("Token guardian run", extra=summary)
    return summary
