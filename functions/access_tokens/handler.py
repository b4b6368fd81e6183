"""SCIM access-token API: /api/v1/scim/organization-access-tokens[/{uuid}[/rotate | /health]].

Authenticated with an admin's personal API key (``Authorization: ApiKey …``). Create, rotate
and revoke are admin actions: each route names its action (and the token of its path) before
anything can refuse it, so that the activity log records refusals too (401, 403, 404, 400)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.logging import correlation_paths

from scim_provisioning import runtime
from scim_provisioning.activity_annotation import Action, annotate
from scim_provisioning.http.activity_recorder import recorded_admin
from scim_provisioning.http.admin_api import authenticate_admin, install_error_handlers, ok
from scim_provisioning.http.powertools import Response
from scim_provisioning.http.requests import RestResolver, json_object
from scim_provisioning.observability import logger, metrics, tracer
from scim_provisioning.services.access_tokens import token_document
from scim_provisioning.services.authentication import AdminPrincipal
from scim_provisioning.services.token_health import health_document

if TYPE_CHECKING:  # typing only: the class costs a cold start nothing then
    from aws_lambda_powertools.utilities.typing import LambdaContext

BASE = "/api/v1/scim/organization-access-tokens"

app = RestResolver()
install_error_handlers(app)


def _admin() -> AdminPrincipal:
    return authenticate_admin(app)


@app.get(BASE)
def list_tokens() -> Response:
    admin = _admin()
    return ok([token_document(token) for token in runtime.current().access_tokens.list(admin)])


@app.post(BASE)
def create_token() -> Response:
    annotate(action=Action.CREATE_TOKEN)
    admin = _admin()
    from scim_provisioning.http.token_bodies import CreateTokenBody, parse_body  # only these routes load a validator

    body = parse_body(CreateTokenBody, json_object(app))
    token, secret = runtime.current().access_tokens.create(admin, body.description, body.expiresAt)
    metrics.add_metric(name="ScimTokensCreated", unit="Count", value=1)
    return ok(token_document(token, secret), status_code=201)


@app.get(f"{BASE}/<token_uuid>")
def get_token(token_uuid: str) -> Response:
    admin = _admin()
    return ok(token_document(runtime.current().access_tokens.get(admin, token_uuid)))


@app.delete(f"{BASE}/<token_uuid>")
def revoke_token(token_uuid: str) -> Response:
    annotate(action=Action.REVOKE_TOKEN, target_id=token_uuid)
    admin = _admin()
    runtime.current().access_tokens.revoke(admin, token_uuid)
    metrics.add_metric(name="ScimTokensRevoked", unit="Count", value=1)
    return ok(None)


@app.get(f"{BASE}/<token_uuid>/health")
def token_health(token_uuid: str) -> Response:
    admin = _admin()
    return ok(health_document(runtime.current().token_health.token_health(admin, token_uuid)))


@app.patch(f"{BASE}/<token_uuid>/rotate")
def rotate_token(token_uuid: str) -> Response:
    annotate(action=Action.ROTATE_TOKEN, target_id=token_uuid)
    admin = _admin()
    from scim_provisioning.http.token_bodies import RotateTokenBody, parse_body  # only these routes load a validator

    body = parse_body(RotateTokenBody, json_object(app))
    token, secret = runtime.current().access_tokens.rotate(admin, token_uuid, body.expiresAt)
    metrics.add_metric(name="ScimTokensRotated", unit="Count", value=1)
    return ok(token_document(token, secret))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@recorded_admin
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
