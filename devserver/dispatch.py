"""Invokes the template's handlers in-process, as API Gateway + Lambda would.

Each thread gets its own copy of every handler module, loaded from the function's CodeUri:
a Powertools resolver keeps the current event on the module's ``app``, and in Lambda one
execution environment serves one request at a time. Per-thread modules reproduce that, so
concurrent requests run truly in parallel without sharing a resolver.

Every answer carries ``x-amzn-RequestId``, as API Gateway's do: the ``requestContext.requestId``
the function saw, which its activity record (and so its log entry) names, so that a client can
find the entry of each request it sent (``make chaos`` proves none is lost)."""

from __future__ import annotations

import base64
import importlib.util
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from devserver.events import LambdaContext, build_event
from devserver.template import Route, api_routes, match_route

REQUEST_ID_HEADER = "x-amzn-RequestId"


@dataclass
class HttpResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def _response_from_result(result: dict[str, Any]) -> HttpResponse:
    headers: list[tuple[str, str]] = []
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, value) for value in values)
    seen = {name.lower() for name, _ in headers}
    headers.extend((name, value) for name, value in (result.get("headers") or {}).items() if name.lower() not in seen)
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
    return HttpResponse(status=int(result["statusCode"]), headers=headers, body=payload)


def load_handler(code_uri: Path, handler: str, module_name: str) -> Any:
    """A fresh copy of a function's handler (``module.function`` under ``code_uri``, as the
    template says), loaded as ``module_name``: as Lambda loads it, from the function's files."""
    module_path, function_name = handler.rsplit(".", 1)
    spec = importlib.util.spec_from_file_location(module_name, code_uri / f"{module_path.replace('.', '/')}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, function_name)


@dataclass
class Dispatcher:
    routes: list[Route] = field(default_factory=api_routes)
    host: str = "127.0.0.1:3000"
    # Routes the deployed API does not have (``devserver.dev_only``): (method, path) → handler
    # of (query string, base URL). Only the dev server passes them; by default the dispatcher
    # answers as API Gateway would.
    dev_only: dict[tuple[str, str], Callable[[str, str], HttpResponse]] = field(default_factory=dict)
    _local: threading.local = field(default_factory=threading.local)

    def _handler(self, route: Route) -> Any:
        handlers: dict[str, Any] = self._local.__dict__.setdefault("handlers", {})
        key = f"{route.function_logical_id}.{route.handler}"
        if key not in handlers:
            handlers[key] = load_handler(
                route.code_uri, route.handler, f"_local_lambda_{threading.get_ident()}_{route.function_logical_id}"
            )
        return handlers[key]

    def handle(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]] | None = None,
        body: bytes | str | None = None,
        source_ip: str = "127.0.0.1",
    ) -> HttpResponse:
        """Serve one request; ``target`` is the request line's path with its query string."""
        split = urlsplit(target)
        path = unquote(split.path)
        dev_only = self.dev_only.get((method, path))
        if dev_only is not None:
            return dev_only(split.query, f"http://{self.host}")
        matched = match_route(self.routes, method, path)
        if matched is None:
            # API Gateway's own answer to a method or path no route declares.
            return HttpResponse(
                403 if path.startswith("/api/") else 404,
                [("Content-Type", "application/json"), (REQUEST_ID_HEADER, str(uuid.uuid4()))],
                b'{"message":"Missing Authentication Token"}',
            )
        route, path_parameters = matched
        event = build_event(
            route,
            method,
            path,
            path_parameters=path_parameters,
            query_string=split.query,
            headers=headers or [],
            body=body,
            source_ip=source_ip,
            host=self.host,
        )
        result = self._handler(route)(event, LambdaContext(route.function_logical_id))
        response = _response_from_result(result)
        response.headers.append((REQUEST_ID_HEADER, event["requestContext"]["requestId"]))
        return response
