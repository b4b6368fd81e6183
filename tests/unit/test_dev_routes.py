"""What the dev server reads from template.yaml (routes, table, environment) and the API Gateway
events it builds: the local stand-in must route and shape requests as the deployed API does."""

from __future__ import annotations

import base64
import io
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from devserver.dev_only import EVENTS_PATH, GUARDIAN_RUN_PATH, dev_only_routes
from devserver.dispatch import Dispatcher, HttpResponse
from devserver.environment import local_overrides, template_environment
from devserver.events import build_event
from devserver.local_events import LocalEventBus
from devserver.template import Route, api_routes, main_table_definition, match_route
from scim_provisioning.config import LOCAL_TABLE_NAME
from scim_provisioning.models import ServiceEvent

ROUTES = api_routes()


def route_for(method: str, path: str) -> tuple[str, str, dict[str, str]] | None:
    """(function, template path, path parameters) of the route API Gateway would pick."""
    matched = match_route(ROUTES, method, path)
    if matched is None:
        return None
    route, parameters = matched
    return route.function_logical_id, route.resource, parameters


def template_with_routes(*operations: tuple[str, str, str]) -> dict[str, Any]:
    """A minimal template whose API serves the given (function, method, path) operations, each
    integrated with the function's alias as template.yaml writes it."""
    resources: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for function, method, path in operations:
        resources[function] = {
            "Type": "AWS::Serverless::Function",
            "Properties": {"CodeUri": f"functions/{function}/", "Handler": "handler.lambda_handler"},
        }
        uri = {"Fn::Sub": [".../functions/${Alias}/invocations", {"Alias": {"Ref": f"{function}.Alias"}}]}
        key = "x-amazon-apigateway-any-method" if method == "ANY" else method.lower()
        paths.setdefault(path, {})[key] = {"x-amazon-apigateway-integration": {"type": "aws_proxy", "uri": uri}}
    resources["Api"] = {"Type": "AWS::Serverless::Api", "Properties": {"DefinitionBody": {"paths": paths}}}
    return {"Resources": resources}


# ------------------------------------------------------------------------------- routes
def test_every_function_with_an_api_event_is_routed() -> None:
    """Given template.yaml, when its routes are read, then each function serves some of the API's paths."""
    functions = {route.function_logical_id for route in ROUTES}

    assert functions == {
        "AccessTokensFunction",
        "ScimUsersFunction",
        "ScimGroupsFunction",
        "ScimDiscoveryFunction",
        "ScimRequestLogsFunction",
        "SettingsPageFunction",
        "HealthFunction",
    }
    assert all(route.code_uri.is_dir() for route in ROUTES)


def test_a_route_added_to_the_template_is_served_without_another_edit() -> None:
    """Given a template with a new function and route, when routes are read from it, then the new
    route is matched: the template is the only place a route is declared."""
    routes = api_routes(template_with_routes(("ReportsFunction", "GET", "/api/v1/reports/{id}")))

    matched = match_route(routes, "GET", "/api/v1/reports/42")

    assert matched is not None
    route, parameters = matched
    assert (route.function_logical_id, route.handler, parameters) == (
        "ReportsFunction",
        "handler.lambda_handler",
        {"id": "42"},
    )


