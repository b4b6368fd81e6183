"""Reading what API Gateway hands a function: the resolver every handler uses, headers, JSON bodies."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from scim_provisioning.errors import InvalidRequest, PayloadTooLarge
from scim_provisioning.http.powertools import APIGatewayRestResolver, BaseProxyEvent, BaseRouter, ResponseBuilder
from scim_provisioning.limits import MAX_BODY_BYTES

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

_events = threading.local()


class RestResolver(APIGatewayRestResolver):
    """Powertools' REST resolver with the current event kept per thread, and exact methods.

    Powertools stores the event being resolved on the ``BaseRouter`` class, shared by every
    resolver of the process. Lambda serves one request per process at a time, so that is
    harmless there; the dev server and the tests serve concurrent requests in threads, where
    one request would read another's body. Reads of ``current_event`` go through this
    property (the class attribute Powertools assigns is shadowed), set before resolving.

    A request is routed only when its method, spelled exactly, is one the function serves on
    that path (``allowed_methods``); anything else (HEAD, TRACE, an unknown or lower-case
    method, GET on ``/.search``) goes to the not-found handler, which each API's dialect turns
    into a 405 with ``Allow`` (or a 404 when the path is not served at all). Powertools alone
    would upper-case ``get`` into GET and hand GET ``…/Users/.search`` to ``…/Users/<id>``."""

    @property  # type: ignore[override]
    def current_event(self) -> BaseProxyEvent:
        return _events.event

    @current_event.setter
    def current_event(self, value: BaseProxyEvent) -> None:
        _events.event = value

    def resolve(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        self.current_event = self._to_proxy_event(dict(event))
        return super().resolve(event, context)

    def _resolve(self) -> ResponseBuilder:
        event = self.current_event
        if event.http_method not in self.allowed_methods():
            return self._handle_not_found(method=event.http_method, path=event.path)
        return super()._resolve()

    def allowed_methods(self) -> list[str]:
        """The methods this function serves on the request's path (a 405's ``Allow``), none when
        it serves no such path. Literal routes hide the parameterised ones that also match, as
        in Powertools' routing: ``…/Users/.search`` is not ``…/Users/<user_id>``."""
        path = self.current_event.path
        for routes in (self._static_routes, self._dynamic_routes):
            methods = sorted({route.method for route in routes if route.rule.match(path)})
            if methods:
                return methods
        return []


def method_not_allowed_detail(app: RestResolver, allowed: list[str]) -> str:
    """What a 405 says, in every dialect."""
    event = app.current_event
    return f"{event.http_method} is not supported on {event.path}; use {', '.join(allowed)}"


def stage_prefix(app: BaseRouter) -> str:
    """What precedes the routes' paths in the URL the client used: ``/prod`` on an
    execute-api host, nothing on a custom domain or the dev server. API Gateway's
    ``requestContext.path`` keeps the stage while ``path`` drops it: the prefix is their difference."""
    event = cast("APIGatewayProxyEvent", app.current_event)  # what a REST resolver resolves
    full_path = event.request_context.path or event.path
    return full_path[: -len(event.path)] if full_path.endswith(event.path) else ""


def header(app: BaseRouter, name: str) -> str | None:
    """A request header by case-insensitive name (API Gateway keeps the client's casing)."""
    return app.current_event.headers.get(name)


def json_body(app: BaseRouter) -> Any:
    """The request body as JSON, or a 400 that says what is wrong with it."""
    raw = _body_text(app)
    if raw is None or raw.strip() == "":
        raise InvalidRequest("Request body is required", scim_type="invalidSyntax")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"Request body is not valid JSON: {error.msg}", scim_type="invalidSyntax") from error


def _body_text(app: BaseRouter) -> str | None:
    """The body as text of at most MAX_BODY_BYTES. API Gateway hands a body that is not UTF-8
    text base64-encoded (``isBase64Encoded``): JSON must be UTF-8 (RFC 8259 §8.1), so such a
    body is a syntax error of the client's, a 400 like any other."""
    event = app.current_event
    if not event.body:
        return None
    raw = base64.b64decode(event.body) if event.is_base64_encoded else event.body.encode("utf-8")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Request body exceeds {MAX_BODY_BYTES} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidRequest(
            f"Request body is not UTF-8 (invalid byte at offset {error.start})", scim_type="invalidSyntax"
        ) from error


def json_object(app: BaseRouter) -> dict[str, Any]:
    body = json_body(app)
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object", scim_type="invalidSyntax")
    return body
