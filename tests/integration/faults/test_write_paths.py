"""Every write path under every fault DynamoDB and the network produce (issue 14.9), through the
handlers, the service's own DynamoDB client and the fault proxy: whatever fails, the client is
answered 2xx or 4xx, or 503 with Retry-After (then, sending the request again as Okta and Entra
do, it gets a success or the answer a request already applied gets), and afterwards (the
membership janitor fed the table's stream) the whole table passes the consistency checker
(``chaos.checker``) and shows what the write was answered to have done.

Each case breaks one request of the write, every time botocore sends it (a refusal that
outlasts the retries), except an answer held past the read timeout, which is held once (the
retry is what it tests). ``make test`` breaks the write's first transaction (its commit) with
each kind of fault (one of DynamoDB's two throttling codes: the service treats them alike, and
``test_dynamodb_faults`` sends both); ``CHAOS_WRITE_PATHS=all`` breaks each request of each
write in turn with every fault, the reads before the commit and the writes after it included."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from benchmarks.harness import FixedClock, bulk_load_people, member_people
from chaos.checker import Organization, TableContents, table_inconsistencies
from devserver.dispatch import Dispatcher, HttpResponse
from devserver.dynamodb_proxy import DynamoDBProxy, Fault
from scim_provisioning.repository.stream import item_changes
from scim_provisioning.repository.table import Table
from scim_provisioning.runtime import Runtime
from scim_provisioning.services.janitor import MembershipJanitor
from scim_provisioning.timestamps import truncate_to_millis
from tests.integration.faults.helpers import ATTEMPTS, FromNow
from tests.integration.helpers import BASE as USERS
from tests.integration.helpers import GROUP_SCHEMA, GROUPS, AdminFixture, TableStream, call, new_group, new_user
from tests.scim_samples import PATCH_OP, entra_user, okta_user

TOKENS = "/api/v1/scim/organization-access-tokens"
LARGE = 55  # members added in one PATCH: more than one transaction holds (the intent path)
EVERY_REQUEST = os.environ.get("CHAOS_WRITE_PATHS") == "all"
FAULTS = list(Fault) if EVERY_REQUEST else [fault for fault in Fault if fault is not Fault.THROTTLING]
REFUSED = (503,)


# ------------------------------------------------------------------------------ the client
@dataclass
class Api:
    """An IdP and its organization's admin, calling the handlers; every answer is kept."""

    dispatcher: Dispatcher
    token: str
    admin: AdminFixture
    table: Table  # straight to the embedded DynamoDB, for seeding
    now: datetime
    answers: list[HttpResponse] = field(default_factory=list)
    _users: list[str] = field(default_factory=list)

    def scim(self, method: str, target: str, body: Any = None) -> HttpResponse:
        return self._keep(call(self.dispatcher, method, target, self.token, body))

    def tokens(self, method: str, target: str, body: Any = None) -> HttpResponse:
        headers = [("Authorization", self.admin.authorization), ("Content-Type", "application/json")]
        return self._keep(self.dispatcher.handle(method, target, headers, None if body is None else json.dumps(body)))

    def _keep(self, response: HttpResponse) -> HttpResponse:
        self.answers.append(response)
        return response

    def body(self, response: HttpResponse, status: int) -> Any:
        assert response.status == status, response.body
        return json.loads(response.body)

    def new_user(self) -> str:
        return new_user(self.dispatcher, self.token, uuid.uuid4().hex[:10])

    def users(self, count: int) -> list[str]:
        """``count`` users, seeded once per test and shared by its cases."""
        if (missing := count - len(self._users)) > 0:
            loaded = member_people(self.admin.organization_uuid, [uuid.uuid4().hex for _ in range(missing)], self.now)
            bulk_load_people(self.table, self.admin.organization_uuid, loaded)
            self._users += [person.uuid for person in loaded]
        return self._users[:count]

    def new_group(self, members: list[str]) -> str:
        return str(new_group(self.dispatcher, self.token, uuid.uuid4().hex, members)["id"])

    def new_token(self) -> str:
        body = {"description": uuid.uuid4().hex, "expiresAt": "2030-01-01T00:00:00.000Z"}
        return str(self.body(self.tokens("POST", TOKENS, body), 201)["results"]["uuid"])


# ------------------------------------------------------------------------------ the writes
Context = dict[str, Any]


@dataclass(frozen=True)
class WritePath:
    """A write as a client sends it: what it needs (made with no fault), the request, the
    final statuses that mean it is done (after a lost answer, a repeat may be told it was
    already done), and what the table must then show."""

    name: str
    prepare: Callable[[Api], Context]
    send: Callable[[Api, Context], HttpResponse]
    done: tuple[int, ...]
    shows: Callable[[Organization, Context], bool]


