"""``scim-admin`` end to end: the installed console script, run as a subprocess, against a
DynamoDB endpoint served over HTTP by moto's server in this test process.

Why here and not in tests/integration: that package's ``mock_aws`` would intercept any boto3
client of this process while it is active, and resets moto's backends (the server's included)
when it starts and stops. Nothing in tests/e2e starts it, so the server's tables stay put and
the in-process checks (scan, Authenticator) really go over HTTP like the CLI does.

Every CLI run gets an environment without AWS credentials, so each one also proves that
``--endpoint-url`` works without them.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from devserver.dispatch import load_handler
from devserver.dynamodb_proxy import DynamoDBProxy, Fault, FaultPolicy
from devserver.events import LambdaContext
from devserver.log_subscription import subscription_event
from devserver.template import create_table, log_subscription
from scim_provisioning import runtime
from scim_provisioning.clock import SystemClock
from scim_provisioning.config import LOCAL_TABLE_NAME
from scim_provisioning.credentials import digest
from scim_provisioning.errors import Unauthenticated
from scim_provisioning.models import Organization, OrganizationRole, Person
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.services.activity_log import entry_document
from scim_provisioning.services.authentication import Authenticator

SCIM_ADMIN = Path(sys.executable).with_name("scim-admin")
ADMIN_EMAIL = "admin@acme.example"
ADMIN_NAME = ("--admin-given-name", "Ada", "--admin-family-name", "Lovelace")

Cli = Callable[..., subprocess.CompletedProcess[str]]


def cli_environment(**overrides: str) -> dict[str, str]:
    """This environment minus anything that could pick a table or credentials for the CLI,
    and no AWS config files or instance metadata to fall back on."""
    chosen_elsewhere = {
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "SCIM_TABLE_NAME",
    }
    environment = {name: value for name, value in os.environ.items() if name not in chosen_elsewhere}
    environment.update(
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        **overrides,
    )
    return environment


def scim_admin(*arguments: str, environment: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own console script with test-chosen arguments
        [str(SCIM_ADMIN), *arguments],
        capture_output=True,
        text=True,
        env=environment or cli_environment(),
        timeout=60,
        check=False,
    )


def succeeded(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def failed(result: subprocess.CompletedProcess[str]) -> str:
    """The error message of a run that failed as the CLI promises: exit 1, JSON on stderr only."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout == ""
    return json.loads(result.stderr)["error"]


@pytest.fixture(scope="module")
def endpoint_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def dynamodb_client(endpoint_url: str) -> Any:
    return boto3.client("dynamodb", endpoint_url=endpoint_url, region_name="us-east-1")


@pytest.fixture
def table_name(dynamodb_client: Any) -> Iterator[str]:
    name = f"scim-admin-test-{uuid.uuid4().hex[:12]}"
    create_table(dynamodb_client, name)
    yield name
    dynamodb_client.delete_table(TableName=name)


@pytest.fixture
def cli(endpoint_url: str, table_name: str) -> Cli:
    """scim-admin aimed at this test's table on the moto server."""

    def run(*arguments: str) -> subprocess.CompletedProcess[str]:
        return scim_admin("--endpoint-url", endpoint_url, "--table-name", table_name, *arguments)

    return run


@pytest.fixture
def authenticator(dynamodb_client: Any, table_name: str) -> Authenticator:
    stores = dynamodb_stores(dynamodb_client, table_name)
    return Authenticator(stores.credentials, stores.people, SystemClock())


@pytest.fixture
def organization(cli: Cli) -> dict[str, Any]:
    return succeeded(cli("create-organization", "--name", "Acme", "--admin-email", ADMIN_EMAIL, *ADMIN_NAME))


