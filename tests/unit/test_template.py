"""template.yaml as CloudFormation sees it: transformed by SAM's own translator (offline, ≈60 ms),
then read the way an AWS engineer reviews a stack — one throttled stage, permissions scoped to
it, every function traced, logged with retention, published through an alias with a
deployment preference and watched by alarms; optional resources present exactly when their
parameters are set; the environment ``sam local invoke --env-vars`` can override."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest
from samtranslator.yaml_helper import yaml_parse

from devserver.template import PROJECT_ROOT, TEMPLATE_PATH
from ops.table import references
from scim_provisioning.activity_records import FILTER_PATTERN
from scim_provisioning.config import LOCAL_TABLE_NAME
from tests.cloudformation import (
    cloudformation,
    condition_holds,
    deployed_resources,
    of_type,
    parameter_values,
    sam_template,
    sub_text,
)

SAM_LOCAL_ENV_FILE = PROJECT_ROOT / "events" / "env" / "local.json"
CUSTOM_DOMAIN = {
    "DomainName": "scim.example.com",
    "CertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c",
}
OPTIONAL_RESOURCES = {
    "custom domain": (CUSTOM_DOMAIN, {"ApiDomain", "ApiBasePathMapping"}),
    "Route 53 record": ({**CUSTOM_DOMAIN, "HostedZoneId": "Z0123456789"}, {"ApiDomainRecord"}),
    "WAF": ({"EnableWaf": "true"}, {"WebAcl", "WebAclAssociation", "WafLogGroup", "WafLogging"}),
    "alarm e-mail": ({"AlarmEmail": "ops@example.com"}, {"AlarmEmailSubscription"}),
    "token notices e-mail": ({"TokenNoticesEmail": "admins@example.com"}, {"TokenNoticesEmailSubscription"}),
}
# Set by Lambda itself in every function's environment, never by the template.
LAMBDA_RUNTIME_VARIABLES = {"AWS_REGION", "AWS_DEFAULT_REGION"}


RESOURCES = deployed_resources()
FUNCTIONS = of_type(RESOURCES, "AWS::Lambda::Function")
ALARMS = of_type(RESOURCES, "AWS::CloudWatch::Alarm")


def alarms_of_function(function: str) -> dict[str, dict[str, Any]]:
    """The alarms whose metrics are this function's (FunctionName dimension)."""
    found = {}
    for logical_id, alarm in ALARMS.items():
        properties = alarm["Properties"]
        metrics = [properties]
        metrics += [item["MetricStat"]["Metric"] for item in properties.get("Metrics", []) if "MetricStat" in item]
        for metric in metrics:
            if {"Name": "FunctionName", "Value": {"Ref": function}} in metric.get("Dimensions", []):
                found[logical_id] = alarm
    return found


def metric_names(alarm: dict[str, Any]) -> set[str]:
    properties = alarm["Properties"]
    if "MetricName" in properties:
        return {properties["MetricName"]}
    return {item["MetricStat"]["Metric"]["MetricName"] for item in properties["Metrics"] if "MetricStat" in item}


# ------------------------------------------------------------------------- one stage
def test_the_transform_leaves_exactly_one_stage_named_after_the_stage_parameter() -> None:
    """Given template.yaml, when SAM transforms it, then the API has one stage, the named one, and
    its deployment creates no other (SAM's implicit `Stage` stage is gone)."""
    (stage,) = of_type(RESOURCES, "AWS::ApiGateway::Stage").values()
    (deployment,) = of_type(RESOURCES, "AWS::ApiGateway::Deployment").values()

    assert stage["Properties"]["StageName"] == {"Ref": "Stage"}
    assert "StageName" not in deployment["Properties"]


def test_every_method_of_the_stage_is_throttled() -> None:
    """Given the stage, when its method settings are read, then one setting covers every resource
    and method with the 200 requests/s (burst 500) throttle, and none loosens it."""
    ((stage_id, stage),) = of_type(RESOURCES, "AWS::ApiGateway::Stage").items()
    settings = stage["Properties"]["MethodSettings"]

    throttle = {"ResourcePath": "/*", "HttpMethod": "*", "ThrottlingRateLimit": 200, "ThrottlingBurstLimit": 500}
    assert throttle in settings
    assert all(setting.get("ThrottlingRateLimit", 0) <= 200 for setting in settings), stage_id
    assert all(setting.get("ThrottlingBurstLimit", 0) <= 500 for setting in settings), stage_id


def api_targets() -> set[str]:
    """The logical ids the API's operations invoke (their integrations' ``${Alias}``)."""
    targets = set()
    for operations in RESOURCES["ScimApi"]["Properties"]["Body"]["paths"].values():
        for operation in operations.values():
            uri = operation["x-amazon-apigateway-integration"]["uri"]
            ((target,),) = [references(variable) for variable in uri["Fn::Sub"][1].values()]
            targets.add(target)
    return targets


