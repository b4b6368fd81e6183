"""Keep a stage's DynamoDB table in its CloudFormation stack across ``sam delete`` and restores.

The table outlives its stack (``DeletionPolicy: Retain``, deletion protection) under a name
fixed by the stage, and CloudFormation refuses to create a table whose name exists. Both
commands bring an existing table (back) under the stack by a CloudFormation resource import:
nothing is copied, the data never leaves its table, and every step can be retried.

``adopt``
    After ``sam delete``: create the stack from the retained table alone (an IMPORT change set
    holding only the template's ``ScimTable``); ``sam deploy`` then adds everything else.
    ``make deploy`` runs it first, and it does nothing when the stack exists or no table does.
``switch``
    Onto a table restored from point-in-time recovery: give the restored table the settings a
    restore does not carry over (the template's PITR, TTL, deletion protection, stream), detach
    the stack's current table (kept, and named literally by the stack's resources meanwhile),
    then import the restored one as ``ScimTable`` with the ``TableName`` parameter naming it.
    The next ``make deploy`` points every function, policy and alarm at it.

docs/operations.md ("Delete and redeploy a stage", "Restore the table") gives the procedure."""

from __future__ import annotations

import argparse
import copy
import json
import re
import shlex
import sys
import tomllib
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from devserver.template import PROJECT_ROOT, load_template

TABLE = "ScimTable"
SAMCONFIG = PROJECT_ROOT / "samconfig.toml"
CAPABILITIES = ["CAPABILITY_IAM"]
SAM_MANAGED_STACK = "aws-sam-cli-managed-default"  # where `sam deploy --resolve-s3` keeps its bucket
_SUB_NAME = re.compile(r"\$\{([^}!][^}]*)\}")

Say = Callable[[str], None]


class TableToolError(Exception):
    """What stops a command, said for the operator who ran it."""


