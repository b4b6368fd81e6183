"""``scim-admin``'s command line and configuration rules, without any DynamoDB: which table and
region it picks, when it invents credentials, and which command lines it refuses."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest

from admincli.main import (
    LOCAL_ENDPOINT_CREDENTIALS,
    LOCAL_ENDPOINT_REGION,
    CommandFailed,
    build_parser,
    create_api_key,
    main,
    resolve_region,
    resolve_table_name,
    use_dummy_credentials_for_local_endpoint,
)
from scim_provisioning.config import LOCAL_TABLE_NAME

LOCAL = "http://127.0.0.1:8000"


@pytest.fixture
def no_aws_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """No region or profile from the environment or this machine's AWS config files."""
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)


@pytest.mark.parametrize(
    ("option", "endpoint", "environ", "expected"),
    [
        ("chosen", LOCAL, {"SCIM_TABLE_NAME": "from-env"}, "chosen"),
        (None, LOCAL, {"SCIM_TABLE_NAME": "from-env"}, "from-env"),
        (None, None, {"SCIM_TABLE_NAME": "from-env"}, "from-env"),
        (None, LOCAL, {}, LOCAL_TABLE_NAME),
    ],
)
def test_table_name_comes_from_the_option_then_the_environment_then_the_dev_server(
    option: str | None, endpoint: str | None, environ: dict[str, str], expected: str
) -> None:
    assert resolve_table_name(option, endpoint, environ) == expected


def test_no_table_name_for_aws_is_an_error_naming_the_option() -> None:
    with pytest.raises(CommandFailed, match="--table-name"):
        resolve_table_name(None, None, {})


def test_region_comes_from_the_option_then_the_environment() -> None:
    assert resolve_region("eu-west-1", None, {"AWS_REGION": "us-west-2"}) == "eu-west-1"
    assert resolve_region(None, None, {"AWS_REGION": "us-west-2"}) == "us-west-2"
    assert resolve_region(None, None, {"AWS_DEFAULT_REGION": "ap-south-1"}) == "ap-south-1"


@pytest.mark.usefixtures("no_aws_configuration")
def test_without_any_region_a_local_endpoint_gets_a_default_and_aws_an_error() -> None:
    assert resolve_region(None, LOCAL, {}) == LOCAL_ENDPOINT_REGION
    with pytest.raises(CommandFailed, match="--region"):
        resolve_region(None, None, {})


def test_a_local_endpoint_without_credentials_gets_dummy_ones() -> None:
    environ: dict[str, str] = {}

    use_dummy_credentials_for_local_endpoint(LOCAL, environ)

    assert environ == LOCAL_ENDPOINT_CREDENTIALS


@pytest.mark.parametrize(
    ("endpoint", "environ"),
    [
        (None, {}),
        (LOCAL, {"AWS_ACCESS_KEY_ID": "mine", "AWS_SECRET_ACCESS_KEY": "secret"}),
        (LOCAL, {"AWS_PROFILE": "dynamodb-local"}),
    ],
)
def test_credentials_are_left_alone_for_aws_or_when_the_user_chose_some(
    endpoint: str | None, environ: dict[str, str]
) -> None:
    before = dict(environ)

    use_dummy_credentials_for_local_endpoint(endpoint, environ)

    assert environ == before


def test_global_options_come_before_the_command() -> None:
    arguments = build_parser().parse_args(
        [
            "--endpoint-url",
            LOCAL,
            "--table-name",
            "t",
            "--region",
            "eu-west-1",
            "create-api-key",
            "--organization-uuid",
            "o",
            "--email",
            "a@b.example",
            "--expires-at",
            "2099-06-01T12:00:00+02:00",
        ]
    )

    assert (arguments.endpoint_url, arguments.table_name, arguments.region) == (LOCAL, "t", "eu-west-1")
    assert arguments.command is create_api_key
    assert arguments.expires_at == datetime(2099, 6, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "command_line",
    [
        [],
        ["create-api-key", "--organization-uuid", "o"],
        ["create-api-key", "--organization-uuid", "o", "--email", "a@b.example", "--user-uuid", "u"],
        ["create-api-key", "--organization-uuid", "o", "--email", "a@b.example", "--expires-at", "2099-06-01"],
        ["create-api-key", "--organization-uuid", "o", "--email", "a@b.example", "--expires-at", "soon"],
        ["create-organization", "--name", "Acme"],
        ["create-organization", "--name", "Acme", "--admin-email", "a@b.example", "--admin-given-name", "Ada"],
        ["revoke-api-key", "--organization-uuid", "o"],
    ],
)
def test_malformed_command_lines_are_usage_errors(command_line: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(command_line)

    assert exit_.value.code == 2


def test_a_configuration_error_is_one_json_object_on_stderr_and_exit_code_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SCIM_TABLE_NAME", raising=False)

    exit_code = main(["list-api-keys", "--organization-uuid", "o"])

    output = capsys.readouterr()
    assert exit_code == 1
    assert output.out == ""
    assert "--table-name" in json.loads(output.err)["error"]
