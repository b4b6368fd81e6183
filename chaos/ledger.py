"""What the clients were told, and what the table must therefore hold.

Each operation of the workload reports its final outcome here (after its client's retries):
a 2xx answer states a fact (this user exists with this userName and ``active``; this group has
these members), a 404 or a 204 to a delete states that something is gone, a 4xx changes
nothing, and an operation the client gave up on (still 503/429 after its attempts) leaves
what it touched *uncertain*: either outcome is correct. The workload gives each group and each
user's attributes to one thread, so the facts about one thing arrive in the order they were
made; the only concurrency between them is deliberate (deletes racing adds), and it is
accounted for by reading a membership as "if the user still exists".

``inconsistencies`` compares the ledger with the table (``chaos.checker.TableContents``): the
users and groups the answers promised, their names, ``active`` and members; every activity
entry of a request the clients sent (by request id, with the status they saw); every answer
2xx/4xx, or 503/429 with Retry-After."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from chaos.checker import Inconsistency, Organization, TableContents
from chaos.client import Exchange

UNKNOWN = None  # a fact an unsettled operation may or may not have changed


@dataclass
class UserFacts:
    exists: bool | None = True
    user_name: str | None = None
    active: bool | None = None


@dataclass
class GroupFacts:
    exists: bool | None = True
    display_names: set[str] = field(default_factory=set)  # one when certain; the candidates otherwise
    members: set[str] = field(default_factory=set)  # certainly members (if they still exist)
    maybe: set[str] = field(default_factory=set)  # members or not: an unsettled change named them


@dataclass
class OrganizationLedger:
    users: dict[str, UserFacts] = field(default_factory=dict)
    groups: dict[str, GroupFacts] = field(default_factory=dict)
    maybe_user_names: set[str] = field(default_factory=set)  # creations whose outcome is unknown
    maybe_group_names: set[str] = field(default_factory=set)
    baseline_users: set[str] = field(default_factory=set)  # there before the workload (the admin)


class Ledger:
    """Thread-safe: the workload's threads report to one ledger."""

    def __init__(self) -> None:
        self._organizations: dict[str, OrganizationLedger] = {}
        self._lock = threading.Lock()

    def organization(self, uuid: str) -> OrganizationLedger:
        with self._lock:
            return self._organizations.setdefault(uuid, OrganizationLedger())

    # ------------------------------------------------------------------ users
    def user_answered(self, organization: str, document: dict[str, Any]) -> None:
        """A 2xx answer showing the user as it is now."""
        with self._lock:
            # An answer never revives what a delete's answer removed: the two may arrive in
            # either order when their requests raced (a user's id is never reused).
            facts = self._organizations[organization].users.setdefault(document["id"], UserFacts())
            facts.user_name, facts.active = document["userName"], bool(document.get("active", True))

    def user_gone(self, organization: str, user_id: str) -> None:
        with self._lock:
            self._organizations[organization].users.setdefault(user_id, UserFacts()).exists = False

    def user_unsettled(self, organization: str, user_id: str, deleting: bool = False) -> None:
        """A write of the user whose outcome is unknown: its attributes (and, for a delete, its
        existence) may be either."""
        with self._lock:
            facts = self._organizations[organization].users.setdefault(user_id, UserFacts())
            facts.user_name = facts.active = None
            if deleting and facts.exists is not False:
                facts.exists = UNKNOWN

    def user_maybe_created(self, organization: str, user_name: str) -> None:
        with self._lock:
            self._organizations[organization].maybe_user_names.add(user_name.casefold())

    # ----------------------------------------------------------------- groups
    def group_answered(self, organization: str, document: dict[str, Any], members: Iterable[str] | None) -> None:
        """A 2xx answer showing the group as it is now; ``members`` as the answer shows them
        (None: the answer does not show them, they are as the ledger had them)."""
        with self._lock:
            facts = self._organizations[organization].groups.setdefault(document["id"], GroupFacts())
            facts.display_names = {document["displayName"]}
            if members is not None:
                facts.members, facts.maybe = set(members), set()

    def members_changed(self, organization: str, group_id: str, added: Iterable[str], removed: Iterable[str]) -> None:
        """A 2xx answer to a change of members that does not show them."""
        with self._lock:
            facts = self._organizations[organization].groups[group_id]
            facts.members = (facts.members | set(added)) - set(removed)
            facts.maybe -= set(added) | set(removed)

    def members_unsettled(self, organization: str, group_id: str, users: Iterable[str]) -> None:
        with self._lock:
            facts = self._organizations[organization].groups[group_id]
            facts.maybe |= set(users)
            facts.members -= set(users)

    def renamed_unsettled(self, organization: str, group_id: str, display_name: str) -> None:
        with self._lock:
            self._organizations[organization].groups[group_id].display_names.add(display_name)

    def group_gone(self, organization: str, group_id: str) -> None:
        with self._lock:
            self._organizations[organization].groups.setdefault(group_id, GroupFacts()).exists = False

    def group_maybe_gone(self, organization: str, group_id: str) -> None:
        with self._lock:
            facts = self._organizations[organization].groups[group_id]
            if facts.exists is not False:
                facts.exists = UNKNOWN

    def group_maybe_created(self, organization: str, display_name: str) -> None:
        with self._lock:
            self._organizations[organization].maybe_group_names.add(display_name.casefold())

    # ----------------------------------------------------------------- checks
    def inconsistencies(self, table: TableContents, exchanges: list[Exchange]) -> list[Inconsistency]:
        found: list[Inconsistency] = []
        for uuid, ledger in self._organizations.items():
            stored = table.organizations.get(uuid)
            if stored is None:
                found.append(Inconsistency("lost organization", uuid))
                continue
            found += _users(ledger, stored.users)
            found += _groups(ledger, stored.groups, stored)
        found += answer_inconsistencies(exchanges)
        found += activity_inconsistencies(table, exchanges)
        return found


