"""SCIM PATCH (RFC 7644 §3.5.2) with the payloads Okta and Microsoft Entra ID really send."""

from __future__ import annotations

from typing import Any

import pytest

from scim_provisioning.errors import (
    InvalidPath,
    InvalidRequest,
    InvalidSyntax,
    MutabilityViolation,
    NoTarget,
    ServiceError,
    TooMany,
)
from scim_provisioning.scim.patch import (
    MAX_OPERATIONS,
    PATCH_OP_SCHEMA,
    PatchOperation,
    apply_operations,
    parse_operations,
)
from scim_provisioning.scim.schema import GROUP_RESOURCE_TYPE, USER_RESOURCE_TYPE, ResourceType
from tests.scim_samples import patchable_barbara

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def message(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": list(operations)}


def patch(
    resource: dict[str, Any], *operations: dict[str, Any], resource_type: ResourceType = USER_RESOURCE_TYPE
) -> dict[str, Any]:
    parsed = parse_operations(message(*operations), resource_type)
    return apply_operations(resource, parsed, resource_type)


def parse(*operations: dict[str, Any]) -> list[PatchOperation]:
    return parse_operations(message(*operations), USER_RESOURCE_TYPE)


def engineering() -> dict[str, Any]:
    return {
        "displayName": "Engineering",
        "members": [{"value": "u-1"}, {"value": "u-2"}, {"value": "u-3", "type": "User"}],
    }


# ------------------------------------------------------------------- message validation
class TestMessage:
    def test_entra_message_with_capitalized_ops_is_parsed_with_lowercase_ops(self) -> None:
        # given Entra's PatchOp with "Replace"/"Add"
        body = message(
            {"op": "Replace", "path": "displayName", "value": "B"},
            {"op": "Add", "path": "title", "value": "CEO"},
            {"op": "Remove", "path": "nickName"},
        )
        # when parsed
        operations = parse_operations(body, USER_RESOURCE_TYPE)
        # then op names are the canonical lowercase ones
        assert [operation.op for operation in operations] == ["replace", "add", "remove"]
        assert [operation.attribute.name for operation in operations] == ["displayName", "title", "nickName"]

    def test_member_names_are_case_insensitive(self) -> None:
        # given lowercase "operations" and capitalized member names
        body = {"schemas": [PATCH_OP_SCHEMA], "operations": [{"OP": "replace", "Path": "title", "VALUE": "X"}]}
        # when parsed, then accepted
        (operation,) = parse_operations(body, USER_RESOURCE_TYPE)
        assert (operation.op, operation.attribute.name, operation.value) == ("replace", "title", "X")

    def test_absent_schemas_is_tolerated(self) -> None:
        (operation,) = parse_operations(
            {"Operations": [{"op": "replace", "path": "title", "value": "X"}]}, USER_RESOURCE_TYPE
        )
        assert operation.value == "X"

    def test_schema_urn_is_compared_case_insensitively(self) -> None:
        body = {"schemas": [PATCH_OP_SCHEMA.upper()], "Operations": [{"op": "add", "path": "title", "value": "X"}]}
        assert len(parse_operations(body, USER_RESOURCE_TYPE)) == 1

    @pytest.mark.parametrize(
        "schemas",
        [["urn:ietf:params:scim:schemas:core:2.0:User"], [], PATCH_OP_SCHEMA, None],
        ids=["other-urn", "empty", "string", "null"],
    )
    def test_schemas_not_listing_patchop_is_invalid_syntax(self, schemas: Any) -> None:
        body = {"schemas": schemas, "Operations": [{"op": "add", "path": "title", "value": "X"}]}
        with pytest.raises(InvalidSyntax):
            parse_operations(body, USER_RESOURCE_TYPE)

    @pytest.mark.parametrize(
        "body",
        [[], "patch", {"schemas": [PATCH_OP_SCHEMA]}, message(), {"schemas": [PATCH_OP_SCHEMA], "Operations": {}}],
        ids=["array-body", "string-body", "no-operations", "empty-operations", "operations-object"],
    )
    def test_malformed_message_is_invalid_syntax(self, body: Any) -> None:
        with pytest.raises(InvalidSyntax) as raised:
            parse_operations(body, USER_RESOURCE_TYPE)
        assert raised.value.scim_type == "invalidSyntax"

    def test_at_most_max_operations_are_accepted(self) -> None:
        # given exactly the limit, then accepted; one more, then refused as tooMany naming it
        operation = {"op": "replace", "path": "title", "value": "X"}
        assert len(parse_operations(message(*[operation] * MAX_OPERATIONS), USER_RESOURCE_TYPE)) == MAX_OPERATIONS
        with pytest.raises(TooMany, match=f"{MAX_OPERATIONS:,}"):
            parse_operations(message(*[operation] * (MAX_OPERATIONS + 1)), USER_RESOURCE_TYPE)

    @pytest.mark.parametrize(
        "operation",
        [
            {"op": "move", "path": "title", "value": "X"},
            {"op": "copy", "from": "title", "path": "nickName"},
            {"path": "title", "value": "X"},
            {"op": 1, "path": "title", "value": "X"},
            "replace title",
            {"op": "replace", "path": 42, "value": "X"},
        ],
        ids=["move", "json-patch-copy", "no-op", "op-not-string", "operation-not-object", "path-not-string"],
    )
    def test_malformed_operation_is_invalid_syntax(self, operation: Any) -> None:
        with pytest.raises(InvalidSyntax, match=r"Operations\[0\]"):
            parse_operations(message(operation), USER_RESOURCE_TYPE)

    @pytest.mark.parametrize(
        "operation",
        [
            {"op": "add", "path": "title"},
            {"op": "replace", "path": "title"},
            {"op": "add", "path": "title", "value": None},
            {"op": "add", "value": "Barbara"},
            {"op": "replace", "value": ["title"]},
            {"op": "replace"},
        ],
        ids=["add-no-value", "replace-no-value", "add-null", "pathless-string", "pathless-array", "pathless-none"],
    )
    def test_missing_or_ill_shaped_value_is_invalid_value(self, operation: dict[str, Any]) -> None:
        with pytest.raises(InvalidRequest) as raised:
            parse(operation)
        assert raised.value.scim_type == "invalidValue"

    def test_remove_without_path_is_no_target(self) -> None:
        # RFC 7644 §3.5.2.2: "If 'path' is unspecified, the operation fails ... noTarget"
        with pytest.raises(NoTarget) as raised:
            parse({"op": "remove", "value": {"title": "X"}})
        assert raised.value.scim_type == "noTarget"

    @pytest.mark.parametrize(
        "path",
        ["nickname.first", "shoeSize", "urn:example:custom:2.0:User:badge", 'emails[type eq "work"].label', ""],
    )
    def test_unknown_attribute_in_path_is_invalid_path(self, path: str) -> None:
        with pytest.raises(InvalidPath):
            parse({"op": "replace", "path": path, "value": "X"})

    @pytest.mark.parametrize(
        "value",
        [
            {"shoeSize": 44},
            {"name": {"givenName": "B", "nickname": "Babs"}},
            {"emails": [{"value": "b@contoso.com", "label": "work"}]},
            {"urn:example:custom:2.0:User": {"badge": "7"}},
            {ENTERPRISE: {"shoeSize": 44}},
        ],
        ids=["attribute", "sub-attribute", "element-sub-attribute", "unknown-schema", "unknown-extension-attribute"],
    )
    def test_unknown_key_in_value_is_invalid_path(self, value: dict[str, Any]) -> None:
        # given a name the schema does not define, then refused as it would be in a path
        with pytest.raises(InvalidPath):
            parse({"op": "add", "value": value})

    @pytest.mark.parametrize(
        "path",
        ["id", "meta", "meta.created", "groups", 'groups[value eq "g-1"]', f"{ENTERPRISE}:manager.displayName"],
    )
    @pytest.mark.parametrize("op", ["add", "replace", "remove"])
    def test_path_to_read_only_attribute_is_mutability_error(self, op: str, path: str) -> None:
        with pytest.raises(MutabilityViolation) as raised:
            parse({"op": op, "path": path, "value": "X"})
        assert raised.value.scim_type == "mutability"

    @pytest.mark.parametrize(
        "operation",
        [
            {"op": "remove", "path": "userName"},
            {"op": "replace", "path": "userName", "value": None},
            {"op": "replace", "value": {"userName": None}},
        ],
        ids=["remove", "replace-null", "pathless-null"],
    )
    def test_unassigning_required_attribute_is_mutability_error(self, operation: dict[str, Any]) -> None:
        # RFC 7644 §3.5.2.2: a required attribute that would become unassigned → mutability
        with pytest.raises(MutabilityViolation):
            parse(operation)

    def test_pathless_value_is_expanded_into_one_operation_per_attribute(self) -> None:
        # given Entra's path-less add with a dotted name and a URN-qualified name
        operations = parse(
            {
                "op": "add",
                "value": {"name.givenName": "Barbara", f"{ENTERPRISE}:employeeNumber": "701984"},
            }
        )
        # then each key became an operation with a resolved path
        assert [(str(operation.path.path), operation.value) for operation in operations] == [
            ("name.givenName", "Barbara"),
            (f"{ENTERPRISE}:employeeNumber", "701984"),
        ]

    def test_okta_group_replace_echoing_id_expands_to_display_name_only(self) -> None:
        # given Okta's group rename, which echoes the read-only id
        body = message({"op": "replace", "value": {"id": "abf4dd94", "displayName": "Test SCIMv2"}})
        # when parsed for groups
        operations = parse_operations(body, GROUP_RESOURCE_TYPE)
        # then id is ignored, displayName is kept
        assert [(operation.attribute.name, operation.value) for operation in operations] == [
            ("displayName", "Test SCIMv2")
        ]

    def test_pathless_members_can_be_told_apart_from_other_attributes(self) -> None:
        # given a path-less add naming members and displayName (the Groups service intercepts members)
        body = message({"op": "add", "value": {"members": [{"value": "u-9"}], "displayName": "Ops"}})
        # when parsed
        operations = parse_operations(body, GROUP_RESOURCE_TYPE)
        # then members is an operation of its own
        assert [operation.attribute.name for operation in operations] == ["members", "displayName"]
        assert operations[0].value == [{"value": "u-9"}]

    def test_schemas_and_read_only_keys_of_pathless_value_are_ignored(self) -> None:
        operations = parse(
            {
                "op": "replace",
                "value": {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "id": "2819c223",
                    "meta": {"resourceType": "User"},
                    "groups": [{"value": "g-1"}],
                    f"{ENTERPRISE}:manager.displayName": "Boss",
                    "title": "CEO",
                },
            }
        )
        assert [operation.attribute.name for operation in operations] == ["title"]

    def test_a_member_display_inside_a_value_is_kept(self) -> None:
        # given Okta-style members carrying their display (the user's login), then it is kept
        body = message({"op": "add", "path": "members", "value": [{"value": "u-9", "display": "Ann"}]})
        (operation,) = parse_operations(body, GROUP_RESOURCE_TYPE)
        assert operation.value == [{"value": "u-9", "display": "Ann"}]

    def test_remove_value_on_single_valued_path_is_ignored(self) -> None:
        # given a remove of the manager that also carries a value, then the path alone selects
        (operation,) = parse({"op": "Remove", "path": f"{ENTERPRISE}:manager", "value": [{"value": "m-26"}]})
        assert operation.value is None

    @pytest.mark.parametrize("value", [[{}], ["u-1"], {}], ids=["empty-object", "string", "single-empty-object"])
    def test_remove_selectors_must_be_objects_naming_sub_attributes(self, value: Any) -> None:
        with pytest.raises(InvalidRequest):
            parse_operations(message({"op": "remove", "path": "members", "value": value}), GROUP_RESOURCE_TYPE)


# ------------------------------------------------------------------------- Entra ID
class TestEntra:
    def test_documented_update_message(self) -> None:
        # given the user-update PatchOp from Entra's SCIM documentation
        operations = (
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"},
            {"op": "Replace", "path": "name.familyName", "value": "Smith"},
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Sales"},
            {"op": "Replace", "path": "active", "value": "False"},
        )
        # when applied
        result = patch(patchable_barbara(), *operations)
        # then each operation took effect, and "False" is kept for the validator to convert
        expected = patchable_barbara()
        expected["emails"][0]["value"] = "new@contoso.com"
        expected["name"]["familyName"] = "Smith"
        expected[ENTERPRISE]["department"] = "Sales"
        expected["active"] = "False"
        assert result == expected

    def test_pathless_add_with_dotted_and_urn_keys(self) -> None:
        result = patch(
            patchable_barbara(),
            {"op": "add", "value": {"name.givenName": "Babs", f"{ENTERPRISE}:employeeNumber": "701984"}},
        )
        assert result["name"] == {"givenName": "Babs", "familyName": "Jensen"}
        assert result[ENTERPRISE]["employeeNumber"] == "701984"

    def test_pathless_add_of_manager_as_bare_id_is_kept_for_the_validator(self) -> None:
        result = patch(patchable_barbara(), {"op": "Add", "value": {f"{ENTERPRISE}:manager": "m-42"}})
        assert result[ENTERPRISE]["manager"] == "m-42"

    def test_removing_sub_attribute_of_manager_sent_as_bare_id_keeps_it(self) -> None:
        # given the manager set as a bare id earlier in the same request, a scalar has no $ref
        result = patch(
            patchable_barbara(),
            {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": "m-42"},
            {"op": "Remove", "path": f"{ENTERPRISE}:manager.$ref"},
        )
        assert result[ENTERPRISE]["manager"] == "m-42"

    def test_remove_manager(self) -> None:
        result = patch(patchable_barbara(), {"op": "Remove", "path": f"{ENTERPRISE}:manager"})
        assert result[ENTERPRISE] == {"department": "Marketing"}

    def test_removing_last_extension_attribute_removes_the_extension(self) -> None:
        result = patch(
            patchable_barbara(),
            {"op": "Remove", "path": f"{ENTERPRISE}:manager"},
            {"op": "Remove", "path": f"{ENTERPRISE}:department"},
        )
        assert ENTERPRISE not in result

    def test_add_work_email_value_when_user_has_no_work_email_creates_the_element(self) -> None:
        # given a user with only a home email
        user = patchable_barbara()
        user["emails"] = [{"value": "babs@example.org", "type": "home"}]
        # when Entra adds the work email through a filter that matches nothing
        result = patch(user, {"op": "Add", "path": 'emails[type eq "work"].value', "value": "b@contoso.com"})
        # then the element the filter describes is created
        assert result["emails"] == [
            {"value": "babs@example.org", "type": "home"},
            {"type": "work", "value": "b@contoso.com"},
        ]

    def test_replace_with_unmatched_filter_creates_the_element_too(self) -> None:
        user = patchable_barbara()
        del user["emails"]
        result = patch(user, {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "b@contoso.com"})
        assert result["emails"] == [{"type": "work", "value": "b@contoso.com"}]

    def test_add_work_email_value_when_work_email_exists_sets_it(self) -> None:
        result = patch(
            patchable_barbara(), {"op": "Add", "path": 'emails[type eq "work"].value', "value": "b@contoso.com"}
        )
        assert result["emails"] == [{"value": "b@contoso.com", "type": "work", "primary": True}]

    def test_work_address_formatted(self) -> None:
        # given a user without addresses, when Entra adds the formatted work address twice
        first = patch(
            patchable_barbara(), {"op": "Add", "path": 'addresses[type eq "work"].formatted', "value": "1 Main St"}
        )
        second = patch(first, {"op": "Replace", "path": 'addresses[type eq "work"].formatted', "value": "2 Main St"})
        # then the first creates the element and the second updates it
        assert first["addresses"] == [{"type": "work", "formatted": "1 Main St"}]
        assert second["addresses"] == [{"type": "work", "formatted": "2 Main St"}]

    def test_mobile_phone_number_is_added_next_to_work_number(self) -> None:
        result = patch(
            patchable_barbara(), {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0199"}
        )
        assert result["phoneNumbers"] == [
            {"value": "+1 555 0100", "type": "work"},
            {"type": "mobile", "value": "+1 555 0199"},
        ]

    def test_primary_role_value_with_string_true_filter(self) -> None:
        # given a user without roles, Entra's app-role mapping targets the primary role
        created = patch(patchable_barbara(), {"op": "Add", "path": 'roles[primary eq "True"].value', "value": "member"})
        # then the role element is created with the filter's (string) primary, converted later
        assert created["roles"] == [{"primary": "True", "value": "member"}]
        # and when the role changes, the existing primary role is found and updated
        updated = patch(created, {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "admin"})
        assert updated["roles"] == [{"primary": "True", "value": "admin"}]

    def test_primary_role_filter_matches_stored_boolean(self) -> None:
        user = patchable_barbara() | {"roles": [{"value": "member", "primary": True}]}
        result = patch(user, {"op": "Replace", "path": 'roles[primary eq "True"].value', "value": "admin"})
        assert result["roles"] == [{"value": "admin", "primary": True}]

    def test_group_members_removed_by_value_list(self) -> None:
        # given Entra's removal of two members, one of which is not a member
        result = patch(
            engineering(),
            {"op": "Remove", "path": "members", "value": [{"value": "u-1"}, {"value": "u-404"}]},
            resource_type=GROUP_RESOURCE_TYPE,
        )
        # then only the listed members that exist are removed
        assert result["members"] == [{"value": "u-2"}, {"value": "u-3", "type": "User"}]

    def test_group_members_added_without_duplicates(self) -> None:
        result = patch(
            engineering(),
            {"op": "Add", "path": "members", "value": [{"value": "u-1"}, {"value": "u-4"}]},
            resource_type=GROUP_RESOURCE_TYPE,
        )
        assert result["members"] == [*engineering()["members"], {"value": "u-4"}]

    def test_group_rename(self) -> None:
        result = patch(
            engineering(),
            {"op": "Replace", "path": "displayName", "value": "Platform"},
            resource_type=GROUP_RESOURCE_TYPE,
        )
        assert result["displayName"] == "Platform"


# ----------------------------------------------------------------------------- Okta
class TestOkta:
    def test_deactivate_user(self) -> None:
        result = patch(patchable_barbara(), {"op": "replace", "value": {"active": False}})
        assert result == patchable_barbara() | {"active": False}

    def test_pathless_replace_of_profile(self) -> None:
        # given Okta's path-less replace of a profile change
        result = patch(
            patchable_barbara(),
            {
                "op": "replace",
                "value": {
                    "id": "2819c223",
                    "userName": "barbara.jensen@contoso.com",
                    "name": {"givenName": "Barb"},
                    "emails": [{"value": "barbara.jensen@contoso.com", "type": "work", "primary": True}],
                },
            },
        )
        # then the complex name is merged and the multi-valued emails replaced
        assert result["userName"] == "barbara.jensen@contoso.com"
        assert result["name"] == {"givenName": "Barb", "familyName": "Jensen"}
        assert result["emails"] == [{"value": "barbara.jensen@contoso.com", "type": "work", "primary": True}]
        assert "id" not in result

    def test_remove_member_through_filter(self) -> None:
        result = patch(
            engineering(),
            {"op": "remove", "path": 'members[value eq "u-2"]'},
            resource_type=GROUP_RESOURCE_TYPE,
        )
        assert [member["value"] for member in result["members"]] == ["u-1", "u-3"]

    def test_password_change_is_applied_for_the_caller_to_handle(self) -> None:
        # writeOnly may be set; the users service decides not to store it
        result = patch(patchable_barbara(), {"op": "replace", "value": {"password": "t1meMa$heen"}})
        assert result["password"] == "t1meMa$heen"


# ------------------------------------------------------------------ RFC 7644 semantics
class TestAdd:
    def test_add_to_multi_valued_attribute_appends_single_element(self) -> None:
        result = patch(
            patchable_barbara(), {"op": "add", "path": "emails", "value": {"value": "b@example.org", "type": "home"}}
        )
        assert result["emails"][-1] == {"value": "b@example.org", "type": "home"}
        assert len(result["emails"]) == 2

    def test_add_of_identical_element_changes_nothing(self) -> None:
        # given the same email, differing only in case of a case-insensitive value
        element = {"value": "BJensen@Contoso.com", "type": "work", "primary": True}
        result = patch(patchable_barbara(), {"op": "add", "path": "emails", "value": [element]})
        assert result == patchable_barbara()

    def test_add_to_complex_attribute_merges_sub_attributes(self) -> None:
        result = patch(patchable_barbara(), {"op": "add", "path": "name", "value": {"middleName": "Jane"}})
        assert result["name"] == {"givenName": "Barbara", "familyName": "Jensen", "middleName": "Jane"}

    def test_add_to_sub_attribute_creates_complex_attribute(self) -> None:
        user = patchable_barbara()
        del user["name"]
        result = patch(user, {"op": "add", "path": "name.honorificPrefix", "value": "Ms."})
        assert result["name"] == {"honorificPrefix": "Ms."}

    def test_add_to_simple_attribute_replaces(self) -> None:
        result = patch(patchable_barbara(), {"op": "add", "path": "displayName", "value": "Babs"})
        assert result["displayName"] == "Babs"

    def test_add_to_extension_attribute_creates_extension(self) -> None:
        user = patchable_barbara()
        del user[ENTERPRISE]
        result = patch(user, {"op": "add", "path": f"{ENTERPRISE}:costCenter", "value": "4130"})
        assert result[ENTERPRISE] == {"costCenter": "4130"}

    def test_pathless_add_with_extension_object(self) -> None:
        result = patch(
            patchable_barbara(), {"op": "add", "value": {ENTERPRISE: {"division": "EMEA", "manager": {"value": "m-9"}}}}
        )
        assert result[ENTERPRISE] == {"department": "Marketing", "division": "EMEA", "manager": {"value": "m-9"}}

    def test_path_naming_the_extension_urn_adds_its_attributes(self) -> None:
        # scim2-tester's shape: the extension URN alone as path, its object (with its own
        # "schemas", as a SCIM library serializes it) as value
        result = patch(
            patchable_barbara(),
            {"op": "add", "path": ENTERPRISE, "value": {"schemas": [ENTERPRISE], "division": "EMEA"}},
        )
        assert result[ENTERPRISE] == {**patchable_barbara()[ENTERPRISE], "division": "EMEA"}

    def test_replace_on_the_extension_urn_leaves_unnamed_attributes_unchanged(self) -> None:
        result = patch(
            patchable_barbara(), {"op": "replace", "path": ENTERPRISE.upper(), "value": {"costCenter": "4130"}}
        )
        assert result[ENTERPRISE] == {**patchable_barbara()[ENTERPRISE], "costCenter": "4130"}

    def test_remove_on_the_extension_urn_removes_the_extension(self) -> None:
        result = patch(patchable_barbara(), {"op": "remove", "path": ENTERPRISE})
        assert ENTERPRISE not in result
        assert result["userName"] == patchable_barbara()["userName"]

    def test_extension_urn_path_with_a_non_object_value_is_invalid_value(self) -> None:
        with pytest.raises(InvalidRequest):
            parse({"op": "replace", "path": ENTERPRISE, "value": "Marketing"})

    def test_add_through_filter_without_sub_attribute_merges_into_matched_elements(self) -> None:
        result = patch(
            patchable_barbara(), {"op": "add", "path": 'emails[type eq "work"]', "value": {"display": "Work"}}
        )
        assert result["emails"] == [
            {"value": "bjensen@contoso.com", "type": "work", "primary": True, "display": "Work"}
        ]

    def test_unmatched_filter_that_describes_no_element_is_no_target(self) -> None:
        # given a filter that does not say what the element would be
        with pytest.raises(NoTarget):
            patch(
                patchable_barbara(),
                {"op": "add", "path": 'emails[type eq "home" or type eq "other"].value', "value": "x"},
            )

    def test_created_element_contradicting_its_filter_is_invalid_value(self) -> None:
        with pytest.raises(InvalidRequest) as raised:
            patch(patchable_barbara(), {"op": "replace", "path": 'emails[type eq "home"]', "value": {"type": "other"}})
        assert raised.value.scim_type == "invalidValue"

    def test_non_object_element_is_invalid_value(self) -> None:
        with pytest.raises(InvalidRequest):
            parse({"op": "add", "path": "emails", "value": ["b@example.org"]})


class TestReplace:
    def test_replace_multi_valued_attribute_replaces_all_values(self) -> None:
        phones = [{"value": "+33 1 00 00 00 00", "type": "mobile"}]
        result = patch(patchable_barbara(), {"op": "replace", "path": "phoneNumbers", "value": phones})
        assert result["phoneNumbers"] == phones

    def test_replace_complex_attribute_leaves_unspecified_sub_attributes(self) -> None:
        # RFC 7644 §3.5.2.3: "Sub-attributes that are not specified ... are left unchanged"
        result = patch(patchable_barbara(), {"op": "replace", "path": "name", "value": {"familyName": "Smith"}})
        assert result["name"] == {"givenName": "Barbara", "familyName": "Smith"}

    def test_replace_through_filter_replaces_whole_matching_elements(self) -> None:
        # RFC 7644 §3.5.2.3: "all matching record values SHALL be replaced"
        result = patch(
            patchable_barbara(),
            {"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": "b@c.com", "type": "work"}},
        )
        assert result["emails"] == [{"value": "b@c.com", "type": "work"}]

    def test_replace_sub_attribute_of_every_element_without_filter(self) -> None:
        user = patchable_barbara()
        user["emails"].append({"value": "b@example.org"})
        result = patch(user, {"op": "replace", "path": "emails.type", "value": "other"})
        assert [email["type"] for email in result["emails"]] == ["other", "other"]

    def test_null_value_unassigns(self) -> None:
        result = patch(
            patchable_barbara(), {"op": "replace", "value": {"displayName": None, "name": {"givenName": None}}}
        )
        assert "displayName" not in result
        assert result["name"] == {"familyName": "Jensen"}

    def test_empty_list_unassigns_multi_valued_attribute(self) -> None:
        result = patch(patchable_barbara(), {"op": "replace", "path": "phoneNumbers", "value": []})
        assert "phoneNumbers" not in result

    def test_replace_with_null_on_unmatched_filter_changes_nothing(self) -> None:
        result = patch(patchable_barbara(), {"op": "replace", "path": 'emails[type eq "home"].value', "value": None})
        assert result == patchable_barbara()


class TestRemove:
    def test_remove_attribute(self) -> None:
        assert "displayName" not in patch(patchable_barbara(), {"op": "remove", "path": "displayName"})

    def test_remove_sub_attribute(self) -> None:
        result = patch(patchable_barbara(), {"op": "remove", "path": "name.givenName"})
        assert result["name"] == {"familyName": "Jensen"}

    def test_remove_last_sub_attribute_removes_complex_attribute(self) -> None:
        result = patch(patchable_barbara(), {"op": "remove", "path": f"{ENTERPRISE}:manager.value"})
        assert result[ENTERPRISE] == {"department": "Marketing"}

    def test_remove_elements_through_filter(self) -> None:
        user = patchable_barbara()
        user["emails"].append({"value": "b@example.org", "type": "home"})
        result = patch(user, {"op": "remove", "path": 'emails[type eq "home"]'})
        assert result["emails"] == patchable_barbara()["emails"]

    def test_remove_last_element_unassigns_attribute(self) -> None:
        result = patch(patchable_barbara(), {"op": "remove", "path": 'emails[type eq "work"]'})
        assert "emails" not in result

    def test_remove_sub_attribute_of_matched_elements(self) -> None:
        result = patch(patchable_barbara(), {"op": "remove", "path": 'emails[type eq "work"].primary'})
        assert result["emails"] == [{"value": "bjensen@contoso.com", "type": "work"}]

    @pytest.mark.parametrize(
        "path", ["nickName", 'emails[type eq "home"]', 'emails[type eq "home"].value', "name.middleName", "roles"]
    )
    def test_removing_something_absent_succeeds_and_changes_nothing(self, path: str) -> None:
        # idempotent, so that IdP retries succeed (RFC 7644 §3.5.2.2's member example)
        assert patch(patchable_barbara(), {"op": "remove", "path": path}) == patchable_barbara()


# ------------------------------------------------------------------------ invariants
class TestInvariants:
    def test_input_resource_is_never_mutated(self) -> None:
        user = patchable_barbara()
        patch(
            user,
            {"op": "add", "path": 'emails[type eq "work"].display', "value": "W"},
            {"op": "remove", "path": "name"},
        )
        assert user == patchable_barbara()

    def test_operations_are_all_or_nothing(self) -> None:
        # given a valid first operation and a second one that fails when applied
        user = patchable_barbara()
        operations = parse(
            {"op": "replace", "path": "displayName", "value": "Changed"},
            {"op": "add", "path": 'emails[type eq "home" or type eq "other"].value', "value": "x"},
        )
        # when applied, then the failure is raised and the input is as it was
        with pytest.raises(NoTarget):
            apply_operations(user, operations, USER_RESOURCE_TYPE)
        assert user == patchable_barbara()

    def test_operation_values_are_not_shared_with_results(self) -> None:
        operations = parse({"op": "add", "path": "emails", "value": [{"value": "b@example.org"}]})
        first = apply_operations(patchable_barbara(), operations, USER_RESOURCE_TYPE)
        first["emails"][-1]["value"] = "changed@example.org"
        second = apply_operations(patchable_barbara(), operations, USER_RESOURCE_TYPE)
        assert second["emails"][-1] == {"value": "b@example.org"}

    def test_attribute_names_are_case_insensitive_and_stored_canonically(self) -> None:
        user = patchable_barbara()
        del user["emails"]
        result = patch(
            user,
            {"op": "Add", "path": "NAME.MIDDLENAME", "value": "J"},
            {"op": "add", "path": "Emails", "value": [{"VALUE": "b@example.org", "Type": "home"}]},
            {"op": "replace", "value": {"DISPLAYNAME": "Babs", ENTERPRISE.upper(): {"DEPARTMENT": "Sales"}}},
        )
        assert result["name"]["middleName"] == "J"
        assert result["emails"] == [{"value": "b@example.org", "type": "home"}]
        assert result["displayName"] == "Babs"
        assert result[ENTERPRISE]["department"] == "Sales"


class TestPrimary:
    def test_added_primary_element_demotes_the_previous_one(self) -> None:
        result = patch(
            patchable_barbara(), {"op": "add", "path": "emails", "value": [{"value": "b@example.org", "primary": True}]}
        )
        assert [email.get("primary") for email in result["emails"]] == [False, True]

    def test_primary_set_through_filter_demotes_the_others(self) -> None:
        user = patchable_barbara()
        user["emails"].append({"value": "b@example.org", "type": "home"})
        result = patch(user, {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True})
        assert [email.get("primary") for email in result["emails"]] == [False, True]

    def test_primary_sent_as_string_by_entra_demotes_the_others(self) -> None:
        result = patch(patchable_barbara(), {"op": "Add", "path": 'emails[type eq "home"].primary', "value": "True"})
        assert [email.get("primary") for email in result["emails"]] == [False, "True"]

    def test_unchanged_primary_demotes_nothing(self) -> None:
        result = patch(
            patchable_barbara(), {"op": "replace", "path": 'emails[type eq "work"].value', "value": "b@c.com"}
        )
        assert result["emails"][0]["primary"] is True

    def test_two_primaries_in_one_operation_is_invalid_value(self) -> None:
        emails = [{"value": "a@example.org", "primary": True}, {"value": "b@example.org", "primary": True}]
        with pytest.raises(InvalidRequest) as raised:
            patch(patchable_barbara(), {"op": "replace", "path": "emails", "value": emails})
        assert raised.value.scim_type == "invalidValue"


class TestMutability:
    def test_immutable_sub_attribute_may_be_set_while_unassigned(self) -> None:
        result = patch(
            engineering(),
            {"op": "add", "path": 'members[value eq "u-1"].type', "value": "User"},
            resource_type=GROUP_RESOURCE_TYPE,
        )
        assert result["members"][0] == {"value": "u-1", "type": "User"}

    @pytest.mark.parametrize(
        "operation",
        [
            {"op": "replace", "path": 'members[value eq "u-1"].value', "value": "u-9"},
            {"op": "replace", "path": 'members[value eq "u-3"]', "value": {"value": "u-3", "type": "Group"}},
            {"op": "remove", "path": 'members[value eq "u-3"].type'},
        ],
        ids=["replace-sub-attribute", "replace-element", "remove-sub-attribute"],
    )
    def test_changing_assigned_immutable_sub_attribute_is_mutability_error(self, operation: dict[str, Any]) -> None:
        with pytest.raises(MutabilityViolation):
            patch(engineering(), operation, resource_type=GROUP_RESOURCE_TYPE)

    def test_setting_immutable_sub_attribute_to_its_current_value_is_allowed(self) -> None:
        operation = {"op": "replace", "path": 'members[value eq "u-3"]', "value": {"value": "u-3", "type": "User"}}
        assert patch(engineering(), operation, resource_type=GROUP_RESOURCE_TYPE) == engineering()

    def test_errors_are_service_errors_with_status_400(self) -> None:
        with pytest.raises(ServiceError) as raised:
            parse({"op": "replace", "path": "id", "value": "x"})
        assert raised.value.status == 400


def test_apply_accepts_operations_parsed_once_for_many_resources() -> None:
    # the Groups service parses once and applies the non-members operations
    operations = [
        operation
        for operation in parse_operations(
            message(
                {"op": "add", "path": "members", "value": [{"value": "u-9"}]},
                {"op": "replace", "path": "displayName", "value": "Platform"},
            ),
            GROUP_RESOURCE_TYPE,
        )
        if operation.attribute.name != "members"
    ]
    result = apply_operations(engineering(), operations, GROUP_RESOURCE_TYPE)
    assert result == engineering() | {"displayName": "Platform"}
