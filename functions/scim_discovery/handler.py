"""SCIM discovery routes (no authentication) and the SCIM 404 for any unknown SCIM path.

GET /api/v1/scim/v2 (the base URL itself, which some connection tests probe) answers with
the ServiceProviderConfig: a real SCIM document that says what the service supports.

This function needs no credentials and no table, so it imports nothing that pulls in boto3."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.logging import correlation_paths

from scim_provisioning.http.powertools import Response
from scim_provisioning.http.requests import RestResolver
from scim_provisioning.http.scim import (
    install_error_handlers,
    scim_base_url,
    scim_error,
    scim_response,
)
from scim_provisioning.observability import logger, tracer
from scim_provisioning.scim import discovery

if TYPE_CHECKING:  # typing only: the class costs a cold start nothing then
    from aws_lambda_powertools.utilities.typing import LambdaContext

BASE = "/api/v1/scim/v2"

app = RestResolver()
install_error_handlers(app)


@app.get(BASE)
@app.get(f"{BASE}/ServiceProviderConfig")
def service_provider_config() -> Response:
    return scim_response(200, discovery.service_provider_config(scim_base_url(app)))


@app.get(f"{BASE}/Schemas")
def schemas() -> Response:
    return scim_response(200, discovery.schemas_list(scim_base_url(app)))


@app.get(f"{BASE}/Schemas/<schema_id>")
def schema(schema_id: str) -> Response:
    found = discovery.find_schema(schema_id)
    if found is None:
        return scim_error(404, f"Schema {schema_id} not found")
    return scim_response(200, discovery.schema_document(found, scim_base_url(app)))


@app.get(f"{BASE}/ResourceTypes")
def resource_types() -> Response:
    return scim_response(200, discovery.resource_types_list(scim_base_url(app)))


@app.get(f"{BASE}/ResourceTypes/<resource_type_id>")
def resource_type(resource_type_id: str) -> Response:
    found = discovery.find_resource_type(resource_type_id)
    if found is None:
        return scim_error(404, f"ResourceType {resource_type_id} not found")
    return scim_response(200, discovery.resource_type_document(found, scim_base_url(app)))


@app.post(f"{BASE}/.search")
def search_all_resource_types() -> Response:
    """RFC 7644 §3.4.3 lets a client search every resource type at once at the root; we do
    not (each type has its own ``/.search``). 501 says so (RFC 7644 §3.12) instead of the
    404 the catch-all would give, which reads as "wrong base URL". Nothing is read, so no
    authentication is needed to answer it."""
    return scim_error(
        501, "Searching all resource types at once is not supported: POST /Users/.search or /Groups/.search"
    )


# Any other method of these paths is a SCIM 405 with Allow, and any other path under the SCIM
# base (handed over by the template's /{proxy+} route) a SCIM 404: install_error_handlers.


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
