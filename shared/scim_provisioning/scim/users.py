"""The SCIM User resource as this service answers it and as filters see it: the stored
resource, ``id``, ``meta``, and the read-only ``groups`` (memberships are stored apart, so
the caller reads them only when the answer carries them; ``Selection.returns("groups")``).

The handlers shape answers with ``user_answer``; the users service evaluates filters on
``filterable_user``, so that a filter and an answer never disagree about what a user is."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scim_provisioning.models import Group, Person, ResourceDocument
from scim_provisioning.scim.representation import Selection, resource_meta
from scim_provisioning.scim.resources import full_representation
from scim_provisioning.scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE


def user_location(base_url: str, user_id: str) -> str:
    return f"{base_url}{USER_RESOURCE_TYPE.endpoint}/{user_id}"


def _user_resource(person: Person, base_url: str, groups: list[dict[str, Any]]) -> ResourceDocument:
    location = user_location(base_url, person.uuid)
    meta = resource_meta(USER_RESOURCE_TYPE, person.created_at, person.last_modified, person.version, location)
    document = full_representation(person.resource, USER_RESOURCE_TYPE, person.uuid, meta)
    if groups:
        document["groups"] = groups
    return document


def user_answer(person: Person, base_url: str, groups: Sequence[Group], selection: Selection) -> ResourceDocument:
    """The user as answered: ``groups`` are the groups the user is a direct member of."""
    entries = [
        {
            "value": group.uuid,
            "$ref": f"{base_url}{GROUP_RESOURCE_TYPE.endpoint}/{group.uuid}",
            "display": group.display_name,
            "type": "direct",
        }
        for group in groups
    ]
    return selection.shape(_user_resource(person, base_url, entries))


def filterable_user(person: Person, base_url: str, group_id: str | None = None) -> ResourceDocument:
    """The user a filter is evaluated on. A filter may test a membership only through
    ``groups.value eq "<id>"`` (``services/lookups.membership_value``), answered by a key
    query: ``group_id`` is that group, the only one the filter can see."""
    groups = [] if group_id is None else [{"value": group_id, "type": "direct"}]
    return _user_resource(person, base_url, groups)
