"""The DynamoDB implementation of every store, on one table (``template.yaml`` defines it)."""

from __future__ import annotations

from typing import Any

from scim_provisioning.config import Settings
from scim_provisioning.repository.activity_log import RECORDING_CLIENT_CONFIG, DynamoDBActivityStore
from scim_provisioning.repository.credentials import DynamoDBCredentialStore
from scim_provisioning.repository.groups import DynamoDBGroupStore
from scim_provisioning.repository.memberships import DynamoDBMembershipStore
from scim_provisioning.repository.organizations import DynamoDBOrganizationStore
from scim_provisioning.repository.people import DynamoDBPeopleStore
from scim_provisioning.repository.protocols import Stores
from scim_provisioning.repository.table import Table, create_dynamodb_client


def dynamodb_stores(client: Any, table_name: str, recording_client: Any = None) -> Stores:
    """Every store on the table ``table_name`` through ``client``; activity entries are
    written through ``recording_client`` when given (short timeouts, see ``activity_log.py``)."""
    table = Table(client, table_name)
    people = DynamoDBPeopleStore(table)
    credentials = DynamoDBCredentialStore(table)
    recording = None if recording_client is None else Table(recording_client, table_name)
    return Stores(
        organizations=DynamoDBOrganizationStore(table, people),
        people=people,
        groups=DynamoDBGroupStore(table),
        memberships=DynamoDBMembershipStore(table),
        credentials=credentials,
        scim_tokens=credentials,
        api_keys=credentials,
        activity=DynamoDBActivityStore(table, recording),
    )


def stores_from_settings(settings: Settings) -> Stores:
    """The stores of a deployed function (or the dev server, the CLI): the table and endpoint
    the environment names, one client with the standard retries and one for the activity log."""
    return dynamodb_stores(
        create_dynamodb_client(settings),
        settings.table_name,
        create_dynamodb_client(settings, RECORDING_CLIENT_CONFIG),
    )