# ------------------------------------------------------------------------ templates
def references(node: Any) -> set[str]:
    """Every name a piece of template refers to: ``Ref``, ``Fn::GetAtt``, ``${…}`` in ``Fn::Sub``
    (a dotted ``X.Attr`` counts as ``X``; the variables of a two-argument Sub are not names)."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref":
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text, variables = (value[0], value[1]) if isinstance(value, list) else (value, {})
                found |= {name.split(".")[0] for name in _SUB_NAME.findall(text)} - set(variables)
                found |= references(variables)
                continue
            found |= references(value)
    elif isinstance(node, list):
        for item in node:
            found |= references(item)
    return found


def _conditions_used(node: Any, conditions: dict[str, Any]) -> set[str]:
    """The Conditions a piece of template uses (``Fn::If``, ``Condition``), with those they use."""
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::If":
                found.add(value[0])
            elif key == "Condition" and isinstance(value, str):
                found.add(value)
            found |= _conditions_used(value, conditions)
    elif isinstance(node, list):
        for item in node:
            found |= _conditions_used(item, conditions)
    for name in set(found):
        found |= _conditions_used(conditions[name], conditions)
    return found


def table_template(template: dict[str, Any]) -> dict[str, Any]:
    """A template of the table alone, as ``template`` declares it, with the parameters and
    conditions it needs: what an IMPORT change set creating the stack must hold."""
    table = template["Resources"][TABLE]
    conditions = {
        name: template["Conditions"][name] for name in sorted(_conditions_used(table, template.get("Conditions", {})))
    }
    names = {name for name in references([table, conditions]) if not name.startswith("AWS::")}
    unknown = names - set(template.get("Parameters", {}))
    if unknown:
        raise TableToolError(f"{TABLE} refers to {sorted(unknown)}: an imported table may depend on parameters only")
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {name: template["Parameters"][name] for name in sorted(names)},
        "Conditions": conditions,
        "Resources": {TABLE: table},
    }


def _literal_sub(text: str, values: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name, _, attribute = match.group(1).partition(".")
        if name != TABLE:
            return match.group(0)
        return values[attribute or "Ref"]

    return _SUB_NAME.sub(replace, text)


def detached(template: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """``template`` (a processed one: no SAM) without the table, every reference to the table
    replaced by its value (``values``: ``Ref`` → name, ``Arn``, ``StreamArn``…), so that the
    stack can let go of the table while its functions, policies and alarms keep using it."""

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node == {"Ref": TABLE}:
                return values["Ref"]
            if set(node) == {"Fn::GetAtt"}:
                target = node["Fn::GetAtt"]
                name, attribute = target if isinstance(target, list) else target.split(".", 1)
                if name == TABLE:
                    return values[attribute]
            if set(node) == {"Fn::Sub"}:
                value = node["Fn::Sub"]
                if isinstance(value, list):
                    return {"Fn::Sub": [_literal_sub(value[0], values), walk(value[1])]}
                return {"Fn::Sub": _literal_sub(value, values)}
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result = copy.deepcopy(template)
    del result["Resources"][TABLE]
    for resource in result["Resources"].values():
        depends_on = resource.get("DependsOn")
        if depends_on == TABLE or (isinstance(depends_on, list) and TABLE in depends_on):
            remaining = [] if depends_on == TABLE else [name for name in depends_on if name != TABLE]
            if remaining:
                resource["DependsOn"] = remaining
            else:
                del resource["DependsOn"]
    result = walk(result)
    left = references(result) & {TABLE}
    if left:
        raise TableToolError(f"the detached template still refers to {TABLE}")
    return result


# ----------------------------------------------------------------------- the table
def table_description(dynamodb: Any, name: str) -> dict[str, Any] | None:
    try:
        return dynamodb.describe_table(TableName=name)["Table"]
    except dynamodb.exceptions.ResourceNotFoundException:
        return None


def match_template_settings(dynamodb: Any, name: str, properties: dict[str, Any], say: Say) -> None:
    """Give table ``name`` the settings of the template's table that a point-in-time restore
    does not carry over: point-in-time recovery, TTL, deletion protection and the stream.
    An import records the template without changing the table, so this has to happen first."""
    if properties.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
        dynamodb.update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )
        say(f"{name}: point-in-time recovery on")
    ttl = properties.get("TimeToLiveSpecification", {})
    if ttl.get("Enabled"):
        current = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]}
            )
            say(f"{name}: TTL on {ttl['AttributeName']}")
    description = dynamodb.describe_table(TableName=name)["Table"]
    stream = properties.get("StreamSpecification")
    if stream and description.get("StreamSpecification", {}).get("StreamViewType") != stream["StreamViewType"]:
        dynamodb.update_table(
            TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
        )
        dynamodb.get_waiter("table_exists").wait(TableName=name)
        say(f"{name}: stream {stream['StreamViewType']}")
    if properties.get("DeletionProtectionEnabled") and not description.get("DeletionProtectionEnabled"):
        dynamodb.update_table(TableName=name, DeletionProtectionEnabled=True)
        say(f"{name}: deletion protection on")


# ---------------------------------------------------------------------- the stack
def stack_description(cloudformation: Any, stack_name: str) -> dict[str, Any] | None:
    try:
        return cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise


def _wait(cloudformation: Any, waiter: str, poll_seconds: float, **arguments: Any) -> None:
    config = {"Delay": poll_seconds, "MaxAttempts": max(1, int(3600 / max(poll_seconds, 1)))}
    cloudformation.get_waiter(waiter).wait(WaiterConfig=config, **arguments)


def import_table(
    cloudformation: Any, stack_name: str, table_name: str, poll_seconds: float, **template_and_parameters: Any
) -> None:
    """Import existing table ``table_name`` as the stack's ``ScimTable`` (an IMPORT change set:
    the template may add that resource and change nothing else), and wait until it is done."""
    change_set = f"import-{TABLE}"
    cloudformation.create_change_set(
        StackName=stack_name,
        ChangeSetName=change_set,
        ChangeSetType="IMPORT",
        ResourcesToImport=[
            {
                "ResourceType": "AWS::DynamoDB::Table",
                "LogicalResourceId": TABLE,
                "ResourceIdentifier": {"TableName": table_name},
            }
        ],
        **template_and_parameters,
    )
    _wait(cloudformation, "change_set_create_complete", poll_seconds, StackName=stack_name, ChangeSetName=change_set)
    cloudformation.execute_change_set(StackName=stack_name, ChangeSetName=change_set)
    _wait(cloudformation, "stack_import_complete", poll_seconds, StackName=stack_name)


def stage_tables(dynamodb: Any, stage: str) -> list[str]:
    """The tables that may be a stage's: its default name, and the names restores are given
    (``scim-provisioning-<stage>-…``, docs/operations.md)."""
    default = f"scim-provisioning-{stage}"
    names = [name for page in dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]]
    return sorted(name for name in names if name == default or name.startswith(f"{default}-"))


def adopt(
    cloudformation: Any,
    dynamodb: Any,
    stack_name: str,
    stage: str,
    *,
    table_name: str = "",
    template: dict[str, Any] | None = None,
    say: Say = print,
    poll_seconds: float = 10,
) -> bool:
    """Create ``stack_name`` from its stage's retained table, if the stack is gone and the table
    is not; ``table_name`` is the stage's ``TableName`` parameter (empty: the default name).
    Refuses to guess between several candidate tables. True when it imported a table."""
    if stack_description(cloudformation, stack_name) is not None:
        return False
    template = template or load_template()
    if table_name:
        if table_description(dynamodb, table_name) is None:
            raise TableToolError(f"TableName={table_name} is configured for {stage}, but no such table exists")
        chosen = table_name
    else:
        candidates = stage_tables(dynamodb, stage)
        if not candidates:
            say(f"No stack {stack_name} and no table of stage {stage}: sam deploy creates both.")
            return False
        if candidates != [f"scim-provisioning-{stage}"]:
            raise TableToolError(
                f"several tables may hold stage {stage}'s data: {', '.join(candidates)}. Set TableName=<the one> "
                f"in samconfig.toml's parameter_overrides for {stage} (docs/operations.md) and run again."
            )
        chosen = candidates[0]
    say(f"Stack {stack_name} is gone but its table {chosen} was retained: importing it into a new stack.")
    import_table(
        cloudformation,
        stack_name,
        chosen,
        poll_seconds,
        TemplateBody=json.dumps(table_template(template)),
        Parameters=[
            {"ParameterKey": "Stage", "ParameterValue": stage},
            {"ParameterKey": "TableName", "ParameterValue": table_name},
        ],
    )
    say(f"Stack {stack_name} holds {chosen} again; sam deploy adds the rest.")
    return True


def _upload(s3: Any, bucket: str, key: str, template: dict[str, Any]) -> str:
    """Templates of this stack exceed CreateChangeSet's 51,200-byte inline limit: pass a URL."""
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(template).encode("utf-8"))
    region = s3.meta.region_name
    return f"https://{bucket}.s3.{region}.amazonaws.com/{key}"


