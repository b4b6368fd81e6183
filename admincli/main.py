"""``scim-admin``: create an organization with its first admin, and issue, list and revoke the
admins' personal API keys.

These operations bootstrap trust (an API key is what lets an admin call the token API at all), so
they have no HTTP route: the operator runs them with AWS credentials that may write the table.
The tool talks to DynamoDB directly through the same stores and services as the Lambda
functions, so every rule lives in the services; this module only parses arguments, picks the
table, and prints one JSON object per run (stdout on success, ``{"error": …}`` on stderr with
exit code 1 on failure, exit code 2 for a malformed command line).

Creating and revoking API keys are admin actions: each is recorded, refusals included, in the
organization's activity log (``admincli/audit.py``). An entry that could not be written is a
warning on stderr (``{"auditWarnings": […]}``, or in the error object), never a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from admincli.audit import OperatorAudit, operator_identity
from scim_provisioning.activity_annotation import Action
from scim_provisioning.clock import SystemClock
from scim_provisioning.config import LOCAL_TABLE_NAME, Settings, activity_log_retention_days
from scim_provisioning.errors import ServiceError
from scim_provisioning.models import ApiKeyMetadata
from scim_provisioning.repository.dynamodb import stores_from_settings
from scim_provisioning.runtime import Runtime
from scim_provisioning.timestamps import format_optional, format_timestamp

TABLE_NAME_VARIABLE = "SCIM_TABLE_NAME"
# A local endpoint ignores the region, but boto3 needs one to build a client.
LOCAL_ENDPOINT_REGION = "us-east-1"
# A local endpoint accepts any signature, but boto3 refuses to send an unsigned request.
LOCAL_ENDPOINT_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "scim-admin-local", "AWS_SECRET_ACCESS_KEY": "unused"}
DEFAULT_API_KEY_DESCRIPTION = "Created with scim-admin"
HELP_WIDTH = 88

Command = Callable[[Runtime, OperatorAudit, argparse.Namespace], dict[str, Any]]


class CommandFailed(Exception):
    """An expected failure: reported as ``{"error": message, **details}`` with exit code 1."""

    def __init__(self, message: str, **details: str) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        # Activity-log entries of the run that could not be written (OperatorAudit.warnings).
        self.audit_warnings: list[dict[str, Any]] = []


# ------------------------------------------------------------------------ configuration
def resolve_table_name(table_name_option: str | None, endpoint_url: str | None, environ: Mapping[str, str]) -> str:
    """--table-name, then $SCIM_TABLE_NAME, then the dev server's table for a local endpoint.

    Without any of them there is no safe guess for AWS (each stage has its own table), so this
    fails before a single request is made."""
    if table_name_option:
        return table_name_option
    if environ.get(TABLE_NAME_VARIABLE):
        return environ[TABLE_NAME_VARIABLE]
    if endpoint_url:
        return LOCAL_TABLE_NAME
    raise CommandFailed(
        "No DynamoDB table given: pass --table-name with the stack output TableName "
        f"(e.g. scim-provisioning-prod), set {TABLE_NAME_VARIABLE}, or pass --endpoint-url "
        f"to use the local dev server's table {LOCAL_TABLE_NAME}"
    )


def resolve_region(region_option: str | None, endpoint_url: str | None, environ: Mapping[str, str]) -> str:
    """--region, then the environment and AWS config like the Lambda's Settings; a local endpoint
    needs no real region, but on AWS a guessed one would look for the table in the wrong place."""
    region = (
        region_option
        or environ.get("AWS_REGION")
        or environ.get("AWS_DEFAULT_REGION")
        or boto3.session.Session().region_name
    )
    if region:
        return region
    if endpoint_url:
        return LOCAL_ENDPOINT_REGION
    raise CommandFailed("No AWS region given: pass --region or set AWS_REGION")


def use_dummy_credentials_for_local_endpoint(endpoint_url: str | None, environ: MutableMapping[str, str]) -> None:
    """Let ``--endpoint-url`` work on a machine without AWS credentials.

    Credentials the user chose explicitly (AWS_ACCESS_KEY_ID or AWS_PROFILE) are kept: DynamoDB
    Local, for one, keeps a separate database per access key unless started with -sharedDb."""
    if endpoint_url and not environ.get("AWS_ACCESS_KEY_ID") and not environ.get("AWS_PROFILE"):
        environ.update(LOCAL_ENDPOINT_CREDENTIALS)


def settings_from_arguments(arguments: argparse.Namespace, environ: MutableMapping[str, str]) -> Settings:
    table_name = resolve_table_name(arguments.table_name, arguments.endpoint_url, environ)
    region = resolve_region(arguments.region, arguments.endpoint_url, environ)
    use_dummy_credentials_for_local_endpoint(arguments.endpoint_url, environ)
    return Settings(
        table_name=table_name,
        dynamodb_endpoint_url=arguments.endpoint_url,
        region=region,
        activity_log_retention_days=activity_log_retention_days(environ),
    )


# ----------------------------------------------------------------------------- commands
def api_key_document(key: ApiKeyMetadata, secret: str | None = None) -> dict[str, Any]:
    """The public shape of an API key; ``apiKey`` (the secret) only when it was just created."""
    document: dict[str, Any] = {
        "uuid": key.uuid,
        "organizationUuid": key.organization_uuid,
        "userUuid": key.user_uuid,
        "description": key.description,
        "createdAt": format_timestamp(key.created_at),
        "expiresAt": format_optional(key.expires_at),
        "lastUsedAt": format_optional(key.last_used_at),
    }
    if secret is not None:
        document["apiKey"] = secret
    return document


def create_organization(app: Runtime, audit: OperatorAudit, arguments: argparse.Namespace) -> dict[str, Any]:
    organizations = app.organizations
    organization, admin = organizations.create_organization(
        arguments.name, arguments.admin_email, arguments.admin_given_name, arguments.admin_family_name
    )
    try:
        with audit.action(organization.uuid, Action.CREATE_API_KEY, "create-organization") as audited:
            audited.target_name, audited.target_user_uuid = arguments.api_key_description, admin.uuid
            key, secret = organizations.create_api_key(
                organization.uuid, admin.uuid, arguments.api_key_description, arguments.api_key_expires_at
            )
            audited.status, audited.target_id = 201, key.uuid
    except (ServiceError, ClientError, BotoCoreError) as error:
        # The organization exists now; say so, or a retry would create a second one.
        reason = error.message if isinstance(error, ServiceError) else str(error)
        raise CommandFailed(
            f"Organization {organization.uuid} and its admin {admin.uuid} were created, but the API "
            f"key was not ({reason}). Issue one with: scim-admin create-api-key "
            f"--organization-uuid {organization.uuid} --user-uuid {admin.uuid}",
            organizationUuid=organization.uuid,
            adminUserUuid=admin.uuid,
        ) from error
    return {
        "organizationUuid": organization.uuid,
        "organizationName": organization.name,
        "createdAt": format_timestamp(organization.created_at),
        "adminUserUuid": admin.uuid,
        "adminEmail": admin.user_name,
        "adminDisplayName": admin.resource.get("displayName"),
        "apiKeyUuid": key.uuid,
        "apiKeyDescription": key.description,
        "apiKeyExpiresAt": format_optional(key.expires_at),
        "apiKey": secret,
    }


def create_api_key(app: Runtime, audit: OperatorAudit, arguments: argparse.Namespace) -> dict[str, Any]:
    organizations = app.organizations
    # Looked up first so that a mistyped organization is named as such, not as a missing user
    # (and only an existing organization's log records the attempt).
    organizations.get_organization(arguments.organization_uuid)
    with audit.action(arguments.organization_uuid, Action.CREATE_API_KEY, "create-api-key") as audited:
        audited.target_name, audited.target_user_uuid = arguments.description, arguments.user_uuid
        person = organizations.find_person(arguments.organization_uuid, arguments.user_uuid, arguments.email)
        audited.target_user_uuid = person.uuid
        key, secret = organizations.create_api_key(
            arguments.organization_uuid, person.uuid, arguments.description, arguments.expires_at
        )
        audited.status, audited.target_id = 201, key.uuid
    return api_key_document(key, secret)


def list_api_keys(app: Runtime, audit: OperatorAudit, arguments: argparse.Namespace) -> dict[str, Any]:
    organizations = app.organizations
    # An unknown organization has no keys either; an error tells a typo from an empty list.
    organizations.get_organization(arguments.organization_uuid)
    keys = organizations.list_api_keys(arguments.organization_uuid)
    return {"apiKeys": [api_key_document(key) for key in keys]}


def revoke_api_key(app: Runtime, audit: OperatorAudit, arguments: argparse.Namespace) -> dict[str, Any]:
    organizations = app.organizations
    organizations.get_organization(arguments.organization_uuid)
    with audit.action(arguments.organization_uuid, Action.REVOKE_API_KEY, "revoke-api-key") as audited:
        audited.target_id = arguments.api_key_uuid
        revoked = organizations.revoke_api_key(arguments.organization_uuid, arguments.api_key_uuid)
        audited.target_name, audited.target_user_uuid = revoked.description, revoked.user_uuid
    return {"revoked": arguments.api_key_uuid}


def upgrade(app: Runtime, audit: OperatorAudit, arguments: argparse.Namespace) -> dict[str, Any]:
    return app.upgrades.upgrade_all().as_document()


# --------------------------------------------------------------------------- arguments
def timestamp_argument(text: str) -> datetime:
    """An ISO 8601 instant with an explicit offset, as the token API demands for expiresAt:
    a bare local time would silently mean different instants on different machines."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 timestamp: {text!r}") from error
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} needs a timezone, e.g. 2027-01-01T00:00:00Z or 2027-01-01T00:00:00+02:00"
        )
    return moment.astimezone(UTC)


