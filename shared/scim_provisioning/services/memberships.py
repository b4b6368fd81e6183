"""The one way a group's members change: the groups service (POST, PUT, PATCH), the users
service (a deleted user leaves their groups) and the membership janitor all write through
``MembershipWriter``, so every change moves the group's version and leaves its change record.

A change that fits one transaction is one transaction. A larger one records its intent first
(``MembershipStore.begin_change``), then writes the memberships and finishes; from the moment
its intent is committed it is a committed write: if writing or finishing fails, the answer is
still a success, and the group's next writer or the janitor completes the change once it is
older than ``STALE_AFTER`` (every Lambda that could still be writing it has timed out by then).
A younger unfinished change holds off other writers of the group (``ChangeInProgress``, which
they retry) so that no other change can interleave with its memberships."""

from __future__ import annotations

import contextlib
import functools
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from scim_provisioning.clock import Clock
from scim_provisioning.errors import StillChanging
from scim_provisioning.models import Group, MemberChange, PendingChange
from scim_provisioning.observability import logger
from scim_provisioning.repository.concurrency import Pending, side_by_side, start
from scim_provisioning.repository.protocols import (
    GroupStore,
    MembershipStore,
    PeopleStore,
    UnknownMembers,
    VersionConflict,
)
from scim_provisioning.services.versioning import WRITE_ATTEMPTS, ChangeInProgress, pause_before_retry
from scim_provisioning.timestamps import truncate_to_millis

# Older than this, a large change's writer is certainly gone (the functions time out after
# 28 s): its change is completed by whoever finds it.
STALE_AFTER = timedelta(minutes=1)
# Above this many added users a change may not fit one transaction (two items each): their
# existence is then read beside the group, since no transaction can check them.
CHECKED_IN_TRANSACTION = 40


def new_change(
    added: dict[str, str | None], removed: Sequence[str], token_uuid: str | None, at: datetime
) -> MemberChange:
    return MemberChange(str(uuid.uuid4()), dict(added), list(removed), token_uuid, at)


class UserCheck:
    """Which of a change's added users exist, for a change too large for its transaction to
    check them: read beside the group's own read, so it costs no round trip of its own."""

    def __init__(self, people: PeopleStore, organization_uuid: str, candidates: Sequence[str]) -> None:
        self._people = people
        self._organization = organization_uuid
        self._found: Pending[set[str]] | None = None
        if len(candidates) > CHECKED_IN_TRANSACTION:
            self._found = start(lambda: people.existing_people(organization_uuid, list(candidates)))

    def unknown(self, user_uuids: Sequence[str]) -> list[str]:
        if self._found is None:
            found = self._people.existing_people(self._organization, list(user_uuids))
        else:
            found = self._found.result()
            missed = [user for user in user_uuids if user not in found]
            if missed:  # a candidate list read before the change was known: check the rest
                found = found | self._people.existing_people(self._organization, missed)
        return [user for user in user_uuids if user not in found]