def test_an_integration_that_bypasses_the_alias_is_refused() -> None:
    """Given an operation integrated with the function itself (its $LATEST), when routes are read,
    then the dev server refuses the template: deployed, that route would skip CodeDeploy's alias."""
    template = template_with_routes(("ReportsFunction", "GET", "/api/v1/reports"))
    operation = template["Resources"]["Api"]["Properties"]["DefinitionBody"]["paths"]["/api/v1/reports"]["get"]
    direct = {"Fn::Sub": ".../functions/${ReportsFunction.Arn}/invocations"}
    operation["x-amazon-apigateway-integration"]["uri"] = direct

    with pytest.raises(ValueError, match="alias"):
        api_routes(template)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/scim/v2/Users/.search", ("ScimUsersFunction", "/api/v1/scim/v2/Users/.search", {})),
        ("/api/v1/scim/v2/Users/2819c223", ("ScimUsersFunction", "/api/v1/scim/v2/Users/{id}", {"id": "2819c223"})),
        (
            "/api/v1/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            (
                "ScimDiscoveryFunction",
                "/api/v1/scim/v2/Schemas/{id}",
                {"id": "urn:ietf:params:scim:schemas:core:2.0:User"},
            ),
        ),
        (
            "/api/v1/scim/v2/Users/2819c223/extra",
            ("ScimUsersFunction", "/api/v1/scim/v2/{proxy+}", {"proxy": "Users/2819c223/extra"}),
        ),
        ("/api/v1/scim/v2/Bulk", ("ScimUsersFunction", "/api/v1/scim/v2/{proxy+}", {"proxy": "Bulk"})),
    ],
    ids=["literal-over-parameter", "parameter", "parameter-with-colons", "greedy-over-deeper-paths", "greedy"],
)
def test_literal_segments_beat_parameters_which_beat_greedy_ones(
    path: str, expected: tuple[str, str, dict[str, str]]
) -> None:
    """Given overlapping routes, when a path matches several, then API Gateway's preference wins:
    a literal segment over {param} over {proxy+}."""
    assert route_for("GET", path) == expected


def test_an_exact_method_beats_any_on_the_same_path() -> None:
    """Given one function on GET /items and another on ANY /items, when each method arrives, then
    GET goes to the exact route and every other method to ANY."""
    routes = api_routes(template_with_routes(("CatchAllFunction", "ANY", "/items"), ("ReadFunction", "GET", "/items")))

    get, post = match_route(routes, "GET", "/items"), match_route(routes, "POST", "/items")

    assert get is not None and get[0].function_logical_id == "ReadFunction"
    assert post is not None and post[0].function_logical_id == "CatchAllFunction"


@pytest.mark.parametrize(
    ("method", "function"),
    [("GET", "ReadFunction"), ("get", "CatchAllFunction"), ("TRACE", "CatchAllFunction"), ("HEAD", "CatchAllFunction")],
)
def test_methods_are_matched_exactly_unless_the_route_takes_any(method: str, function: str) -> None:
    """Given a GET route and an ANY route on one path, when a method arrives, then only GET, spelled
    exactly, goes to the GET route (methods are case-sensitive) and every other method to ANY."""
    routes = api_routes(template_with_routes(("CatchAllFunction", "ANY", "/items"), ("ReadFunction", "GET", "/items")))

    matched = match_route(routes, method, "/items")

    assert matched is not None and matched[0].function_logical_id == function


def test_a_method_no_route_declares_gets_api_gateways_own_answer() -> None:
    """Given a path with only a GET route, when another method arrives, then no function runs."""
    routes = api_routes(template_with_routes(("ReadFunction", "GET", "/items")))

    assert match_route(routes, "get", "/items") is None
    assert match_route(routes, "POST", "/items") is None


def test_every_route_of_the_template_takes_any_method() -> None:
    """Given template.yaml, when its API routes are read, then each takes ANY method except the
    health probe: API Gateway hands every method to the function, which answers an unserved one
    with a 405 and Allow in its API's dialect, where API Gateway alone answers 403 "Missing
    Authentication Token" (which reads like a credential problem)."""
    exact = [(route.method, route.resource) for route in ROUTES if route.method != "ANY"]

    assert exact == [("GET", "/api/v1/health")]


