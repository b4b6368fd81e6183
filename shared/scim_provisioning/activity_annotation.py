"""The activity log's vocabulary and its per-request annotation.

One activity record per SCIM request (Users and Groups; discovery is unauthenticated and not
recorded) and per admin-API request (``activity_records.py``). The recorder around the
handlers (``http/activity_recorder.py``) derives a SCIM request's action from method + path +
status by default; code that knows better says so through ``annotate`` while the request runs
(the users service marks deactivate/reactivate, the authenticator names the organization and
credential a request acted for, even a refused one, whether it accepted the credential and,
for an API key, the admin it belongs to). An admin-API request has an action only when its
route annotates one: the token API's create, rotate and revoke (admin actions, below); reads
are not logged.

The annotation lives in a ContextVar: Lambda serves one request per process, the dev server
one per thread, and each thread has its own context, so requests never see each other's."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from scim_provisioning.models import CredentialKind


class Action(StrEnum):
    CREATE_USER = "create_user"
    UPDATE_USER = "update_user"
    DEACTIVATE_USER = "deactivate_user"
    REACTIVATE_USER = "reactivate_user"
    DELETE_USER = "delete_user"
    CREATE_GROUP = "create_group"
    UPDATE_GROUP = "update_group"
    MEMBERSHIP_CHANGE = "membership_change"
    DELETE_GROUP = "delete_group"
    LOOKUP = "lookup"
    LIST = "list"
    AUTH_FAILURE = "auth_failure"
    # Admin actions: an admin's through the token API, an operator's through scim-admin.
    CREATE_TOKEN = "create_token"
    ROTATE_TOKEN = "rotate_token"
    REVOKE_TOKEN = "revoke_token"
    CREATE_API_KEY = "create_api_key"
    REVOKE_API_KEY = "revoke_api_key"


# What the request-log API's ``category`` filter selects: the lifecycle of the organization's
# credentials (who minted, rotated or revoked what, refusals included) or SCIM traffic.
ADMIN_ACTIONS = frozenset(
    {Action.CREATE_TOKEN, Action.ROTATE_TOKEN, Action.REVOKE_TOKEN, Action.CREATE_API_KEY, Action.REVOKE_API_KEY}
)
SCIM_ACTIONS = frozenset(Action) - ADMIN_ACTIONS


@dataclass
class Annotation:
    """What the code serving a request learned that the recorder cannot see in the event."""

    organization_uuid: str | None = None
    credential_kind: CredentialKind | None = None  # a SCIM token or an API key
    credential_uuid: str | None = None  # the token's or the key's uuid, never its secret
    actor_user_uuid: str | None = None  # the admin an API key belongs to
    authenticated: bool = False  # the credential was accepted: its lastUsedAt is stamped
    action: Action | None = None
    target_id: str | None = None
    target_name: str | None = None
    detail: str | None = None  # for the admin's eyes, when the answer's detail says less
    # A rate-limited request left out of the log (rate_limit.py logs one refusal a second).
    unrecorded: bool = False


_current: ContextVar[Annotation | None] = ContextVar("scim_activity", default=None)


def begin() -> Annotation:
    """Start a request's annotation (the recorder does this before the handler runs)."""
    annotation = Annotation()
    _current.set(annotation)
    return annotation


def end() -> None:
    _current.set(None)


def annotate(**fields: Any) -> None:
    """Set fields of the current request's annotation; a no-op outside a recorded request
    (services called from tests or the admin CLI, which records its own actions)."""
    annotation = _current.get()
    if annotation is None:
        return
    for name, value in fields.items():
        if not hasattr(annotation, name):
            raise AttributeError(f"Annotation has no field {name!r}")
        setattr(annotation, name, value)


def _touches_members(operation: Any) -> bool:
    if not isinstance(operation, dict):
        return False
    path = operation.get("path")
    if isinstance(path, str) and path.strip().lower().startswith("members"):
        return True
    value = operation.get("value")
    return isinstance(value, dict) and any(str(key).lower() == "members" for key in value)


def is_membership_patch(body: Any) -> bool:
    """A PATCH body whose operations touch ``members`` (by path, or as a key of a path-less
    value): Okta and Entra send membership changes as exactly these."""
    if not isinstance(body, dict):
        return False
    operations = next((value for key, value in body.items() if str(key).lower() == "operations"), None)
    return isinstance(operations, list) and any(_touches_members(operation) for operation in operations)


def derive_action(method: str, resource_type: str, has_id: bool, is_search: bool, membership_patch: bool) -> Action:
    """The action a request stands for, from its method and path alone.

    Every SCIM request gets one, a refused method included (POST on /Users/{id} is recorded
    as create_user with its 405), so the log has exactly one row per request."""
    method = method.upper()
    group = resource_type == "Groups"
    if is_search or (method in ("GET", "HEAD", "OPTIONS") and not has_id):
        return Action.LIST
    if method in ("GET", "HEAD", "OPTIONS"):
        return Action.LOOKUP
    if method == "POST":
        return Action.CREATE_GROUP if group else Action.CREATE_USER
    if method == "DELETE":
        return Action.DELETE_GROUP if group else Action.DELETE_USER
    if group and method == "PATCH" and membership_patch:
        return Action.MEMBERSHIP_CHANGE
    return Action.UPDATE_GROUP if group else Action.UPDATE_USER
