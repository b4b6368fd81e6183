"""What the integration tests share: an organization with an admin, a SCIM token, and calls
to the handlers through the dev server's dispatcher, with the checks every SCIM answer gets.
Test modules import from here (and fixtures come from ``conftest.py``), never from each other."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3

from devserver.dispatch import Dispatcher, HttpResponse
from scim_provisioning.repository.stream import lambda_record
from scim_provisioning.runtime import Runtime
from tests.scim_samples import ERROR_SCHEMA, LIST_RESPONSE, PATCH_OP, okta_user

BASE = "/api/v1/scim/v2/Users"
GROUPS = "/api/v1/scim/v2/Groups"
SCIM_JSON = "application/scim+json"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"


@dataclass(frozen=True)
class AdminFixture:
    organization_uuid: str
    user_uuid: str
    api_key: str

    @property
    def authorization(self) -> str:
        return f"ApiKey {self.api_key}"


def make_admin(app_runtime: Runtime, name: str = "Acme", email: str = "admin@acme.test") -> AdminFixture:
    organization, admin = app_runtime.organizations.create_organization(name, email, "Alex", "Admin")
    _, secret = app_runtime.organizations.create_api_key(organization.uuid, admin.uuid, "test key")
    return AdminFixture(organization.uuid, admin.uuid, secret)


def scim_token(app_runtime: Runtime, admin: AdminFixture) -> str:
    principal = app_runtime.authenticator.authenticate_admin(admin.authorization)
    _, secret = app_runtime.access_tokens.create(principal, "Okta", None)
    return f"Bearer {secret}"


def call(
    api: Dispatcher,
    method: str,
    target: str,
    token: str | None,
    body: Any = None,
    headers: dict[str, str] | None = None,
    content_type: str = SCIM_JSON,
) -> HttpResponse:
    sent = [("Content-Type", content_type), ("Accept", SCIM_JSON)]
    if token is not None:
        sent.append(("Authorization", token))
    sent.extend((headers or {}).items())
    payload = body if isinstance(body, str | None) else json.dumps(body)
    return api.handle(method, target, sent, payload)


def document(response: HttpResponse) -> dict[str, Any]:
    assert response.header("Content-Type") == SCIM_JSON
    return json.loads(response.body)


def scim_error(response: HttpResponse, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status == status, response.body
    error = document(response)
    assert error["schemas"] == [ERROR_SCHEMA]
    assert error["status"] == str(status)
    if scim_type is not None:
        assert error.get("scimType") == scim_type, error
    return error


def create(api: Dispatcher, token: str, body: dict[str, Any]) -> dict[str, Any]:
    response = call(api, "POST", BASE, token, body)
    assert response.status == 201, response.body
    return document(response)


def new_user(api: Dispatcher, token: str, name: str, display: str | None = None) -> str:
    """An Okta-shaped user ``<name>@acme.test`` (displayName ``display``, else the name titled); its id."""
    return str(
        create(api, token, okta_user(f"{name}@acme.test", externalId=None, displayName=display or name.title()))["id"]
    )


def new_group(
    api: Dispatcher, token: str, name: str = "Engineering", members: Sequence[str | dict[str, Any]] = ()
) -> dict[str, Any]:
    """A group with these members (ids, or member objects as a client sends them); its answer."""
    body = {
        "schemas": [GROUP_SCHEMA],
        "displayName": name,
        "members": [member if isinstance(member, dict) else {"value": member} for member in members],
    }
    response = call(api, "POST", GROUPS, token, body)
    assert response.status == 201, response.body
    return document(response)


def patch(api: Dispatcher, token: str, user_id: str, *operations: dict[str, Any]) -> HttpResponse:
    return call(api, "PATCH", f"{BASE}/{user_id}", token, {"schemas": [PATCH_OP], "Operations": list(operations)})


def listed(api: Dispatcher, token: str, query: str) -> dict[str, Any]:
    response = call(api, "GET", f"{BASE}?{query}", token)
    assert response.status == 200, response.body
    result = document(response)
    assert result["schemas"] == [LIST_RESPONSE]
    return result


def filter_query(expression: str) -> str:
    return "filter=" + quote(expression)


def run_in_threads(calls: list[Any]) -> list[Any]:
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class TableStream:
    """A test table's stream (moto's DynamoDB Streams, in-process or those of
    ``endpoint_url``), read from where the previous read stopped, its records in the shape
    Lambda hands a stream consumer."""

    def __init__(self, client: Any, table_name: str, endpoint_url: str | None = None) -> None:
        self._arn = client.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
        self._streams = boto3.client("dynamodbstreams", region_name="us-east-1", endpoint_url=endpoint_url)
        shard = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"][0]
        self._iterator = self._streams.get_shard_iterator(
            StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]

    def skip(self) -> None:
        """Read on from the stream's newest record: what was written so far is never read."""
        shard = self._streams.describe_stream(StreamArn=self._arn)["StreamDescription"]["Shards"][0]
        self._iterator = self._streams.get_shard_iterator(
            StreamArn=self._arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST"
        )["ShardIterator"]

    def event(self) -> dict[str, Any]:
        """The records written since the last call, as Lambda hands them to a consumer."""
        records: list[dict[str, Any]] = []
        while True:
            answer = self._streams.get_records(ShardIterator=self._iterator)
            self._iterator = answer["NextShardIterator"]
            if not answer["Records"]:
                return {"Records": records}
            records.extend(lambda_record(record, self._arn) for record in answer["Records"])
