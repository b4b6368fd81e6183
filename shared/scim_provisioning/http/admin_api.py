"""The admin APIs' dialect (the token API and the request-logs API): ``{"status": "ok",
"results": …}`` on success and ``{"status": "error", "error": {"statusCode", "name",
"message"}}`` on failure. What the results hold is the services' (``access_tokens.token_document``,
``activity_log.entry_document``); the token API's request bodies are ``token_bodies.py``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from scim_provisioning import rate_limit
from scim_provisioning.errors import ServiceError, ServiceUnavailable
from scim_provisioning.http.powertools import NotFoundError, Response
from scim_provisioning.http.requests import RestResolver, header, method_not_allowed_detail
from scim_provisioning.observability import logger

if TYPE_CHECKING:  # annotations only: the module stays light for the request-logs API
    from scim_provisioning.services.authentication import AdminPrincipal

JSON = "application/json"
_NO_STORE = {"Cache-Control": "no-store"}


def authenticate_admin(app: RestResolver) -> AdminPrincipal:
    """The admin this request acts for, from its ``Authorization: ApiKey …``; a 429 when the
    organization is over its rate (``rate_limit.py``, shared with its SCIM requests)."""
    from scim_provisioning import runtime  # boto3: loaded once a request needs the table

    principal = runtime.current().authenticator.authenticate_admin(header(app, "Authorization"))
    rate_limit.enforce(principal.organization_uuid)
    return principal


def ok(results: Any, status_code: int = 200) -> Response:
    return Response(
        status_code=status_code,
        content_type=JSON,
        body=json.dumps({"status": "ok", "results": results}),
        headers=_NO_STORE,
    )


def error_response(status_code: int, name: str, message: str, *, retry_after_seconds: int | None = None) -> Response:
    headers = dict(_NO_STORE)
    if status_code == 401:
        headers["WWW-Authenticate"] = "ApiKey"
    if retry_after_seconds is not None:
        headers["Retry-After"] = str(retry_after_seconds)
    return Response(
        status_code=status_code,
        content_type=JSON,
        body=json.dumps({"status": "error", "error": {"statusCode": status_code, "name": name, "message": message}}),
        headers=headers,
    )


def install_error_handlers(app: RestResolver) -> None:
    """Every failure of a token API route leaves as the error envelope, never as a bare 500; a
    method the path does not serve is a 405 with ``Allow``."""

    @app.exception_handler(ServiceError)
    def _service_error(error: ServiceError) -> Response:
        if isinstance(error, ServiceUnavailable):
            logger.warning("Service unavailable", extra={"reason": error.reason})
        return error_response(error.status, error.name, error.message, retry_after_seconds=error.retry_after_seconds)

    @app.not_found
    def _not_found(_: NotFoundError) -> Response:
        allowed = app.allowed_methods()
        if not allowed:
            return error_response(404, "NotFoundError", "No such route")
        refusal = error_response(405, "MethodNotAllowedError", method_not_allowed_detail(app, allowed))
        refusal.headers["Allow"] = ", ".join(allowed)
        return refusal

    @app.exception_handler(Exception)
    def _unexpected(error: Exception) -> Response:
        logger.exception("Unexpected error in the token API")
        return error_response(500, "UnexpectedServerError", "Something went wrong")
