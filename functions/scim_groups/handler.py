"""SCIM /Groups: bearer-authenticated; the resource operations arrive with the SCIM Groups issue."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from scim_provisioning.http.activity import recorded
from scim_provisioning.http.requests import RestResolver
from scim_provisioning.http.scim import authenticate, install_error_handlers, scim_error
from scim_provisioning.observability import logger, metrics

BASE = "/api/v1/scim/v2/Groups"
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]

app = RestResolver()
install_error_handlers(app)


@app.route(BASE, method=METHODS)
@app.route(f"{BASE}/<resource_id>", method=METHODS)
def not_yet_served(resource_id: str | None = None) -> Response:
    authenticate(app)
    return scim_error(501, "Groups are not served yet")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@recorded
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
