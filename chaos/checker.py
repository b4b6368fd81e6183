"""The consistency checker: reads the whole table (every item, deserialized) and names every
place where the table breaks its own rules, whatever any client was told.

The rules (docs/data-model.md):

- **name claims**: each user has exactly its ``USERNAME#<key>`` claim and each claim names an
  existing user with that key; the same for groups and ``GROUPNAME#``;
- **lookups**: each user's externalId and email lookup items are exactly those its attributes
  call for (``EXTID#``, ``EMAIL#``), each group's ``GROUP_EXTID#`` likewise; none names a
  user or group that does not exist;
- **memberships**: each points to an existing user and group of its organization;
- **counters**: the organization's ``userCount``, ``groupCount`` and ``activeAdminCount``
  equal what its items count;
- **unfinished changes**: no change record ``pending``, no group carrying ``pendingChange``;
- **credentials**: each SCIM token's and API key's metadata has its live credential, and each
  live credential its metadata, naming the same digest.

What the clients were told (a group's members, a user's existence, the activity entries) is
checked by ``chaos.ledger`` against the same items."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scim_provisioning.repository.items import deserialize, lookup_digest
from scim_provisioning.unicode_text import case_insensitive_key

Item = dict[str, Any]

ORGANIZATION_SK = "ORGANIZATION"


@dataclass(frozen=True)
class Inconsistency:
    """One broken rule: which (``rule``) and where (``detail``)."""

    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.detail}"


@dataclass
class Organization:
    """One organization's items, sorted by kind (what the rules compare)."""

    uuid: str
    item: Item | None = None
    users: dict[str, Item] = field(default_factory=dict)
    groups: dict[str, Item] = field(default_factory=dict)
    user_claims: dict[str, Item] = field(default_factory=dict)  # by sort key
    group_claims: dict[str, Item] = field(default_factory=dict)
    user_lookups: dict[str, Item] = field(default_factory=dict)
    group_lookups: dict[str, Item] = field(default_factory=dict)
    memberships: list[Item] = field(default_factory=list)
    change_records: list[Item] = field(default_factory=list)
    token_metadata: dict[str, Item] = field(default_factory=dict)  # SCIM tokens and API keys, by uuid
    activity: list[Item] = field(default_factory=list)

    def members(self, group_uuid: str) -> set[str]:
        return {item["userUuid"] for item in self.memberships if item["groupUuid"] == group_uuid}


