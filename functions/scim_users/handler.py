"""SCIM /Users (RFC 7644 §3): list and filter, .search, create, read, replace, patch, delete.

Bearer-authenticated with an organization's SCIM token. Each route parses the event, calls
the UserService and shapes its answer; the rules live in the service and in ``scim/``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from scim_provisioning import runtime
from scim_provisioning.http.activity import recorded
from scim_provisioning.http.requests import RestResolver, header, json_object
from scim_provisioning.http.scim import (
    authenticate,
    install_error_handlers,
    matches_etag,
    query_parameters,
    refuse_unserved_methods,
    scim_base_url,
    scim_response,
)
from scim_provisioning.models import Group, Person
from scim_provisioning.observability import logger, metrics
from scim_provisioning.scim.listing import ListQuery, list_query, list_response
from scim_provisioning.scim.resources import full_representation, is_returned, parse_attribute_list, project
from scim_provisioning.scim.schema import USER_RESOURCE_TYPE
from scim_provisioning.services.authentication import ScimPrincipal
from scim_provisioning.services.querying import etag
from scim_provisioning.services.users import user_meta

BASE = "/api/v1/scim/v2/Users"
SEARCH = f"{BASE}/.search"
ITEM = f"{BASE}/<user_id>"

app = RestResolver()
install_error_handlers(app)
refuse_unserved_methods(app, BASE, ITEM)


# ------------------------------------------------------------------ shaping
def _location(user_id: str) -> str:
    return f"{scim_base_url(app)}/Users/{user_id}"


def _representation(
    person: Person,
    attributes: str | None,
    excluded: str | None,
    groups_of: Callable[[Person], list[Group]],
) -> dict[str, Any]:
    """The user as answered; its read-only ``groups`` (from ``groups_of``) only when the
    answer carries them, so that excluding them reads no membership."""
    full = full_representation(
        person.resource, USER_RESOURCE_TYPE, person.uuid, user_meta(person, _location(person.uuid))
    )
    selected = parse_attribute_list(attributes, USER_RESOURCE_TYPE)
    excluded_paths = parse_attribute_list(excluded, USER_RESOURCE_TYPE)
    if is_returned(USER_RESOURCE_TYPE, "groups", selected, excluded_paths):
        groups = groups_of(person)
        if groups:
            base = scim_base_url(app)
            full["groups"] = [
                {
                    "value": group.uuid,
                    "$ref": f"{base}/Groups/{group.uuid}",
                    "display": group.display_name,
                    "type": "direct",
                }
                for group in groups
            ]
    return project(full, USER_RESOURCE_TYPE, selected, excluded_paths)


def _groups_returned(attributes: str | None, excluded: str | None) -> bool:
    return is_returned(
        USER_RESOURCE_TYPE,
        "groups",
        parse_attribute_list(attributes, USER_RESOURCE_TYPE),
        parse_attribute_list(excluded, USER_RESOURCE_TYPE),
    )


def _read_groups(person: Person) -> list[Group]:
    return runtime.current().groups.groups_of([person])[person.uuid]


def _no_groups(_: Person) -> list[Group]:
    """A user just created is in no group yet: its answer needs no membership read."""
    return []


def _requested_attributes() -> tuple[str | None, str | None]:
    """``attributes``/``excludedAttributes`` of the query string (names case-insensitive)."""
    lowered = {key.lower(): value for key, value in query_parameters(app).items()}
    return lowered.get("attributes"), lowered.get("excludedattributes")


def _user_response(person: Person, *, created: bool = False) -> Response:
    """200 with the user, or 201 with its ``Location`` when the request created it."""
    attributes, excluded = _requested_attributes()
    headers = {"ETag": etag(person.version)}
    if created:
        headers["Location"] = _location(person.uuid)
    document = _representation(person, attributes, excluded, _no_groups if created else _read_groups)
    return scim_response(201 if created else 200, document, headers)


def _list(principal: ScimPrincipal, query: ListQuery) -> Response:
    page = runtime.current().users.query(principal, query, _location)
    groups: dict[str, list[Group]] = {}
    if page.items and _groups_returned(query.attributes, query.excluded_attributes):
        groups = runtime.current().groups.groups_of(page.items)
    resources = [
        _representation(person, query.attributes, query.excluded_attributes, lambda p: groups.get(p.uuid, []))
        for person in page.items
    ]
    return scim_response(200, list_response(resources, page.total, page.start_index, page.next_cursor))


# ------------------------------------------------------------------ routes
# Static routes are tried before dynamic ones, but ``<user_id>`` would also match ".search":
# refuse_unserved_methods routes every other method of /.search, so none reaches the item routes.
@app.post(SEARCH)
def search_users() -> Response:
    principal = authenticate(app)
    return _list(principal, list_query(json_object(app)))


@app.get(BASE)
def list_users() -> Response:
    principal = authenticate(app)
    return _list(principal, list_query(query_parameters(app)))


@app.post(BASE)
def create_user() -> Response:
    principal = authenticate(app)
    person = runtime.current().users.create(principal, json_object(app))
    metrics.add_metric(name="ScimUsersCreated", unit="Count", value=1)
    return _user_response(person, created=True)


@app.get(ITEM)
def get_user(user_id: str) -> Response:
    principal = authenticate(app)
    person = runtime.current().users.get(principal, user_id)
    current = etag(person.version)
    if matches_etag(header(app, "If-None-Match"), current):
        return Response(status_code=304, headers={"ETag": current})
    return _user_response(person)


@app.put(ITEM)
def replace_user(user_id: str) -> Response:
    principal = authenticate(app)
    person = runtime.current().users.replace(principal, user_id, json_object(app), header(app, "If-Match"))
    return _user_response(person)


@app.patch(ITEM)
def patch_user(user_id: str) -> Response:
    principal = authenticate(app)
    person = runtime.current().users.patch(principal, user_id, json_object(app), header(app, "If-Match"))
    return _user_response(person)


@app.delete(ITEM)
def delete_user(user_id: str) -> Response:
    principal = authenticate(app)
    runtime.current().users.delete(principal, user_id, header(app, "If-Match"))
    metrics.add_metric(name="ScimUsersDeleted", unit="Count", value=1)
    return scim_response(204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@recorded
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
