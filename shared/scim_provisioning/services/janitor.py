"""The membership janitor: fed by the table's stream (``MembershipJanitorFunction``), it removes
memberships that point to nothing and completes large membership changes left unfinished, so
that whatever a request leaves behind (a crash, a timeout, a race) is repaired within minutes.

What it reads from the stream (the template's FilterCriteria pass only these):

- **a membership written** (INSERT): if its group or its user is gone by now, it is removed.
  This catches a membership written after its user's or group's deletion read the
  memberships (a large change's batches, or a delete racing an add on GSI1's lag).
- **a user deleted** (REMOVE): its memberships, found on GSI1 once GSI1 has caught up with the
  writes before the deletion (``GSI_CATCH_UP`` after it), each leave their group with the
  group's version and a change record, as a deletion through the API does. What the deleting
  request already removed is simply not found.
- **a group deleted** (REMOVE): every membership left in its partition is deleted (a strongly
  consistent key query: nothing to wait for).
- **a large change's intent** (INSERT of a ``pending`` change record): if the change is still
  unfinished once it is stale (``STALE_AFTER``: its writer has certainly stopped), it is
  completed, as the group's next writer would.

Every repair is idempotent, so a batch Lambda retries (or two janitors racing) does no harm.
Waiting is done on the clock handed in (a fixed one in tests), bounded by the time the
invocation has left: when a wait does not fit, ``NotYet`` asks Lambda to retry the batch."""

from __future__ import annotations

import functools
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from scim_provisioning.clock import Clock
from scim_provisioning.repository.concurrency import side_by_side
from scim_provisioning.repository.protocols import GroupStore, MembershipStore, PeopleStore
from scim_provisioning.repository.stream import ItemChange
from scim_provisioning.services.memberships import STALE_AFTER, MembershipWriter

# How long after a user's deletion its memberships are looked up on GSI1: a global index lags
# its table, usually by well under a second.
GSI_CATCH_UP = timedelta(seconds=5)
# Time an invocation keeps for its own work after a wait.
MARGIN = timedelta(seconds=20)


class NotYet(Exception):
    """A repair is due later than this invocation can wait: the batch is retried later."""


class MembershipJanitor:
    def __init__(
        self,
        groups: GroupStore,
        memberships: MembershipStore,
        people: PeopleStore,
        writer: MembershipWriter,
        clock: Clock,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._groups = groups
        self._memberships = memberships
        self._people = people
        self._writer = writer
        self._clock = clock
        self._sleep = sleep

    def handle(self, changes: list[ItemChange], seconds_left: Callable[[], float] | None = None) -> None:
        """Repair what ``changes`` (one stream batch) call for; ``seconds_left`` is the
        invocation's remaining time (None: no limit)."""
        written = [c.membership for c in changes if c.event == "INSERT" and c.entity == "Membership"]
        removed_users = [c for c in changes if c.event == "REMOVE" and c.entity == "User"]
        removed_groups = [c.old for c in changes if c.event == "REMOVE" and c.entity == "Group" and c.old]
        pending = [c.new for c in changes if c.event == "INSERT" and c.entity == "MembershipChange" and c.new]
        repairs: list[Callable[[], object]] = [
            functools.partial(self._clear_group, group["organizationUuid"], group["uuid"]) for group in removed_groups
        ]
        if written:
            repairs.append(functools.partial(self.remove_orphans, written))
        side_by_side(repairs)
        for change in removed_users:
            self._wait_until(change.at + GSI_CATCH_UP, seconds_left)
            user = change.old or {}
            organization, user_id = user["organizationUuid"], user["uuid"]
            self._writer.leave_group_ids(
                organization, user_id, self._memberships.group_ids_of_user(organization, user_id)
            )
        for record in pending:
            if record.get("status") == "pending" and int(record.get("part", 0)) == 0:
                self._complete(record, seconds_left)

    # ----------------------------------------------------------------- repairs
    def _clear_group(self, organization_uuid: str, group_uuid: str) -> None:
        """A deleted group's memberships, whatever is left of them."""
        members = self._memberships.member_ids(organization_uuid, group_uuid)
        self._memberships.delete_memberships(organization_uuid, group_uuid, members)

    def remove_orphans(self, memberships: Sequence[tuple[str, str, str]]) -> int:
        """Of these (organization, group, user) memberships, remove those whose group or user
        is gone (a user's leaves its group as a deletion does); how many were orphans."""
        by_organization = _by_organization(memberships)
        return sum(side_by_side([functools.partial(self._remove_orphans_of, *group) for group in by_organization]))

    def _remove_orphans_of(self, organization_uuid: str, memberships: list[tuple[str, str]]) -> int:
        users = sorted({user for _, user in memberships})
        group_ids = sorted({group for group, _ in memberships})
        existing_users, groups = side_by_side(
            [
                lambda: self._people.existing_people(organization_uuid, users),
                lambda: {group.uuid for group in self._groups.get_groups(organization_uuid, group_ids)},
            ]
        )
        orphans = 0
        for group, user in memberships:
            if group not in groups:
                self._memberships.delete_memberships(organization_uuid, group, [user])
            elif user not in existing_users:
                self._writer.leave_group_ids(organization_uuid, user, [group])
            else:
                continue
            orphans += 1
        return orphans

    def _complete(self, record: dict[str, object], seconds_left: Callable[[], float] | None) -> None:
        """A large change's intent: completed if still unfinished once stale."""
        organization, group_id, change_id = (
            str(record["organizationUuid"]),
            str(record["groupUuid"]),
            record["changeId"],
        )
        group = self._groups.get_group(organization, group_id)
        if group is None or group.pending_change is None or group.pending_change.change_id != change_id:
            return  # finished (or its group deleted: its memberships are checked as they are written)
        self._wait_until(group.pending_change.since + STALE_AFTER, seconds_left)
        group = self._groups.get_group(organization, group_id)
        if group is not None and group.pending_change is not None and group.pending_change.change_id == change_id:
            self._writer.complete(group)

    def _wait_until(self, due: datetime, seconds_left: Callable[[], float] | None) -> None:
        wait = (due - self._clock.now()).total_seconds()
        if wait <= 0:
            return
        if seconds_left is not None and wait > seconds_left() - MARGIN.total_seconds():
            raise NotYet(f"a repair is due in {wait:.0f} s")
        self._sleep(wait)


def _by_organization(memberships: Sequence[tuple[str, str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(organization, group, user) memberships as (group, user) pairs grouped by organization."""
    grouped: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for organization, group, user in memberships:
        grouped[organization].append((group, user))
    return list(grouped.items())
