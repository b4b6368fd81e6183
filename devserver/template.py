"""Reads ``template.yaml``: the table definitions and the API routes (the OpenAPI paths of its
``AWS::Serverless::Api``).

The template is the single definition of both; the dev server, the tests and the admin CLI
build what they need from it, so a new route or index needs no second edit anywhere."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


class _CloudFormationLoader(yaml.SafeLoader):
    """SafeLoader that keeps CloudFormation's short tags (!Ref, !Sub, !GetAtt…) as
    ``{"Ref": …}`` / ``{"Fn::Sub": …}`` mappings instead of refusing them."""


def _intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if tag_suffix == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(cast("yaml.MappingNode", node), deep=True)
    return {name: value}


_CloudFormationLoader.add_multi_constructor("!", _intrinsic)


@cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CloudFormationLoader)  # noqa: S506 - SafeLoader subclass


def _resources(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template["Resources"].items() if resource.get("Type") == resource_type}


# ------------------------------------------------------------------------------ tables
@dataclass(frozen=True)
class TableDefinition:
    logical_id: str
    create_table_arguments: dict[str, Any]  # CreateTable's parameters, TableName excluded
    ttl_attribute: str | None


def table_definitions(template: dict[str, Any] | None = None) -> list[TableDefinition]:
    template = template or load_template()
    definitions = []
    for logical_id, resource in _resources(template, "AWS::DynamoDB::Table").items():
        properties = resource["Properties"]
        arguments: dict[str, Any] = {
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "KeySchema": properties["KeySchema"],
            "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if properties.get("GlobalSecondaryIndexes"):
            arguments["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        stream = properties.get("StreamSpecification")
        if stream:  # CloudFormation names only the view; CreateTable also wants it enabled
            arguments["StreamSpecification"] = {"StreamEnabled": True, **stream}
        ttl = properties.get("TimeToLiveSpecification", {})
        definitions.append(
            TableDefinition(
                logical_id=logical_id,
                create_table_arguments=arguments,
                ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
            )
        )
    return definitions


def main_table_definition(template: dict[str, Any] | None = None) -> TableDefinition:
    (definition,) = table_definitions(template)
    return definition


def create_table(client: Any, table_name: str, definition: TableDefinition | None = None) -> None:
    """Create the template's table under ``table_name`` and wait until it is active."""
    definition = definition or main_table_definition()
    client.create_table(TableName=table_name, **definition.create_table_arguments)
    client.get_waiter("table_exists").wait(TableName=table_name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    if definition.ttl_attribute:
        client.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": definition.ttl_attribute},
        )


# ------------------------------------------------------------------------------ routes
@dataclass(frozen=True)
class Route:
    """One operation of the API: what API Gateway would invoke for method + path."""

    method: str  # GET, POST… or ANY
    resource: str  # the template's path, e.g. /api/v1/scim/v2/Users/{id}
    function_logical_id: str
    code_uri: Path
    handler: str  # module.function, relative to code_uri

    @property
    def pattern(self) -> re.Pattern[str]:
        parts = []
        for segment in self.resource.strip("/").split("/"):
            if segment.endswith("+}"):
                parts.append(f"(?P<{segment[1:-2]}>.+)")
            elif segment.startswith("{"):
                parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("^/" + "/".join(parts) + "/?$")

    @property
    def specificity(self) -> tuple[int, int, int]:
        """API Gateway prefers literal segments over {param} over {proxy+}; then an exact method."""
        segments = self.resource.strip("/").split("/")
        literal = sum(not segment.startswith("{") for segment in segments)
        greedy = sum(segment.endswith("+}") for segment in segments)
        return (literal, -greedy, self.method != "ANY")


# OpenAPI operation keys API Gateway serves; ``x-amazon-apigateway-any-method`` is ANY.
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch"}
ANY_METHOD_KEY = "x-amazon-apigateway-any-method"


def _integrated_function(path: str, operation: dict[str, Any]) -> str:
    """The logical id of the function an operation's Lambda proxy integration invokes.

    The template writes each integration as ``!Sub [".../functions/${Alias}/invocations",
    {Alias: !Ref <Function>.Alias}]``: the API invokes the function's ``live`` alias (what
    CodeDeploy shifts), never ``$LATEST``. Anything else is a template error, said here."""
    uri = operation.get("x-amazon-apigateway-integration", {}).get("uri")
    substitution = uri.get("Fn::Sub") if isinstance(uri, dict) else None
    if isinstance(substitution, list) and len(substitution) == 2:
        for value in substitution[1].values():
            reference = value.get("Ref") if isinstance(value, dict) else None
            if isinstance(reference, str) and reference.endswith(".Alias"):
                return reference.removesuffix(".Alias")
    raise ValueError(f"{path}: the integration must invoke a function's alias (!Ref <Function>.Alias), not {uri!r}")


@dataclass(frozen=True)
class FunctionCode:
    """Where a function's handler is: ``handler`` (module.function) relative to ``code_uri``."""

    logical_id: str
    code_uri: Path
    handler: str