# Functions no API route invokes: CloudWatch Logs invokes the activity ingest, EventBridge
# Scheduler the token guardian, the table's stream the membership janitor and the change events.
NON_API_FUNCTIONS = {
    "ActivityIngestFunction",
    "TokenGuardianFunction",
    "MembershipJanitorFunction",
    "ChangeEventsFunction",
}


def test_the_api_invokes_functions_through_their_live_alias() -> None:
    """Given the API's OpenAPI body, when its integrations are read, then every operation invokes
    a function's `live` alias (what CodeDeploy shifts), never the function itself; every function
    but the activity ingest and the token guardian serves the API."""
    targets = api_targets()

    assert all(RESOURCES[target]["Type"] == "AWS::Lambda::Alias" for target in targets)
    assert {RESOURCES[target]["Properties"]["FunctionName"]["Ref"] for target in targets} == (
        set(FUNCTIONS) - NON_API_FUNCTIONS
    )
    assert RESOURCES["ScimApi"]["Properties"]["Body"]["openapi"] == "3.0.1"


def test_each_function_the_api_invokes_has_one_permission_naming_the_stage() -> None:
    """Given the transformed template, when the permissions granted to API Gateway are read, then
    each alias the API invokes has exactly one, limited to the API's one stage; none anywhere
    allows every stage."""
    for_api_gateway = [
        permission["Properties"]
        for permission in of_type(RESOURCES, "AWS::Lambda::Permission").values()
        if permission["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]

    assert sorted(permission["FunctionName"]["Ref"] for permission in for_api_gateway) == sorted(api_targets())
    for permission in for_api_gateway:
        assert sub_text(permission["SourceArn"]).endswith(":${ScimApi}/${ScimApiStage}/*/*"), permission


# --------------------------------------------------------------- logs and tracing
def test_every_function_is_traced_and_logs_to_its_own_group_with_the_retention_parameter() -> None:
    """Given each function, when its configuration is read, then X-Ray tracing is active and it
    logs to a log group of its own that keeps logs LogRetentionDays (default 90)."""
    log_groups = of_type(RESOURCES, "AWS::Logs::LogGroup")
    used = []
    for function, resource in FUNCTIONS.items():
        properties = resource["Properties"]
        assert properties["TracingConfig"] == {"Mode": "Active"}, function
        log_group = properties["LoggingConfig"]["LogGroup"]["Ref"]
        assert log_groups[log_group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        used.append(log_group)

    assert len(set(used)) == len(FUNCTIONS)
    assert RESOURCES["ScimApiStage"]["Properties"]["TracingEnabled"] is True
    assert cloudformation()["Parameters"]["LogRetentionDays"]["Default"] == 90


def test_every_log_group_of_the_stack_has_the_retention_parameter() -> None:
    """Given all log groups, optional ones included, then none keeps logs forever."""
    everything = deployed_resources(EnableWaf="true")

    for logical_id, log_group in of_type(everything, "AWS::Logs::LogGroup").items():
        assert log_group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id


ACCESS_LOG_FIELDS = {
    "requestId",
    "time",
    "httpMethod",
    "resourcePath",
    "status",
    "responseLatency",
    "integrationLatency",
    "sourceIp",
    "userAgent",
    "errorMessage",
}


def access_log_setting() -> dict[str, Any]:
    return RESOURCES["ScimApiStage"]["Properties"]["AccessLogSetting"]


def sample_access_log_line() -> dict[str, Any]:
    """One line as API Gateway writes it: every $context variable replaced by a value."""
    return json.loads(re.sub(r"\$context\.[A-Za-z.]+", "7", access_log_setting()["Format"]))


def test_the_access_log_is_one_json_line_per_request_with_the_operators_fields() -> None:
    """Given the stage's access log format, when API Gateway fills it in, then the line is JSON
    with the request id, time, method, resource path, status, latencies, caller IP, user agent
    and error message, on one line."""
    line = sample_access_log_line()

    assert set(line) >= ACCESS_LOG_FIELDS
    assert "\n" not in access_log_setting()["Format"]
    assert isinstance(line["status"], int)  # numeric: the metric filters compare it as a number


def test_the_access_log_never_holds_the_authorization_header_or_query_strings() -> None:
    """Given the access log format, then it names no request header but the user agent, and no
    query string (SCIM filters carry userNames): the Authorization header cannot leak."""
    variables = set(re.findall(r"\$context\.[A-Za-z.]+", access_log_setting()["Format"]))

    assert "authorization" not in access_log_setting()["Format"].lower()
    assert not {variable for variable in variables if "header" in variable.lower() or "querystring" in variable.lower()}
    assert not {variable for variable in variables if variable.startswith(("$context.authorizer", "$input"))}


def test_the_access_log_has_its_own_log_group() -> None:
    """Given the access log destination, then it is a log group used for nothing else."""
    destination = access_log_setting()["DestinationArn"]

    assert destination == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert all(
        function["Properties"]["LoggingConfig"]["LogGroup"] != {"Ref": "ApiAccessLogGroup"}
        for function in FUNCTIONS.values()
    )


def test_the_auth_failure_metric_filters_read_fields_the_access_log_writes() -> None:
    """Given the metric filters on the access log, when their patterns are read, then every field
    they test or use as a dimension is one the access log format writes."""
    written = set(sample_access_log_line())

    for logical_id, metric_filter in of_type(RESOURCES, "AWS::Logs::MetricFilter").items():
        properties = metric_filter["Properties"]
        read = set(re.findall(r"\$\.(\w+)", properties["FilterPattern"]))
        for transformation in properties["MetricTransformations"]:
            read |= {dimension["Value"].removeprefix("$.") for dimension in transformation.get("Dimensions", [])}
        assert properties["LogGroupName"] == {"Ref": "ApiAccessLogGroup"}, logical_id
        assert read <= written, (logical_id, read - written)


# ------------------------------------------------------------- activity ingest
SUBSCRIBED_FUNCTIONS = {"ScimUsersFunction", "ScimGroupsFunction", "AccessTokensFunction", "ScimRequestLogsFunction"}


def log_group_of(function: str) -> str:
    return FUNCTIONS[function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]


def test_every_scim_and_admin_log_group_delivers_activity_records_to_the_ingest_alias() -> None:
    """Given the subscription filters, then each SCIM and admin function's log group has one,
    matching the records the layer writes (activity_records.FILTER_PATTERN) and delivering to
    the ingest's `live` alias; the ingest's own log group is not subscribed (no loop)."""
    filters = of_type(RESOURCES, "AWS::Logs::SubscriptionFilter").values()
    subscribed = {subscription["Properties"]["LogGroupName"]["Ref"] for subscription in filters}

    assert subscribed == {log_group_of(function) for function in SUBSCRIBED_FUNCTIONS}
    assert len(filters) == len(subscribed)
    assert log_group_of("ActivityIngestFunction") not in subscribed
    for subscription in filters:
        assert subscription["Properties"]["FilterPattern"] == FILTER_PATTERN
        assert subscription["Properties"]["DestinationArn"] == {"Ref": "ActivityIngestFunctionAliaslive"}


def test_cloudwatch_logs_may_invoke_the_ingest_for_exactly_the_subscribed_log_groups() -> None:
    """Given the permissions granted to CloudWatch Logs, then there is one per subscribed log
    group, naming that log group and this account, on the ingest's alias; each subscription is
    created after its permission (CloudWatch tests the invocation when the filter is created)."""
    permissions = {
        logical_id: permission
        for logical_id, permission in of_type(RESOURCES, "AWS::Lambda::Permission").items()
        if permission["Properties"]["Principal"] == "logs.amazonaws.com"
    }
    granted = {permission["Properties"]["SourceArn"]["Fn::GetAtt"][0] for permission in permissions.values()}

    assert granted == {log_group_of(function) for function in SUBSCRIBED_FUNCTIONS}
    for permission in permissions.values():
        assert permission["Properties"]["FunctionName"] == {"Ref": "ActivityIngestFunctionAliaslive"}
        assert permission["Properties"]["SourceAccount"] == {"Ref": "AWS::AccountId"}
    for subscription in of_type(RESOURCES, "AWS::Logs::SubscriptionFilter").values():
        (permission,) = [
            logical_id
            for logical_id, permission in permissions.items()
            if permission["Properties"]["SourceArn"]["Fn::GetAtt"][0]
            == subscription["Properties"]["LogGroupName"]["Ref"]
        ]
        assert subscription["DependsOn"] == permission


@pytest.mark.parametrize(
    ("function", "queue_id", "alarm_id"),
    [
        ("ActivityIngestFunction", "ActivityIngestFailures", "ActivityIngestFailuresAlarm"),
        ("TokenGuardianFunction", "TokenGuardianFailures", "TokenGuardianFailuresAlarm"),
    ],
)
def test_a_failed_asynchronous_invocation_is_retried_then_queued_and_alarmed(
    function: str, queue_id: str, alarm_id: str
) -> None:
    """Given an asynchronously invoked function's invocation config (the activity ingest's, the
    token guardian's), then Lambda retries a failed invocation twice and then sends it to an
    encrypted queue that keeps it 14 days, whose depth alarms."""
    configs = of_type(RESOURCES, "AWS::Lambda::EventInvokeConfig").values()
    (config,) = [config for config in configs if config["Properties"]["FunctionName"] == {"Ref": function}]
    queue = RESOURCES[queue_id]["Properties"]
    alarm = ALARMS[alarm_id]["Properties"]

    assert config["Properties"]["Qualifier"] == "live"
    assert config["Properties"]["MaximumRetryAttempts"] == 2
    assert config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [queue_id, "QueueName"]}}]