def test_create_organization_prints_an_api_key_that_authenticates_its_admin(
    cli: Cli, authenticator: Authenticator
) -> None:
    # Given an empty table
    # When an organization is created
    result = cli("create-organization", "--name", "Acme", "--admin-email", ADMIN_EMAIL, *ADMIN_NAME)

    # Then the output names the organization, its admin and the admin's new key
    created = succeeded(result)
    assert created["organizationName"] == "Acme"
    assert created["adminEmail"] == ADMIN_EMAIL
    assert created["apiKey"].startswith("scimadm_")
    assert created["apiKeyExpiresAt"] is None
    # And the key authenticates that admin of that organization
    principal = authenticator.authenticate_admin(f"ApiKey {created['apiKey']}")
    assert principal.organization_uuid == created["organizationUuid"]
    assert principal.user_uuid == created["adminUserUuid"]
    assert principal.api_key_uuid == created["apiKeyUuid"]
    # And nothing but stdout's one JSON object carries the secret
    assert created["apiKey"] not in result.stderr


def test_api_key_is_stored_only_as_its_digest(
    cli: Cli, organization: dict[str, Any], dynamodb_client: Any, table_name: str
) -> None:
    # Given an organization created with the CLI, and a second key issued for its admin
    second = succeeded(
        cli("create-api-key", "--organization-uuid", organization["organizationUuid"], "--email", ADMIN_EMAIL)
    )

    # When the whole table is read
    items = json.dumps(dynamodb_client.scan(TableName=table_name)["Items"])

    # Then neither secret appears anywhere, only their digests
    for secret in (organization["apiKey"], second["apiKey"]):
        assert secret not in items
        assert digest(secret) in items


def test_create_api_key_finds_the_admin_by_email_or_by_user_uuid(
    cli: Cli, organization: dict[str, Any], authenticator: Authenticator
) -> None:
    organization_uuid = organization["organizationUuid"]
    admin_uuid = organization["adminUserUuid"]

    # When a key is issued for the admin by email, and another by user uuid
    by_email = succeeded(
        cli("create-api-key", "--organization-uuid", organization_uuid, "--email", ADMIN_EMAIL.upper())
    )
    by_uuid = succeeded(
        cli(
            "create-api-key",
            "--organization-uuid",
            organization_uuid,
            "--user-uuid",
            admin_uuid,
            "--description",
            "CI pipeline",
            "--expires-at",
            "2099-06-01T12:00:00+02:00",
        )
    )

    # Then both belong to the admin and authenticate them
    for issued in (by_email, by_uuid):
        assert issued["organizationUuid"] == organization_uuid
        assert issued["userUuid"] == admin_uuid
        assert authenticator.authenticate_admin(f"ApiKey {issued['apiKey']}").api_key_uuid == issued["uuid"]
    # And the description and expiry are kept, the expiry in the service's UTC format
    assert by_uuid["description"] == "CI pipeline"
    assert by_uuid["expiresAt"] == "2099-06-01T10:00:00.000Z"
    assert by_email["expiresAt"] is None


def test_list_api_keys_shows_every_key_without_its_secret(cli: Cli, organization: dict[str, Any]) -> None:
    # Given an organization whose admin holds two keys
    organization_uuid = organization["organizationUuid"]
    second = succeeded(cli("create-api-key", "--organization-uuid", organization_uuid, "--email", ADMIN_EMAIL))

    # When its keys are listed
    listed = succeeded(cli("list-api-keys", "--organization-uuid", organization_uuid))

    # Then both appear, as metadata only
    assert {key["uuid"] for key in listed["apiKeys"]} == {organization["apiKeyUuid"], second["uuid"]}
    for key in listed["apiKeys"]:
        assert set(key) == {
            "uuid",
            "organizationUuid",
            "userUuid",
            "description",
            "createdAt",
            "expiresAt",
            "lastUsedAt",
        }
    output = json.dumps(listed)
    for secret in (organization["apiKey"], second["apiKey"]):
        assert secret not in output
        assert digest(secret) not in output