def sam_managed_bucket(cloudformation: Any) -> str:
    """The bucket `sam deploy --resolve-s3` (samconfig.toml) uploads to."""
    stack = stack_description(cloudformation, SAM_MANAGED_STACK)
    outputs = {output["OutputKey"]: output["OutputValue"] for output in (stack or {}).get("Outputs", [])}
    if "SourceBucket" not in outputs:
        raise TableToolError(f"no {SAM_MANAGED_STACK} stack with a SourceBucket: pass --s3-bucket")
    return outputs["SourceBucket"]


def switch(
    cloudformation: Any,
    dynamodb: Any,
    s3: Any,
    stack_name: str,
    new_table: str,
    bucket: str,
    *,
    say: Say = print,
    poll_seconds: float = 10,
) -> None:
    """Make ``stack_name``'s ``ScimTable`` the existing table ``new_table`` (see the module doc)."""
    stack = stack_description(cloudformation, stack_name)
    if stack is None:
        raise TableToolError(f"no stack {stack_name}: after sam delete, use adopt")
    described = table_description(dynamodb, new_table)
    if described is None or described["TableStatus"] != "ACTIVE":
        raise TableToolError(f"table {new_table} does not exist or is not ACTIVE yet")
    current = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=TABLE)
    old_table = current["StackResourceDetail"]["PhysicalResourceId"]
    if old_table == new_table:
        raise TableToolError(f"{stack_name} already uses {new_table}")
    processed = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
    processed = json.loads(processed) if isinstance(processed, str) else processed
    table = processed["Resources"][TABLE]

    match_template_settings(dynamodb, new_table, table["Properties"], say)

    old = dynamodb.describe_table(TableName=old_table)["Table"]
    values = {"Ref": old_table, "Arn": old["TableArn"]}
    if old.get("LatestStreamArn"):
        values["StreamArn"] = old["LatestStreamArn"]
    previous = [
        {"ParameterKey": parameter["ParameterKey"], "UsePreviousValue": True} for parameter in stack["Parameters"]
    ]
    without_table = detached(processed, values)
    say(f"Detaching {old_table} from {stack_name} (kept; the stack names it literally meanwhile).")
    cloudformation.update_stack(
        StackName=stack_name,
        TemplateURL=_upload(s3, bucket, f"{stack_name}/table-switch/detached.json", without_table),
        Parameters=previous,
        Capabilities=CAPABILITIES,
    )
    _wait(cloudformation, "stack_update_complete", poll_seconds, StackName=stack_name)

    with_new_table = copy.deepcopy(without_table)
    with_new_table["Resources"][TABLE] = table
    parameters = [
        {"ParameterKey": "TableName", "ParameterValue": new_table} if item["ParameterKey"] == "TableName" else item
        for item in previous
    ]
    say(f"Importing {new_table} into {stack_name} as {TABLE}.")
    import_table(
        cloudformation,
        stack_name,
        new_table,
        poll_seconds,
        TemplateURL=_upload(s3, bucket, f"{stack_name}/table-switch/imported.json", with_new_table),
        Parameters=parameters,
        Capabilities=CAPABILITIES,
    )
    say(
        f"{stack_name}'s {TABLE} is now {new_table}. Add TableName=\"{new_table}\" to samconfig.toml's "
        f"parameter_overrides for this stage, then run make deploy: it points the functions at it. "
        f"{old_table} is no longer part of the stack (still protected from deletion)."
    )


