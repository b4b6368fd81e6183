"""The recorder: one activity-log entry per SCIM request, written around a SCIM function's
``lambda_handler`` (``@recorded``), so the Users and Groups handlers need nothing else.

It reads what the request and the answer already say (method, path, status, an error's
scimType and detail) plus what the code that served it annotated
(``scim_provisioning.activity_annotation``: the organization and token, the target's id and
userName/displayName, a refined action). It never stores a body, a password or a
credential: request bodies are read only for whether a Groups PATCH's operations touch
``members``, answers only when they are errors. Writing is one PutItem after the answer is
built, on a client with short timeouts; any failure of it is logged and swallowed, never
turned into an error of the SCIM request."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from scim_provisioning import activity_annotation
from scim_provisioning.activity_annotation import Action, Annotation, derive_action, is_membership_patch
from scim_provisioning.observability import logger

SCIM_BASE = "/api/v1/scim/v2/"

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def recorded(handler: Handler) -> Handler:
    """Record every request ``handler`` serves in the activity log (see the module doc)."""

    @functools.wraps(handler)
    def record_around(event: dict[str, Any], context: Any) -> dict[str, Any]:
        annotation = activity_annotation.begin()
        started = time.perf_counter()
        try:
            result = handler(event, context)
            try:
                record(event, result, annotation, int((time.perf_counter() - started) * 1000))
            except Exception:
                # The log is a convenience for admins; the SCIM request must not pay for it.
                logger.exception("Could not record the SCIM activity entry")
            return result
        finally:
            activity_annotation.end()

    return record_around


def _json(text: Any) -> Any:
    if not isinstance(text, str) or not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _request_body(event: dict[str, Any]) -> Any:
    if event.get("isBase64Encoded"):
        return None  # not JSON a SCIM client would send; nothing to learn from it
    return _json(event.get("body"))


def _target(event_path: str) -> tuple[str, str | None, bool]:
    """(resource type, id or None, is .search) of a SCIM path."""
    relative = event_path.split(SCIM_BASE, 1)[-1].strip("/")
    resource_type, _, rest = relative.partition("/")
    if rest == ".search":
        return resource_type, None, True
    return resource_type, rest or None, False


def _first_text(document: Any, *names: str) -> str | None:
    if not isinstance(document, dict):
        return None
    for name in names:
        value = document.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def record(event: dict[str, Any], result: dict[str, Any], annotation: Annotation, duration_ms: int) -> None:
    method = str(event.get("httpMethod", "")).upper()
    path = str(event.get("path", ""))
    status = int(result.get("statusCode", 0))
    request_id = (event.get("requestContext") or {}).get("requestId")
    if annotation.organization_uuid is None:
        if status == 401:
            # No organization owns this credential (unknown, malformed or missing): nobody's
            # log may hold it. CloudWatch keeps the fact, never the credential.
            logger.info("SCIM request refused: unknown credential", extra={"method": method, "path": path})
        return
    resource_type, path_id, is_search = _target(path)
    if status == 401:
        action = Action.AUTH_FAILURE
    elif annotation.action is not None:
        action = annotation.action
    else:
        membership = resource_type == "Groups" and method == "PATCH" and is_membership_patch(_request_body(event))
        action = derive_action(method, resource_type, path_id is not None, is_search, membership)
    failed = status >= 400
    # Only an error answer is read back (a small SCIM error body): a success can be megabytes
    # of users or members, and the services annotate its target instead.
    answer = _json(result.get("body")) if failed else None
    from scim_provisioning import runtime  # boto3 is needed only once a request is recorded

    runtime.current().activity_log.record(
        organization_uuid=annotation.organization_uuid,
        token_uuid=annotation.token_uuid,
        method=method,
        path=path,
        action=action,
        status=status,
        target_id=annotation.target_id or path_id,
        target_name=annotation.target_name,
        scim_type=_first_text(answer, "scimType") if failed else None,
        detail=annotation.detail or (_first_text(answer, "detail") if failed else None),
        request_id=request_id,
        duration_ms=duration_ms,
    )