def stream_mapping(function: str) -> dict[str, Any]:
    """The properties of the event source mapping that feeds ``function``'s live alias."""
    (mapping,) = [
        resource["Properties"]
        for resource in of_type(RESOURCES, "AWS::Lambda::EventSourceMapping").values()
        if resource["Properties"]["FunctionName"] == {"Ref": f"{function}Aliaslive"}
    ]
    return dict(mapping)


def test_the_janitor_reads_the_tables_stream_filtered_queues_its_failures_and_alarms_when_behind() -> None:
    """Given the membership janitor, then the table streams new and old images to it, filtered
    to the records it acts on; a failing batch is halved and retried, then recorded in an
    encrypted queue whose depth alarms; and its iterator age alarms when it falls behind."""
    table = RESOURCES["ScimTable"]["Properties"]
    mapping = stream_mapping("MembershipJanitorFunction")
    queue = RESOURCES["MembershipJanitorFailures"]["Properties"]
    behind = ALARMS["MembershipJanitorIteratorAgeAlarm"]["Properties"]
    failures = ALARMS["MembershipJanitorFailuresAlarm"]["Properties"]
    patterns = [json.loads(item["Pattern"]) for item in mapping["FilterCriteria"]["Filters"]]

    assert table["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ScimTable", "StreamArn"]}
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] >= 1
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["MembershipJanitorFailures", "Arn"]
    }
    assert {pattern["eventName"][0] for pattern in patterns} == {"INSERT", "REMOVE"}
    assert queue["SqsManagedSseEnabled"] is True
    assert (behind["MetricName"], behind["Threshold"]) == ("IteratorAge", {"Ref": "JanitorIteratorAgeMilliseconds"})
    assert failures["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["MembershipJanitorFailures", "QueueName"]}}
    ]
    assert "sqs:SendMessage" in set().union(*policy_actions("MembershipJanitorFunction").values())


