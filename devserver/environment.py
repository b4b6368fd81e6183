"""The environment the handlers run in: what template.yaml gives every function in Lambda, with
the local table and DynamoDB endpoint in place of the deployed ones.

The variables come from the template's ``Globals.Function.Environment``, so a variable added
there reaches the dev server with no second edit. A function's own ``Environment`` is not
applied: all handlers share this one process."""

from __future__ import annotations

import os
from typing import Any

from devserver.template import load_template

DEFAULT_REGION = "us-east-1"


def _resolve(value: Any, template: dict[str, Any], table_name: str) -> str | None:
    """A variable's local value: literals as they are, ``!Ref`` of a parameter as its default and
    of a table as the local table. Anything else has no local meaning and is left unset."""
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, dict) and set(value) == {"Ref"}:
        name = value["Ref"]
        parameter = template.get("Parameters", {}).get(name)
        if parameter is not None and "Default" in parameter:
            return str(parameter["Default"])
        if template["Resources"].get(name, {}).get("Type") == "AWS::DynamoDB::Table":
            return table_name
    return None


def template_environment(table_name: str, template: dict[str, Any] | None = None) -> dict[str, str]:
    """What the template's Globals give every function, resolved for the local table."""
    template = template or load_template()
    variables = template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    return {
        name: resolved
        for name, value in variables.items()
        if (resolved := _resolve(value, template, table_name)) is not None
    }


def local_overrides(table_name: str, dynamodb_endpoint_url: str) -> dict[str, str]:
    """What the dev server imposes, whatever the template or the developer's shell says."""
    return {
        "TABLE_NAME": table_name,
        "DYNAMODB_ENDPOINT_URL": dynamodb_endpoint_url,
        # The dev server serves plain HTTP: the URLs in answers (Location, meta.location, $ref)
        # must say so, where API Gateway's say https.
        "PUBLIC_URL_SCHEME": "http",
        # Locally nobody reads the CloudWatch EMF lines: they would only bury the request log.
        "POWERTOOLS_METRICS_DISABLED": "true",
        # Events carry Authorization headers and request bodies: never log them, even when the
        # developer's shell sets POWERTOOLS_LOGGER_LOG_EVENT.
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    }


def apply_lambda_environment(table_name: str, dynamodb_endpoint_url: str) -> None:
    """Give this process the handlers' environment. For what the template merely sets, the
    developer's own value wins (``POWERTOOLS_LOG_LEVEL=DEBUG make dev``)."""
    for name, value in template_environment(table_name).items():
        os.environ.setdefault(name, value)
    os.environ.update(local_overrides(table_name, dynamodb_endpoint_url))


def provide_aws_defaults() -> str:
    """A region and, when the environment has no credentials, dummy ones: set before any boto3
    client exists, so boto3 neither fails nor reads a developer's AWS profile. Returns the region."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION
    os.environ["AWS_REGION"] = region
    os.environ["AWS_DEFAULT_REGION"] = region
    if not os.environ.get("AWS_ACCESS_KEY_ID"):
        os.environ["AWS_ACCESS_KEY_ID"] = "local"
        os.environ["AWS_SECRET_ACCESS_KEY"] = "local"
        os.environ.pop("AWS_SESSION_TOKEN", None)
    return region