@pytest.mark.parametrize(
    ("path", "proxy"),
    [
        ("/api/v1/scim/v2//Users", "/Users"),
        ("/api/v1/scim/v2//Users/2819c223", "/Users/2819c223"),
        ("/api/v1/scim/v2/Groups//2819c223", "Groups//2819c223"),
        ("/api/v1/scim/v2//", "/"),
    ],
)
def test_a_doubled_slash_under_the_scim_base_goes_to_the_function_that_collapses_it(path: str, proxy: str) -> None:
    """Given the SCIM base URL as documented (ending with /) and a client appending /Users to it,
    when the path with its doubled slash is routed as the template says (on AWS as here), then it
    reaches the greedy route, whose function collapses the slashes and serves the result with the
    Users, Groups or discovery handler (functions/scim_paths), never API Gateway's 403."""
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        assert route_for(method, path) == ("ScimUsersFunction", "/api/v1/scim/v2/{proxy+}", {"proxy": proxy})
    (greedy,) = [route for route in ROUTES if route.resource == "/api/v1/scim/v2/{proxy+}"]
    assert (greedy.method, greedy.handler) == ("ANY", "scim_paths.handler.lambda_handler")
    assert (greedy.code_uri / "scim_paths" / "handler.py").is_file()


@pytest.mark.parametrize(
    ("path", "resource"),
    [
        ("/api/v1/health/", "/api/v1/health"),
        ("/api/v1/scim/v2/", "/api/v1/scim/v2"),
        ("/api/v1/scim/v2", "/api/v1/scim/v2"),
        ("/api/v1/scim/v2/Users/", "/api/v1/scim/v2/Users"),
    ],
)
def test_a_trailing_slash_matches_the_same_route(path: str, resource: str) -> None:
    """Given a path with or without a trailing slash, when it is matched, then it is the route
    without one (not the greedy catch-all with an empty proxy)."""
    matched = route_for("GET", path)

    assert matched is not None and matched[1] == resource


def test_an_undeclared_route_gets_api_gateways_own_answer() -> None:
    """Given no route for a request, when the dispatcher serves it, then it answers as API
    Gateway does: 403 "Missing Authentication Token" under /api/, 404 elsewhere, no function run."""
    dispatcher = Dispatcher()

    under_api = dispatcher.handle("GET", "/api/v1/nothing?x=1")
    elsewhere = dispatcher.handle("GET", "/favicon.ico")

    assert (under_api.status, elsewhere.status) == (403, 404)
    assert under_api.body == b'{"message":"Missing Authentication Token"}'


def test_the_dev_only_routes_are_served_by_the_dev_server_alone() -> None:
    """Given the dev-only guardian route, when a dispatcher that plays the deployed API (no dev
    routes) serves it, then it gets API Gateway's 403 as any undeclared path; the dev server's
    dispatcher hands it to the dev-only handler with the query string and its own base URL."""
    seen: list[tuple[str, str]] = []

    def recorded(query: str, base_url: str) -> HttpResponse:
        seen.append((query, base_url))
        return HttpResponse(200, [], b"{}")

    deployed = Dispatcher().handle("POST", f"{GUARDIAN_RUN_PATH}?now=2026-12-01T00:00:00Z")
    local = Dispatcher(host="127.0.0.1:3001", dev_only={("POST", GUARDIAN_RUN_PATH): recorded}).handle(
        "POST", f"{GUARDIAN_RUN_PATH}?now=2026-12-01T00:00:00Z"
    )

    assert deployed.status == 403 and deployed.body == b'{"message":"Missing Authentication Token"}'
    assert local.status == 200 and seen == [("now=2026-12-01T00:00:00Z", "http://127.0.0.1:3001")]
    assert set(dev_only_routes(LocalEventBus("us-east-1"))) == {("POST", GUARDIAN_RUN_PATH), ("GET", EVENTS_PATH)}


