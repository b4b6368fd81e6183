"""The SCIM Group resource as this service answers it and as filters see it: the stored
resource, ``id``, ``meta``, and ``members`` (stored apart, read only when the answer carries
them), with the limits that keep an answer inside Lambda's 6 MB.

The handlers shape answers with ``group_answer``; the groups service evaluates filters on
``filterable_group``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scim_provisioning.errors import TooMany
from scim_provisioning.models import Group, Member, ResourceDocument
from scim_provisioning.scim.representation import Selection, location, resource_document
from scim_provisioning.scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE

# Answers to POST, PUT and PATCH carry the members only up to this many, so that an IdP's
# PATCH of one member to a large group gets a small, fast answer.
MAX_MEMBERS_IN_WRITE_ANSWER = 100


def _group_resource(group: Group, base_url: str, members: list[dict[str, Any]]) -> ResourceDocument:
    document = resource_document(GROUP_RESOURCE_TYPE, group, base_url)
    if members:
        document["members"] = members
    return document


def group_answer(
    group: Group, base_url: str, members: Sequence[Member] | None, selection: Selection
) -> ResourceDocument:
    """The group as answered; ``members`` None when the answer omits them."""
    entries = [
        {
            "value": member.user_id,
            "$ref": location(USER_RESOURCE_TYPE, base_url, member.user_id),
            **({} if member.display is None else {"display": member.display}),
            "type": "User",
        }
        for member in members or ()
    ]
    return selection.shape(_group_resource(group, base_url, entries))


def filterable_group(group: Group, base_url: str, member_id: str | None = None) -> ResourceDocument:
    """The group a filter is evaluated on. A filter may test a membership only through
    ``members.value eq "<id>"``, answered by a key query: ``member_id`` is that user, the
    only member the filter can see."""
    members = [] if member_id is None else [{"value": member_id, "type": "User"}]
    return _group_resource(group, base_url, members)


def too_many_members(group: Group, why: str) -> TooMany:
    """The error of an answer that cannot carry all of a group's members: never a truncated list."""
    return TooMany(
        f"Group {group.uuid} {why}, more than one answer may carry: request it with "
        f'excludedAttributes=members, and its members with GET /Users?filter=groups.value eq "{group.uuid}"'
    )


def too_many_members_in_page(why: str) -> TooMany:
    return TooMany(
        f"The groups of this page have {why} together, more than one answer may carry: list them "
        "with excludedAttributes=members (or a smaller count)"
    )
