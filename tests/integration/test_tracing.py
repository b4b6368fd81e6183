"""X-Ray tracing: one subsegment per handler invocation and one per DynamoDB request, recorded
by a stand-in for X-Ray's recorder (tracing is disabled outside Lambda, so the real recorder
would hand out dummies). The requests themselves are counted from botocore's events, so the
tests also show that tracing adds no request."""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.stub import Stubber

from benchmarks.request_counter import DynamoDBRequestCounter
from devserver.dispatch import Dispatcher
from devserver.events import LambdaContext
from devserver.log_subscription import subscription_event
from scim_provisioning import observability
from scim_provisioning.errors import ServiceUnavailable
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from tests.integration.helpers import AdminFixture, call, create, document
from tests.scim_samples import patch_op

USERS = "/api/v1/scim/v2/Users"
GROUPS = "/api/v1/scim/v2/Groups"
TOKENS = "/api/v1/scim/organization-access-tokens"
HANDLER = "## lambda_handler"


@dataclass(eq=False)
class RecordedSubsegment:
    """A subsegment as the stand-in recorded it: what the code set on it, and where it was opened."""

    name: str
    namespace: str
    parent: RecordedSubsegment | None
    aws: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    metadata: list[Any] = field(default_factory=list)
    exception: BaseException | None = None
    status: int | None = None

    def set_aws(self, aws_meta: dict[str, Any]) -> None:
        self.aws = dict(aws_meta)

    def apply_status_code(self, status_code: int) -> None:
        self.status = status_code

    def put_annotation(self, key: str, value: Any) -> None:
        self.annotations[key] = value

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        self.metadata.append((namespace, key, value))

    def add_exception(self, exception: BaseException, stack: Any, remote: bool = False) -> None:
        self.exception = exception


class RecordingProvider:
    """Stands in for the tracer's provider (X-Ray's recorder): ``in_subsegment`` records each
    subsegment, nested under the one open in the same thread, as X-Ray's context does; an
    exception leaving it is recorded on it, as X-Ray's context manager does."""

    def __init__(self) -> None:
        self.subsegments: list[RecordedSubsegment] = []
        self._lock = threading.Lock()
        self._open = threading.local()

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[RecordedSubsegment]:
        stack: list[RecordedSubsegment] = self._open.__dict__.setdefault("stack", [])
        subsegment = RecordedSubsegment(str(name), kwargs.get("namespace", "local"), stack[-1] if stack else None)
        with self._lock:
            self.subsegments.append(subsegment)
        stack.append(subsegment)
        try:
            yield subsegment
        except BaseException as error:
            subsegment.add_exception(error, [])
            raise
        finally:
            stack.pop()

    def named(self, name: str) -> list[RecordedSubsegment]:
        return [subsegment for subsegment in self.subsegments if subsegment.name == name]


@pytest.fixture
def traces(monkeypatch: pytest.MonkeyPatch) -> RecordingProvider:
    provider = RecordingProvider()
    monkeypatch.setattr(observability.tracer, "provider", provider)
    return provider


def test_every_dynamodb_request_is_one_subsegment(
    api: Dispatcher, token: str, dynamodb_client: Any, table_name: str, traces: RecordingProvider
) -> None:
    """Given an organization, when an identity provider creates a user and a group holding it,
    lists users with their groups (reads side by side), removes the member and deletes the
    user, then each DynamoDB request was exactly one ``DynamoDB`` subsegment in the ``aws``
    namespace, naming its operation, the table and DynamoDB's request id, and each handler
    invocation one ``## lambda_handler`` subsegment holding the requests made in its thread."""
    counter = DynamoDBRequestCounter(dynamodb_client)
    with counter.measure() as tally:
        user = create(api, token, {"userName": "ada@example.test", "name": {"givenName": "Ada"}})
        group = document(call(api, "POST", GROUPS, token, {"displayName": "Eng", "members": [{"value": user["id"]}]}))
        assert call(api, "GET", f"{USERS}?count=10", token).status == 200
        removal = patch_op({"op": "remove", "path": f'members[value eq "{user["id"]}"]'})
        assert call(api, "PATCH", f"{GROUPS}/{group['id']}", token, removal).status == 200
        assert call(api, "DELETE", f"{USERS}/{user['id']}", token).status == 204

    requests = traces.named("DynamoDB")
    assert Counter(subsegment.aws["operation"] for subsegment in requests) == tally.requests
    assert {(subsegment.namespace, subsegment.aws["table_name"]) for subsegment in requests} == {("aws", table_name)}
    assert all(subsegment.aws["request_id"] for subsegment in requests)
    handlers = traces.named(HANDLER)
    assert len(handlers) == 5
    assert all(subsegment.parent is None for subsegment in handlers)
    assert {subsegment.parent for subsegment in requests} <= {*handlers, None}  # None: a worker thread's
    assert sum(subsegment.parent is not None for subsegment in requests) >= len(handlers)


