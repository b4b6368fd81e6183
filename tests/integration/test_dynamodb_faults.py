"""What clients are told when DynamoDB fails the way the network and the service do, injected by
the fault proxy (devserver/dynamodb_proxy.py) between the service's own client (its retries
and timeouts) and the embedded DynamoDB: a committed write is a success even when its answer
was lost, and every refusal that outlasts botocore's retries is a 503 with Retry-After, in the
SCIM dialect and in the admin APIs' envelope, never a 500."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest

from devserver.dispatch import Dispatcher
from devserver.dynamodb_proxy import DynamoDBProxy, Fault
from devserver.embedded_dynamodb import EmbeddedDynamoDB
from devserver.template import create_table
from scim_provisioning import runtime
from scim_provisioning.config import Settings
from scim_provisioning.repository.dynamodb import dynamodb_stores
from scim_provisioning.repository.items import deserialize
from scim_provisioning.repository.table import create_dynamodb_client
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, call, document, make_admin, scim_error, scim_token
from tests.scim_samples import okta_user

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")

TABLE = "faults"
USERS = "/api/v1/scim/v2/Users"
TOKENS = "/api/v1/scim/organization-access-tokens"
# botocore's standard mode as the service configures it (``max_attempts: 4`` counts the
# retries): the first attempt and four retries.
ATTEMPTS = 5


@dataclass
class NextRequests:
    """Fault the next ``count`` requests of ``operation`` with ``fault``, whenever they come."""

    operation: str
    fault: Fault
    count: int
    lock: threading.Lock = field(default_factory=threading.Lock)

    def choose(self, operation: str, occurrence: int) -> Fault | None:
        with self.lock:
            if operation != self.operation or self.count == 0:
                return None
            self.count -= 1
            return self.fault


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries without their backoff (seconds each): the attempts are the same."""
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=lambda _seconds: None))


@pytest.fixture(scope="module")
def database() -> Iterator[EmbeddedDynamoDB]:
    embedded = EmbeddedDynamoDB("127.0.0.1", 0).start()
    yield embedded
    embedded.stop()


@pytest.fixture
def proxy(database: EmbeddedDynamoDB) -> Iterator[DynamoDBProxy]:
    with DynamoDBProxy(database.endpoint_url) as running:
        yield running


@pytest.fixture
def direct(database: EmbeddedDynamoDB) -> Any:
    """A client straight to the embedded DynamoDB, for setup and inspection."""
    return boto3.client("dynamodb", endpoint_url=database.endpoint_url, region_name="us-east-1")


@pytest.fixture
def table_name(direct: Any) -> Iterator[str]:
    name = f"{TABLE}-{uuid.uuid4().hex[:8]}"
    create_table(direct, name)
    yield name
    direct.delete_table(TableName=name)


@pytest.fixture
def served(proxy: DynamoDBProxy, table_name: str, clock: Any) -> Iterator[Runtime]:
    """The service's stores on a fresh table, through the proxy, with the service's client."""
    client = create_dynamodb_client(Settings(table_name, proxy.endpoint_url, "us-east-1"))
    yield runtime.configure(stores=dynamodb_stores(client, table_name), clock=clock)
    runtime.reset()


@pytest.fixture
def admin(served: Runtime) -> AdminFixture:
    return make_admin(served)


@pytest.fixture
def token(served: Runtime, admin: AdminFixture) -> str:
    return scim_token(served, admin)


def users_named(direct: Any, table_name: str, user_name: str) -> int:
    items = [deserialize(item) for item in direct.scan(TableName=table_name)["Items"]]
    return sum(1 for item in items if item.get("entity") == "User" and item["userName"] == user_name)


def test_a_create_whose_answer_was_lost_is_answered_201_once(
    direct: Any, table_name: str, proxy: DynamoDBProxy, served: Runtime, token: str
):
    # given a connection dropped after DynamoDB applied the user's transaction
    proxy.faults = NextRequests("TransactWriteItems", Fault.DROP_AFTER, 1)

    # when the IdP creates a user
    response = call(Dispatcher(), "POST", USERS, token, okta_user("ada@acme.test"))

    # then botocore's retry carried the same ClientRequestToken, DynamoDB answered it as the
    # first success, and the IdP hears 201 (not a 409 for a name its own request took)
    assert response.status == 201, response.body
    assert users_named(direct, table_name, "ada@acme.test") == 1
    replays = [exchange for exchange in proxy.exchanges() if exchange.replayed]
    assert len(replays) == 1 and replays[0].operation == "TransactWriteItems"


@pytest.mark.parametrize(
    "fault",
    [Fault.THROTTLED, Fault.THROTTLING, Fault.INTERNAL_ERROR, Fault.DROP_BEFORE],
    ids=lambda fault: fault.name.lower(),
)
def test_a_scim_read_refused_past_the_retries_is_503_with_retry_after(
    proxy: DynamoDBProxy, served: Runtime, token: str, fault: Fault
):
    # given a user, then DynamoDB refusing every attempt of the next read
    created = document(call(Dispatcher(), "POST", USERS, token, okta_user("ada@acme.test")))
    proxy.faults = NextRequests("GetItem", fault, 2 * ATTEMPTS)  # the bearer's and the user's

    # when the IdP reads the user, then it is told to come back later, in a SCIM body
    response = call(Dispatcher(), "GET", f"{USERS}/{created['id']}?excludedAttributes=groups", token)
    error = scim_error(response, 503)
    assert response.header("Retry-After") == "5" and "scimType" not in error


@pytest.mark.parametrize("fault", [Fault.THROTTLED, Fault.INTERNAL_ERROR, Fault.DROP_BEFORE], ids=str)
def test_an_admin_request_refused_past_the_retries_is_503_in_its_envelope(
    proxy: DynamoDBProxy, served: Runtime, admin: AdminFixture, fault: Fault
):
    # given the admin's key, then DynamoDB refusing every attempt of the token list's query
    proxy.faults = NextRequests("Query", fault, ATTEMPTS)

    # when the settings page lists the tokens
    response = call(Dispatcher(), "GET", TOKENS, admin.authorization, content_type="application/json")

    # then it is a 503 with Retry-After in the token API's envelope
    assert response.status == 503, response.body
    assert response.header("Retry-After") == "5"
    assert json.loads(response.body)["status"] == "error"


def test_a_patched_user_whose_groups_names_are_lost_after_the_commit_is_a_success(
    proxy: DynamoDBProxy, served: Runtime, token: str
):
    # given a user in a group, and every read of groups by key refused from now on
    api = Dispatcher()
    user = document(call(api, "POST", USERS, token, okta_user("ada@acme.test")))["id"]
    group = document(
        call(api, "POST", "/api/v1/scim/v2/Groups", token, {"displayName": "Eng", "members": [{"value": user}]})
    )
    proxy.faults = NextRequests("BatchGetItem", Fault.INTERNAL_ERROR, 100)

    # when the user is deactivated
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"active": False}}],
    }
    response = call(api, "PATCH", f"{USERS}/{user}", token, body)

    # then the committed write is answered 200, its group named by id
    assert response.status == 200, response.body
    answered = document(response)
    assert answered["active"] is False and [g["value"] for g in answered["groups"]] == [group["id"]]
