"""The DynamoDB implementation of every store, on one table (``template.yaml`` defines it)."""

from __future__ import annotations

from typing import Any

from scim_provisioning.config import Settings
from scim_provisioning.repository.activity_log import DynamoDBActivityStore
from scim_provisioning.repository.credentials import DynamoDBCredentialStore
from scim_provisioning.repository.groups import DynamoDBGroupStore
from scim_provisioning.repository.memberships import DynamoDBMembershipStore
from scim_provisioning.repository.organizations import DynamoDBOrganizationStore
from scim_provisioning.repository.page_bookmarks import DynamoDBPageBookmarkStore
from scim_provisioning.repository.people import DynamoDBPeopleStore
from scim_provisioning.repository.protocols import Stores
from scim_provisioning.repository.scim_token_indexes import DynamoDBScimTokenIndexStore
from scim_provisioning.repository.table import Table, create_dynamodb_client
from scim_provisioning.repository.token_health import DynamoDBTokenHealthStore
from scim_provisioning.repository.token_notices import DynamoDBTokenNoticeStore


def dynamodb_stores(client: Any, table_name: str) -> Stores:
    """Every store on the table ``table_name`` through ``client``."""
    table = Table(client, table_name)
    people = DynamoDBPeopleStore(table)
    credentials = DynamoDBCredentialStore(table)
    groups = DynamoDBGroupStore(table)
    return Stores(
        organizations=DynamoDBOrganizationStore(table, people),
        people=people,
        groups=groups,
        memberships=DynamoDBMembershipStore(table, groups),
        page_bookmarks=DynamoDBPageBookmarkStore(table),
        credentials=credentials,
        scim_tokens=credentials,
        scim_token_indexes=DynamoDBScimTokenIndexStore(table),
        api_keys=credentials,
        activity=DynamoDBActivityStore(table),
        token_health=DynamoDBTokenHealthStore(table),
        token_notices=DynamoDBTokenNoticeStore(table),
    )


def stores_from_settings(settings: Settings) -> Stores:
    """The stores of a deployed function (or the dev server, the CLI): the table and endpoint
    the environment names, one client with the standard retries."""
    return dynamodb_stores(create_dynamodb_client(settings), settings.table_name)