def test_revoked_api_key_no_longer_authenticates(
    cli: Cli, organization: dict[str, Any], authenticator: Authenticator
) -> None:
    # Given an organization whose admin's key works
    organization_uuid = organization["organizationUuid"]
    authenticator.authenticate_admin(f"ApiKey {organization['apiKey']}")

    # When the key is revoked
    revoked = succeeded(
        cli("revoke-api-key", "--organization-uuid", organization_uuid, "--api-key-uuid", organization["apiKeyUuid"])
    )

    # Then the key fails authentication and is no longer listed
    assert revoked == {"revoked": organization["apiKeyUuid"]}
    with pytest.raises(Unauthenticated):
        authenticator.authenticate_admin(f"ApiKey {organization['apiKey']}")
    assert succeeded(cli("list-api-keys", "--organization-uuid", organization_uuid)) == {"apiKeys": []}
    # And revoking it again is an error: it no longer exists
    again = cli(
        "revoke-api-key", "--organization-uuid", organization_uuid, "--api-key-uuid", organization["apiKeyUuid"]
    )
    assert "not found" in failed(again)


def test_endpoint_without_table_name_uses_the_dev_server_table(endpoint_url: str, dynamodb_client: Any) -> None:
    # Given the dev server's table on the endpoint
    create_table(dynamodb_client, LOCAL_TABLE_NAME)
    try:
        # When an organization is created with --endpoint-url alone
        created = succeeded(
            scim_admin(
                "--endpoint-url",
                endpoint_url,
                "create-organization",
                "--name",
                "Local",
                "--admin-email",
                ADMIN_EMAIL,
                *ADMIN_NAME,
            )
        )

        # Then it lives in that table
        stores = dynamodb_stores(dynamodb_client, LOCAL_TABLE_NAME)
        assert stores.organizations.get_organization(created["organizationUuid"]) is not None
    finally:
        dynamodb_client.delete_table(TableName=LOCAL_TABLE_NAME)


def test_table_name_can_come_from_the_environment(endpoint_url: str, table_name: str, dynamodb_client: Any) -> None:
    # When the table is named only by SCIM_TABLE_NAME
    created = succeeded(
        scim_admin(
            "--endpoint-url",
            endpoint_url,
            "create-organization",
            "--name",
            "Acme",
            "--admin-email",
            ADMIN_EMAIL,
            *ADMIN_NAME,
            environment=cli_environment(SCIM_TABLE_NAME=table_name),
        )
    )

    # Then that table is used
    stores = dynamodb_stores(dynamodb_client, table_name)
    assert stores.organizations.get_organization(created["organizationUuid"]) is not None


def test_missing_table_name_fails_before_any_request() -> None:
    # Given no endpoint, no table name, and every HTTP(S) request routed to a proxy that records
    # whether anyone connected
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        proxy_url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
        environment = cli_environment(HTTPS_PROXY=proxy_url, HTTP_PROXY=proxy_url, NO_PROXY="")

        # When a command is run
        error = failed(scim_admin("list-api-keys", "--organization-uuid", "any", environment=environment))

        # Then it says how to name the table
        assert "--table-name" in error
        assert "scim-provisioning-prod" in error
        # And no connection was ever attempted
        proxy.setblocking(False)
        with pytest.raises(BlockingIOError):
            proxy.accept()


def test_create_api_key_for_an_unknown_organization_fails(cli: Cli) -> None:
    unknown = str(uuid.uuid4())

    error = failed(cli("create-api-key", "--organization-uuid", unknown, "--email", ADMIN_EMAIL))

    assert error == f"Organization {unknown} not found"


def test_create_api_key_expiring_in_the_past_fails_and_issues_nothing(cli: Cli, organization: dict[str, Any]) -> None:
    organization_uuid = organization["organizationUuid"]

    error = failed(
        cli(
            "create-api-key",
            "--organization-uuid",
            organization_uuid,
            "--email",
            ADMIN_EMAIL,
            "--expires-at",
            "2020-01-01T00:00:00Z",
        )
    )

    assert "future" in error
    listed = succeeded(cli("list-api-keys", "--organization-uuid", organization_uuid))
    assert [key["uuid"] for key in listed["apiKeys"]] == [organization["apiKeyUuid"]]