def test_the_change_events_publisher_reads_the_stream_in_order_reports_failed_records_and_queues_what_it_gave_up():
    """Given the change-event publisher, then it reads the table's stream without a batching
    window (a deactivation goes out at once), filtered to the items events come from; it may
    name the first record it could not publish (Lambda retries from there), a failing batch is
    halved and retried ten times within an hour, then recorded in an encrypted queue kept 14
    days whose depth alarms; its iterator age alarms past a minute."""
    mapping = stream_mapping("ChangeEventsFunction")
    queue = RESOURCES["ChangeEventsFailures"]["Properties"]
    behind = ALARMS["ChangeEventsIteratorAgeAlarm"]["Properties"]
    failures = ALARMS["ChangeEventsFailuresAlarm"]["Properties"]
    patterns = [json.loads(item["Pattern"]) for item in mapping["FilterCriteria"]["Filters"]]
    parameters = cloudformation()["Parameters"]

    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["ScimTable", "StreamArn"]}
    assert mapping["MaximumBatchingWindowInSeconds"] == 0
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BisectBatchOnFunctionError"] is True
    assert (mapping["MaximumRetryAttempts"], mapping["MaximumRecordAgeInSeconds"]) == (10, 3600)
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": ["ChangeEventsFailures", "Arn"]}
    assert {
        entity for p in patterns for entity in p["dynamodb"].get("NewImage", {}).get("entity", {}).get("S", [])
    } == {
        "User",
        "Group",
        "Deletion",
        "ScimToken",
        "MembershipChange",
    }
    assert queue["SqsManagedSseEnabled"] is True and queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert failures["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["ChangeEventsFailures", "QueueName"]}}
    ]
    assert (behind["MetricName"], behind["Period"]) == ("IteratorAge", 60)
    assert parameters["ChangeEventsIteratorAgeMilliseconds"]["Default"] == 60_000


