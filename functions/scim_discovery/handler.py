"""SCIM discovery routes (no authentication) and the SCIM 404 for any unknown SCIM path."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from scim_provisioning.http.scim import install_error_handlers
from scim_provisioning.observability import logger

app = APIGatewayRestResolver()
install_error_handlers(app)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