def test_create_organization_whose_key_is_refused_says_what_was_created(
    cli: Cli, dynamodb_client: Any, table_name: str
) -> None:
    # When the organization's first key would already be expired
    result = cli(
        "create-organization",
        "--name",
        "Acme",
        "--admin-email",
        ADMIN_EMAIL,
        *ADMIN_NAME,
        "--api-key-expires-at",
        "2020-01-01T00:00:00Z",
    )

    # Then it fails, naming the organization and admin that now exist without a key
    assert result.returncode == 1
    reported = json.loads(result.stderr)
    assert "future" in reported["error"]
    assert "create-api-key" in reported["error"]
    stores = dynamodb_stores(dynamodb_client, table_name)
    assert stores.organizations.get_organization(reported["organizationUuid"]) is not None
    assert stores.people.get_person(reported["organizationUuid"], reported["adminUserUuid"]) is not None
    assert stores.api_keys.list_api_keys(reported["organizationUuid"]) == []


def test_create_organization_stores_its_admin_as_a_complete_scim_user(
    organization: dict[str, Any], dynamodb_client: Any, table_name: str
) -> None:
    # Given an organization created with the CLI
    # When its admin's record is read
    admin = dynamodb_stores(dynamodb_client, table_name).people.get_person(
        organization["organizationUuid"], organization["adminUserUuid"]
    )

    # Then it is the SCIM user an identity provider would have created, with the admin role
    assert admin is not None
    assert admin.resource == {
        "userName": ADMIN_EMAIL,
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "displayName": "Ada Lovelace",
        "emails": [{"value": ADMIN_EMAIL, "type": "work", "primary": True}],
        "active": True,
        "roles": [{"value": "admin", "primary": True}],
    }
    assert organization["adminDisplayName"] == "Ada Lovelace"


def test_upgrade_completes_old_admin_records_and_a_second_run_changes_nothing(
    cli: Cli, dynamodb_client: Any, table_name: str
) -> None:
    # Given an admin stored as releases before 2026-11-30 did: emails only
    stores = dynamodb_stores(dynamodb_client, table_name)
    now = SystemClock().now()
    organization = Organization(uuid=str(uuid.uuid4()), name="Old Corp", created_at=now)
    old = Person(
        uuid=str(uuid.uuid4()),
        organization_uuid=organization.uuid,
        user_name="root@old.test",
        active=True,
        role=OrganizationRole.ADMIN,
        created_at=now,
        last_modified=now,
        resource={"emails": [{"value": "root@old.test", "type": "work", "primary": True}]},
    )
    stores.organizations.create_organization(organization, old)
    # ... in an organization without the count of its active admins (before 2026-12-01)
    dynamodb_client.update_item(
        TableName=table_name,
        Key={"PK": {"S": f"ORG#{organization.uuid}"}, "SK": {"S": "ORGANIZATION"}},
        UpdateExpression="REMOVE activeAdminCount",
    )

    # When the operator runs the upgrade twice
    first, second = succeeded(cli("upgrade")), succeeded(cli("upgrade"))

    # Then the first run completes the record and counts the admins, the second finds nothing to do
    assert first == {
        "peopleScanned": 1,
        "peopleUpgraded": 1,
        "organizationsCounted": 1,
        "repairs": {"legacy admin record": 1, "active admin count": 1},
        "scimTokenItemsIndexed": 0,
    }
    assert second == {
        "peopleScanned": 1,
        "peopleUpgraded": 0,
        "organizationsCounted": 0,
        "repairs": {},
        "scimTokenItemsIndexed": 0,
    }
    assert stores.organizations.active_admin_count(organization.uuid) == 1
    upgraded = stores.people.get_person(organization.uuid, old.uuid)
    assert upgraded is not None
    assert (upgraded.resource["userName"], upgraded.resource["active"]) == ("root@old.test", True)