def _patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def _user_named(organization: Organization, name: str) -> dict[str, Any] | None:
    found = [user for user in organization.users.values() if user["userName"] == name]
    assert len(found) <= 1, found
    return found[0] if found else None


def _resource(item: dict[str, Any] | None) -> dict[str, Any]:
    return {} if item is None else dict(json.loads(item["resource"]))


def _token_items(organization: Organization, description: str) -> list[dict[str, Any]]:
    return [item for item in organization.token_metadata.values() if item.get("description") == description]


def _named(**context: Any) -> Context:
    return dict(context)


WRITE_PATHS = [
    WritePath(
        "create user",
        lambda api: _named(name=f"{uuid.uuid4().hex[:10]}@acme.test"),
        lambda api, c: api.scim("POST", USERS, entra_user(c["name"], externalId=c["name"])),
        (201, 409),
        lambda org, c: _user_named(org, c["name"]) is not None,
    ),
    WritePath(
        "replace user",
        lambda api: _named(user=api.new_user()),
        lambda api, c: api.scim(
            "PUT", f"{USERS}/{c['user']}", okta_user(f"{c['user']}@acme.test", displayName="Replaced")
        ),
        (200,),
        lambda org, c: _resource(org.users.get(c["user"])).get("displayName") == "Replaced",
    ),
    WritePath(
        "deactivate user",
        lambda api: _named(user=api.new_user()),
        lambda api, c: api.scim("PATCH", f"{USERS}/{c['user']}", _patch({"op": "replace", "value": {"active": False}})),
        (200,),
        lambda org, c: org.users[c["user"]]["active"] is False,
    ),
    WritePath(
        "delete user in a group",
        lambda api: _named(user=(user := api.new_user()), group=api.new_group([user])),
        lambda api, c: api.scim("DELETE", f"{USERS}/{c['user']}"),
        (204, 404),
        lambda org, c: c["user"] not in org.users and org.members(c["group"]) == set(),
    ),
    WritePath(
        "create group with members",
        lambda api: _named(name=uuid.uuid4().hex, members=api.users(2)),
        lambda api, c: api.scim(
            "POST",
            GROUPS,
            {"schemas": [GROUP_SCHEMA], "displayName": c["name"], "members": [{"value": m} for m in c["members"]]},
        ),
        (201, 409),
        lambda org, c: any(
            group["displayName"] == c["name"] and org.members(uuid) == set(c["members"])
            for uuid, group in org.groups.items()
        ),
    ),
    WritePath(
        "add members",
        lambda api: _named(group=api.new_group([]), members=api.users(2)),
        lambda api, c: api.scim(
            "PATCH", f"{GROUPS}/{c['group']}", _patch({"op": "add", "path": "members", "value": _values(c["members"])})
        ),
        (200,),
        lambda org, c: org.members(c["group"]) == set(c["members"]),
    ),
    WritePath(
        "remove a member",
        lambda api: _named(group=api.new_group(api.users(2)), members=api.users(2)),
        lambda api, c: api.scim(
            "PATCH", f"{GROUPS}/{c['group']}", _patch({"op": "remove", "path": _member_path(c["members"][0])})
        ),
        (200,),
        lambda org, c: org.members(c["group"]) == {c["members"][1]},
    ),
    WritePath(
        "add many members",
        lambda api: _named(group=api.new_group([]), members=api.users(LARGE)),
        lambda api, c: api.scim(
            "PATCH", f"{GROUPS}/{c['group']}", _patch({"op": "add", "path": "members", "value": _values(c["members"])})
        ),
        (200,),
        lambda org, c: org.members(c["group"]) == set(c["members"]),
    ),
    WritePath(
        "rename group",
        lambda api: _named(group=api.new_group(api.users(1)), name=uuid.uuid4().hex),
        lambda api, c: api.scim(
            "PATCH", f"{GROUPS}/{c['group']}", _patch({"op": "replace", "path": "displayName", "value": c["name"]})
        ),
        (200,),
        lambda org, c: org.groups[c["group"]]["displayName"] == c["name"],
    ),
    WritePath(
        "replace group",
        lambda api: _named(group=api.new_group(api.users(1)), name=uuid.uuid4().hex, members=api.users(2)[1:]),
        lambda api, c: api.scim(
            "PUT",
            f"{GROUPS}/{c['group']}",
            {"schemas": [GROUP_SCHEMA], "displayName": c["name"], "members": _values(c["members"])},
        ),
        (200,),
        lambda org, c: (
            org.groups[c["group"]]["displayName"] == c["name"] and org.members(c["group"]) == set(c["members"])
        ),
    ),
    WritePath(
        "delete group with members",
        lambda api: _named(group=api.new_group(api.users(2))),
        lambda api, c: api.scim("DELETE", f"{GROUPS}/{c['group']}"),
        (204, 404),
        lambda org, c: c["group"] not in org.groups and org.members(c["group"]) == set(),
    ),
    WritePath(
        "create token",
        lambda api: _named(description=uuid.uuid4().hex),
        lambda api, c: api.tokens("POST", TOKENS, {"description": c["description"], "expiresAt": None}),
        (201,),
        lambda org, c: len(_token_items(org, c["description"])) >= 1,
    ),
    WritePath(
        "rotate token",
        lambda api: _named(token=api.new_token()),
        lambda api, c: api.tokens("PATCH", f"{TOKENS}/{c['token']}/rotate", {"expiresAt": "2031-01-01T00:00:00.000Z"}),
        (200, 400),  # 400: rotated within the hour, by the attempt whose answer was lost
        lambda org, c: bool(org.token_metadata[c["token"]].get("rotatedAt")),
    ),
    WritePath(
        "revoke token",
        lambda api: _named(token=api.new_token()),
        lambda api, c: api.tokens("DELETE", f"{TOKENS}/{c['token']}"),
        (200, 404),
        lambda org, c: c["token"] not in org.token_metadata,
    ),
]


