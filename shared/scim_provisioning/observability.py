"""Logger and Metrics, set up once for every function.

Nothing here logs request bodies or headers: secrets travel in both. The logger's
correlation id is API Gateway's request id."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

SERVICE_NAME = "scim-provisioning"
METRICS_NAMESPACE = "ScimProvisioning"

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)
