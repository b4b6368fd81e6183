"""The identity providers' traffic: an Okta-shaped and an Entra-shaped workload, each against
its own organization, over HTTP.

Each workload provisions users (a userName lookup, then the create; a 409 is looked up and
adopted, as both IdPs do), creates groups and gives them members, then churns on real threads
at once: users updated and deactivated, groups renamed, members added and removed, the
organization's SCIM token rotated by its admin mid-flight (the IdP picks up the new token when
the old one is refused), and, at one moment shared through a barrier, deletes racing adds:
groups deleted while their members are being added, and (Entra, which deletes users) users
deleted while they are being added to groups. The requests differ between the two as the IdPs'
do (bodies from ``tests.scim_samples``; Okta replaces a user with PUT and names members with
their login, Entra PATCHes one attribute per operation with capitalized ops and string booleans).

Every choice comes from ``random.Random(seed)``: the same seed sends the same operations. Each
group, and each user's attributes, has one owning thread, so what the ledger learns about one
thing arrives in order (``chaos.ledger``)."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from chaos.client import Client, Outcome
from chaos.ledger import Ledger
from tests.scim_samples import PATCH_OP, entra_user, okta_user

USERS = "/api/v1/scim/v2/Users"
GROUPS = "/api/v1/scim/v2/Groups"
TOKENS = "/api/v1/scim/organization-access-tokens"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
BARRIER_SECONDS = 600.0  # the race starts when every thread is there; a dead thread fails the run


@dataclass(frozen=True)
class Sizes:
    """How much traffic a workload sends."""

    users: int
    groups: int
    members: int  # initial members of each group
    large_group: int  # members of one group added in one PATCH (above 40: the intent path); 0: none
    churn: int  # member changes (an add, then a remove) per group before and after the race
    threads: int


@dataclass
class Admin:
    """The organization's admin: its API key's client, and the SCIM token the IdP holds (which
    the admin rotates; the IdP's client reads ``authorization`` on every request)."""

    client: Client
    token_uuid: str
    secret: str

    @property
    def authorization(self) -> str:
        return f"Bearer {self.secret}"


def equals(attribute: str, value: str) -> str:
    """The query string of ``filter=<attribute> eq "<value>"``."""
    return "filter=" + quote(f'{attribute} eq "{value}"')


def member_ids(document: dict[str, Any]) -> list[str]:
    """The members a group's answer shows (SCIM leaves an empty ``members`` out)."""
    return [member["value"] for member in document.get("members", [])]


def mint_token(client: Client, description: str) -> Admin:
    """A SCIM token with an expiry (a token without one cannot be rotated)."""
    expires = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    outcome = client.send("POST", TOKENS, {"description": description, "expiresAt": expires})
    if outcome.status != 201:
        raise RuntimeError(f"cannot mint a SCIM token: {outcome.status} {outcome.body}")
    results = outcome.body["results"]
    return Admin(client, results["uuid"], results["token"])


class Workload:
    """One identity provider's run against one organization."""

    style = "okta"
    deletes_users = False

    def __init__(self, client: Client, admin: Admin, ledger: Ledger, sizes: Sizes, seed: int) -> None:
        self.client = client
        self.admin = admin
        self.ledger = ledger
        self.sizes = sizes
        self.organization = client.organization
        self.random = random.Random(f"{seed}:{self.style}")  # noqa: S311 - a workload, not a secret
        self.prefix = f"{self.style}-{seed}"
        self.users: dict[str, str] = {}  # id → userName of the users provisioned
        self.groups: list[str] = []

    # ----------------------------------------------------------------- the run
    def run(self) -> None:
        with ThreadPoolExecutor(self.sizes.threads, thread_name_prefix=self.style) as pool:
            list(pool.map(self.provision_user, range(self.sizes.users)))
            groups = [group for group in pool.map(self.create_group, range(self.sizes.groups)) if group]
        self.groups = groups
        user_ids = sorted(self.users)
        plan = self._plan(user_ids)
        barrier = threading.Barrier(len(groups) + 2, timeout=BARRIER_SECONDS)
        work: list[Callable[[], None]] = [
            *(lambda group=group: self.own_group(group, plan, barrier) for group in groups),
            lambda: self.delete_in_race(plan, barrier),
            lambda: self.update_users(plan, barrier),
            self.rotate_token,
        ]
        with ThreadPoolExecutor(len(work), thread_name_prefix=f"{self.style}-churn") as pool:
            for future in [pool.submit(task) for task in work]:
                future.result()

    def _plan(self, user_ids: list[str]) -> dict[str, Any]:
        """Who is added where, who races a delete: drawn up front from the seed."""
        doomed_groups = self.groups[-1:] if len(self.groups) > 1 else []
        victims = self.random.sample(user_ids, min(max(len(user_ids) // 5, 1), 8)) if self.deletes_users else []
        survivors = [user for user in user_ids if user not in victims]
        return {
            "initial": {
                group: self.random.sample(user_ids, min(self.sizes.members, len(user_ids))) for group in self.groups
            },
            "large": self.groups[0] if self.sizes.large_group and self.groups else None,
            "churn": {
                group: [self.random.sample(survivors, min(3, len(survivors))) for _ in range(2 * self.sizes.churn)]
                for group in self.groups
            },
            "doomed_groups": doomed_groups,
            "victims": victims,
            # added one at a time at the race: the victims, else users who stay (then the race
            # is the doomed group's deletion)
            "racing": victims or self.random.sample(survivors, min(3, len(survivors))),
            "updated": self.random.sample(survivors, len(survivors) // 2),
            "deactivated": self.random.sample(survivors, len(survivors) // 4),
        }

    # ----------------------------------------------------------------- users
    def find_user(self, user_name: str) -> Outcome:
        return self.client.send("GET", f"{USERS}?{equals('userName', user_name)}&startIndex=1&count=1")

    def provision_user(self, index: int) -> None:
        user_name = f"{self.prefix}-user{index}@{self.style}.test"
        found = self.find_user(user_name)
        if not found.ok:
            return  # the IdP tries this user again in its next cycle
        if found.body["totalResults"]:
            return self._adopt(found.body["Resources"][0])
        created = self.client.send("POST", USERS, self.user_body(user_name, index))
        if created.status == 201:
            return self._adopt(created.body)
        if created.gave_up:
            self.ledger.user_maybe_created(self.organization, user_name)
        elif created.status == 409:  # a retried create that had been applied: link it
            found = self.find_user(user_name)
            if found.ok and found.body["totalResults"]:
                self._adopt(found.body["Resources"][0])

    def _adopt(self, document: dict[str, Any]) -> None:
        self.users[document["id"]] = document["userName"]
        self.ledger.user_answered(self.organization, document)

    def user_body(self, user_name: str, index: int) -> dict[str, Any]:
        return okta_user(user_name, externalId=f"00u{index:017d}", displayName=f"User {index}")

    def update_user(self, user_id: str) -> Outcome:
        """Okta replaces the whole user (PUT) when a profile attribute changes."""
        index = int(self.users[user_id].split("user", 1)[1].split("@", 1)[0])
        body = self.user_body(self.users[user_id], index) | {
            "displayName": f"User {index} (updated)",
            "title": "Engineer",
        }
        return self.client.send("PUT", f"{USERS}/{user_id}", body)

    def deactivate_user(self, user_id: str) -> Outcome:
        operation = {"op": "replace", "value": {"active": False}}
        return self.client.send("PATCH", f"{USERS}/{user_id}", {"schemas": [PATCH_OP], "Operations": [operation]})

    def update_users(self, plan: dict[str, Any], barrier: threading.Barrier) -> None:
        """Profile updates, then deactivations; the race happens meanwhile."""
        barrier.wait()
        for user_id in plan["updated"]:
            self._user_write(user_id, self.update_user(user_id))
        for user_id in plan["deactivated"]:
            self._user_write(user_id, self.deactivate_user(user_id))

    def _user_write(self, user_id: str, outcome: Outcome) -> None:
        if outcome.ok:
            self.ledger.user_answered(self.organization, outcome.body)
        elif outcome.status == 404:
            self.ledger.user_gone(self.organization, user_id)
        elif outcome.gave_up:
            self.ledger.user_unsettled(self.organization, user_id)

    def delete_user(self, user_id: str) -> None:
        outcome = self.client.send("DELETE", f"{USERS}/{user_id}")
        if outcome.status in (204, 404):
            self.ledger.user_gone(self.organization, user_id)
        elif outcome.gave_up:
            self.ledger.user_unsettled(self.organization, user_id, deleting=True)

    # ----------------------------------------------------------------- groups
    def create_group(self, index: int) -> str | None:
        name = f"{self.prefix} group {index}"
        body = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": []}
        created = self.client.send("POST", GROUPS, body)
        if created.status == 201:
            self.ledger.group_answered(self.organization, created.body, member_ids(created.body))
            return str(created.body["id"])
        if created.gave_up:
            self.ledger.group_maybe_created(self.organization, name)
        elif created.status == 409:  # a retried create that had been applied
            found = self.client.send("GET", f"{GROUPS}?{equals('displayName', name)}")
            if found.ok and found.body["totalResults"]:
                document = found.body["Resources"][0]
                self.ledger.group_answered(
                    self.organization, document, [m["value"] for m in document.get("members", [])]
                )
                return str(document["id"])
        return None

    def add_members(self, group_id: str, user_ids: list[str]) -> Outcome:
        value = [{"value": user, "display": self.users[user]} for user in user_ids]
        operation = {"op": "add", "path": "members", "value": value}
        return self.client.send("PATCH", f"{GROUPS}/{group_id}", {"schemas": [PATCH_OP], "Operations": [operation]})

    def remove_members(self, group_id: str, user_ids: list[str]) -> Outcome:
        operations = [{"op": "remove", "path": f'members[value eq "{user}"]'} for user in user_ids]
        return self.client.send("PATCH", f"{GROUPS}/{group_id}", {"schemas": [PATCH_OP], "Operations": operations})

    def rename_group(self, group_id: str, name: str) -> Outcome:
        operation = {"op": "replace", "value": {"id": group_id, "displayName": name}}
        return self.client.send("PATCH", f"{GROUPS}/{group_id}", {"schemas": [PATCH_OP], "Operations": [operation]})

    def own_group(self, group_id: str, plan: dict[str, Any], barrier: threading.Barrier) -> None:
        """Everything that happens to one group, in order: its initial members (the large
        change on one), churn, a rename, the race (adds while it or its users are deleted),
        more churn."""
        self._members(group_id, plan["initial"][group_id], [])
        if plan["large"] == group_id:
            self._members(group_id, self.random_sample(sorted(self.users), self.sizes.large_group), [])
        churn = plan["churn"][group_id]
        for added in churn[: self.sizes.churn]:
            self._members(group_id, added, [])
            self._members(group_id, [], added[:1])
        self._rename(group_id, f"{self.prefix} group {group_id[:8]} renamed")
        barrier.wait()
        for user in plan["racing"]:  # one at a time, as the deletes go
            self._members(group_id, [user], [])
        if group_id in plan["doomed_groups"]:
            return
        for added in churn[self.sizes.churn :]:
            self._members(group_id, added, [])
            self._members(group_id, [], added[1:])

    def random_sample(self, population: list[str], count: int) -> list[str]:
        return self.random.sample(population, min(count, len(population)))

    def _members(self, group_id: str, added: list[str], removed: list[str]) -> None:
        outcome = self.add_members(group_id, added) if added else self.remove_members(group_id, removed)
        if outcome.ok:
            if isinstance(outcome.body, dict) and "members" in outcome.body:
                self.ledger.group_answered(
                    self.organization, outcome.body, [m["value"] for m in outcome.body["members"]]
                )
            else:
                self.ledger.members_changed(self.organization, group_id, added, removed)
        elif outcome.status == 404:
            self.ledger.group_gone(self.organization, group_id)
        elif outcome.gave_up:
            self.ledger.members_unsettled(self.organization, group_id, added + removed)

    def _rename(self, group_id: str, name: str) -> None:
        outcome = self.rename_group(group_id, name)
        if outcome.ok:
            self.ledger.group_answered(self.organization, outcome.body, None)
        elif outcome.gave_up:
            self.ledger.renamed_unsettled(self.organization, group_id, name)

    def delete_in_race(self, plan: dict[str, Any], barrier: threading.Barrier) -> None:
        """At the barrier: the doomed groups, then the victims, deleted while the group owners
        add members (the victims among them)."""
        barrier.wait()
        for group_id in plan["doomed_groups"]:
            outcome = self.client.send("DELETE", f"{GROUPS}/{group_id}")
            if outcome.status in (204, 404):
                self.ledger.group_gone(self.organization, group_id)
            elif outcome.gave_up:
                self.ledger.group_maybe_gone(self.organization, group_id)
        for user_id in plan["victims"]:
            self.delete_user(user_id)

    # ----------------------------------------------------------------- tokens
    def rotate_token(self) -> None:
        """The admin rotates the IdP's token and pastes the new secret (the IdP's next request
        uses it); a spare token is created and revoked too. A rotation whose answer was lost
        (refused as within the hour when sent again) leaves the admin to mint a new token."""
        expires = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        rotated = self.admin.client.send("PATCH", f"{TOKENS}/{self.admin.token_uuid}/rotate", {"expiresAt": expires})
        if rotated.status == 200:
            self.admin.secret = rotated.body["results"]["token"]
        else:
            replacement = mint_token(self.admin.client, f"{self.style} replacement")
            self.admin.token_uuid, self.admin.secret = replacement.token_uuid, replacement.secret
        spare = self.admin.client.send("POST", TOKENS, {"description": f"{self.style} spare", "expiresAt": None})
        if spare.status == 201:
            self.admin.client.send("DELETE", f"{TOKENS}/{spare.body['results']['uuid']}")


class EntraWorkload(Workload):
    style = "entra"
    deletes_users = True

    def user_body(self, user_name: str, index: int) -> dict[str, Any]:
        return entra_user(user_name, externalId=f"entra-{index:08d}", displayName=f"User {index}")

    def find_user(self, user_name: str) -> Outcome:
        return self.client.send("GET", f"{USERS}?{equals('userName', user_name)}")

    def update_user(self, user_id: str) -> Outcome:
        operations = [
            {"op": "Replace", "path": "displayName", "value": f"{self.users[user_id]} (updated)"},
            {"op": "Replace", "path": "title", "value": "Engineer"},
        ]
        return self.client.send("PATCH", f"{USERS}/{user_id}", {"schemas": [PATCH_OP], "Operations": operations})

    def deactivate_user(self, user_id: str) -> Outcome:
        operation = {"op": "Replace", "path": "active", "value": "False"}
        return self.client.send("PATCH", f"{USERS}/{user_id}", {"schemas": [PATCH_OP], "Operations": [operation]})

    def add_members(self, group_id: str, user_ids: list[str]) -> Outcome:
        operations = [{"op": "Add", "path": "members", "value": [{"value": user}]} for user in user_ids]
        return self.client.send("PATCH", f"{GROUPS}/{group_id}", {"schemas": [PATCH_OP], "Operations": operations})

    def remove_members(self, group_id: str, user_ids: list[str]) -> Outcome:
        operations = [{"op": "Remove", "path": "members", "value": [{"value": user}]} for user in user_ids]
        return self.client.send("PATCH", f"{GROUPS}/{group_id}", {"schemas": [PATCH_OP], "Operations": operations})

    def rename_group(self, group_id: str, name: str) -> Outcome:
        operation = {"op": "Replace", "path": "displayName", "value": name}
        return self.client.send("PATCH", f"{GROUPS}/{group_id}", {"schemas": [PATCH_OP], "Operations": [operation]})
