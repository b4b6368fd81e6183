"""Differential tests of our PATCH engine against scim2-models (a test-only oracle).

The same PatchOp is applied by both to the same resource, and the results must agree, or
both must fail with the same scimType. scim2-models runs under the policy meant for IdP
quirks (Entra's remove-by-value, element creation through an unmatched filter).

Results are compared after what the resource validator does to every PATCH result anyway:
booleans sent as strings become booleans and the manager sent as a bare id becomes
``{"value": id}`` (our engine leaves both to the validator; scim2-models converts booleans
itself). ``id``, ``meta`` and ``schemas`` are not compared: they are the service's.

Where the two disagree, the RFC or what Okta and Entra send decides; each difference is a
test of its own in ``TestDifferences``, with its reason.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError
from scim2_models import Context, EnterpriseUser, Error, Group, PatchOp, SCIMException, ScimPolicy, User

from scim_provisioning.errors import ServiceError
from scim_provisioning.scim.patch import PATCH_OP_SCHEMA, apply_operations, parse_operations
from scim_provisioning.scim.schema import (
    COMMON_ATTRIBUTES,
    GROUP_RESOURCE_TYPE,
    USER_RESOURCE_TYPE,
    Attribute,
    AttributeType,
    Mutability,
    ResourceType,
)
from tests.scim_samples import patchable_barbara

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
RESOURCE_ID = "2819c223-7f76-453a-919d-413861904646"
IDP_POLICY = ScimPolicy(
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
ScimUser = User[EnterpriseUser]
Operations = list[dict[str, Any]]


# --------------------------------------------------------------------------- resources
def kim() -> dict[str, Any]:
    """A user just created by Okta with the minimum profile."""
    return {"userName": "kim@contoso.com", "active": True}


def ravi() -> dict[str, Any]:
    """A user with several values per multi-valued attribute and a primary role."""
    return {
        "userName": "ravi.patel@contoso.com",
        "name": {"givenName": "Ravi", "familyName": "Patel", "middleName": "K"},
        "title": "Staff Engineer",
        "active": True,
        "emails": [
            {"value": "ravi.patel@contoso.com", "type": "work", "primary": True},
            {"value": "ravi@example.org", "type": "home"},
        ],
        "phoneNumbers": [
            {"value": "+44 20 7946 0000", "type": "work"},
            {"value": "+44 7700 900000", "type": "mobile", "primary": True},
        ],
        "addresses": [{"type": "work", "locality": "London", "country": "GB", "primary": True}],
        "roles": [{"value": "member", "primary": True}],
        ENTERPRISE: {"employeeNumber": "4130", "costCenter": "R&D", "manager": {"value": "m-7"}},
    }


USERS: dict[str, Callable[[], dict[str, Any]]] = {"barbara": patchable_barbara, "kim": kim, "ravi": ravi}


def engineering() -> dict[str, Any]:
    return {
        "displayName": "Engineering",
        "members": [{"value": "u-1"}, {"value": "u-2"}, {"value": "u-3", "type": "User"}],
    }


# --------------------------------------------------------------------------- outcomes
@dataclass(frozen=True)
class Outcome:
    """A PATCH result reduced to what is compared: the resource, or the failure's scimType."""

    resource: dict[str, Any] | None = None
    scim_type: str | None = None


def ours(resource: dict[str, Any], operations: Operations, resource_type: ResourceType) -> Outcome:
    try:
        parsed = parse_operations({"schemas": [PATCH_OP_SCHEMA], "Operations": operations}, resource_type)
        return Outcome(comparable(apply_operations(resource, parsed, resource_type), resource_type))
    except ServiceError as error:
        return Outcome(scim_type=error.scim_type)


def oracle(resource: dict[str, Any], operations: Operations, resource_type: ResourceType) -> Outcome:
    model: Any = ScimUser if resource_type is USER_RESOURCE_TYPE else Group
    document = {
        "schemas": [resource_type.schema.id, *(ext.id for ext in resource_type.extensions if ext.id in resource)],
        "id": RESOURCE_ID,
        **copy.deepcopy(resource),
    }
    try:
        scim_resource = model.model_validate(document)
        patch = PatchOp[model].model_validate(
            {"schemas": [PATCH_OP_SCHEMA], "Operations": operations},
            scim_ctx=Context.RESOURCE_PATCH_REQUEST,
            scim_policy=IDP_POLICY,
        )
        patch.patch(scim_resource, scim_policy=IDP_POLICY)
    except ValidationError as error:
        return Outcome(scim_type=Error.from_validation_errors(error)[0].scim_type)
    except SCIMException as error:
        return Outcome(scim_type=error.scim_type)
    return Outcome(comparable(scim_resource.model_dump(), resource_type))