def test_a_refused_write_is_an_error_of_its_subsegment_not_a_fault(
    api: Dispatcher, token: str, traces: RecordingProvider
) -> None:
    """Given a user, when a second user claims its userName, then the request's answer is the
    409, and the transaction DynamoDB refused has its subsegment marked with DynamoDB's 400 (an
    error, the table answered as asked) with no exception recorded (which X-Ray counts as a
    fault) and no request id (none was answered)."""
    create(api, token, {"userName": "grace@example.test"})
    traces.subsegments.clear()

    assert call(api, "POST", USERS, token, {"userName": "grace@example.test"}).status == 409

    (refused,) = [subsegment for subsegment in traces.named("DynamoDB") if subsegment.status is not None]
    assert refused.aws == {"operation": "TransactWriteItems", "table_name": refused.aws["table_name"]}
    assert (refused.status, refused.exception) == (400, None)
    assert all(subsegment.exception is None for subsegment in traces.subsegments)


def test_a_failure_of_dynamodb_is_recorded_on_its_subsegment(
    api: Dispatcher, token: str, table: Table, traces: RecordingProvider
) -> None:
    """Given DynamoDB answering a read "not now" (a transaction in progress on the item, which
    botocore does not retry), when a user is read, then the answer is a 503 and the refused
    request's subsegment holds the failure."""
    with Stubber(table.client) as stubber:
        stubber.add_client_error("get_item", "TransactionInProgressException", http_status_code=400)
        assert call(api, "GET", f"{USERS}/{uuid.uuid4()}", token).status == 503

    (failed,) = [subsegment for subsegment in traces.named("DynamoDB") if subsegment.exception is not None]
    assert isinstance(failed.exception, ServiceUnavailable)
    assert failed.aws["operation"] == "GetItem"


def test_the_handler_subsegment_never_holds_the_answer(
    api: Dispatcher, admin: AdminFixture, traces: RecordingProvider
) -> None:
    """Given an admin, when a token is minted (its answer holds the secret), then the handler's
    subsegment carries X-Ray's cold-start and service annotations and no metadata: neither the
    secret nor anything else of the answer is sent to X-Ray."""
    response = call(api, "POST", TOKENS, admin.authorization, {"description": "Okta", "expiresAt": None})
    secret = json.loads(response.body)["results"]["token"]

    (handler,) = traces.named(HANDLER)
    assert set(handler.annotations) == {"ColdStart", "Service"}
    assert handler.metadata == []
    assert secret not in json.dumps([vars(subsegment) for subsegment in traces.subsegments], default=str)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/scim/v2/ServiceProviderConfig"),
        ("GET", "/settings/scim"),
        ("GET", "/api/v1/scim/request-logs"),
        ("GET", TOKENS),
        ("GET", USERS),
        ("GET", GROUPS),
    ],
)
def test_every_api_function_traces_its_handler(
    api: Dispatcher, admin: AdminFixture, token: str, traces: RecordingProvider, method: str, path: str
) -> None:
    """Given the API's functions, when each answers a request, then its handler was one subsegment."""
    credential = token if path.startswith("/api/v1/scim/v2/") else admin.authorization

    assert call(api, method, path, credential).status == 200

    assert len(traces.named(HANDLER)) == 1


def test_the_stream_log_and_schedule_functions_trace_their_handlers(
    app_runtime: Runtime, traces: RecordingProvider
) -> None:
    """Given the functions that no API invokes, when the activity ingest gets an empty
    delivery, the membership janitor and the change-event publisher an empty batch of stream
    records and the token guardian its hourly run on an empty table, then each handler was one
    subsegment."""
    from functions.activity_ingest import handler as ingest
    from functions.change_events import handler as change_events
    from functions.membership_janitor import handler as janitor
    from functions.token_guardian import handler as guardian

    ingest.lambda_handler(subscription_event([]), LambdaContext("ActivityIngestFunction"))
    janitor.lambda_handler({"Records": []}, LambdaContext("MembershipJanitorFunction"))
    change_events.lambda_handler({"Records": []}, LambdaContext("ChangeEventsFunction"))
    guardian.lambda_handler({}, LambdaContext("TokenGuardianFunction"))

    assert len(traces.named(HANDLER)) == 4
