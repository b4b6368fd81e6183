"""The entry point of the SCIM Users function, which the template also gives every path under
the SCIM base that no other route declares (``/api/v1/scim/v2/{proxy+}``): runs of slashes are
collapsed, and the request is served, in this process, by the handler of the collapsed path.

The documented SCIM base URL ends with a slash (``…/api/v1/scim/v2/``), so a client that
appends ``/Users`` calls ``…/v2//Users``. API Gateway matches that to no route but the greedy
one; without it the client would get API Gateway's 403 "Missing Authentication Token", which
reads like a credential problem. Paths that are unknown even once collapsed go to the discovery
handler, whose resolver answers the SCIM 404. The Users function hosts this because it already
has the table permissions the Users and Groups handlers need.

The handlers are loaded from their own files (the function's CodeUri holds every function's
code), once per copy of this module: one per process on Lambda, one per thread on the dev
server, which loads a copy of each handler per thread so that concurrent requests never share
a resolver. The Users handler is loaded with the module, so that its imports stay in the cold
start's init phase; Groups and discovery are loaded by their first request."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCIM_BASE = "/api/v1/scim/v2"
FUNCTIONS = Path(__file__).resolve().parent.parent
# The handler (its folder under FUNCTIONS) of each resource type; any other path belongs to
# discovery, which serves /Schemas, /ResourceTypes… and the 404.
SERVED_BY = {"Users": "scim_users", "Groups": "scim_groups"}
DISCOVERY = "scim_discovery"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
_handlers: dict[str, Handler] = {}


def collapse_slashes(path: str) -> str:
    return re.sub("/{2,}", "/", path)


def serving_handler(path: str) -> str:
    """The folder of the handler that serves ``path`` (already collapsed)."""
    resource_type = path.removeprefix(SCIM_BASE).lstrip("/").split("/", 1)[0]
    return SERVED_BY.get(resource_type, DISCOVERY)


def _handler(folder: str) -> Handler:
    handler = _handlers.get(folder)
    if handler is None:
        spec = importlib.util.spec_from_file_location(f"{__name__}.{folder}", FUNCTIONS / folder / "handler.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        handler = _handlers[folder] = module.lambda_handler
    return handler


_handler(SERVED_BY["Users"])


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The event as API Gateway would have sent it for the collapsed path (``path`` and the
    stage-prefixed ``requestContext.path``, which the handlers route on and build
    ``meta.location`` from), answered by the handler of that path."""
    path = collapse_slashes(event["path"])
    request_context = dict(event.get("requestContext") or {})
    if "path" in request_context:
        request_context["path"] = collapse_slashes(request_context["path"])
    return _handler(serving_handler(path))({**event, "path": path, "requestContext": request_context}, context)