@dataclass
class TableContents:
    """The whole table, read once: organizations with their items, and the credentials."""

    organizations: dict[str, Organization]
    credentials: dict[str, Item]  # by the secret's digest

    @classmethod
    def read(cls, client: Any, table_name: str) -> TableContents:
        """Every item of the table, scanned page by page with a client straight to the
        embedded DynamoDB (never through the fault proxy)."""
        items: list[Item] = []
        request: dict[str, Any] = {"TableName": table_name}
        while True:
            page = client.scan(**request)
            items.extend(deserialize(item) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return cls.of(items)
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @classmethod
    def of(cls, items: Iterable[Item]) -> TableContents:
        organizations: dict[str, Organization] = {}
        credentials: dict[str, Item] = {}

        def organization(uuid: str) -> Organization:
            return organizations.setdefault(uuid, Organization(uuid))

        for item in items:
            entity, pk, sk = item.get("entity"), str(item["PK"]), str(item["SK"])
            if entity == "Credential":
                credentials[pk.removeprefix("CREDENTIAL#")] = item
                continue
            if not pk.startswith("ORG#"):
                continue
            owner = organization(pk.removeprefix("ORG#").split("#", 1)[0])
            if entity == "Organization":
                owner.item = item
            elif entity == "User":
                owner.users[item["uuid"]] = item
            elif entity == "Group":
                owner.groups[item["uuid"]] = item
            elif entity == "UserNameClaim":
                owner.user_claims[sk] = item
            elif entity == "GroupNameClaim":
                owner.group_claims[sk] = item
            elif entity == "UserLookup":
                owner.user_lookups[sk] = item
            elif entity == "GroupLookup":
                owner.group_lookups[sk] = item
            elif entity == "Membership":
                owner.memberships.append(item)
            elif entity == "MembershipChange":
                owner.change_records.append(item)
            elif entity in ("ScimToken", "ApiKey"):
                owner.token_metadata[item["uuid"]] = item
            elif entity == "Activity":
                owner.activity.append(item)
        return cls(organizations, credentials)


def table_inconsistencies(contents: TableContents) -> list[Inconsistency]:
    """Every broken rule of the module doc, in a stable order."""
    found: list[Inconsistency] = []
    for organization in contents.organizations.values():
        found += _claims(organization)
        found += _lookups(organization)
        found += _memberships(organization)
        found += _counters(organization)
        found += _unfinished_changes(organization)
    found += _credentials(contents)
    return found


# ------------------------------------------------------------------------------ rules
def _claims(organization: Organization) -> Iterator[Inconsistency]:
    yield from _claimed_names(
        "userName claim", organization.users, organization.user_claims, "USERNAME#", "userNameKey", "userUuid"
    )
    yield from _claimed_names(
        "displayName claim", organization.groups, organization.group_claims, "GROUPNAME#", "displayNameKey", "groupUuid"
    )


def _claimed_names(
    rule: str, owners: dict[str, Item], claims: dict[str, Item], prefix: str, key_name: str, owner_name: str
) -> Iterator[Inconsistency]:
    for uuid, owner in owners.items():
        claim = claims.get(prefix + owner[key_name])
        if claim is None:
            yield Inconsistency(rule, f"{uuid} ({owner[key_name]!r}) has no claim")
        elif claim[owner_name] != uuid:
            yield Inconsistency(rule, f"{owner[key_name]!r} of {uuid} is claimed by {claim[owner_name]}")
    for sort_key, claim in claims.items():
        claimant = owners.get(claim[owner_name])
        if claimant is None:
            yield Inconsistency(rule, f"{sort_key} names {claim[owner_name]}, which does not exist")
        elif prefix + claimant[key_name] != sort_key:
            yield Inconsistency(rule, f"{sort_key} names {claim[owner_name]}, now {claimant[key_name]!r}")


def _lookups(organization: Organization) -> Iterator[Inconsistency]:
    expected_users: dict[str, str] = {}
    for uuid, user in organization.users.items():
        if user.get("externalId"):
            expected_users[f"EXTID#{lookup_digest(user['externalId'])}#{uuid}"] = uuid
        for email in json.loads(user["resource"]).get("emails", []):
            if email.get("value"):
                expected_users[f"EMAIL#{lookup_digest(case_insensitive_key(email['value']))}#{uuid}"] = uuid
    yield from _lookup_items("user lookup", expected_users, organization.user_lookups, "userUuid")
    expected_groups = {
        f"GROUP_EXTID#{lookup_digest(group['externalId'])}#{uuid}": uuid
        for uuid, group in organization.groups.items()
        if group.get("externalId")
    }
    yield from _lookup_items("group lookup", expected_groups, organization.group_lookups, "groupUuid")


def _lookup_items(
    rule: str, expected: dict[str, str], actual: dict[str, Item], owner_name: str
) -> Iterator[Inconsistency]:
    for sort_key in sorted(expected.keys() - actual.keys()):
        yield Inconsistency(rule, f"{expected[sort_key]} has no {sort_key.split('#', 1)[0]} item {sort_key}")
    for sort_key in sorted(actual.keys() - expected.keys()):
        yield Inconsistency(
            rule, f"{sort_key} names {actual[sort_key][owner_name]}, whose attributes do not call for it"
        )
    for sort_key in sorted(actual.keys() & expected.keys()):
        if actual[sort_key][owner_name] != expected[sort_key]:
            yield Inconsistency(rule, f"{sort_key} names {actual[sort_key][owner_name]}, not {expected[sort_key]}")


def _memberships(organization: Organization) -> Iterator[Inconsistency]:
    for membership in organization.memberships:
        user, group = membership["userUuid"], membership["groupUuid"]
        missing = [
            name
            for name, there in (("user", user in organization.users), ("group", group in organization.groups))
            if not there
        ]
        if missing:
            yield Inconsistency("orphaned membership", f"group {group}, user {user}: no {' and no '.join(missing)}")


def _counters(organization: Organization) -> Iterator[Inconsistency]:
    if organization.item is None:
        if organization.users or organization.groups:
            yield Inconsistency("counter", f"organization {organization.uuid} has people or groups but no item")
        return
    counted = {
        "userCount": len(organization.users),
        "groupCount": len(organization.groups),
        "activeAdminCount": sum(
            1 for user in organization.users.values() if user["role"] == "admin" and user["active"]
        ),
    }
    for name, count in counted.items():
        stored = int(organization.item.get(name, 0))
        if stored != count:
            yield Inconsistency(
                "counter", f"organization {organization.uuid}: {name} is {stored}, its items count {count}"
            )


def _unfinished_changes(organization: Organization) -> Iterator[Inconsistency]:
    for record in organization.change_records:
        if record.get("status") != "done":
            yield Inconsistency(
                "pending change", f"group {record['groupUuid']}: change {record['changeId']} is {record.get('status')}"
            )
    for uuid, group in organization.groups.items():
        if group.get("pendingChange"):
            yield Inconsistency("pending change", f"group {uuid} still carries change {group['pendingChange']}")


def _credentials(contents: TableContents) -> Iterator[Inconsistency]:
    live = {"ScimToken": "scim_token", "ApiKey": "api_key"}
    named: Counter[tuple[str, str]] = Counter()
    for organization in contents.organizations.values():
        for uuid, metadata in organization.token_metadata.items():
            credential = contents.credentials.get(metadata["credentialDigest"])
            kind = live[metadata["entity"]]
            named[(kind, uuid)] += 1
            if credential is None or credential["kind"] != kind or credential["ownerUuid"] != uuid:
                state = "none" if credential is None else f"{credential['kind']} of {credential['ownerUuid']}"
                yield Inconsistency("credential", f"{metadata['entity']} {uuid}: its credential is {state}")
    owners: dict[tuple[str, str], list[str]] = defaultdict(list)
    for digest, credential in contents.credentials.items():
        if credential["kind"] in live.values():
            owners[(credential["kind"], credential["ownerUuid"])].append(digest)
    for (kind, owner), digests in sorted(owners.items()):
        if (kind, owner) not in named:
            yield Inconsistency("credential", f"a live {kind} credential names {owner}, which has no metadata")
        elif len(digests) > 1:
            yield Inconsistency("credential", f"{kind} {owner} has {len(digests)} live credentials")
