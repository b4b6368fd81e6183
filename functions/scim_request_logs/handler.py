"""SCIM activity log API: GET /api/v1/scim/request-logs?limit=&cursor=&status=&action=.

Authenticated like the token API (an admin's ``Authorization: ApiKey …``) and answering in
its envelope: ``{"status": "ok", "results": {"entries": [...], "nextCursor": …}}``, newest
first, only the caller's organization."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.logging import correlation_paths

from scim_provisioning import runtime
from scim_provisioning.http.activity_recorder import recorded_admin
from scim_provisioning.http.admin_api import authenticate_admin, install_error_handlers, ok
from scim_provisioning.http.powertools import Response
from scim_provisioning.http.requests import RestResolver
from scim_provisioning.observability import logger, tracer
from scim_provisioning.services.activity_log import activity_query, entry_document

if TYPE_CHECKING:  # typing only: the class costs a cold start nothing then
    from aws_lambda_powertools.utilities.typing import LambdaContext

BASE = "/api/v1/scim/request-logs"

app = RestResolver()
install_error_handlers(app)


@app.get(BASE)
def list_request_logs() -> Response:
    admin = authenticate_admin(app)
    query = activity_query(dict(app.current_event.query_string_parameters or {}))
    result = runtime.current().activity_log.list(admin, query)
    return ok({"entries": [entry_document(entry) for entry in result.entries], "nextCursor": result.next_cursor})


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@recorded_admin
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
