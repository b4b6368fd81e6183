"""SCIM /Users (RFC 7644 §3): list and filter, .search, create, read, replace, patch, delete.

Bearer-authenticated with an organization's SCIM token. Each route parses the event, calls
the UserService and shapes its answer; the rules live in the service and in ``scim/``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_lambda_powertools.logging import correlation_paths

from scim_provisioning import runtime
from scim_provisioning.http.activity_recorder import recorded
from scim_provisioning.http.powertools import Response
from scim_provisioning.http.requests import RestResolver, header, json_object
from scim_provisioning.http.scim import (
    authenticate,
    install_error_handlers,
    matches_etag,
    query_parameters,
    requested_attributes,
    scim_base_url,
    scim_response,
)
from scim_provisioning.models import Person, UserGroup
from scim_provisioning.observability import logger, metrics, tracer
from scim_provisioning.scim.listing import ListQuery, list_query, list_response
from scim_provisioning.scim.representation import Selection, etag, location
from scim_provisioning.scim.schema import USER_RESOURCE_TYPE
from scim_provisioning.scim.users import user_answer
from scim_provisioning.services.authentication import ScimPrincipal

if TYPE_CHECKING:  # typing only: the class costs a cold start nothing then
    from aws_lambda_powertools.utilities.typing import LambdaContext

BASE = "/api/v1/scim/v2/Users"
SEARCH = f"{BASE}/.search"
ITEM = f"{BASE}/<user_id>"

app = RestResolver()
install_error_handlers(app, authenticated=True)


# ------------------------------------------------------------------ shaping
def _selection() -> Selection:
    return Selection.of(USER_RESOURCE_TYPE, *requested_attributes(app))


def _with_groups() -> bool:
    """Whether the answer carries ``groups``: the service reads them only then."""
    return _selection().returns("groups")


def _user_response(person: Person, groups: list[UserGroup], *, created: bool = False) -> Response:
    """200 with the user, or 201 when the request created it (a user just created is in no
    group); its ``Location`` either way (equal to ``meta.location``)."""
    base_url = scim_base_url(app)
    headers = {"ETag": etag(person.version), "Location": location(USER_RESOURCE_TYPE, base_url, person.uuid)}
    return scim_response(201 if created else 200, user_answer(person, base_url, groups, _selection()), headers)


def _list(principal: ScimPrincipal, query: ListQuery) -> Response:
    base_url = scim_base_url(app)
    selection = Selection.of(USER_RESOURCE_TYPE, query.attributes, query.excluded_attributes)
    listed = runtime.current().users.query(principal, query, base_url, selection.returns("groups"))
    page = listed.page
    resources = [user_answer(person, base_url, listed.groups.get(person.uuid, []), selection) for person in page.items]
    return scim_response(200, list_response(resources, page.total, page.start_index, page.next_cursor))


# ------------------------------------------------------------------ routes
# ``<user_id>`` also matches ".search": the resolver (RestResolver) lets the literal /.search
# hide it, so every other method of /.search is a 405, never an item route.
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
    return _user_response(person, [], created=True)


@app.get(ITEM)
def get_user(user_id: str) -> Response:
    principal = authenticate(app)
    answer = runtime.current().users.read(principal, user_id, _with_groups())
    current = etag(answer.person.version)
    if matches_etag(header(app, "If-None-Match"), current):
        return Response(status_code=304, headers={"ETag": current})
    return _user_response(answer.person, answer.groups)


@app.put(ITEM)
def replace_user(user_id: str) -> Response:
    principal = authenticate(app)
    users = runtime.current().users
    answer = users.replace(principal, user_id, json_object(app), header(app, "If-Match"), _with_groups())
    return _user_response(answer.person, answer.groups)


@app.patch(ITEM)
def patch_user(user_id: str) -> Response:
    principal = authenticate(app)
    users = runtime.current().users
    answer = users.patch(principal, user_id, json_object(app), header(app, "If-Match"), _with_groups())
    return _user_response(answer.person, answer.groups)


@app.delete(ITEM)
def delete_user(user_id: str) -> Response:
    principal = authenticate(app)
    runtime.current().users.delete(principal, user_id, header(app, "If-Match"))
    metrics.add_metric(name="ScimUsersDeleted", unit="Count", value=1)
    return scim_response(204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@recorded
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
