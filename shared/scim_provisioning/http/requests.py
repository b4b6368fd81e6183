"""Reading what API Gateway hands a function: the resolver every handler uses, headers, JSON bodies."""

from __future__ import annotations

import base64
import json
import math
import re
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from scim_provisioning.errors import InvalidRequest, PayloadTooLarge, UnsupportedMediaType
from scim_provisioning.http.powertools import APIGatewayRestResolver, BaseProxyEvent, BaseRouter, ResponseBuilder
from scim_provisioning.limits import MAX_BODY_BYTES, MAX_JSON_DEPTH, MAX_NUMBER_DIGITS
from scim_provisioning.unicode_text import has_lone_surrogate

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
    """The request body as JSON, or a 400 (415 for a body that says it is not JSON) that says
    what is wrong with it. Every body of every route is read here, once: the checks below are
    the whole defence against hostile JSON, so nothing after it meets a number it cannot hold,
    a nesting it cannot recurse into, or a string it cannot encode."""
    _check_content_type(app)
    raw = _body_text(app)
    if raw is None or raw.strip() == "":
        raise InvalidRequest("Request body is required", scim_type="invalidSyntax")
    return parse_json(raw)


# The media types a body may declare: JSON, SCIM's JSON, or any other ``+json`` type; a body
# without Content-Type is read as JSON (a curl without -H, a client that omits it).
_JSON_MEDIA_TYPE = re.compile(r"application/(?:[\w.+-]+\+)?json", re.IGNORECASE)


def _check_content_type(app: BaseRouter) -> None:
    """A body declared as something else (a form, XML, text, JSON in another charset) is a 415:
    reading it as JSON anyway would answer for what the client did not send."""
    declared = header(app, "Content-Type")
    if declared is None or not declared.strip():
        return
    media_type, _, parameters = declared.partition(";")
    charset = next(
        (
            value.strip().strip('"')
            for name, _, value in (part.partition("=") for part in parameters.split(";"))
            if name.strip().lower() == "charset"
        ),
        "utf-8",
    )
    if not _JSON_MEDIA_TYPE.fullmatch(media_type.strip()) or charset.lower() not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(
            f"Content-Type {declared.strip()[:100]!r} is not accepted: send application/scim+json or "
            "application/json, in UTF-8"
        )


class _Refused(ValueError):
    """A JSON text the decoder's hooks refuse; its message is the client's 400 detail."""


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_DIGITS:
        raise _Refused(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _decimal(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise _Refused(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"the number {text} is out of range")
    return value


def _constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON value")


def parse_json(text: str) -> Any:
    """``text`` as JSON (RFC 8259), or a 400 ``invalidSyntax`` naming the problem: not JSON;
    NaN or Infinity (Python's decoder takes them, JSON has none); a number longer than
    MAX_NUMBER_DIGITS or beyond a float; nesting deeper than MAX_JSON_DEPTH; a string holding
    a lone UTF-16 surrogate (``"\\ud800"``: valid JSON escapes, but no character, and no
    UTF-8 encoding stores it). Linear in the text."""
    try:
        value = json.loads(text, parse_int=_integer, parse_float=_decimal, parse_constant=_constant)
    except _Refused as refused:
        raise InvalidRequest(f"Request body is not valid JSON: {refused}", scim_type="invalidSyntax") from None
    except RecursionError:
        raise InvalidRequest(
            f"Request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep", scim_type="invalidSyntax"
        ) from None
    except json.JSONDecodeError as error:
        raise InvalidRequest(f"Request body is not valid JSON: {error.msg}", scim_type="invalidSyntax") from error
    _check_tree(value, strings=_SURROGATE_ESCAPE.search(text) is not None)
    return value


# A surrogate can reach a decoded string only through a ``\\uD800``-``\\uDFFF`` escape (UTF-8
# text cannot encode one): without such an escape in the text, no string needs looking at.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _check_tree(value: Any, strings: bool) -> None:
    """Depth of a decoded body, and its strings (keys included) when ``strings``, without
    recursion: a deep body must not reach Python's recursion limit here either. One visit per
    array and object (and string), so linear in the body."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        current, depth = pending.pop()
        if isinstance(current, str):
            if has_lone_surrogate(current):
                raise InvalidRequest(
                    "Request body holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)",
                    scim_type="invalidSyntax",
                )
            continue
        if depth >= MAX_JSON_DEPTH:
            raise InvalidRequest(
                f"Request body nests arrays and objects more than {MAX_JSON_DEPTH} levels deep",
                scim_type="invalidSyntax",
            )
        items = list(current.values()) if isinstance(current, dict) else current
        if strings and isinstance(current, dict):
            items = [*current, *items]
        pending.extend(
            (item, depth + 1) for item in items if isinstance(item, dict | list) or (strings and isinstance(item, str))
        )


def _body_text(app: BaseRouter) -> str | None:
    """The body as text of at most MAX_BODY_BYTES. API Gateway hands a body that is not UTF-8
    text base64-encoded (``isBase64Encoded``): JSON must be UTF-8 (RFC 8259 §8.1), so such a
    body is a syntax error of the client's, a 400 like any other."""
    event = app.current_event
    if not event.body:
        return None
    raw = base64.b64decode(event.body) if event.is_base64_encoded else event.body.encode("utf-8")
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Request body exceeds {MAX_BODY_BYTES} bytes (bulk.maxPayloadSize)")
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
