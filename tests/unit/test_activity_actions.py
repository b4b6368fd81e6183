"""The activity log's action of a request, derived from method + path + PATCH operations."""

from __future__ import annotations

import pytest

from scim_provisioning import activity_annotation
from scim_provisioning.activity_annotation import Action, derive_action, is_membership_patch


@pytest.mark.parametrize(
    ("method", "resource", "has_id", "is_search", "membership", "expected"),
    [
        ("GET", "Users", False, False, False, Action.LIST),
        ("POST", "Users", False, True, False, Action.LIST),
        ("GET", "Users", True, False, False, Action.LOOKUP),
        ("POST", "Users", False, False, False, Action.CREATE_USER),
        ("PUT", "Users", True, False, False, Action.UPDATE_USER),
        ("PATCH", "Users", True, False, False, Action.UPDATE_USER),
        ("DELETE", "Users", True, False, False, Action.DELETE_USER),
        ("POST", "Groups", False, False, False, Action.CREATE_GROUP),
        ("PATCH", "Groups", True, False, True, Action.MEMBERSHIP_CHANGE),
        ("PATCH", "Groups", True, False, False, Action.UPDATE_GROUP),
        ("PUT", "Groups", True, False, False, Action.UPDATE_GROUP),
        ("DELETE", "Groups", True, False, False, Action.DELETE_GROUP),
        ("GET", "Groups", True, False, False, Action.LOOKUP),
    ],
)
def test_derive_action(method, resource, has_id, is_search, membership, expected):
    assert derive_action(method, resource, has_id, is_search, membership) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"Operations": [{"op": "add", "path": "members", "value": [{"value": "u1"}]}]}, True),
        ({"Operations": [{"op": "remove", "path": 'members[value eq "u1"]'}]}, True),
        ({"operations": [{"op": "Replace", "value": {"Members": []}}]}, True),  # Entra's casing
        ({"Operations": [{"op": "replace", "path": "displayName", "value": "x"}]}, False),
        ({"Operations": [{"op": "replace", "value": {"displayName": "x"}}]}, False),
        ({"Operations": "members"}, False),
        (None, False),
        ([], False),
    ],
)
def test_membership_patch(body, expected):
    assert is_membership_patch(body) is expected


def test_annotations_are_per_request_and_ignored_outside_one():
    activity_annotation.annotate(action=Action.LOOKUP)  # no request: nothing to annotate, no error
    annotation = activity_annotation.begin()
    activity_annotation.annotate(action=Action.DEACTIVATE_USER, target_name="jane")
    activity_annotation.end()
    activity_annotation.annotate(action=Action.LIST)

    assert (annotation.action, annotation.target_name) == (Action.DEACTIVATE_USER, "jane")
    with pytest.raises(AttributeError):
        activity_annotation.begin()
        activity_annotation.annotate(password="never")
    activity_annotation.end()
