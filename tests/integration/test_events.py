"""The sample events in ``events/`` against the handlers of the functions that serve them.

Those files are what ``sam local invoke -e`` replays, so they must keep up with the template:
every route has an event, every event is what API Gateway would send for its route, and each
one gets a well-formed proxy response (never a 5xx) from its function's handler on moto."""

from __future__ import annotations

import importlib
import json
from datetime import timedelta
from typing import Any

import pytest

from benchmarks.harness import FixedClock
from devserver.events import LambdaContext
from devserver.template import PROJECT_ROOT, Route, api_routes, match_route
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture

# Handlers decorated with Powertools' log_metrics warn on every request that adds no metric
# (all the 401s here); that says nothing about the events.

EVENTS_DIR = PROJECT_ROOT / "events"
EVENT_FILES = sorted(path.name for path in EVENTS_DIR.glob("*.json"))
ROUTES = api_routes()
SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"
UNKNOWN_SCIM_PATH_EVENT = "scim_users_unknown_path.json"


def load_event(file_name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / file_name).read_text(encoding="utf-8"))


def serving_route(event: dict[str, Any]) -> Route:
    """The template route an event was recorded for: its ``resource`` and method."""
    (route,) = [
        route
        for route in ROUTES
        if route.resource == event["resource"] and route.method in (event["httpMethod"], "ANY")
    ]
    return route


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    """Call the function's handler the way Lambda does: ``<CodeUri>/<module>.<function>``."""
    route = serving_route(event)
    module_name, function_name = route.handler.rsplit(".", 1)
    package = ".".join(route.code_uri.relative_to(PROJECT_ROOT).parts)
    handler = getattr(importlib.import_module(f"{package}.{module_name}"), function_name)
    return handler(event, LambdaContext(route.function_logical_id))


