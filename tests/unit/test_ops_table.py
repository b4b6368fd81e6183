"""ops.table's templates and its `adopt` conversation with CloudFormation (botocore's Stubber:
no AWS account is reached). The `switch` flow runs in tests/integration/test_ops_table_switch.py."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

import ops.table
from devserver.template import load_template
from ops.table import TABLE, TableToolError, adopt, deploy_settings, detached, references, table_template
from tests.cloudformation import cloudformation, described_stack, of_type

OLD_TABLE = {
    "Ref": "scim-provisioning-prod",
    "Arn": "arn:aws:dynamodb:us-east-1:123456789012:table/scim-provisioning-prod",
    "StreamArn": "arn:aws:dynamodb:us-east-1:123456789012:table/scim-provisioning-prod/stream/2026-11-28",
}
GONE = "Stack with id scim-provisioning-dev does not exist"


@pytest.fixture
def stubbed() -> Iterator[tuple[Any, Stubber, Any, Stubber]]:
    """CloudFormation and DynamoDB clients answering only what a test queued."""
    cloudformation_client = boto3.client("cloudformation", region_name="us-east-1")
    dynamodb_client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(cloudformation_client) as cloudformation_stub, Stubber(dynamodb_client) as dynamodb_stub:
        yield cloudformation_client, cloudformation_stub, dynamodb_client, dynamodb_stub
        cloudformation_stub.assert_no_pending_responses()
        dynamodb_stub.assert_no_pending_responses()


def expect_import(cloudformation_stub: Stubber, table_name: str, table_parameter: str) -> None:
    """The IMPORT change set creating the stack from the table alone, then its execution."""
    cloudformation_stub.add_response(
        "create_change_set",
        {"Id": "arn:change-set", "StackId": "arn:stack"},
        {
            "StackName": "scim-provisioning-dev",
            "ChangeSetName": f"import-{TABLE}",
            "ChangeSetType": "IMPORT",
            "TemplateBody": json.dumps(table_template(load_template())),
            "Parameters": [
                {"ParameterKey": "Stage", "ParameterValue": "dev"},
                {"ParameterKey": "TableName", "ParameterValue": table_parameter},
            ],
            "ResourcesToImport": [
                {
                    "ResourceType": "AWS::DynamoDB::Table",
                    "LogicalResourceId": TABLE,
                    "ResourceIdentifier": {"TableName": table_name},
                }
            ],
        },
    )
    cloudformation_stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE"})
    cloudformation_stub.add_response("execute_change_set", {})
    cloudformation_stub.add_response("describe_stacks", described_stack("scim-provisioning-dev", "IMPORT_COMPLETE"))


def run_adopt(stubbed: tuple[Any, Stubber, Any, Stubber], table_name: str = "") -> bool:
    cloudformation_client, _, dynamodb_client, _ = stubbed
    return adopt(
        cloudformation_client,
        dynamodb_client,
        "scim-provisioning-dev",
        "dev",
        table_name=table_name,
        say=lambda _: None,
        poll_seconds=0,
    )


# ------------------------------------------------------------------------ templates
def test_the_import_template_is_the_table_alone_with_the_parameters_and_conditions_it_uses() -> None:
    """Given template.yaml, when the template of an IMPORT change set is built, then it holds the
    table as declared (retained) and only the parameters and conditions its name needs."""
    template = table_template(load_template())

    assert set(template["Resources"]) == {TABLE}
    assert template["Resources"][TABLE] == load_template()["Resources"][TABLE]
    assert template["Resources"][TABLE]["DeletionPolicy"] == "Retain"
    assert set(template["Parameters"]) == {"Stage", "TableName"}
    assert set(template["Conditions"]) == {"HasTableName"}
    assert json.loads(json.dumps(template)) == template


def test_detaching_the_table_leaves_everything_else_naming_it_literally() -> None:
    """Given the deployed (processed) template, when the table is detached, then the table is gone
    from it, nothing refers to it any more, every resource that used it names the same table by
    its literal name or ARN, and the others are untouched."""
    processed = cloudformation(Stage="prod")

    result = detached(processed, OLD_TABLE)

    assert TABLE not in result["Resources"]
    assert TABLE not in references(result)
    environment = result["Resources"]["ScimUsersFunction"]["Properties"]["Environment"]["Variables"]
    assert environment["TABLE_NAME"] == "scim-provisioning-prod"
    policies = json.dumps(of_type(result["Resources"], "AWS::IAM::Role"))
    assert f"{OLD_TABLE['Arn']}/index/GSI1" in policies
    assert "WHERE TableName = 'scim-provisioning-prod'" in json.dumps(result["Resources"]["DynamoDbThrottlesAlarm"])
    assert result["Outputs"]["TableName"]["Value"] == "scim-provisioning-prod"
    for name, resource in processed["Resources"].items():
        if TABLE not in references(resource) and name != TABLE:
            assert result["Resources"][name] == resource, name


# -------------------------------------------------------------------------- adopt
def test_adopt_does_nothing_while_the_stack_exists(stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    """Given a live stack, when adopt runs (make deploy runs it every time), then it only looks."""
    stubbed[1].add_response(
        "describe_stacks",
        described_stack("scim-provisioning-dev", "UPDATE_COMPLETE"),
        {"StackName": "scim-provisioning-dev"},
    )

    assert run_adopt(stubbed) is False


def test_after_sam_delete_the_retained_table_is_imported_into_a_new_stack(
    stubbed: tuple[Any, Stubber, Any, Stubber],
) -> None:
    """Given a deleted stack whose table was retained, when adopt runs, then an IMPORT change set
    creates the stack from that table alone, so the next sam deploy updates it instead of
    colliding with the table's name."""
    _, cloudformation_stub, _, dynamodb_stub = stubbed
    cloudformation_stub.add_client_error("describe_stacks", "ValidationError", GONE)
    dynamodb_stub.add_response("list_tables", {"TableNames": ["other-service", "scim-provisioning-dev"]})
    expect_import(cloudformation_stub, "scim-provisioning-dev", "")

    assert run_adopt(stubbed) is True