def comparable(resource: dict[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """What the resource validator would make of it, for the attributes a client may write."""
    result: dict[str, Any] = {}
    for schema in (resource_type.schema, *resource_type.extensions):
        is_core = schema is resource_type.schema
        container = resource if is_core else resource.get(schema.id) or {}
        attributes = (*COMMON_ATTRIBUTES, *schema.attributes) if is_core else schema.attributes
        values = {
            attribute.name: _comparable_value(attribute, container[attribute.name])
            for attribute in attributes
            if attribute.mutability is not Mutability.READ_ONLY and container.get(attribute.name) not in (None, [], {})
        }
        if is_core:
            result.update(values)
        elif values:
            result[schema.id] = values
    return result


def _comparable_value(attribute: Attribute, value: Any) -> Any:
    if attribute.multi_valued:
        return [_comparable_complex(attribute, element) for element in value]
    if attribute.is_complex:
        return _comparable_complex(attribute, {"value": value} if isinstance(value, str) else value)
    return _comparable_simple(attribute, value)


def _comparable_complex(attribute: Attribute, value: dict[str, Any]) -> dict[str, Any]:
    return {
        sub.name: _comparable_simple(sub, value[sub.name])
        for sub in attribute.sub_attributes
        if value.get(sub.name) is not None
    }


def _comparable_simple(attribute: Attribute, value: Any) -> Any:
    if attribute.type is AttributeType.BOOLEAN and isinstance(value, str):
        return value.lower() == "true"
    return value


# ------------------------------------------------------------------- agreed sequences
WORK_EMAIL = 'emails[type eq "work"]'
AGREED: dict[str, Operations] = {
    "entra-documented-update": [
        {"op": "Replace", "path": f"{WORK_EMAIL}.value", "value": "new@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Smith"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Sales"},
        {"op": "Replace", "path": "active", "value": "False"},
    ],
    "entra-pathless-add-dotted-and-urn-keys": [
        {"op": "add", "value": {"name.givenName": "Babs", f"{ENTERPRISE}:employeeNumber": "701984"}}
    ],
    "entra-remove-manager": [{"op": "Remove", "path": f"{ENTERPRISE}:manager"}],
    "entra-add-home-email-through-filter": [
        {"op": "Add", "path": 'emails[type eq "home"].value', "value": "babs@example.org"}
    ],
    "entra-work-address-over-four-operations": [
        {"op": "Replace", "path": 'addresses[type eq "work"].streetAddress', "value": "1 Microsoft Way"},
        {"op": "Replace", "path": 'addresses[type eq "work"].locality', "value": "Redmond"},
        {"op": "Replace", "path": 'addresses[type eq "work"].postalCode', "value": "98052"},
        {"op": "Replace", "path": 'addresses[type eq "work"].country', "value": "US"},
    ],
    "entra-formatted-work-address": [
        {"op": "Add", "path": 'addresses[type eq "work"].formatted', "value": "1 Microsoft Way, Redmond"}
    ],
    "entra-mobile-phone": [{"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0199"}],
    "entra-fax-replace": [{"op": "Replace", "path": 'phoneNumbers[type eq "fax"].value', "value": "+1 555 0177"}],
    "entra-primary-role": [{"op": "Add", "path": 'roles[primary eq "True"].value', "value": "admin"}],
    "entra-simple-attributes": [
        {"op": "Add", "path": "externalId", "value": "e-1"},
        {"op": "Add", "path": "title", "value": "CEO"},
        {"op": "Replace", "path": "preferredLanguage", "value": "en-US"},
    ],
    "entra-remove-email-by-value-list": [
        {"op": "Remove", "path": "emails", "value": [{"value": "bjensen@contoso.com"}, {"value": "x@example.org"}]}
    ],
    "okta-deactivate": [{"op": "replace", "value": {"active": False}}],
    "okta-profile-replace-echoing-id": [
        {
            "op": "replace",
            "value": {
                "id": RESOURCE_ID,
                "userName": "renamed@contoso.com",
                "name": {"givenName": "Ren"},
                "emails": [{"value": "renamed@contoso.com", "type": "work", "primary": True}],
            },
        }
    ],
    "okta-password-change": [{"op": "replace", "value": {"password": "t1meMa$heen"}}],
    "add-complex-merges": [{"op": "add", "path": "name", "value": {"honorificPrefix": "Dr."}}],
    "replace-complex-merges": [{"op": "replace", "value": {"name": {"familyName": "Smith", "givenName": None}}}],
    "add-primary-email-demotes-previous": [
        {"op": "add", "path": "emails", "value": {"value": "b@example.org", "type": "other", "primary": True}}
    ],
    "add-existing-email-in-other-case": [
        {"op": "add", "path": "emails", "value": [{"value": "BJENSEN@contoso.com", "type": "work", "primary": True}]}
    ],
    "primary-through-filter": [{"op": "replace", "path": 'emails[type eq "home"].primary', "value": True}],
    "replace-value-of-primary-email": [
        {"op": "replace", "path": "emails[primary eq true].value", "value": "main@contoso.com"}
    ],
    "add-display-through-and-filter": [
        {"op": "add", "path": 'emails[type eq "work" and primary eq true].display', "value": "Work"}
    ],
    "replace-type-of-every-email": [{"op": "replace", "path": "emails.type", "value": "other"}],
    "replace-whole-addresses": [
        {"op": "replace", "path": "addresses", "value": [{"type": "home", "locality": "Paris", "primary": True}]}
    ],
    "remove-emails": [{"op": "remove", "path": "emails"}],
    "remove-home-emails": [{"op": "remove", "path": 'emails[type eq "home"]'}],
    "remove-primary-flag-of-work-email": [{"op": "remove", "path": f"{WORK_EMAIL}.primary"}],
    "remove-email-case-insensitively": [{"op": "remove", "path": 'emails[value eq "BJENSEN@contoso.com"]'}],
    "remove-given-name": [{"op": "remove", "path": "name.givenName"}],
    "remove-absent-and-unmatched": [
        {"op": "remove", "path": "nickName"},
        {"op": "remove", "path": 'emails[type eq "pager"]'},
        {"op": "remove", "path": "name.honorificSuffix"},
    ],
    "null-unassigns": [{"op": "replace", "value": {"displayName": None, "title": None}}],
    "pathless-extension-object": [
        {"op": "add", "value": {ENTERPRISE: {"division": "EMEA", "manager": {"value": "m-9"}}}}
    ],
    "core-urn-qualified-path": [
        {"op": "add", "path": "urn:ietf:params:scim:schemas:core:2.0:User:nickName", "value": "Babs"}
    ],
    "add-phone-numbers-against-existing": [
        {
            "op": "add",
            "path": "phoneNumbers",
            "value": [{"value": "+1 555 0100", "type": "work"}, {"value": "+1 555 0142"}],
        }
    ],
    "error-remove-required-user-name": [{"op": "remove", "path": "userName"}],
    "error-replace-read-only-id": [{"op": "replace", "path": "id", "value": "other"}],
    "error-add-read-only-groups": [{"op": "add", "path": "groups", "value": [{"value": "g-1"}]}],
    "error-replace-meta-created": [{"op": "replace", "path": "meta.created", "value": "2020-01-01T00:00:00Z"}],
    "error-remove-without-path": [{"op": "remove"}],
    "error-add-without-value": [{"op": "add", "path": "title"}],
    "error-unknown-attribute-in-path": [{"op": "replace", "path": "shoeSize", "value": 44}],
    "error-two-primaries-at-once": [
        {
            "op": "replace",
            "path": "emails",
            "value": [{"value": "a@example.org", "primary": True}, {"value": "b@example.org", "primary": True}],
        }
    ],
    "error-unmatched-filter-describing-no-element": [
        {"op": "add", "path": 'emails[type eq "home" or type eq "other"].value', "value": "x@example.org"}
    ],
    "error-created-element-contradicting-filter": [
        {"op": "replace", "path": 'emails[type eq "pager"]', "value": {"type": "other", "value": "x@example.org"}}
    ],
    "error-is-atomic-after-valid-operation": [
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "remove", "path": "userName"},
    ],
}


@pytest.mark.parametrize("user", USERS)
@pytest.mark.parametrize("sequence", AGREED)
def test_user_patch_agrees_with_scim2_models(sequence: str, user: str) -> None:
    # given a stored user and a PatchOp, when both engines apply it, then they agree
    operations = AGREED[sequence]
    expected = oracle(USERS[user](), operations, USER_RESOURCE_TYPE)
    assert ours(USERS[user](), operations, USER_RESOURCE_TYPE) == expected


def test_agreed_sequences_cover_changes_and_failures() -> None:
    # guard: the differential test must exercise real changes and real failures
    outcomes = [oracle(patchable_barbara(), operations, USER_RESOURCE_TYPE) for operations in AGREED.values()]
    changed = [
        outcome
        for outcome in outcomes
        if outcome.resource not in (None, comparable(patchable_barbara(), USER_RESOURCE_TYPE))
    ]
    failed = {outcome.scim_type for outcome in outcomes if outcome.scim_type is not None}
    assert len(changed) >= 25
    assert failed == {"mutability", "noTarget", "invalidValue", "invalidPath"}


GROUP_AGREED: dict[str, Operations] = {
    "entra-remove-members-by-value": [
        {"op": "Remove", "path": "members", "value": [{"value": "u-1"}, {"value": "u-404"}]}
    ],
    "entra-add-members": [{"op": "Add", "path": "members", "value": [{"value": "u-1"}, {"value": "u-4"}]}],
    "okta-remove-member-through-filter": [{"op": "remove", "path": 'members[value eq "u-2"]'}],
    "okta-rename-echoing-id": [{"op": "replace", "value": {"id": RESOURCE_ID, "displayName": "Platform"}}],
    "error-immutable-member-type": [{"op": "replace", "path": 'members[value eq "u-3"].type', "value": "Group"}],
    "set-unassigned-immutable-member-type": [{"op": "add", "path": 'members[value eq "u-1"].type', "value": "User"}],
}


@pytest.mark.parametrize("sequence", GROUP_AGREED)
def test_group_patch_agrees_with_scim2_models(sequence: str) -> None:
    operations = GROUP_AGREED[sequence]
    expected = oracle(engineering(), operations, GROUP_RESOURCE_TYPE)
    assert ours(engineering(), operations, GROUP_RESOURCE_TYPE) == expected


# ------------------------------------------------------------------------ differences
def outcomes(
    operations: Operations, resource: dict[str, Any] | None = None, resource_type: ResourceType = USER_RESOURCE_TYPE
) -> tuple[Outcome, Outcome]:
    """(oracle, ours) for the same operations on the same resource."""
    resource = patchable_barbara() if resource is None else resource
    return oracle(resource, operations, resource_type), ours(resource, operations, resource_type)


def with_changes(resource: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    return comparable(resource | attributes, USER_RESOURCE_TYPE)


class TestDifferences:
    def test_replace_through_filter_replaces_the_whole_element(self) -> None:
        """RFC 7644 §3.5.2.3: "all matching record values SHALL be replaced". scim2-models
        merges the given sub-attributes into the element instead, as for a complex
        attribute; we replace, so a client can drop a sub-attribute (``add`` merges)."""
        operations = [{"op": "replace", "path": WORK_EMAIL, "value": {"value": "b@contoso.com", "type": "work"}}]
        theirs, ours_ = outcomes(operations)
        assert theirs.resource is not None and theirs.resource["emails"] == [
            {"value": "b@contoso.com", "type": "work", "primary": True}
        ]
        assert ours_.resource is not None and ours_.resource["emails"] == [{"value": "b@contoso.com", "type": "work"}]

    @pytest.mark.parametrize(
        "value",
        [{"id": "another-id", "title": "CEO"}, {"groups": [{"value": "g-1"}], "title": "CEO"}],
        ids=["different-id", "groups"],
    )
    def test_read_only_attributes_in_pathless_value_are_ignored(self, value: dict[str, Any]) -> None:
        """Okta echoes ``id`` in path-less replaces; read-only attributes are the service's,
        so ignoring them loses nothing. scim2-models refuses them when they differ."""
        theirs, ours_ = outcomes([{"op": "replace", "value": value}])
        assert theirs.scim_type == "mutability"
        assert ours_.resource == with_changes(patchable_barbara(), title="CEO")

    def test_read_only_sub_attribute_in_value_is_dropped(self) -> None:
        """``manager.displayName`` is computed by the service; a client sending it (read back
        from a GET) is not refused. scim2-models refuses it."""
        manager = {"value": "m-9", "displayName": "Boss"}
        theirs, ours_ = outcomes([{"op": "add", "path": f"{ENTERPRISE}:manager", "value": manager}])
        assert theirs.scim_type == "mutability"
        assert ours_.resource is not None
        assert ours_.resource[ENTERPRISE]["manager"] == {"value": "m-9"}

    def test_manager_as_bare_id_is_accepted(self) -> None:
        """Entra sends the manager as the id string; the validator reads it as
        ``{"value": id}``. scim2-models refuses the string."""
        theirs, ours_ = outcomes([{"op": "Add", "value": {f"{ENTERPRISE}:manager": "m-42"}}])
        assert theirs.scim_type == "invalidValue"
        assert ours_.resource is not None
        assert ours_.resource[ENTERPRISE]["manager"] == {"value": "m-42"}

    def test_manager_value_may_be_removed(self) -> None:
        """RFC 7643 §8.7.1 declares ``manager.value`` with ``"required": false``; removing it
        leaves no manager. scim2-models declares it required and refuses."""
        theirs, ours_ = outcomes([{"op": "remove", "path": f"{ENTERPRISE}:manager.value"}])
        assert theirs.scim_type == "mutability"
        assert ours_.resource is not None
        assert ours_.resource[ENTERPRISE] == {"department": "Marketing"}

    def test_remove_value_on_single_valued_path_is_ignored(self) -> None:
        """RFC 7644 §3.5.2.2 reads the target of a remove from its path; a value Entra adds to
        a manager removal does not make it fail. scim2-models refuses (invalidFilter)."""
        operations = [{"op": "Remove", "path": f"{ENTERPRISE}:manager", "value": [{"value": "m-26"}]}]
        theirs, ours_ = outcomes(operations)
        assert theirs.scim_type == "invalidFilter"
        assert ours_.resource is not None
        assert ours_.resource[ENTERPRISE] == {"department": "Marketing"}

    def test_null_through_unmatched_filter_creates_nothing(self) -> None:
        """A null writes nothing; scim2-models still creates the element the filter describes,
        which leaves a value-less ``{"type": "home"}`` email behind."""
        theirs, ours_ = outcomes([{"op": "replace", "path": 'emails[type eq "home"].value', "value": None}])
        assert theirs.resource is not None and {"type": "home"} in theirs.resource["emails"]
        assert ours_.resource == comparable(patchable_barbara(), USER_RESOURCE_TYPE)

    def test_duplicates_within_one_add_are_added_once(self) -> None:
        """RFC 7644 §3.5.2.1: a value the attribute already contains is not added again, and
        after the first copy it does. scim2-models only compares with the values before."""
        fax = {"value": "+1 555 0177", "type": "fax"}
        theirs, ours_ = outcomes([{"op": "add", "path": "phoneNumbers", "value": [fax, fax]}])
        assert theirs.resource is not None and theirs.resource["phoneNumbers"].count(fax) == 2
        assert ours_.resource is not None and ours_.resource["phoneNumbers"].count(fax) == 1

    def test_member_display_is_kept_as_sent_by_both(self) -> None:
        """``members.display`` as Okta sends it (the user's login) is kept, by both engines:
        the service stores it with the membership and returns it as sent (issue 9.3)."""
        operations = [{"op": "add", "path": "members", "value": [{"value": "u-9", "display": "Ann"}]}]
        theirs, ours_ = outcomes(operations, engineering(), GROUP_RESOURCE_TYPE)
        assert theirs.resource is not None and {"value": "u-9", "display": "Ann"} in theirs.resource["members"]
        assert ours_.resource is not None and {"value": "u-9", "display": "Ann"} in ours_.resource["members"]

    @pytest.mark.parametrize(
        ("operations", "their_type", "our_type"),
        [
            ([{"op": "move", "path": "title", "value": "X"}], "invalidValue", "invalidSyntax"),
            ([], "invalidValue", "invalidSyntax"),
            ([{"op": "add", "value": {"shoeSize": 44}}], "invalidValue", "invalidPath"),
        ],
        ids=["unknown-op", "no-operations", "unknown-key-in-pathless-value"],
    )
    def test_scim_type_of_malformed_messages(self, operations: Operations, their_type: str, our_type: str) -> None:
        """An unknown op or an empty Operations array breaks the message structure:
        invalidSyntax (RFC 7644 §3.12). An unknown key in a path-less value is the path it
        stands for, hence invalidPath, as the same name in ``path`` is for both engines."""
        theirs, ours_ = outcomes(operations)
        assert (theirs.scim_type, ours_.scim_type) == (their_type, our_type)