# ----------------------------------------------------------------- admin actions' audit
def activity_log(dynamodb_client: Any, table_name: str, organization_uuid: str) -> list[dict[str, Any]]:
    """The organization's activity log, newest first, as the request-log API shows it."""
    stores = dynamodb_stores(dynamodb_client, table_name)
    return [entry_document(entry) for entry in stores.activity.list_activity(organization_uuid, 200).entries]


def test_api_key_actions_are_in_the_organizations_log_with_the_operator_and_the_outcome(
    cli: Cli, organization: dict[str, Any], dynamodb_client: Any, table_name: str
) -> None:
    # Given the organization created with its admin's first key, then a second key for that admin
    organization_uuid, admin_uuid = organization["organizationUuid"], organization["adminUserUuid"]
    second = succeeded(
        cli("create-api-key", "--organization-uuid", organization_uuid, "--email", ADMIN_EMAIL, "--description", "CI")
    )

    # When the second is revoked twice, and keys are asked for an unknown user and with a past
    # expiry, and for an organization that does not exist
    revoke = ("revoke-api-key", "--organization-uuid", organization_uuid, "--api-key-uuid", second["uuid"])
    assert succeeded(cli(*revoke)) == {"revoked": second["uuid"]}
    assert "not found" in failed(cli(*revoke))
    unknown_user = str(uuid.uuid4())
    assert "not found" in failed(
        cli("create-api-key", "--organization-uuid", organization_uuid, "--user-uuid", unknown_user)
    )
    past = ("--expires-at", "2020-01-01T00:00:00Z")
    assert "future" in failed(
        cli("create-api-key", "--organization-uuid", organization_uuid, "--email", ADMIN_EMAIL, *past)
    )
    nowhere = str(uuid.uuid4())
    assert "Organization" in failed(
        cli("revoke-api-key", "--organization-uuid", nowhere, "--api-key-uuid", second["uuid"])
    )

    # Then each action is one entry of the organization's log, newest first, refusals included
    entries = activity_log(dynamodb_client, table_name, organization_uuid)
    assert [
        (
            entry["action"],
            entry["status"],
            entry["path"],
            entry["targetId"],
            entry["targetName"],
            entry["targetUserUuid"],
        )
        for entry in entries
    ] == [
        ("create_api_key", 400, "create-api-key", None, "Created with scim-admin", admin_uuid),
        ("create_api_key", 404, "create-api-key", None, "Created with scim-admin", unknown_user),
        ("revoke_api_key", 404, "revoke-api-key", second["uuid"], None, None),
        ("revoke_api_key", 200, "revoke-api-key", second["uuid"], "CI", admin_uuid),
        ("create_api_key", 201, "create-api-key", second["uuid"], "CI", admin_uuid),
        (
            "create_api_key",
            201,
            "create-organization",
            organization["apiKeyUuid"],
            "Created with scim-admin",
            admin_uuid,
        ),
    ]
    assert entries[0]["detail"] == "Expire time must be in the future"
    assert entries[2]["detail"] == f"API key {second['uuid']} not found"
    # And the actor is the operator who ran scim-admin (no API key, no admin, no SCIM token)
    assert {entry["operator"] for entry in entries} == {f"{getpass.getuser()}@{socket.gethostname()}"}
    assert {
        (entry["method"], entry["apiKeyUuid"], entry["actorUserUuid"], entry["tokenUuid"]) for entry in entries
    } == {("scim-admin", None, None, None)}
    # And no key is in the log, nor anything of the organization that does not exist
    written = json.dumps(entries)
    assert organization["apiKey"] not in written and second["apiKey"] not in written
    assert activity_log(dynamodb_client, table_name, nowhere) == []