def _member_path(user: str) -> str:
    return f'members[value eq "{user}"]'


def _values(users: list[str]) -> list[dict[str, str]]:
    return [{"value": user} for user in users]


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture
def clock() -> FixedClock:
    """The present, so that the janitor's waits agree with the stream's record times."""
    return FixedClock(truncate_to_millis(datetime.now(UTC)))


@pytest.fixture
def api(served: Runtime, token: str, admin: AdminFixture, direct: Any, table_name: str, clock: FixedClock) -> Api:
    return Api(Dispatcher(), token, admin, Table(direct, table_name), clock.now())


@pytest.fixture
def drain(served: Runtime, direct: Any, table_name: str, database: Any, clock: FixedClock) -> Callable[[], None]:
    """Feed the janitor what the table's stream holds since the last call, as its event
    source mapping would, its waits moving the test's clock."""
    stream = TableStream(direct, table_name, database.endpoint_url)
    stores, writer = served.stores, served.membership_writer
    janitor = MembershipJanitor(
        stores.groups, stores.memberships, stores.people, writer, clock, lambda seconds: clock.advance(seconds=seconds)
    )

    def run() -> None:
        while changes := item_changes(stream.event()):
            janitor.handle(changes)

    return run


def requests_of(proxy: DynamoDBProxy, api: Api, path: WritePath) -> list[tuple[str, int]]:
    """The write's requests, each as (operation, its index among that operation's), from a
    run with no fault."""
    context = path.prepare(api)
    proxy.clear()
    path.send(api, context)
    seen: dict[str, int] = {}
    sent = []
    for exchange in sorted(proxy.exchanges(), key=lambda exchange: exchange.started):
        sent.append((exchange.operation, seen.get(exchange.operation, 0)))
        seen[exchange.operation] = seen.get(exchange.operation, 0) + 1
    return sent


# ------------------------------------------------------------------------------ the cases
@pytest.mark.parametrize("path", WRITE_PATHS, ids=lambda path: path.name.replace(" ", "-"))
def test_a_write_under_faults_is_answered_truthfully_and_leaves_the_table_consistent(
    path: WritePath, api: Api, proxy: DynamoDBProxy, direct: Any, table_name: str, drain: Callable[[], None]
):
    requests = requests_of(proxy, api, path)
    commit = next(request for request in requests if request[0] == "TransactWriteItems")
    targets = requests if EVERY_REQUEST else [commit]
    for operation, index in targets:
        for fault in FAULTS:
            # given what the write needs, and the request broken every time botocore sends it
            context = path.prepare(api)
            count = 1 if fault is Fault.SLOW_ANSWER else ATTEMPTS
            proxy.faults = FromNow(operation, index, fault, count)

            # when the client sends the write, and sends it again while it is refused
            first = path.send(api, context)
            proxy.faults = None
            final = first
            while final.status in REFUSED:
                final = path.send(api, context)

            # then it was told the truth: a success, or to come back; never a 500
            case = f"{path.name}: {fault.name} on {operation} #{index}"
            assert first.status in (*path.done, *REFUSED), f"{case}: {first.status} {first.body!r}"
            assert final.status in path.done, f"{case}: {final.status} after {first.status}"
            # and once the janitor has read the stream, the table is consistent and shows it
            drain()
            table = TableContents.read(direct, table_name)
            assert table_inconsistencies(table) == [], case
            assert path.shows(table.organizations[api.admin.organization_uuid], context), case
    refused = [answer for answer in api.answers if answer.status >= 500 or answer.status == 429]
    assert all(answer.status in REFUSED and answer.header("Retry-After") for answer in refused), [
        (answer.status, answer.body) for answer in refused
    ]
