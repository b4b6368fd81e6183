"""template.yaml as CloudFormation sees it, offline: transformed by SAM's own translator
(samtranslator, installed with the SAM CLI) with the ``CodeUri``s ``sam package`` would upload
rewritten to S3 placeholders (the region comes from the root conftest), and its Conditions
evaluated for given parameter values."""

from __future__ import annotations

import copy
from functools import cache
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from devserver.template import TEMPLATE_PATH


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only to expand policy names; this template
    names none, so nothing needs loading (and no AWS account is reached)."""

    def load(self) -> dict[str, str]:
        return {}


@cache
def sam_template() -> str:
    return TEMPLATE_PATH.read_text(encoding="utf-8")


@cache
def _transformed(parameters: frozenset[tuple[str, str]]) -> dict[str, Any]:
    template = yaml_parse(sam_template())
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):  # what `sam package` does before the transform
            if isinstance(properties.get(key), str):
                properties[key] = f"s3://artifacts/{properties[key].strip('/')}.zip"
    return transform(template, dict(parameters), _NoManagedPolicies())


def cloudformation(**parameters: str) -> dict[str, Any]:
    """The transformed template, as deployed with these parameter values (the others default)."""
    return copy.deepcopy(_transformed(frozenset(parameters.items())))


def parameter_values(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    defaults = {name: spec.get("Default") for name, spec in template["Parameters"].items()}
    return {**defaults, **overrides}


def condition_holds(template: dict[str, Any], name: str, parameters: dict[str, Any]) -> bool:
    """Evaluate one of the template's Conditions the way CloudFormation does."""

    def value(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return parameters[node["Ref"]]
        return node

    def holds(node: Any) -> bool:
        ((function, arguments),) = node.items()
        if function == "Condition":
            return holds(template["Conditions"][arguments])
        if function == "Fn::Equals":
            return str(value(arguments[0])) == str(value(arguments[1]))
        if function == "Fn::Not":
            return not holds(arguments[0])
        if function == "Fn::And":
            return all(holds(argument) for argument in arguments)
        if function == "Fn::Or":
            return any(holds(argument) for argument in arguments)
        raise AssertionError(f"unsupported condition function {function}")

    return holds(template["Conditions"][name])


def deployed_resources(**parameters: str) -> dict[str, dict[str, Any]]:
    """The resources CloudFormation creates for these parameters: those without a Condition and
    those whose Condition holds."""
    template = cloudformation(**parameters)
    values = parameter_values(template, parameters)
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if "Condition" not in resource or condition_holds(template, resource["Condition"], values)
    }


def of_type(resources: dict[str, dict[str, Any]], resource_type: str) -> dict[str, dict[str, Any]]:
    return {logical_id: resource for logical_id, resource in resources.items() if resource["Type"] == resource_type}


def sub_text(value: Any) -> str:
    """The template string of a Fn::Sub, in either of its two forms."""
    substitution = value["Fn::Sub"]
    return substitution[0] if isinstance(substitution, list) else substitution


def described_stack(name: str, status: str, parameters: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """A DescribeStacks answer for one stack, as a Stubber response."""
    described: dict[str, Any] = {"StackName": name, "CreationTime": "2026-11-01T00:00:00Z", "StackStatus": status}
    if parameters is not None:
        described["Parameters"] = parameters
    return {"Stacks": [described]}
