"""The SCIM dialect (RFC 7644 §3.12): ``application/scim+json`` answers and error bodies
with ``status`` as a string, and the bearer authentication every non-discovery route uses."""

from __future__ import annotations

import json
import os
from typing import Any

from scim_provisioning import rate_limit
from scim_provisioning.errors import ServiceError, ServiceUnavailable
from scim_provisioning.http.powertools import APIGatewayRestResolver, NotFoundError, Response
from scim_provisioning.http.requests import RestResolver, header, method_not_allowed_detail, stage_prefix
from scim_provisioning.observability import logger
from scim_provisioning.services.authentication import ScimPrincipal

SCIM_JSON = "application/scim+json"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


def scim_response(status_code: int, document: Any = None, headers: dict[str, str] | None = None) -> Response:
    return Response(
        status_code=status_code,
        content_type=SCIM_JSON,
        body=None if document is None else json.dumps(document),
        headers=headers or {},
    )


def scim_error(
    status_code: int, detail: str, scim_type: str | None = None, *, retry_after: str | None = None
) -> Response:
    document: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status_code), "detail": detail}
    if scim_type:
        document["scimType"] = scim_type
    headers: dict[str, str] = {}
    if status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="SCIM"'
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    return scim_response(status_code, document, headers)


def install_error_handlers(app: RestResolver, *, authenticated: bool = False) -> None:
    """Every failure of a SCIM route leaves as a SCIM error body, never as a bare 500.

    A method the path does not serve is RFC 7644 §3.12's 405, with ``Allow``. On
    ``authenticated`` routes (Users, Groups) it comes after authentication, like the served
    methods: without a valid token it is a 401, and with one it is recorded in the activity log."""

    @app.exception_handler(ServiceError)
    def _service_error(error: ServiceError) -> Response:
        if isinstance(error, ServiceUnavailable):
            logger.warning("Service unavailable", extra={"reason": error.reason})
        scim_type = error.scim_type if error.status in (400, 409, 413) else None
        retry_after = None if error.retry_after_seconds is None else str(error.retry_after_seconds)
        return scim_error(error.status, error.message, scim_type, retry_after=retry_after)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response:
        allowed = app.allowed_methods()
        if not allowed:
            return scim_error(404, f"No SCIM resource at {app.current_event.path}")
        if authenticated:
            authenticate(app)
        refusal = scim_error(405, method_not_allowed_detail(app, allowed))
        refusal.headers["Allow"] = ", ".join(allowed)
        return refusal

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("Unexpected error on a SCIM route")
        return scim_error(500, "Internal server error")


def authenticate(app: APIGatewayRestResolver) -> ScimPrincipal:
    """The organization this request acts for, from its ``Authorization: Bearer scim_…``; a 429
    when the organization is over its rate (``rate_limit.py``)."""
    # Imported here: the runtime pulls in boto3, which the unauthenticated discovery function
    # never needs (its cold start stays free of it).
    from scim_provisioning import runtime

    principal = runtime.current().authenticator.authenticate_scim(header(app, "Authorization"))
    rate_limit.enforce(principal.organization_uuid)
    return principal


def scim_base_url(app: APIGatewayRestResolver) -> str:
    """The SCIM base URL as the client reached it, for ``meta.location``, ``Location`` and
    every ``$ref``: the host API Gateway served the request on (``requestContext.domainName``:
    the execute-api host or the custom domain) and the stage before the path (``/prod`` on an
    execute-api host, nothing on the custom domain), never the client's ``Host`` or
    ``X-Forwarded-Proto``, which any client can set to put another site's URL in our answers.
    The scheme is ``https`` (API Gateway serves nothing else) unless the dev server, which
    serves plain HTTP, says otherwise (``PUBLIC_URL_SCHEME``)."""
    event = app.current_event
    host = event.request_context.domain_name or "localhost"
    scheme = os.environ.get("PUBLIC_URL_SCHEME") or "https"
    return f"{scheme}://{host}{stage_prefix(app)}/api/v1/scim/v2"


def matches_etag(candidates: str | None, current: str) -> bool:
    """Whether an If-None-Match header names the current ETag (weak comparison, RFC 9110 §13.1.2)."""
    if candidates is None:
        return False
    tags = {tag.strip() for tag in candidates.split(",")}
    return "*" in tags or current in tags or current.removeprefix("W/") in tags


def query_parameters(app: APIGatewayRestResolver) -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def requested_attributes(app: APIGatewayRestResolver) -> tuple[str | None, str | None]:
    """``attributes`` and ``excludedAttributes`` of the query string (names case-insensitive),
    for ``scim.representation.Selection.of``."""
    lowered = {key.lower(): value for key, value in query_parameters(app).items()}
    return lowered.get("attributes"), lowered.get("excludedattributes")
