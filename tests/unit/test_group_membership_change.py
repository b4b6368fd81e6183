"""How a PATCH's member operations become one membership change (services.groups)."""

from __future__ import annotations

import pytest

from scim_provisioning.errors import InvalidFilter, InvalidPath, InvalidRequest
from scim_provisioning.models import Member
from scim_provisioning.scim.patch import parse_operations
from scim_provisioning.scim.schema import GROUP_RESOURCE_TYPE
from scim_provisioning.services.groups import MembershipChange

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def change_of(*operations: dict) -> MembershipChange:
    parsed = parse_operations({"schemas": [PATCH_OP], "Operations": list(operations)}, GROUP_RESOURCE_TYPE)
    return MembershipChange.from_operations([op for op in parsed if op.attribute.name == "members"])


def test_later_operations_win_in_order():
    change = change_of(
        {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
        {"op": "remove", "path": 'members[value eq "a"]'},
        {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "c"}]},
        {"op": "add", "path": "members", "value": [{"value": "c"}]},
    )

    assert (change.replace_all, list(change.add), list(change.remove)) == (None, ["b", "c"], ["a"])


def test_replace_and_remove_of_the_attribute_reset_the_list():
    assert change_of({"op": "replace", "path": "members", "value": [{"value": "a"}]}).replace_all == {"a": None}
    assert change_of({"op": "remove", "path": "members"}).replace_all == {}
    replaced = change_of(
        {"op": "replace", "value": {"members": [{"value": "a"}]}},
        {"op": "add", "path": "members", "value": [{"value": "b"}]},
    )
    assert (replaced.replace_all, list(replaced.add)) == ({"a": None}, ["b"])


def test_a_display_sent_with_a_member_is_kept_as_sent():
    # given Okta's add, with each member's login as its display, and Entra's, without
    change = change_of(
        {"op": "add", "path": "members", "value": [{"value": "a", "display": "ada@acme.test"}]},
        {"op": "add", "path": "members", "value": [{"value": "b"}]},
    )

    # then the display is kept for the one that sent it, none is invented for the other
    assert change.add == {"a": "ada@acme.test", "b": None}


def test_a_replacement_writes_the_new_members_and_the_changed_displays_and_removes_the_rest():
    # given a group holding a (display "A"), b (none) and c
    current = [Member("a", "A"), Member("b", None), Member("c", None)]

    # when its list is replaced by a (display "A2"), b (none) and d
    change = change_of(
        {
            "op": "replace",
            "path": "members",
            "value": [{"value": "a", "display": "A2"}, {"value": "b"}, {"value": "d", "display": "D"}],
        }
    )

    # then a is written again for its display, b is left alone, d is added and c removed
    assert change.diff(current) == ({"a": "A2", "d": "D"}, ["c"])


def test_operations_on_other_attributes_are_no_membership_change():
    assert change_of({"op": "replace", "value": {"id": "g", "displayName": "X"}}).empty


@pytest.mark.parametrize(
    ("operation", "error"),
    [
        ({"op": "remove", "path": 'members[display eq "Ada"]'}, InvalidFilter),
        ({"op": "add", "path": 'members[value eq "a"]', "value": {"value": "a"}}, InvalidPath),
        ({"op": "add", "path": "members", "value": [{"display": "no id"}]}, InvalidRequest),
        ({"op": "add", "path": "members", "value": [{"value": "g", "type": "Group"}]}, InvalidRequest),
        ({"op": "add", "path": "members", "value": [{"value": "a", "display": {"not": "a string"}}]}, InvalidRequest),
    ],
)
def test_refused_member_operations(operation: dict, error: type[Exception]):
    with pytest.raises(error):
        change_of(operation)
