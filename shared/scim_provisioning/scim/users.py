"""The SCIM User resource as this service answers it and as filters see it: the stored
resource, ``id``, ``meta``, and the read-only ``groups`` (memberships are stored apart, so
the caller reads them only when the answer carries them; ``Selection.returns("groups")``).

The handlers shape answers with ``user_answer``; the users service evaluates filters on
``filterable_user``, so that a filter and an answer never disagree about what a user is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scim_provisioning.models import Person, ResourceDocument, UserGroup
from scim_provisioning.scim.representation import Selection, location, resource_document
from scim_provisioning.scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE


def _user_resource(person: Person, base_url: str, groups: list[dict[str, Any]]) -> ResourceDocument:
    document = resource_document(USER_RESOURCE_TYPE, person, base_url)
    if groups:
        document["groups"] = groups
    return document


def user_answer(person: Person, base_url: str, groups: Sequence[UserGroup], selection: Selection) -> ResourceDocument:
    """The user as answered: ``groups`` are the groups the user is a direct member of."""
    entries = [
        {
            "value": group.group_id,
            "$ref": location(GROUP_RESOURCE_TYPE, base_url, group.group_id),
            **({} if group.display is None else {"display": group.display}),
            "type": "direct",
        }
        for group in groups
    ]
    return selection.shape(_user_resource(person, base_url, entries))


def filterable_user(person: Person, base_url: str, group_id: str | None = None) -> ResourceDocument:
    """The user a filter is evaluated on. A filter may test a membership only through
    ``groups.value eq "<id>"`` (``services/lookups.KeyedLookups``), answered by a key
    query: ``group_id`` is that group, the only one the filter can see."""
    groups = [] if group_id is None else [{"value": group_id, "type": "direct"}]
    return _user_resource(person, base_url, groups)
