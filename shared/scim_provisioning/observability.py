"""Logger, Metrics and Tracer, set up once for every function.

Nothing here logs request bodies or headers: secrets travel in both. The logger's
correlation id is API Gateway's request id.

The tracer sends X-Ray subsegments when the function runs in Lambda with active tracing
(template.yaml) and does nothing elsewhere (Powertools disables it outside Lambda and under
``sam local``). Each handler is one subsegment (``capture_lambda_handler``, always with
``capture_response=False``: answers carry secrets and personal data, and X-Ray would keep them
as metadata), and each DynamoDB request one more (``repository/table.py``). Nothing is patched
(``auto_patch=False``): the table core traces its own requests, and patching every library the
SDK knows would cost every cold start its imports."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE_NAME = "scim-provisioning"
METRICS_NAMESPACE = "ScimProvisioning"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
tracer = Tracer(service=SERVICE_NAME, auto_patch=False)
