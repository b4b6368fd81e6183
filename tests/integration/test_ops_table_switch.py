"""`python -m ops.table switch`: moving a stage onto a table restored from point-in-time
recovery. DynamoDB is moto's (the settings a restore loses are really applied); CloudFormation
answers through botocore's Stubber, which also checks each request the tool sends."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.stub import Stubber

from devserver.template import create_table
from ops.table import TABLE, detached, references, switch
from tests.cloudformation import cloudformation, described_stack

STACK = "scim-provisioning-prod"
OLD, RESTORED = "scim-provisioning-prod", "scim-provisioning-prod-restored-20261128"
BUCKET = "aws-sam-cli-managed-default-bucket"


class RecordingS3:
    """Stands in for S3: keeps each uploaded template, so the test can read what CloudFormation
    was given by URL."""

    class meta:
        region_name = "us-east-1"

    def __init__(self) -> None:
        self.templates: dict[str, dict[str, Any]] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:
        self.templates[f"https://{Bucket}.s3.us-east-1.amazonaws.com/{Key}"] = json.loads(Body)


def url(name: str) -> str:
    return f"https://{BUCKET}.s3.us-east-1.amazonaws.com/{STACK}/table-switch/{name}.json"


def test_switching_to_a_restored_table_detaches_the_old_one_and_imports_the_new(dynamodb_client: Any):
    """Given a prod stack on its table and a table restored from PITR (without PITR, deletion
    protection and TTL, as a restore leaves it), when switch runs, then the restored table gets
    the template's settings, the stack lets go of the old table (naming it literally until the
    next deploy) and imports the restored one as ScimTable with TableName naming it; the old
    table is kept."""
    create_table(dynamodb_client, OLD)
    create_table(dynamodb_client, RESTORED)
    dynamodb_client.update_time_to_live(
        TableName=RESTORED, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expiresAtEpoch"}
    )
    processed = cloudformation(Stage="prod")
    parameters = [{"ParameterKey": name, "ParameterValue": "x"} for name in processed["Parameters"]]
    previous = [{"ParameterKey": name, "UsePreviousValue": True} for name in processed["Parameters"]]
    old = dynamodb_client.describe_table(TableName=OLD)["Table"]
    old_values = {"Ref": OLD, "Arn": old["TableArn"], "StreamArn": old["LatestStreamArn"]}
    s3 = RecordingS3()
    client = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_response(
            "describe_stacks",
            described_stack(STACK, "UPDATE_COMPLETE", parameters),
            {"StackName": STACK},
        )
        stub.add_response(
            "describe_stack_resource",
            {
                "StackResourceDetail": {
                    "LogicalResourceId": TABLE,
                    "PhysicalResourceId": OLD,
                    "ResourceType": "AWS::DynamoDB::Table",
                    "LastUpdatedTimestamp": "2026-11-01T00:00:00Z",
                    "ResourceStatus": "UPDATE_COMPLETE",
                }
            },
            {"StackName": STACK, "LogicalResourceId": TABLE},
        )
        stub.add_response(
            "get_template", {"TemplateBody": json.dumps(processed)}, {"StackName": STACK, "TemplateStage": "Processed"}
        )
        stub.add_response(
            "update_stack",
            {"StackId": "arn:stack"},
            {
                "StackName": STACK,
                "TemplateURL": url("detached"),
                "Parameters": previous,
                "Capabilities": ["CAPABILITY_IAM"],
            },
        )
        stub.add_response(
            "describe_stacks",
            described_stack(STACK, "UPDATE_COMPLETE"),
        )
        imported_parameters = [
            {"ParameterKey": "TableName", "ParameterValue": RESTORED} if item["ParameterKey"] == "TableName" else item
            for item in previous
        ]
        stub.add_response(
            "create_change_set",
            {"Id": "arn:change-set"},
            {
                "StackName": STACK,
                "ChangeSetName": f"import-{TABLE}",
                "ChangeSetType": "IMPORT",
                "ResourcesToImport": [
                    {
                        "ResourceType": "AWS::DynamoDB::Table",
                        "LogicalResourceId": TABLE,
                        "ResourceIdentifier": {"TableName": RESTORED},
                    }
                ],
                "TemplateURL": url("imported"),
                "Parameters": imported_parameters,
                "Capabilities": ["CAPABILITY_IAM"],
            },
        )
        stub.add_response("describe_change_set", {"Status": "CREATE_COMPLETE"})
        stub.add_response("execute_change_set", {})
        stub.add_response(
            "describe_stacks",
            described_stack(STACK, "IMPORT_COMPLETE"),
        )

        switch(client, dynamodb_client, s3, STACK, RESTORED, BUCKET, say=lambda _: None, poll_seconds=0)

        stub.assert_no_pending_responses()
    restored = dynamodb_client.describe_table(TableName=RESTORED)["Table"]
    backups = dynamodb_client.describe_continuous_backups(TableName=RESTORED)["ContinuousBackupsDescription"]
    ttl = dynamodb_client.describe_time_to_live(TableName=RESTORED)["TimeToLiveDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"
    assert ttl["TimeToLiveStatus"] == "ENABLED" and ttl["AttributeName"] == "expiresAtEpoch"
    assert restored["DeletionProtectionEnabled"] is True
    assert s3.templates[url("detached")] == detached(processed, old_values)
    imported = s3.templates[url("imported")]
    assert imported["Resources"][TABLE] == processed["Resources"][TABLE]
    assert {name: resource for name, resource in imported["Resources"].items() if name != TABLE} == s3.templates[
        url("detached")
    ]["Resources"]
    assert TABLE not in references(s3.templates[url("detached")])
    assert dynamodb_client.describe_table(TableName=OLD)["Table"]["TableStatus"] == "ACTIVE"