def header_of(response: dict[str, Any], name: str) -> str | None:
    """A response header from ``headers`` or ``multiValueHeaders`` (Powertools uses the latter)."""
    for key, value in (response.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    for key, values in (response.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return values[0]
    return None


def assert_well_formed(response: dict[str, Any]) -> None:
    assert isinstance(response["statusCode"], int)
    assert response["statusCode"] < 500, response
    assert isinstance(response["body"], str)
    assert header_of(response, "Content-Type"), response


def assert_scim_401(response: dict[str, Any]) -> None:
    assert response["statusCode"] == 401
    assert header_of(response, "Content-Type") == SCIM_JSON
    document = json.loads(response["body"])
    assert SCIM_ERROR_SCHEMA in document["schemas"]
    assert document["status"] == "401"


def assert_token_api_401(response: dict[str, Any]) -> None:
    assert response["statusCode"] == 401
    document = json.loads(response["body"])
    assert document["status"] == "error"
    assert document["error"]["statusCode"] == 401


def test_every_route_of_the_template_has_an_event():
    recorded = [(event["resource"], event["httpMethod"]) for event in map(load_event, EVENT_FILES)]
    without_event = [
        f"{route.method} {route.resource} ({route.function_logical_id})"
        for route in ROUTES
        if not any(resource == route.resource and route.method in (method, "ANY") for resource, method in recorded)
    ]
    assert without_event == []


@pytest.mark.parametrize("file_name", EVENT_FILES)
def test_event_is_what_api_gateway_sends_for_its_route(file_name: str):
    event = load_event(file_name)
    matched = match_route(ROUTES, event["httpMethod"], event["path"])
    assert matched is not None, f"no route of the template serves {event['httpMethod']} {event['path']}"
    route, path_parameters = matched
    assert route.resource == event["resource"] == event["requestContext"]["resourcePath"]
    assert (event["pathParameters"] or {}) == path_parameters
    context = event["requestContext"]
    assert context["httpMethod"] == event["httpMethod"]
    assert context["path"] == f"/{context['stage']}{event['path']}"
    assert event["headers"]["Host"] == context["domainName"]
    assert {name: values[-1] for name, values in event["multiValueHeaders"].items()} == event["headers"]
    if event["body"] is not None:
        assert event["headers"]["Content-Type"] in (SCIM_JSON, "application/json")


@pytest.mark.parametrize("file_name", EVENT_FILES)
def test_event_gets_a_well_formed_answer_from_its_handler(file_name: str, app_runtime: Runtime):
    """With the placeholder credentials every authenticated route must refuse in its own
    dialect; discovery and health need no credential."""
    event = load_event(file_name)
    route = serving_route(event)
    response = invoke(event)
    assert_well_formed(response)
    if route.function_logical_id in ("AccessTokensFunction", "ScimRequestLogsFunction"):
        assert_token_api_401(response)
    elif file_name == UNKNOWN_SCIM_PATH_EVENT:
        # The Users function's greedy route: a path nothing serves is discovery's SCIM 404.
        assert response["statusCode"] == 404
        assert SCIM_ERROR_SCHEMA in json.loads(response["body"])["schemas"]
    elif route.function_logical_id in ("ScimUsersFunction", "ScimGroupsFunction"):
        assert_scim_401(response)
        assert header_of(response, "WWW-Authenticate") == 'Bearer realm="SCIM"'
    elif route.function_logical_id == "ScimDiscoveryFunction":
        assert header_of(response, "Content-Type") == SCIM_JSON
        assert response["statusCode"] == 200, response["body"]
        assert SCIM_ERROR_SCHEMA not in json.loads(response["body"])["schemas"]
    else:
        assert route.function_logical_id in ("HealthFunction", "SettingsPageFunction")
        assert response["statusCode"] == 200


TOKEN_EVENT_FILES = [
    name for name in EVENT_FILES if serving_route(load_event(name)).function_logical_id == "AccessTokensFunction"
]


def with_real_credentials(event: dict[str, Any], authorization: str, token_uuid: str) -> dict[str, Any]:
    """The event with the placeholder ApiKey and token uuid swapped for real ones, everywhere
    they appear (headers, path, pathParameters, requestContext)."""
    text = json.dumps(event).replace(event["headers"]["Authorization"], authorization)
    placeholder_uuid = (event["pathParameters"] or {}).get("uuid")
    if placeholder_uuid:
        text = text.replace(placeholder_uuid, token_uuid)
    return json.loads(text)


@pytest.mark.parametrize("file_name", TOKEN_EVENT_FILES)
def test_token_event_works_end_to_end_with_a_real_api_key(
    file_name: str, app_runtime: Runtime, admin: AdminFixture, clock: FixedClock
):
    principal = app_runtime.authenticator.authenticate_admin(admin.authorization)
    token, _ = app_runtime.access_tokens.create(principal, "Okta", clock.now() + timedelta(days=30))
    event = with_real_credentials(load_event(file_name), admin.authorization, token.uuid)

    response = invoke(event)

    assert_well_formed(response)
    # The token API answers 201 to the POST that mints a token and 200 to everything else.
    assert response["statusCode"] == (201 if event["httpMethod"] == "POST" else 200), response["body"]
    assert json.loads(response["body"])["status"] == "ok"


USERS_EVENT_FILES = [
    name
    for name in EVENT_FILES
    if serving_route(load_event(name)).function_logical_id == "ScimUsersFunction" and name != UNKNOWN_SCIM_PATH_EVENT
]
USERS_EVENT_STATUS = {"GET": 200, "POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}


@pytest.mark.parametrize("file_name", USERS_EVENT_FILES)
def test_users_event_works_end_to_end_with_a_real_scim_token(file_name: str, app_runtime: Runtime, admin: AdminFixture):
    """With a real bearer token (and, for the item routes, a real user in place of the
    placeholder id) every Users event succeeds with its method's status."""
    principal = app_runtime.authenticator.authenticate_admin(admin.authorization)
    _, secret = app_runtime.access_tokens.create(principal, "Okta", None)
    event = load_event(file_name)
    text = json.dumps(event).replace(event["headers"]["Authorization"], f"Bearer {secret}")
    placeholder_id = (event["pathParameters"] or {}).get("id")
    if placeholder_id:
        scim = app_runtime.authenticator.authenticate_scim(f"Bearer {secret}")
        user = app_runtime.users.create(scim, {"userName": "jane.doe@example.com", "displayName": "Jane Doe"})
        text = text.replace(placeholder_id, user.uuid)
    event = json.loads(text)

    response = invoke(event)

    if response["statusCode"] == 204:
        assert not response["body"]  # no content: API Gateway sends an empty body
    else:
        assert_well_formed(response)
    assert header_of(response, "Content-Type") == SCIM_JSON
    expected = 200 if event["resource"].endswith("/.search") else USERS_EVENT_STATUS[event["httpMethod"]]
    assert response["statusCode"] == expected, response["body"]


def test_the_doubled_slash_event_lists_users_with_a_real_scim_token(app_runtime: Runtime, admin: AdminFixture):
    """Given the event of ``GET …/v2//Users?filter=…`` (a client that appended /Users to the base
    URL's trailing slash) with a real token, when the greedy route's function serves it, then it is
    the Users list, with locations under the collapsed path."""
    principal = app_runtime.authenticator.authenticate_admin(admin.authorization)
    _, secret = app_runtime.access_tokens.create(principal, "Okta", None)
    scim = app_runtime.authenticator.authenticate_scim(f"Bearer {secret}")
    app_runtime.users.create(scim, {"userName": "jane.doe@example.com", "displayName": "Jane Doe"})
    event = load_event("scim_users_doubled_slash.json")
    event = json.loads(json.dumps(event).replace(event["headers"]["Authorization"], f"Bearer {secret}"))

    response = invoke(event)

    assert response["statusCode"] == 200, response["body"]
    (user,) = json.loads(response["body"])["Resources"]
    assert user["meta"]["location"] == (
        f"https://abc123.execute-api.us-east-1.amazonaws.com/dev/api/v1/scim/v2/Users/{user['id']}"
    )