def test_the_cli_entries_expire_with_the_stages_log_retention(
    endpoint_url: str, table_name: str, organization: dict[str, Any], dynamodb_client: Any
) -> None:
    # Given a stage whose activity log is kept 7 days (ActivityLogRetentionDays)
    environment = cli_environment(ACTIVITY_LOG_RETENTION_DAYS="7")

    # When an API key is created with scim-admin
    created = succeeded(
        scim_admin(
            "--endpoint-url",
            endpoint_url,
            "--table-name",
            table_name,
            "create-api-key",
            "--organization-uuid",
            organization["organizationUuid"],
            "--email",
            ADMIN_EMAIL,
            environment=environment,
        )
    )

    # Then its entry expires (DynamoDB TTL) 7 days after it happened
    items = dynamodb_client.scan(TableName=table_name)["Items"]
    (entry,) = [item for item in items if item.get("targetId", {}).get("S") == created["uuid"]]
    occurred = datetime.fromisoformat(entry["occurredAt"]["S"])
    assert int(entry["expiresAtEpoch"]["N"]) == int((occurred + timedelta(days=7)).timestamp())


def test_a_key_whose_audit_entry_cannot_be_written_is_still_printed_with_a_warning(
    endpoint_url: str, table_name: str, organization: dict[str, Any], dynamodb_client: Any, authenticator: Authenticator
) -> None:
    # Given a table that takes every write but the activity log's (BatchWriteItem fails with
    # DynamoDB's 500, also on botocore's retries)
    broken = FaultPolicy(rate=1.0, kinds=(Fault.INTERNAL_ERROR,), operations={"BatchWriteItem"})
    organization_uuid = organization["organizationUuid"]
    with DynamoDBProxy(endpoint_url, faults=broken) as proxy:
        through_proxy = ("--endpoint-url", proxy.endpoint_url, "--table-name", table_name)

        # When an API key is created, and a revocation is refused (side by side: each run waits
        # out botocore's backoff between its attempts)
        with ThreadPoolExecutor(max_workers=2) as runs:
            creation = runs.submit(
                scim_admin,
                *through_proxy,
                "create-api-key",
                "--organization-uuid",
                organization_uuid,
                "--email",
                ADMIN_EMAIL,
            )
            revocation = runs.submit(
                scim_admin,
                *through_proxy,
                "revoke-api-key",
                "--organization-uuid",
                organization_uuid,
                "--api-key-uuid",
                "missing",
            )
            result, refused = creation.result(), revocation.result()

    # Then the key is printed, works, and the run succeeded: the key exists only in this output
    created = succeeded(result)
    assert authenticator.authenticate_admin(f"ApiKey {created['apiKey']}").api_key_uuid == created["uuid"]
    # And stderr warns that its entry is missing, with the record to keep (never the key)
    (warning,) = json.loads(result.stderr)["auditWarnings"]
    assert "could not be written" in warning["warning"]
    record = warning["auditRecord"]
    assert (record["action"], record["status"], record["targetId"]) == ("create_api_key", 201, created["uuid"])
    assert created["apiKey"] not in result.stderr
    # And the refusal is still the command's error, with its own missing entry beside it
    assert refused.returncode == 1
    error = json.loads(refused.stderr)
    assert error["error"] == "API key missing not found"
    assert [warning["auditRecord"]["status"] for warning in error["auditWarnings"]] == [404]
    # And the log holds only what was written before the faults: the organization's first key
    assert [entry["path"] for entry in activity_log(dynamodb_client, table_name, organization_uuid)] == [
        "create-organization"
    ]
    # And the kept record, handed to the ingest as docs/operations.md says, becomes its entry
    runtime.configure(stores=dynamodb_stores(dynamodb_client, table_name))
    try:
        code = log_subscription().destination
        ingest = load_handler(code.code_uri, code.handler, "_ingest_for_replay")
        event = subscription_event([json.dumps(record)])
        assert ingest(event, LambdaContext("ActivityIngestFunction"))["entries"] == 1
    finally:
        runtime.reset()
    assert [entry["path"] for entry in activity_log(dynamodb_client, table_name, organization_uuid)] == [
        "create-api-key",
        "create-organization",
    ]