def _help_text(paragraphs: Sequence[str], examples: Sequence[str]) -> tuple[str, str]:
    """Description and epilog for RawDescriptionHelpFormatter: wrapped prose, examples kept
    as written (one command per example, continued over lines with a backslash)."""
    description = "\n\n".join(textwrap.fill(paragraph, HELP_WIDTH) for paragraph in paragraphs)
    epilog = "examples:\n" + "\n".join(f"  {example}" for example in examples)
    return description, epilog


def _command_line(*parts: str) -> str:
    return " \\\n      ".join(parts)


DEV_SERVER_EXAMPLE = _command_line(
    "scim-admin --endpoint-url http://127.0.0.1:8000",
    "create-organization --name Acme --admin-email admin@acme.example",
    "--admin-given-name Ada --admin-family-name Lovelace",
)
AWS_OPTIONS = "scim-admin --table-name scim-provisioning-prod --region eu-west-1"
ORGANIZATION_OPTION = "--organization-uuid <ORGANIZATION_UUID>"
EXPIRES_AT_HELP = "when the API key stops working, e.g. 2027-01-01T00:00:00Z (default: never)"
DESCRIPTION_HELP = f"what the API key is for (default: {DEFAULT_API_KEY_DESCRIPTION!r})"
ORGANIZATION_HELP = "the organization's uuid, as printed by create-organization"