def function_code(logical_id: str, template: dict[str, Any] | None = None) -> FunctionCode:
    template = template or load_template()
    globals_ = template.get("Globals", {}).get("Function", {})
    properties = {**globals_, **template["Resources"][logical_id]["Properties"]}
    return FunctionCode(logical_id, PROJECT_ROOT / properties["CodeUri"], properties["Handler"])


def api_routes(template: dict[str, Any] | None = None) -> list[Route]:
    """Every (method, path) of the template's APIs (their OpenAPI ``DefinitionBody``) with the
    function that serves it, most specific first."""
    template = template or load_template()
    routes = []
    for api in _resources(template, "AWS::Serverless::Api").values():
        for path, operations in api["Properties"].get("DefinitionBody", {}).get("paths", {}).items():
            for key, operation in operations.items():
                if key != ANY_METHOD_KEY and key not in _METHODS:
                    continue  # path-level OpenAPI fields (parameters, summary…)
                code = function_code(_integrated_function(path, operation), template)
                routes.append(
                    Route(
                        method="ANY" if key == ANY_METHOD_KEY else key.upper(),
                        resource=path,
                        function_logical_id=code.logical_id,
                        code_uri=code.code_uri,
                        handler=code.handler,
                    )
                )
    return sorted(routes, key=lambda route: route.specificity, reverse=True)


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The route API Gateway would pick for this request, with its path parameters. Methods
    are case-sensitive (RFC 9110 §9.1): ``get`` is no GET route's, only an ANY route's."""
    for route in routes:
        if route.method not in (method, "ANY"):
            continue
        matched = route.pattern.match(path)
        if matched:
            return route, matched.groupdict()
    return None


# ------------------------------------------------------------------ log subscriptions
@dataclass(frozen=True)
class LogSubscription:
    """The template's CloudWatch Logs subscription filters: the one filter pattern they share,
    the function they deliver to, and the functions whose log groups they watch."""

    filter_pattern: str
    destination: FunctionCode
    sources: frozenset[str]  # logical ids of the functions whose log groups are subscribed


def _function_logging_to(template: dict[str, Any], log_group: str) -> str:
    for logical_id, resource in _resources(template, "AWS::Serverless::Function").items():
        if resource["Properties"].get("LoggingConfig", {}).get("LogGroup") == {"Ref": log_group}:
            return logical_id
    raise ValueError(f"no function logs to {log_group}")


def log_subscription(template: dict[str, Any] | None = None) -> LogSubscription:
    """What the dev server plays for CloudWatch Logs (``devserver.log_subscription``). The
    filters must agree on pattern and destination: one ingest, one kind of record."""
    template = template or load_template()
    filters = _resources(template, "AWS::Logs::SubscriptionFilter").values()
    patterns = {resource["Properties"]["FilterPattern"] for resource in filters}
    # Each delivers to a function's `live` alias: ``!Ref <Function>.Alias``.
    destinations = {resource["Properties"]["DestinationArn"]["Ref"].removesuffix(".Alias") for resource in filters}
    if len(patterns) != 1 or len(destinations) != 1:
        raise ValueError(f"subscription filters disagree: patterns {patterns}, destinations {destinations}")
    return LogSubscription(
        filter_pattern=patterns.pop(),
        destination=function_code(destinations.pop(), template),
        sources=frozenset(_function_logging_to(template, r["Properties"]["LogGroupName"]["Ref"]) for r in filters),
    )


# ------------------------------------------------------------------------------ table stream
@dataclass(frozen=True)
class StreamConsumer:
    """A function the template feeds from the table's stream (an event of type DynamoDB): its
    code, the batch size and the FilterCriteria patterns (JSON) a record must match one of."""

    code: FunctionCode
    batch_size: int
    patterns: tuple[dict[str, Any], ...]
    timeout_seconds: int
    # ``FunctionResponseTypes: [ReportBatchItemFailures]``: its answer may name the first record
    # it did not process, and the batch is retried from there.
    reports_item_failures: bool = False


def stream_consumers(template: dict[str, Any] | None = None) -> list[StreamConsumer]:
    """What the dev server feeds from the embedded table's stream (``devserver.streams``)."""
    template = template or load_template()
    consumers = []
    for logical_id, resource in _resources(template, "AWS::Serverless::Function").items():
        for event in resource["Properties"].get("Events", {}).values():
            if event.get("Type") != "DynamoDB":
                continue
            properties = event["Properties"]
            filters = properties.get("FilterCriteria", {}).get("Filters", [])
            timeout = {**template.get("Globals", {}).get("Function", {}), **resource["Properties"]}["Timeout"]
            consumers.append(
                StreamConsumer(
                    code=function_code(logical_id, template),
                    batch_size=int(properties.get("BatchSize", 100)),
                    patterns=tuple(json.loads(item["Pattern"]) for item in filters),
                    timeout_seconds=int(_mapped(template, timeout)),
                    reports_item_failures="ReportBatchItemFailures" in properties.get("FunctionResponseTypes", []),
                )
            )
    return consumers


def _mapped(template: dict[str, Any], value: Any) -> Any:
    """A property's value, with a ``!FindInMap [Map, Key, Name]`` looked up."""
    if isinstance(value, dict) and "Fn::FindInMap" in value:
        mapping, key, name = value["Fn::FindInMap"]
        return template["Mappings"][mapping][key][name]
    return value
