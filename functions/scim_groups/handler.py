"""SCIM /Groups (RFC 7644 §3): list and filter, .search, create, read, replace, patch, delete.

Bearer-authenticated with an organization's SCIM token. Each route parses the event, calls
the GroupService and shapes its answer; the rules live in the service and in ``scim/``.
Members are read only when the answer carries them (not with excludedAttributes=members)."""

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
from scim_provisioning.models import Group
from scim_provisioning.observability import logger, metrics, tracer
from scim_provisioning.scim.groups import group_answer, too_many_members, too_many_members_in_page
from scim_provisioning.scim.listing import ListQuery, list_query, list_response
from scim_provisioning.scim.representation import MAX_RESPONSE_BYTES, Selection, etag, location, within_response_limit
from scim_provisioning.scim.schema import GROUP_RESOURCE_TYPE
from scim_provisioning.services.authentication import ScimPrincipal
from scim_provisioning.services.groups import GroupAnswer

if TYPE_CHECKING:  # typing only: the class costs a cold start nothing then
    from aws_lambda_powertools.utilities.typing import LambdaContext

BASE = "/api/v1/scim/v2/Groups"
SEARCH = f"{BASE}/.search"
ITEM = f"{BASE}/<group_id>"

app = RestResolver()
install_error_handlers(app, authenticated=True)


# ------------------------------------------------------------------ shaping
def _selection() -> Selection:
    return Selection.of(GROUP_RESOURCE_TYPE, *requested_attributes(app))


def _with_members() -> bool:
    """Whether the answer carries ``members``: the service reads them only then."""
    return _selection().returns("members")


def _headers(group: Group, base_url: str) -> dict[str, str]:
    """Every answer carrying one group has its ETag and ``Location`` (equal to ``meta.location``)."""
    return {"ETag": etag(group.version), "Location": location(GROUP_RESOURCE_TYPE, base_url, group.uuid)}


def _group_response(answer: GroupAnswer, *, created: bool = False) -> Response:
    """The answer to a write (201 when it created the group), with its ``Location``: members
    included unless excluded or the group is large."""
    base_url, group = scim_base_url(app), answer.group
    document = group_answer(group, base_url, answer.members, _selection())
    return scim_response(201 if created else 200, document, _headers(group, base_url))


def _list(principal: ScimPrincipal, query: ListQuery) -> Response:
    base_url = scim_base_url(app)
    selection = Selection.of(GROUP_RESOURCE_TYPE, query.attributes, query.excluded_attributes)
    listed = runtime.current().groups.query(principal, query, base_url, selection.returns("members"))
    page, members = listed.page, listed.members
    resources = [
        group_answer(group, base_url, group_members, selection)
        for group, group_members in zip(page.items, members, strict=True)
    ]
    document = list_response(resources, page.total, page.start_index, page.next_cursor)
    if any(group_members is not None for group_members in members):
        within_response_limit(document, too_many_members_in_page(f"more than {MAX_RESPONSE_BYTES:,} bytes"))
    return scim_response(200, document)


# ------------------------------------------------------------------ routes
# ``<group_id>`` also matches ".search": the resolver (RestResolver) lets the literal /.search
# hide it, so every other method of /.search is a 405, never an item route.
@app.post(SEARCH)
def search_groups() -> Response:
    principal = authenticate(app)
    return _list(principal, list_query(json_object(app)))


@app.get(BASE)
def list_groups() -> Response:
    principal = authenticate(app)
    return _list(principal, list_query(query_parameters(app)))


@app.post(BASE)
def create_group() -> Response:
    principal = authenticate(app)
    answer = runtime.current().groups.create(principal, json_object(app), _with_members())
    metrics.add_metric(name="ScimGroupsCreated", unit="Count", value=1)
    return _group_response(answer, created=True)


@app.get(ITEM)
def get_group(group_id: str) -> Response:
    principal = authenticate(app)
    answer = runtime.current().groups.read(principal, group_id, _with_members())
    group = answer.group
    current = etag(group.version)
    if matches_etag(header(app, "If-None-Match"), current):
        return Response(status_code=304, headers={"ETag": current})
    base_url = scim_base_url(app)
    document = group_answer(group, base_url, answer.members, _selection())
    if answer.members is not None:
        refusal = too_many_members(group, f"with its members is more than {MAX_RESPONSE_BYTES:,} bytes")
        within_response_limit(document, refusal)
    return scim_response(200, document, _headers(group, base_url))


@app.put(ITEM)
def replace_group(group_id: str) -> Response:
    principal = authenticate(app)
    groups = runtime.current().groups
    answer = groups.replace(principal, group_id, json_object(app), header(app, "If-Match"), _with_members())
    return _group_response(answer)


@app.patch(ITEM)
def patch_group(group_id: str) -> Response:
    principal = authenticate(app)
    groups = runtime.current().groups
    answer = groups.patch(principal, group_id, json_object(app), header(app, "If-Match"), _with_members())
    return _group_response(answer)


@app.delete(ITEM)
def delete_group(group_id: str) -> Response:
    principal = authenticate(app)
    runtime.current().groups.delete(principal, group_id, header(app, "If-Match"))
    metrics.add_metric(name="ScimGroupsDeleted", unit="Count", value=1)
    return scim_response(204)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
@recorded
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    return app.resolve(event, context)