def build_parser() -> argparse.ArgumentParser:
    description, epilog = _help_text(
        [
            "Administer the SCIM provisioning service's DynamoDB table directly: create "
            "organizations with their first admin, and issue, list and revoke the admins' "
            "personal API keys, which the token API requires. Each run prints one JSON object.",
            "Without --endpoint-url it works on AWS with the default credential chain "
            "(AWS_PROFILE, environment variables, SSO...).",
        ],
        [DEV_SERVER_EXAMPLE, _command_line(AWS_OPTIONS, f"list-api-keys {ORGANIZATION_OPTION}")],
    )
    parser = argparse.ArgumentParser(
        prog="scim-admin",
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        help="a local DynamoDB endpoint, e.g. the dev server's http://127.0.0.1:8000 "
        "(default: AWS; dummy credentials are used unless AWS_ACCESS_KEY_ID or AWS_PROFILE is set)",
    )
    parser.add_argument(
        "--table-name",
        metavar="NAME",
        help=f"the table: the stack output TableName, e.g. scim-provisioning-prod (default: "
        f"${TABLE_NAME_VARIABLE}, or {LOCAL_TABLE_NAME} with --endpoint-url)",
    )
    parser.add_argument(
        "--region", metavar="REGION", help="AWS region of the table (default: AWS_REGION or your AWS config)"
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    def add_command(name: str, command: Command, summary: str, example: str) -> argparse.ArgumentParser:
        description, epilog = _help_text([summary], [example])
        subparser = commands.add_parser(
            name,
            help=summary,
            description=description,
            epilog=epilog,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        subparser.set_defaults(command=command)
        return subparser

    created = add_command(
        "create-organization",
        create_organization,
        "Create an organization, its first admin (a complete SCIM user: userName = the email, "
        "name, displayName, active, role admin) and an API key for that admin. The API key is "
        "printed once, here, and cannot be shown again.",
        DEV_SERVER_EXAMPLE,
    )
    created.add_argument("--name", required=True, help="the organization's display name")
    created.add_argument("--admin-email", required=True, metavar="EMAIL", help="the first admin's email")
    created.add_argument("--admin-given-name", required=True, metavar="NAME", help="the first admin's given name")
    created.add_argument("--admin-family-name", required=True, metavar="NAME", help="the first admin's family name")
    created.add_argument(
        "--api-key-description", default=DEFAULT_API_KEY_DESCRIPTION, metavar="TEXT", help=DESCRIPTION_HELP
    )
    created.add_argument("--api-key-expires-at", type=timestamp_argument, metavar="ISO8601", help=EXPIRES_AT_HELP)

    issued = add_command(
        "create-api-key",
        create_api_key,
        "Issue a personal API key for an admin of an organization, found by uuid or email. "
        "The API key is printed once, here, and cannot be shown again.",
        _command_line(
            AWS_OPTIONS,
            f"create-api-key {ORGANIZATION_OPTION}",
            "--email admin@acme.example --expires-at 2027-01-01T00:00:00Z",
        ),
    )
    issued.add_argument("--organization-uuid", required=True, metavar="UUID", help=ORGANIZATION_HELP)
    owner = issued.add_mutually_exclusive_group(required=True)
    owner.add_argument("--user-uuid", metavar="UUID", help="the admin's user uuid")
    owner.add_argument("--email", metavar="EMAIL", help="the admin's email (their userName)")
    issued.add_argument("--description", default=DEFAULT_API_KEY_DESCRIPTION, metavar="TEXT", help=DESCRIPTION_HELP)
    issued.add_argument("--expires-at", type=timestamp_argument, metavar="ISO8601", help=EXPIRES_AT_HELP)

    listed = add_command(
        "list-api-keys",
        list_api_keys,
        "List an organization's API keys: metadata only, a secret is never shown again.",
        _command_line(AWS_OPTIONS, f"list-api-keys {ORGANIZATION_OPTION}"),
    )
    listed.add_argument("--organization-uuid", required=True, metavar="UUID", help=ORGANIZATION_HELP)

    revoked = add_command(
        "revoke-api-key",
        revoke_api_key,
        "Revoke an API key: it fails authentication from the very next request on.",
        _command_line(AWS_OPTIONS, f"revoke-api-key {ORGANIZATION_OPTION}", "--api-key-uuid <API_KEY_UUID>"),
    )
    revoked.add_argument("--organization-uuid", required=True, metavar="UUID", help=ORGANIZATION_HELP)
    revoked.add_argument(
        "--api-key-uuid", required=True, metavar="UUID", help="the key's uuid, as list-api-keys prints it"
    )
    add_command(
        "upgrade",
        upgrade,
        "Bring the records of earlier releases up to date, in place: organizations' first admins "
        "stored without userName, name or active become complete SCIM users, and passwords kept "
        "in stored users are removed. Reads the whole "
        "table; safe to run again (a second run changes nothing). Run it once after deploying "
        "a new release (README, upgrade notes).",
        _command_line(AWS_OPTIONS, "upgrade"),
    )
    return parser


# -------------------------------------------------------------------------------- main
def describe_dynamodb_error(error: ClientError | BotoCoreError, settings: Settings) -> str:
    endpoint = settings.dynamodb_endpoint_url
    where = f"at {endpoint}" if endpoint else f"in {settings.region}"
    code = error.response.get("Error", {}).get("Code") if isinstance(error, ClientError) else None
    if code == "ResourceNotFoundException":
        return f"DynamoDB table {settings.table_name} not found {where}: check --table-name and --region"
    return f"DynamoDB request to table {settings.table_name} {where} failed: {error}"


def run(arguments: argparse.Namespace, environ: MutableMapping[str, str]) -> tuple[dict[str, Any], list[Any]]:
    """The command's result and the activity-log entries it could not write."""
    settings = settings_from_arguments(arguments, environ)
    app = Runtime(
        stores=stores_from_settings(settings),
        clock=SystemClock(),
        activity_retention=timedelta(days=settings.activity_log_retention_days),
    )
    audit = OperatorAudit(
        app.activity_ingest, app.clock, lambda: operator_identity(settings.dynamodb_endpoint_url, settings.region)
    )
    try:
        try:
            return arguments.command(app, audit, arguments), audit.warnings
        except ServiceError as error:
            raise CommandFailed(error.message) from error
        except (ClientError, BotoCoreError) as error:
            raise CommandFailed(describe_dynamodb_error(error, settings)) from error
    except CommandFailed as failure:
        failure.audit_warnings = audit.warnings
        raise


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        result, audit_warnings = run(arguments, os.environ)
    except CommandFailed as failure:
        warnings = {"auditWarnings": failure.audit_warnings} if failure.audit_warnings else {}
        print(json.dumps({"error": failure.message, **failure.details, **warnings}, indent=2), file=sys.stderr)
        return 1
    # The result first and whatever happened to its audit entry: a created key is printed here,
    # its only copy, even when its entry could not be written.
    print(json.dumps(result, indent=2))
    if audit_warnings:
        print(json.dumps({"auditWarnings": audit_warnings}, indent=2), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
