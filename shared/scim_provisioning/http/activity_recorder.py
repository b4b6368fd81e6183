"""The recorder: one activity record per request, emitted around a function's
``lambda_handler`` before the answer leaves (``@recorded`` on the SCIM Users and Groups
functions, ``@recorded_admin`` on the token and request-log APIs), so that the handlers need
nothing else.

It reads what the request and the answer already say (method, path, status, an error's
scimType and detail) plus what the code that served it annotated
(``scim_provisioning.activity_annotation``: the organization and credential, whether the
credential was accepted, the target's id and userName/displayName, a refined action). It
never records a body, a password or a credential: request bodies are read only for whether a
Groups PATCH's operations touch ``members``, answers only when they are errors.

Nothing is written to DynamoDB here: the record is one line handed to the sink
(``activity_records.emit``: standard output in Lambda), synchronously, before the wrapped
handler returns; the ActivityIngestFunction writes the entry, ``lastUsedAt`` and the token's
health from it. A failure to build the record is logged and swallowed, never turned into an
error of the request."""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from scim_provisioning import activity_annotation, activity_records
from scim_provisioning.activity_annotation import Action, Annotation, derive_action, is_membership_patch
from scim_provisioning.activity_records import ActivityRecord, new_entry_id
from scim_provisioning.observability import logger
from scim_provisioning.timestamps import truncate_to_millis

SCIM_BASE = "/api/v1/scim/v2/"
# What API Gateway answers when the function fails instead of answering.
FAILED_INVOCATION_STATUS = 502

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
# (action, target id) of a request, from its event, answer and annotation.
Describe = Callable[[dict[str, Any], int, Annotation], tuple[Action | None, str | None]]
# An error answer's message, from its body in the API's dialect.
ErrorDetail = Callable[[Any], str | None]


def _recording(handler: Handler, describe: Describe, error_detail: ErrorDetail) -> Handler:
    @functools.wraps(handler)
    def record_around(event: dict[str, Any], context: Any) -> dict[str, Any]:
        annotation = activity_annotation.begin()
        started = time.perf_counter()
        result: dict[str, Any] | None = None
        try:
            result = handler(event, context)
            return result
        finally:
            # Runs before the answer is returned (or the failure raised): the record is out first.
            try:
                duration_ms = int((time.perf_counter() - started) * 1000)
                _emit(event, result, annotation, duration_ms, describe, error_detail)
            except Exception:
                logger.exception("Could not emit the activity record")
            activity_annotation.end()

    return record_around


def recorded(handler: Handler) -> Handler:
    """Record every SCIM request ``handler`` serves (see the module doc)."""
    return _recording(handler, _scim_description, _scim_error_detail)


def recorded_admin(handler: Handler) -> Handler:
    """Record every admin-API request ``handler`` serves: the API key's use (``lastUsedAt``),
    the admin it belongs to, and an activity-log entry only for what the code annotated with an
    action (the token API's create, rotate and revoke, refused ones included)."""
    return _recording(handler, _admin_description, _admin_error_detail)


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


def _scim_description(event: dict[str, Any], status: int, annotation: Annotation) -> tuple[Action | None, str | None]:
    """Every SCIM request has an action: the annotated one, else what method, path and
    status say (a 401 is an ``auth_failure``)."""
    method = str(event.get("httpMethod", "")).upper()
    resource_type, path_id, is_search = _target(str(event.get("path", "")))
    if status == 401:
        action = Action.AUTH_FAILURE
    elif annotation.action is not None:
        action = annotation.action
    else:
        membership = resource_type == "Groups" and method == "PATCH" and is_membership_patch(_request_body(event))
        action = derive_action(method, resource_type, path_id is not None, is_search, membership)
    return action, annotation.target_id or path_id


def _admin_description(event: dict[str, Any], status: int, annotation: Annotation) -> tuple[Action | None, str | None]:
    return annotation.action, annotation.target_id


def _scim_error_detail(answer: Any) -> str | None:
    return _first_text(answer, "detail")


def _admin_error_detail(answer: Any) -> str | None:
    """``{"status": "error", "error": {"message": …}}``: why an admin action was refused."""
    return _first_text(answer.get("error") if isinstance(answer, dict) else None, "message")


def _emit(
    event: dict[str, Any],
    result: dict[str, Any] | None,
    annotation: Annotation,
    duration_ms: int,
    describe: Describe,
    error_detail: ErrorDetail,
) -> None:
    from scim_provisioning import runtime  # already loaded by the handler's authentication

    if annotation.unrecorded:
        return
    status = FAILED_INVOCATION_STATUS if result is None else int(result.get("statusCode", 0))
    action, target_id = describe(event, status, annotation)
    failed = status >= 400
    # Only an error answer is read back (a small error body): a success can be megabytes of
    # users or members, and the services annotate its target instead.
    answer = _json(result.get("body")) if failed and result is not None else None
    now = truncate_to_millis(runtime.current().clock.now())
    activity_records.emit(
        ActivityRecord(
            id=new_entry_id(now),
            occurred_at=now,
            method=str(event.get("httpMethod", "")).upper(),
            path=str(event.get("path", "")),
            status=status,
            organization_uuid=annotation.organization_uuid,
            credential_kind=annotation.credential_kind,
            credential_uuid=annotation.credential_uuid,
            authenticated=annotation.authenticated,
            actor_user_uuid=annotation.actor_user_uuid,
            action=action,
            target_id=target_id,
            target_name=annotation.target_name,
            scim_type=_first_text(answer, "scimType"),
            detail=annotation.detail or error_detail(answer),
            request_id=(event.get("requestContext") or {}).get("requestId"),
            duration_ms=duration_ms,
        )
    )