class MembershipWriter:
    def __init__(self, groups: GroupStore, memberships: MembershipStore, people: PeopleStore, clock: Clock) -> None:
        self._groups = groups
        self._memberships = memberships
        self._people = people
        self._clock = clock

    def user_check(self, organization_uuid: str, candidates: Sequence[str]) -> UserCheck:
        return UserCheck(self._people, organization_uuid, candidates)

    # ----------------------------------------------------------------- writing
    def guard(self, group: Group) -> None:
        """Before writing a group read as ``group``: a stale unfinished change is completed
        (then VersionConflict: read the group again); a young one is ChangeInProgress."""
        if group.pending_change is None:
            return
        if self._clock.now() - group.pending_change.since < STALE_AFTER:
            raise ChangeInProgress(group.uuid)
        self.complete(group)
        raise VersionConflict(group.uuid)

    def write(self, previous: Group | None, updated: Group, change: MemberChange, check: UserCheck) -> Group:
        """Write ``updated`` (the group as the request leaves it, its version one above
        ``previous``'s) with ``change``; the group as written. VersionConflict when the group
        changed since ``previous`` was read; UnknownMembers, DisplayNameTaken: nothing written."""
        if change.empty:
            if previous is None:
                self._groups.create_group(updated)
            else:
                self._groups.replace_group(previous, updated)
            return updated
        if self._memberships.fits_one_transaction(previous, updated, change):
            self._memberships.change_members(previous, updated, change)
            return updated
        unknown = check.unknown(list(change.added))
        if unknown:
            raise UnknownMembers(unknown)
        # The version moves once, when the change finishes; only new attributes move it now.
        begun = updated if previous is None or updated.resource != previous.resource else previous
        pending = replace(begun, pending_change=PendingChange(change.change_id, change.at))
        self._memberships.begin_change(previous, pending, change)
        finished = replace(
            pending, version=pending.version + 1, last_modified=updated.last_modified, pending_change=None
        )
        try:
            self._memberships.apply_change(pending, change)
            self._memberships.finish_change(pending, finished, change)
        except Exception:
            # Committed as intent: a success for the client; completed when found stale.
            logger.warning(
                "Large membership change recorded but not finished; it is completed later",
                extra={"groupUuid": pending.uuid, "changeId": change.change_id},
                exc_info=True,
            )
            return replace(pending, pending_change=None)
        return finished

    def complete(self, group: Group) -> None:
        """Complete the unfinished change ``group`` carries (idempotent: its memberships are
        written again, and only one finish commits)."""
        if group.pending_change is None:
            return
        change = self._memberships.pending_change(group)
        now = max(truncate_to_millis(self._clock.now()), group.last_modified)
        finished = replace(group, version=group.version + 1, last_modified=now, pending_change=None)
        if change is None:  # its records are gone (never written, or expired): only the marker
            change = MemberChange(group.pending_change.change_id, {}, [], None, now)
        self._memberships.apply_change(group, change)
        with contextlib.suppress(VersionConflict):  # finished meanwhile by another, or the group is gone
            self._memberships.finish_change(group, finished, change)

    # ----------------------------------------------------------------- departures
    def leave_groups(
        self, organization_uuid: str, user_uuid: str, groups: Sequence[Group], token_uuid: str | None
    ) -> None:
        """A deleted user's memberships, one transaction per group (side by side), each
        moving its group's version with a change record. ``groups`` as read before (their
        versions are the first guess); a group that changed is read again."""
        side_by_side([functools.partial(self._leave, group, user_uuid, token_uuid) for group in groups])

    def leave_group_ids(self, organization_uuid: str, user_uuid: str, group_ids: Sequence[str]) -> None:
        """As ``leave_groups``, for groups known by id only (the janitor's case); the
        memberships of groups that no longer exist are deleted alone."""
        groups = self._groups.get_groups(organization_uuid, list(group_ids))
        gone = sorted(set(group_ids) - {group.uuid for group in groups})
        side_by_side(
            [
                *(functools.partial(self._drop, organization_uuid, group_id, user_uuid) for group_id in gone),
                *(functools.partial(self._leave, group, user_uuid, None) for group in groups),
            ]
        )

    def _leave(self, group: Group, user_uuid: str, token_uuid: str | None) -> None:
        current: Group | None = group
        for attempt in range(WRITE_ATTEMPTS):
            pause_before_retry(attempt)
            if attempt:
                current = self._groups.get_group(group.organization_uuid, group.uuid)
            if current is None:
                self._drop(group.organization_uuid, group.uuid, user_uuid)
                return
            try:
                self.guard(current)
                now = max(truncate_to_millis(self._clock.now()), current.last_modified)
                updated = replace(current, version=current.version + 1, last_modified=now)
                change = new_change({}, [user_uuid], token_uuid, now)
                self._memberships.leave_group(current, updated, user_uuid, change)
                return
            except (VersionConflict, ChangeInProgress):
                continue
        raise StillChanging(f"Group {group.uuid} kept changing while a member left it")

    def _drop(self, organization_uuid: str, group_uuid: str, user_uuid: str) -> None:
        self._memberships.delete_memberships(organization_uuid, group_uuid, [user_uuid])