# ---------------------------------------------------------------------------- CLI
def deploy_settings(stage: str) -> tuple[str, dict[str, str]]:
    """The stage's stack name and parameter overrides in samconfig.toml (what `make deploy
    STAGE=…` deploys)."""
    config = tomllib.loads(SAMCONFIG.read_text(encoding="utf-8"))
    settings = config.get(stage, {}).get("deploy", {}).get("parameters", {})
    overrides = dict(item.split("=", 1) for item in shlex.split(settings.get("parameter_overrides", "")))
    return settings.get("stack_name", f"scim-provisioning-{stage}"), overrides


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.table", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--region", help="the stack's region (default: AWS_REGION or your AWS config)")
    commands = parser.add_subparsers(dest="command", required=True)
    adopt_command = commands.add_parser("adopt", help="after sam delete: re-create the stack from its retained table")
    adopt_command.add_argument("--stage", required=True)
    switch_command = commands.add_parser("switch", help="make the stack use another table (a PITR restore)")
    switch_command.add_argument("--stage", required=True)
    switch_command.add_argument("--table", required=True, help="the restored table's name")
    switch_command.add_argument(
        "--s3-bucket", help="where templates are uploaded (default: the SAM CLI managed bucket)"
    )
    arguments = parser.parse_args(argv)

    session = boto3.session.Session(region_name=arguments.region)
    cloudformation, dynamodb = session.client("cloudformation"), session.client("dynamodb")
    stack_name, overrides = deploy_settings(arguments.stage)
    try:
        if arguments.command == "adopt":
            adopt(cloudformation, dynamodb, stack_name, arguments.stage, table_name=overrides.get("TableName", ""))
        else:
            bucket = arguments.s3_bucket or sam_managed_bucket(cloudformation)
            switch(cloudformation, dynamodb, session.client("s3"), stack_name, arguments.table, bucket)
    except TableToolError as error:
        print(f"ops.table: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