def _users(ledger: OrganizationLedger, stored: dict[str, dict[str, Any]]) -> Iterator[Inconsistency]:
    for user_id, facts in ledger.users.items():
        item = stored.get(user_id)
        if facts.exists is True and item is None:
            yield Inconsistency("lost user", f"{user_id} ({facts.user_name}) was answered as existing")
        elif facts.exists is False and item is not None:
            yield Inconsistency("resurrected user", f"{user_id} ({item['userName']}) was answered as deleted")
        if item is None:
            continue
        if facts.user_name is not None and item["userName"] != facts.user_name:
            yield Inconsistency(
                "user attributes", f"{user_id}: userName {item['userName']!r}, answered {facts.user_name!r}"
            )
        if facts.active is not None and bool(item["active"]) != facts.active:
            yield Inconsistency("user attributes", f"{user_id}: active {item['active']}, answered {facts.active}")
    for user_id in stored.keys() - ledger.users.keys() - ledger.baseline_users:
        if stored[user_id]["userName"].casefold() not in ledger.maybe_user_names:
            yield Inconsistency("unexpected user", f"{user_id} ({stored[user_id]['userName']}) no answer created")


def _groups(
    ledger: OrganizationLedger, stored: dict[str, dict[str, Any]], contents: Organization
) -> Iterator[Inconsistency]:
    for group_id, facts in ledger.groups.items():
        item = stored.get(group_id)
        if facts.exists is True and item is None:
            yield Inconsistency("lost group", f"{group_id} ({sorted(facts.display_names)}) was answered as existing")
        elif facts.exists is False and item is not None:
            yield Inconsistency("resurrected group", f"{group_id} ({item['displayName']}) was answered as deleted")
        if item is None:
            continue
        if facts.display_names and item["displayName"] not in facts.display_names:
            yield Inconsistency(
                "group attributes",
                f"{group_id}: displayName {item['displayName']!r}, answered {sorted(facts.display_names)}",
            )
        existing = set(contents.users)
        actual = contents.members(group_id) & existing
        required = facts.members & existing
        allowed = required | facts.maybe
        if not required <= actual or not actual <= allowed:
            yield Inconsistency(
                "members",
                f"group {group_id}: missing {sorted(required - actual)}, unexpected {sorted(actual - allowed)}",
            )
    for group_id in stored.keys() - ledger.groups.keys():
        if stored[group_id]["displayName"].casefold() not in ledger.maybe_group_names:
            yield Inconsistency("unexpected group", f"{group_id} ({stored[group_id]['displayName']}) no answer created")


def answer_inconsistencies(exchanges: list[Exchange]) -> Iterator[Inconsistency]:
    """Every answer is 2xx or 4xx, or 503/429 with Retry-After; every request is answered."""
    for exchange in exchanges:
        where = f"{exchange.method} {exchange.path}"
        if exchange.status is None:
            yield Inconsistency("status", f"{where}: no answer")
        elif exchange.status in (429, 503):
            if not exchange.retry_after:
                yield Inconsistency("status", f"{where}: {exchange.status} without Retry-After")
        elif not 200 <= exchange.status < 500:
            yield Inconsistency("status", f"{where}: {exchange.status}")


@dataclass(frozen=True)
class ActivityTally:
    """How the requests the clients sent meet the activity log."""

    expected: int  # requests of a known organization that the service logs
    found: int
    refused_without_entry: Counter[int]  # 503 (the credential could not be read) and 429 (sampled)


def activity_tally(table: TableContents, exchanges: list[Exchange]) -> tuple[ActivityTally, list[Inconsistency]]:
    entries = {
        item.get("requestId"): (organization.uuid, item)
        for organization in table.organizations.values()
        for item in organization.activity
    }
    found, refused = 0, Counter[int]()
    problems: list[Inconsistency] = []
    logged = [exchange for exchange in exchanges if exchange.logged and exchange.request_id]
    for exchange in logged:
        entry = entries.get(exchange.request_id)
        where = f"{exchange.method} {exchange.path} {exchange.status} ({exchange.request_id})"
        if entry is None:
            if exchange.status in (429, 503):
                refused[exchange.status] += 1  # no organization known yet (503), or not sampled (429)
            else:
                problems.append(Inconsistency("lost activity entry", where))
            continue
        found += 1
        organization, item = entry
        if organization != exchange.organization or int(item["status"]) != exchange.status:
            problems.append(
                Inconsistency("activity entry", f"{where}: logged in {organization} with status {item['status']}")
            )
    return ActivityTally(len(logged), found, refused), problems


def activity_inconsistencies(table: TableContents, exchanges: list[Exchange]) -> list[Inconsistency]:
    return activity_tally(table, exchanges)[1]