def test_adopt_imports_the_table_the_stage_is_configured_with(stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    """Given samconfig's TableName for the stage (a table restored earlier), when adopt runs after
    sam delete, then that table is imported, with the parameter naming it."""
    _, cloudformation_stub, _, dynamodb_stub = stubbed
    restored = "scim-provisioning-dev-restored-20261128"
    cloudformation_stub.add_client_error("describe_stacks", "ValidationError", GONE)
    dynamodb_stub.add_response("describe_table", {"Table": {"TableName": restored, "TableStatus": "ACTIVE"}})
    expect_import(cloudformation_stub, restored, restored)

    assert run_adopt(stubbed, table_name=restored) is True


def test_adopt_refuses_to_guess_between_several_tables_of_the_stage(
    stubbed: tuple[Any, Stubber, Any, Stubber],
) -> None:
    """Given the default table and a restored one, and no TableName configured, when adopt runs,
    then it imports neither and says which to name: guessing could bring back stale data."""
    _, cloudformation_stub, _, dynamodb_stub = stubbed
    cloudformation_stub.add_client_error("describe_stacks", "ValidationError", GONE)
    dynamodb_stub.add_response(
        "list_tables", {"TableNames": ["scim-provisioning-dev", "scim-provisioning-dev-restored-20261128"]}
    )

    with pytest.raises(TableToolError, match="scim-provisioning-dev-restored-20261128"):
        run_adopt(stubbed)


def test_adopt_leaves_a_stage_without_a_table_to_sam_deploy(stubbed: tuple[Any, Stubber, Any, Stubber]) -> None:
    """Given neither stack nor table (a first deployment), when adopt runs, then it does nothing."""
    _, cloudformation_stub, _, dynamodb_stub = stubbed
    cloudformation_stub.add_client_error("describe_stacks", "ValidationError", GONE)
    dynamodb_stub.add_response("list_tables", {"TableNames": ["scim-provisioning-prod"]})

    assert run_adopt(stubbed) is False


def test_the_stack_and_its_table_parameter_come_from_samconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given samconfig.toml (the file make deploy reads), when a stage's settings are read, then
    its stack name and parameter overrides (TableName after a restore) are what adopt uses."""
    assert deploy_settings("dev") == ("scim-provisioning-dev", {"Stage": "dev", "LogLevel": "DEBUG"})
    restored = tmp_path / "samconfig.toml"
    restored.write_text(
        "[prod.deploy.parameters]\n"
        'stack_name = "scim-provisioning-prod"\n'
        'parameter_overrides = "Stage=\\"prod\\" TableName=\\"scim-provisioning-prod-restored-20261128\\""\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(ops.table, "SAMCONFIG", restored)

    stack_name, overrides = deploy_settings("prod")

    assert (stack_name, overrides["TableName"]) == (
        "scim-provisioning-prod",
        "scim-provisioning-prod-restored-20261128",
    )