def test_the_deployed_api_has_no_events_route_and_the_dev_server_lists_what_its_bus_holds() -> None:
    """Given an event on the dev server's local bus, when GET /api/v1/dev/events is asked of a
    dispatcher playing the deployed API and of the dev server's, then the first answers API
    Gateway's 403 and the second the event, as a rule's target would receive it."""
    bus = LocalEventBus("eu-west-1", out=io.StringIO())
    detail = {"resourceType": "User", "resourceId": "u-1", "version": 3}
    bus.publish([ServiceEvent("ScimUserDeactivated", detail, datetime(2026, 12, 1, 9, 30, 15, 250_000, tzinfo=UTC))])

    deployed = Dispatcher().handle("GET", EVENTS_PATH)
    local = Dispatcher(dev_only=dev_only_routes(bus)).handle("GET", EVENTS_PATH)

    assert deployed.status == 403
    (event,) = json.loads(local.body)["events"]
    assert {key: value for key, value in event.items() if key != "id"} == {
        "version": "0",
        "detail-type": "ScimUserDeactivated",
        "source": "scim-provisioning",
        "account": "123456789012",
        "time": "2026-12-01T09:30:15Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }
    assert str(uuid.UUID(event["id"])) == event["id"]


def test_the_local_bus_keeps_the_last_thousand_events_and_prints_a_line_for_each() -> None:
    """Given the local bus, when 1,005 events are published, then it keeps the last 1,000 in
    the order published and printed 1,005 lines naming each event's kind and resource."""
    out = io.StringIO()
    bus = LocalEventBus("us-east-1", out=out)
    at = datetime(2026, 12, 1, tzinfo=UTC)

    for number in range(1_005):
        bus.publish([ServiceEvent("ScimUserCreated", {"resourceType": "User", "resourceId": f"u-{number}"}, at)])

    kept = bus.delivered()
    assert [event["detail"]["resourceId"] for event in kept] == [f"u-{number}" for number in range(5, 1_005)]
    lines = out.getvalue().splitlines()
    assert len(lines) == 1_005 and lines[-1] == "event ScimUserCreated User u-1004"


# ------------------------------------------------------------------------------- events
def health_route() -> Route:
    matched = match_route(ROUTES, "GET", "/api/v1/health")
    assert matched is not None
    return matched[0]


def test_query_strings_decode_plus_and_percent_twenty_to_spaces() -> None:
    """Given a SCIM filter encoded with + and with %20, when the event is built, then both are
    spaces, as API Gateway decodes them."""
    event = build_event(health_route(), "GET", "/api/v1/health", query_string="filter=userName+eq+%22a%20b%40x.test%22")

    assert event["queryStringParameters"] == {"filter": 'userName eq "a b@x.test"'}
    assert event["multiValueQueryStringParameters"] == {"filter": ['userName eq "a b@x.test"']}


def test_repeated_query_keys_and_headers_keep_every_value() -> None:
    """Given repeated query keys and headers, when the event is built, then the single-value view
    holds the last value and the multi-value view all of them, in order."""
    event = build_event(
        health_route(),
        "GET",
        "/api/v1/health",
        query_string="attributes=userName&attributes=emails&empty=",
        headers=[("Accept", "application/scim+json"), ("X-Forwarded-For", "10.0.0.1"), ("X-Forwarded-For", "10.0.0.2")],
    )

    assert event["queryStringParameters"] == {"attributes": "emails", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"attributes": ["userName", "emails"], "empty": [""]}
    assert event["headers"] == {"Accept": "application/scim+json", "X-Forwarded-For": "10.0.0.2"}
    assert event["multiValueHeaders"]["X-Forwarded-For"] == ["10.0.0.1", "10.0.0.2"]


def test_no_query_and_no_headers_are_null_as_in_api_gateway() -> None:
    event = build_event(health_route(), "GET", "/api/v1/health")

    assert event["queryStringParameters"] is None and event["multiValueQueryStringParameters"] is None
    assert event["headers"] is None and event["multiValueHeaders"] is None
    assert event["body"] is None and event["isBase64Encoded"] is False


@pytest.mark.parametrize(
    ("body", "expected_body", "is_base64"),
    [
        ('{"displayName": "Zoë"}'.encode(), '{"displayName": "Zoë"}', False),
        (b"\xff\xfe\x00binary", base64.b64encode(b"\xff\xfe\x00binary").decode(), True),
        (b"", None, False),
    ],
    ids=["utf-8-text", "not-utf-8", "empty"],
)
def test_a_body_that_is_not_utf8_text_is_base64_encoded(
    body: bytes, expected_body: str | None, is_base64: bool
) -> None:
    """Given a request body, when the event is built, then UTF-8 text is passed as is and any
    other bytes are base64-encoded with isBase64Encoded set."""
    event = build_event(health_route(), "POST", "/api/v1/health", body=body)

    assert (event["body"], event["isBase64Encoded"]) == (expected_body, is_base64)


def test_the_event_names_the_route_and_its_path_parameters() -> None:
    """Given a parameterized route, when the event is built, then resource, path and
    pathParameters are what the function's resolver routes on."""
    matched = match_route(ROUTES, "GET", "/api/v1/scim/organization-access-tokens/5c3f")
    assert matched is not None
    route, parameters = matched

    event = build_event(route, "GET", "/api/v1/scim/organization-access-tokens/5c3f", path_parameters=parameters)

    assert event["resource"] == "/api/v1/scim/organization-access-tokens/{uuid}"
    assert event["requestContext"]["resourcePath"] == event["resource"]
    assert event["path"] == "/api/v1/scim/organization-access-tokens/5c3f"
    assert event["pathParameters"] == {"uuid": "5c3f"}
    assert event["httpMethod"] == "GET"


# -------------------------------------------------------------------- table, environment
def test_the_table_definition_is_read_from_the_template() -> None:
    """Given template.yaml's table, when its definition is read, then it has the single-table keys,
    the GSI1 and GSI2 indexes, on-demand billing and the TTL attribute, and no name (each user
    picks one)."""
    definition = main_table_definition()
    arguments = definition.create_table_arguments

    assert definition.logical_id == "ScimTable"
    assert "TableName" not in arguments
    assert arguments["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert arguments["BillingMode"] == "PAY_PER_REQUEST"
    gsi1, gsi2 = arguments["GlobalSecondaryIndexes"]
    assert gsi1["IndexName"] == "GSI1" and gsi1["Projection"] == {"ProjectionType": "ALL"}
    assert gsi2["IndexName"] == "GSI2" and gsi2["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert [key["AttributeName"] for key in gsi2["KeySchema"]] == ["GSI2PK", "lastUsedAt"]
    assert {definition["AttributeName"] for definition in arguments["AttributeDefinitions"]} == {
        "PK",
        "SK",
        "GSI1PK",
        "GSI1SK",
        "GSI2PK",
        "lastUsedAt",
    }
    assert definition.ttl_attribute == "expiresAtEpoch"


def test_the_handlers_environment_is_the_templates_with_local_values() -> None:
    """Given the template's global variables, when they are resolved for the dev server, then
    literals stay, !Ref of a parameter is its default, !Ref of the table is the local table, and
    the dev server's overrides point at the local DynamoDB without metrics."""
    environment = template_environment(LOCAL_TABLE_NAME)
    overrides = local_overrides(LOCAL_TABLE_NAME, "http://127.0.0.1:8000")

    assert environment["TABLE_NAME"] == LOCAL_TABLE_NAME
    assert environment["STAGE"] == "dev"
    assert environment["POWERTOOLS_SERVICE_NAME"] == "scim-provisioning"
    assert environment["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert overrides["DYNAMODB_ENDPOINT_URL"] == "http://127.0.0.1:8000"
    assert overrides["POWERTOOLS_METRICS_DISABLED"] == "true"


def test_variables_without_a_local_meaning_are_left_unset() -> None:
    """Given a variable built with an intrinsic the dev server cannot evaluate, when the template
    is resolved, then that variable is absent rather than set to a mapping."""
    template = {
        "Globals": {
            "Function": {"Environment": {"Variables": {"QUEUE_URL": {"Fn::GetAtt": ["Queue", "Url"]}, "RETRIES": 3}}}
        },
        "Resources": {},
    }

    assert template_environment(LOCAL_TABLE_NAME, template) == {"RETRIES": "3"}