def test_the_change_events_publisher_may_put_events_on_the_service_bus_and_touch_no_table() -> None:
    """Given the publisher's role, then its own policies allow PutEvents on the service's bus
    and sending to its failure queue, nothing else: it reads the stream (SAM's managed policy for
    DynamoDB event sources) but never the table, and publishes to no other bus."""
    role = RESOURCES[FUNCTIONS["ChangeEventsFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]]
    statements = [
        statement for policy in role["Properties"]["Policies"] for statement in policy["PolicyDocument"]["Statement"]
    ]
    granted = {
        action: statement["Resource"]
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }

    assert set(granted) == {"events:PutEvents", "sqs:SendMessage"}
    assert granted["events:PutEvents"] == {"Fn::GetAtt": ["ServiceEventBus", "Arn"]}
    assert granted["sqs:SendMessage"] == {"Fn::GetAtt": ["ChangeEventsFailures", "Arn"]}
    assert {arn.rsplit("/", 1)[1] for arn in role["Properties"]["ManagedPolicyArns"]} == {
        "AWSLambdaBasicExecutionRole",
        "AWSLambdaDynamoDBExecutionRole",
        "AWSXrayWriteOnlyAccess",
    }


def policy_actions(function: str) -> dict[str, set[str]]:
    """The actions each inline policy of a function's role allows (by policy name)."""
    role = RESOURCES[FUNCTIONS[function]["Properties"]["Role"]["Fn::GetAtt"][0]]
    actions: dict[str, set[str]] = {}
    for policy in role["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            listed = statement["Action"]
            actions.setdefault(policy["PolicyName"], set()).update([listed] if isinstance(listed, str) else listed)
    return actions


def test_the_ingest_may_only_write_entries_and_stamps_and_queue_its_failures() -> None:
    """Given the ingest's role, then it may BatchWriteItem and UpdateItem on the table (no read,
    no delete, no index) and send to its failure queue, nothing else; and the request-logs
    function, which stamped lastUsedAt itself before, may now only read."""
    allowed = set().union(*policy_actions("ActivityIngestFunction").values())

    assert allowed == {"dynamodb:BatchWriteItem", "dynamodb:UpdateItem", "sqs:SendMessage"}
    assert set().union(*policy_actions("ScimRequestLogsFunction").values()) == {"dynamodb:GetItem", "dynamodb:Query"}


# ------------------------------------------------------------------ token guardian
def test_the_token_guardian_runs_on_its_alias_on_a_schedule_of_its_stage() -> None:
    """Given the guardian's schedule, then EventBridge Scheduler invokes its `live` alias every
    TokenGuardianSchedule (hourly by default, at least daily as issue 12 asks), under a name of
    the stack's own (schedule names are unique per account and region, shared by the stages)."""
    (schedule,) = of_type(RESOURCES, "AWS::Scheduler::Schedule").values()
    properties = schedule["Properties"]

    assert properties["Target"]["Arn"] == {"Ref": "TokenGuardianFunctionAliaslive"}
    assert properties["ScheduleExpression"] == {"Ref": "TokenGuardianSchedule"}
    assert cloudformation()["Parameters"]["TokenGuardianSchedule"]["Default"] == "rate(1 hour)"
    assert sub_text(properties["Name"]) == "${AWS::StackName}-token-guardian"


def test_the_service_has_one_event_bus_named_in_the_outputs() -> None:
    """Given the stack, then it declares one EventBridge bus, named after the stage, which the
    guardian publishes to (and issue 13's change events will), with its name and ARN as outputs."""
    (bus_id,) = of_type(RESOURCES, "AWS::Events::EventBus")
    outputs = cloudformation()["Outputs"]

    assert sub_text(RESOURCES[bus_id]["Properties"]["Name"]) == "scim-provisioning-${Stage}"
    assert outputs["EventBusName"]["Value"] == {"Ref": bus_id}
    assert outputs["EventBusArn"]["Value"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    assert template_variables()["EVENT_BUS_NAME"] == {"Ref": bus_id}


def test_the_token_guardian_may_read_its_indexes_and_publish_to_the_bus_and_its_topic_only() -> None:
    """Given the guardian's role, then it may query the table and its two indexes, read tokens by
    key, write its notices, put events on the service's bus and publish to the token notices
    topic (which its environment names); nothing else, no delete, no other bus or topic."""
    role = RESOURCES[FUNCTIONS["TokenGuardianFunction"]["Properties"]["Role"]["Fn::GetAtt"][0]]
    statements = [
        statement for policy in role["Properties"]["Policies"] for statement in policy["PolicyDocument"]["Statement"]
    ]
    granted = {
        action: statement["Resource"]
        for statement in statements
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    environment = FUNCTIONS["TokenGuardianFunction"]["Properties"]["Environment"]["Variables"]

    assert set(granted) == {
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "events:PutEvents",
        "sns:Publish",
        "sqs:SendMessage",
    }
    assert {sub_text(resource) for resource in granted["dynamodb:Query"][1:]} == {
        "${ScimTable.Arn}/index/GSI1",
        "${ScimTable.Arn}/index/GSI2",
    }
    assert granted["events:PutEvents"] == {"Fn::GetAtt": ["ServiceEventBus", "Arn"]}
    assert granted["sns:Publish"] == {"Ref": "TokenNoticesTopic"} == environment["TOKEN_NOTICES_TOPIC_ARN"]


def test_the_token_expiry_alarm_reads_the_metric_the_guardian_prints_at_the_last_warning() -> None:
    """Given the token-expiry alarm, then its query takes the minimum of the metric the guardian's
    handler prints, over exactly the dimensions the EMF line carries, for this stage, and it
    fires at TokenExpiryAlarmDays or less, by default the last warning's day."""
    from functions.token_guardian.handler import EARLIEST_EXPIRY_METRIC

    properties = ALARMS["TokenExpiryAlarm"]["Properties"]
    (query,) = properties["Metrics"]
    parameters = cloudformation()["Parameters"]
    warnings = [int(days) for days in parameters["TokenExpiryWarningDays"]["Default"].split(",")]

    assert EARLIEST_EXPIRY_METRIC == "DaysToEarliestTokenExpiry"
    assert sub_text(query["Expression"]) == (
        "SELECT MIN(DaysToEarliestTokenExpiry) FROM SCHEMA(ScimProvisioning, OrganizationUuid, Stage, service) "
        "WHERE Stage = '${Stage}'"
    )
    assert properties["ComparisonOperator"] == "LessThanOrEqualToThreshold"
    assert properties["Threshold"] == {"Ref": "TokenExpiryAlarmDays"}
    assert parameters["TokenExpiryAlarmDays"]["Default"] == min(warnings) == 1


def test_the_dev_only_guardian_route_is_not_part_of_the_deployed_api() -> None:
    """Given the deployed API's paths, then none is under /api/v1/dev: the route that runs the
    guardian at a chosen time exists on the dev server only (devserver/dev_routes.py)."""
    paths = RESOURCES["ScimApi"]["Properties"]["Body"]["paths"]

    assert not [path for path in paths if path.startswith("/api/v1/dev")]


# ------------------------------------------------------------------------- alarms
def test_every_function_has_errors_throttles_and_duration_alarms() -> None:
    """Given each function, then three alarms watch it: errors, throttles and p99 duration, the
    last as a share of the function's own timeout (and a stream consumer's iterator age)."""
    for function, resource in FUNCTIONS.items():
        alarms = alarms_of_function(function)
        watched = [metric_names(alarm) for alarm in alarms.values() if metric_names(alarm) != {"IteratorAge"}]
        assert sorted(map(sorted, watched)) == [["Duration"], ["Errors"], ["Throttles"]], function

        (duration,) = [alarm for alarm in alarms.values() if metric_names(alarm) == {"Duration"}]
        (expression,) = [item for item in duration["Properties"]["Metrics"] if "Expression" in item]
        timeout = resource["Properties"]["Timeout"]
        assert expression["Expression"]["Fn::Sub"][1] == {"TimeoutSeconds": timeout}
        assert duration["Properties"]["Threshold"] == {"Ref": "DurationPercentOfTimeout"}


def test_the_stack_alarms_on_api_errors_dynamodb_and_auth_failures() -> None:
    """Given the alarms, then beside the functions' ones there are the API 5xx rate, the API 4xx
    spike, DynamoDB throttles and system errors, and the burst of SCIM auth failures."""
    assert {"Api5xxRateAlarm", "Api4xxSpikeAlarm", "DynamoDbThrottlesAlarm", "DynamoDbSystemErrorsAlarm"} <= set(ALARMS)
    scim_auth = ALARMS["ScimAuthFailuresAlarm"]["Properties"]

    assert (scim_auth["Namespace"], scim_auth["MetricName"]) == ("ScimProvisioning", "ScimAuthFailures")
    (scim_filter,) = [
        metric_filter["Properties"]
        for metric_filter in of_type(RESOURCES, "AWS::Logs::MetricFilter").values()
        if metric_filter["Properties"]["MetricTransformations"][0]["MetricName"] == "ScimAuthFailures"
    ]
    assert "$.status = 401" in scim_filter["FilterPattern"]
    assert '"/api/v1/scim/v2/*"' in scim_filter["FilterPattern"]


def test_every_alarm_notifies_the_alarm_topic_and_takes_its_threshold_from_a_parameter() -> None:
    """Given every alarm, then it notifies the topic on ALARM and on OK, and its threshold is a
    parameter (defaults justified in docs/operations.md)."""
    parameters = cloudformation()["Parameters"]
    operations = (PROJECT_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")

    for logical_id, alarm in ALARMS.items():
        properties = alarm["Properties"]
        assert properties["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert properties["OKActions"] == [{"Ref": "AlarmTopic"}], logical_id
        threshold = properties["Threshold"]["Ref"]
        assert threshold in parameters, logical_id
        assert f"`{threshold}`" in operations, f"docs/operations.md does not justify {threshold}"


def test_the_dashboard_shows_every_function_the_table_and_all_alarms() -> None:
    """Given the dashboard, when its body is filled in, then it is valid JSON with requests,
    errors and duration for every function, the table's consumption, the auth failures and
    every alarm's state."""
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]
    text = sub_text(body)
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "x", text))
    titles = {widget["properties"]["title"] for widget in dashboard["widgets"]}

    for function in FUNCTIONS:
        assert text.count(f"${{{function}}}") >= 4, function  # invocations, errors, throttles, duration
    assert {f"${{{alarm}.Arn}}" for alarm in ALARMS} <= set(re.findall(r"\$\{\w+\.Arn\}", text))
    assert "ConsumedWriteCapacityUnits" in text and "ScimAuthFailures" in text
    assert len(titles) == len(dashboard["widgets"])


# --------------------------------------------------------------- safe deployments
@pytest.mark.parametrize(
    ("stage", "deployment"),
    [("dev", "AllAtOnce"), ("staging", "Canary10Percent5Minutes"), ("prod", "Canary10Percent10Minutes")],
)
def test_each_function_deploys_through_codedeploy_in_the_stages_style(stage: str, deployment: str) -> None:
    """Given a stage, when the template is transformed for it, then every function's alias is
    shifted by a CodeDeploy deployment group in that stage's style (gradual in prod, all at once
    in dev), rolled back by the function's errors alarm and the API 5xx alarm."""
    resources = deployed_resources(Stage=stage)
    groups = of_type(resources, "AWS::CodeDeploy::DeploymentGroup")

    for function in of_type(resources, "AWS::Lambda::Function"):
        alias = resources[f"{function}Aliaslive"]
        group = groups[alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]["DeploymentGroupName"]["Ref"]]
        properties = group["Properties"]
        assert properties["DeploymentConfigName"]["Fn::Sub"][1] == {"ConfigName": deployment}
        rollback_alarms = {alarm["Name"]["Ref"] for alarm in properties["AlarmConfiguration"]["Alarms"]}
        (errors_alarm,) = [
            name for name, alarm in alarms_of_function(function).items() if metric_names(alarm) == {"Errors"}
        ]
        assert rollback_alarms == {errors_alarm, "Api5xxRateAlarm"}, function
        assert "DEPLOYMENT_STOP_ON_ALARM" in properties["AutoRollbackConfiguration"]["Events"]


def test_a_new_layer_version_alone_publishes_new_function_versions() -> None:
    """Given that the code lives in the shared layer, then every function publishes a version on
    any property change (AutoPublishAliasAllProperties), a new layer version included."""
    sam = yaml_parse(sam_template())

    for name, resource in sam["Resources"].items():
        if resource["Type"] == "AWS::Serverless::Function":
            assert resource["Properties"].get("AutoPublishAliasAllProperties") is True, name


# ------------------------------------------------------------------------- storage
def test_the_table_is_retained_and_named_after_the_stage_unless_a_table_is_adopted() -> None:
    """Given the table, then deleting the stack keeps it, its default name is the stage's (what a
    re-created stack adopts again), and TableName names another table to adopt instead."""
    table = RESOURCES["ScimTable"]
    properties = table["Properties"]

    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == ("Retain", "Retain")
    assert properties["DeletionProtectionEnabled"] is True
    assert properties["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert properties["TableName"] == {
        "Fn::If": ["HasTableName", {"Ref": "TableName"}, {"Fn::Sub": "scim-provisioning-${Stage}"}]
    }


# ------------------------------------------------------ optional: domain, WAF, e-mail
@pytest.mark.parametrize("feature", sorted(OPTIONAL_RESOURCES))
def test_optional_resources_exist_only_when_their_parameters_are_set(feature: str) -> None:
    """Given an optional feature, when its parameters are unset, then none of its resources is
    created; when they are set, all of them are."""
    parameters, resources = OPTIONAL_RESOURCES[feature]

    assert not resources & set(RESOURCES)
    assert resources <= set(deployed_resources(**parameters))


def output_value(parameters: dict[str, str], name: str) -> Any:
    template = cloudformation(**parameters)
    value = template["Outputs"][name]["Value"]
    if isinstance(value, dict) and "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        holds = condition_holds(template, condition, parameter_values(template, parameters))
        value = when_true if holds else when_false
    return sub_text(value)


def test_the_scim_url_to_paste_is_on_the_custom_domain_when_one_is_set() -> None:
    """Given a custom domain, then the output to paste into Okta or Entra is on it (without the
    stage: the domain is mapped at its root); without one, it is the execute-api URL."""
    assert output_value(CUSTOM_DOMAIN, "ScimBaseUrl") == "https://${DomainName}/api/v1/scim/v2/"
    assert output_value({}, "ScimBaseUrl") == (
        "https://${ScimApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${ScimApiStage}/api/v1/scim/v2/"
    )


def test_the_custom_domain_serves_the_stage_at_its_root_with_tls_1_2() -> None:
    """Given a custom domain, then it is regional, refuses TLS below 1.2, and maps the API's one
    stage at the root (no base path), so paths and meta.location are the same as on execute-api."""
    resources = deployed_resources(**CUSTOM_DOMAIN, HostedZoneId="Z0123456789")
    domain = resources["ApiDomain"]["Properties"]
    mapping = resources["ApiBasePathMapping"]["Properties"]
    record = resources["ApiDomainRecord"]["Properties"]

    assert domain["SecurityPolicy"] == "TLS_1_2"
    assert domain["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert (mapping["RestApiId"], mapping["Stage"]) == ({"Ref": "ScimApi"}, {"Ref": "ScimApiStage"})
    assert "BasePath" not in mapping
    assert record["AliasTarget"]["DNSName"] == {"Fn::GetAtt": ["ApiDomain", "RegionalDomainName"]}


def test_the_web_acl_protects_the_stage_with_managed_rules_and_a_rate_limit_per_ip() -> None:
    """Given EnableWaf, then the web ACL holds AWS's common and known-bad-inputs rule groups and a
    per-IP rate rule sized by parameter, answers its blocks with a SCIM 429 and Retry-After, is
    attached to the stage, and logs without the Authorization header."""
    resources = deployed_resources(EnableWaf="true")
    acl = resources["WebAcl"]["Properties"]
    rules = {rule["Name"]: rule for rule in acl["Rules"]}
    rate = rules["RateLimitPerIp"]

    assert {"AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"} <= set(rules)
    assert rate["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "IP",
        "EvaluationWindowSec": 300,
        "Limit": {"Ref": "WafRateLimitPerIp"},
    }
    assert rate["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 429
    common = rules["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    assert {"Name": "SizeRestrictions_BODY", "ActionToUse": {"Count": {}}} in common["RuleActionOverrides"]
    assert sub_text(resources["WebAclAssociation"]["Properties"]["ResourceArn"]).endswith(
        "/restapis/${ScimApi}/stages/${ScimApiStage}"
    )
    assert {"SingleHeader": {"Name": "authorization"}} in resources["WafLogging"]["Properties"]["RedactedFields"]


# ------------------------------------------------------------------- environment
def variables_read_by_the_lambda_code() -> set[str]:
    """The environment variables the functions and the layer read, found in their source:
    ``os.environ.get("X")``, ``os.environ["X"]``, ``os.getenv("X")``."""
    names = set()
    for path in [*Path(PROJECT_ROOT / "shared").rglob("*.py"), *Path(PROJECT_ROOT / "functions").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            key = None
            if isinstance(node, ast.Call) and node.args:
                callee = ast.unparse(node.func)
                if callee in ("os.environ.get", "os.getenv", "environ.get", "getenv"):
                    key = node.args[0]
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
                key = node.slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                names.add(key.value)
    return names


def template_variables() -> dict[str, Any]:
    sam = yaml_parse(sam_template())
    return sam["Globals"]["Function"]["Environment"]["Variables"]


def test_the_template_declares_every_environment_variable_the_code_reads() -> None:
    """Given the functions' and the layer's source, when the variables they read are collected,
    then the template declares each one (Lambda's own AWS_REGION aside), so `sam local invoke
    --env-vars` can override it; DYNAMODB_ENDPOINT_URL is empty, i.e. DynamoDB itself."""
    read = variables_read_by_the_lambda_code()

    assert {"TABLE_NAME", "DYNAMODB_ENDPOINT_URL"} <= read
    assert read - LAMBDA_RUNTIME_VARIABLES <= set(template_variables())
    assert template_variables()["DYNAMODB_ENDPOINT_URL"] == ""


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # SAM CLI calls its own deprecated validator
def test_the_sam_local_env_file_points_scim_users_at_the_dev_servers_dynamodb(monkeypatch: pytest.MonkeyPatch) -> None:
    """Given the env-vars file of the README's `sam local invoke` recipe, when SAM CLI resolves
    ScimUsersFunction's environment with it (its own code, as `sam local invoke` does), then the
    function gets the dev server's table and DynamoDB endpoint (as `make dev` starts them by
    default) and keeps the template's other values; every variable in the file is one the
    template declares (SAM drops the others without a word)."""
    from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
    from samcli.lib.providers.sam_function_provider import SamFunctionProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

    from devserver.__main__ import EMBEDDED_DYNAMODB_HOST, DevSettings

    for name in ("DYNAMODB_LOCAL_PORT", "DYNAMODB_ENDPOINT_URL", "SCIM_LOCAL_API_KEY", "PORT"):
        monkeypatch.delenv(name, raising=False)
    dev_server = DevSettings.from_environment()
    overrides = json.loads(SAM_LOCAL_ENV_FILE.read_text(encoding="utf-8"))
    stacks, _ = SamLocalStackProvider.get_stacks(str(TEMPLATE_PATH))
    provider = SamFunctionProvider(stacks)
    runner = LocalLambdaRunner(None, provider, str(PROJECT_ROOT), str(PROJECT_ROOT), env_vars_values=overrides)

    environment = runner._make_env_vars(provider.get("ScimUsersFunction")).resolve()

    assert environment["TABLE_NAME"] == LOCAL_TABLE_NAME
    assert environment["DYNAMODB_ENDPOINT_URL"] == f"http://{EMBEDDED_DYNAMODB_HOST}:{dev_server.dynamodb_port}"
    assert environment["ACTIVITY_LOG_RETENTION_DAYS"] == "30"
    assert set(overrides) == {"Parameters"}
    assert set(overrides["Parameters"]) <= set(template_variables())
