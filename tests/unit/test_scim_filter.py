"""SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (§3.5.2): parsing, evaluation on
canonical resource dicts, and the key lookups the services answer filters with."""

from __future__ import annotations

from typing import Any

import pytest

from scim_provisioning.errors import InvalidFilter, InvalidPath
from scim_provisioning.scim.filter import (
    MAX_FILTER_LENGTH,
    MAX_NESTING_DEPTH,
    And,
    Comparison,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    equality_lookup,
    equality_values,
    matches,
    parse_filter,
    parse_patch_path,
)
from scim_provisioning.scim.paths import ResolvedPath, resolve
from scim_provisioning.scim.schema import (
    GROUP_RESOURCE_TYPE,
    USER_RESOURCE_TYPE,
    Attribute,
    AttributeType,
    ResourceType,
    Schema,
)
from scim_provisioning.services.groups import LOOKUPS as GROUP_LOOKUPS
from scim_provisioning.services.users import LOOKUPS as USER_LOOKUPS
from tests.scim_samples import stored_barbara

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def parse(text: str) -> Filter:
    return parse_filter(text, USER_RESOURCE_TYPE)


def user_path(path: str) -> ResolvedPath:
    return resolve(USER_RESOURCE_TYPE, path)


def email_sub(name: str) -> ResolvedPath:
    """A path inside ``emails[…]``: relative to an element."""
    sub_attribute = USER_RESOURCE_TYPE.schema.attribute("emails").sub_attribute(name)  # type: ignore[union-attr]
    assert sub_attribute is not None
    return ResolvedPath(None, sub_attribute)


def sales() -> dict[str, Any]:
    return {
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Sales",
        "members": [{"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"}],
    }


# ---------------------------------------------------------------------------- parsing
class TestParsing:
    def test_and_binds_tighter_than_or(self) -> None:
        # given a filter mixing or and and without parentheses
        parsed = parse('userName eq "a" or userName eq "b" and title pr')
        # then it reads as a or (b and c)
        assert parsed == Or(
            (
                Comparison(user_path("userName"), "eq", "a"),
                And((Comparison(user_path("userName"), "eq", "b"), Present(user_path("title")))),
            )
        )

    def test_parentheses_override_precedence(self) -> None:
        parsed = parse('(userName eq "a" or userName eq "b") and title pr')
        assert parsed == And(
            (
                Or((Comparison(user_path("userName"), "eq", "a"), Comparison(user_path("userName"), "eq", "b"))),
                Present(user_path("title")),
            )
        )

    def test_chain_of_one_operator_is_one_node(self) -> None:
        # given a chain, as a client looking up a batch of ids sends it
        parsed = parse(" or ".join(f'id eq "{number}"' for number in range(200)))
        # then it is one node, whose evaluation costs no recursion per term
        assert isinstance(parsed, Or)
        assert len(parsed.operands) == 200
        assert matches(parsed, {"id": "199"})

    def test_not_negates_a_parenthesized_filter(self) -> None:
        assert parse('not (userName eq "a")') == Not(Comparison(user_path("userName"), "eq", "a"))

    def test_not_without_space_before_the_parenthesis(self) -> None:
        assert parse("not(title pr)") == parse("not (title pr)")

    def test_value_path_condition_is_relative_to_an_element(self) -> None:
        parsed = parse('emails[type eq "work" and value co "@example.com"]')
        assert parsed == ValuePath(
            user_path("emails"),
            And((Comparison(email_sub("type"), "eq", "work"), Comparison(email_sub("value"), "co", "@example.com"))),
        )

    def test_entra_sub_attribute_after_brackets_reads_as_one_element_condition(self) -> None:
        # given Entra's form, outside the ABNF
        entra = parse('emails[type eq "work"].value eq "a@b.c"')
        # then it means: one email is of type work and has that value
        assert entra == parse('emails[type eq "work" and value eq "a@b.c"]')

    def test_entra_form_with_pr(self) -> None:
        assert parse('emails[type eq "work"].value pr') == parse('emails[type eq "work" and value pr]')

    def test_entra_form_keeps_an_or_inside_the_brackets_together(self) -> None:
        parsed = parse('emails[type eq "work" or type eq "home"].value eq "x"')
        assert str(parsed) == 'emails[(type eq "work" or type eq "home") and value eq "x"]'

    def test_comparison_on_multi_valued_complex_attribute_compares_its_value(self) -> None:
        # RFC 7644 §3.4.2.2 writes emails co "example.com" next to emails.value co "example.org"
        assert parse('emails co "example.com"') == parse('emails.value co "example.com"')

    def test_present_on_multi_valued_complex_attribute_tests_the_attribute(self) -> None:
        assert parse("emails pr") == Present(user_path("emails"))

    def test_full_core_urn_prefix_resolves_like_the_bare_name(self) -> None:
        assert parse(f'{CORE_USER}:userName eq "a"') == parse('userName eq "a"')
        assert parse(f'{CORE_USER}:name.familyName eq "a"') == parse('name.familyName eq "a"')

    def test_extension_urn_path_resolves_into_the_extension(self) -> None:
        parsed = parse(f'{ENTERPRISE}:employeeNumber eq "701984"')
        assert isinstance(parsed, Comparison)
        assert parsed.path.container_key == ENTERPRISE
        assert parsed.path.attribute.name == "employeeNumber"

    def test_extension_urn_path_with_sub_attribute(self) -> None:
        parsed = parse(f'{ENTERPRISE}:manager.value eq "m-26"')
        assert isinstance(parsed, Comparison)
        assert str(parsed.path) == f"{ENTERPRISE}:manager.value"

    @pytest.mark.parametrize(
        ("text", "canonical"),
        [
            ('USERNAME EQ "a"', 'userName eq "a"'),
            ('userName Eq "a" AND title PR', 'userName eq "a" and title pr'),
            ('userName eq "a" Or title pr', 'userName eq "a" or title pr'),
            ("NOT (title pr)", "not (title pr)"),
            ("active eq TRUE", "active eq true"),
            ("active Eq False", "active eq false"),
            ("title EQ NULL", "title eq null"),
            ('EMAILS[TYPE eq "work"]', 'emails[type eq "work"]'),
            (f'{ENTERPRISE.upper()}:DEPARTMENT sw "Tour"', f'{ENTERPRISE}:department sw "Tour"'),
        ],
    )
    def test_keywords_operators_and_attribute_names_are_case_insensitive(self, text: str, canonical: str) -> None:
        assert str(parse(text)) == canonical

    @pytest.mark.parametrize(
        ("text", "value"),
        [
            (r'userName eq "a \"quoted\" word"', 'a "quoted" word'),
            (r'userName eq "back\\slash"', "back\\slash"),
            (r'userName eq "sla\/sh"', "sla/sh"),
            (r'userName eq "tab\there"', "tab\there"),
            (r'userName eq "caf\u00e9"', "café"),
            ('userName eq "café"', "café"),
            (r'userName eq "\ud83d\ude00"', "😀"),
            ('userName eq ""', ""),
            ('userName eq "and or not ( ) [ ]"', "and or not ( ) [ ]"),
        ],
    )
    def test_string_values_are_json_strings(self, text: str, value: str) -> None:
        parsed = parse(text)
        assert isinstance(parsed, Comparison)
        assert parsed.value == value

    @pytest.mark.parametrize(
        "text",
        [
            'userName  eq   "a"',
            '  userName eq "a"  ',
            'userName\teq\t"a"',
            'userName\neq\r\n"a"',
            'userName eq"a"',
        ],
    )
    def test_whitespace_between_tokens_is_tolerated(self, text: str) -> None:
        assert parse(text) == parse('userName eq "a"')

    def test_boolean_literal_values(self) -> None:
        assert parse("active eq true") == Comparison(user_path("active"), "eq", True)
        assert parse("active ne false") == Comparison(user_path("active"), "ne", False)

    def test_entra_boolean_string_is_kept_as_written(self) -> None:
        # PATCH creates the element a filter describes with what the client sent
        assert parse('active eq "True"') == Comparison(user_path("active"), "eq", "True")

    @pytest.mark.parametrize(
        ("text", "canonical"),
        [
            # as Entra and Okta send them
            ('userName eq "test.user@example.com"', 'userName eq "test.user@example.com"'),
            (
                'userName eq "3e0a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8"',
                'userName eq "3e0a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8"',
            ),
            ('externalId eq "abc"', 'externalId eq "abc"'),
            ('id eq "2819c223"', 'id eq "2819c223"'),
            ('emails[type eq "work"].value eq "a@b.c"', 'emails[type eq "work" and value eq "a@b.c"]'),
            ('meta.lastModified gt "2011-05-13T04:42:34Z"', 'meta.lastModified gt "2011-05-13T04:42:34Z"'),
            ("title pr", "title pr"),
            # RFC 7644 §3.4.2.2 examples
            ('name.familyName co "O\'Malley"', 'name.familyName co "O\'Malley"'),
            ('userName sw "J"', 'userName sw "J"'),
            (f'{CORE_USER}:userName sw "J"', 'userName sw "J"'),
            ('meta.lastModified ge "2011-05-13T04:42:34Z"', 'meta.lastModified ge "2011-05-13T04:42:34Z"'),
            ('meta.lastModified lt "2011-05-13T04:42:34Z"', 'meta.lastModified lt "2011-05-13T04:42:34Z"'),
            ('meta.lastModified le "2011-05-13T04:42:34Z"', 'meta.lastModified le "2011-05-13T04:42:34Z"'),
            ('title pr and userType eq "Employee"', 'title pr and userType eq "Employee"'),
            ('title pr or userType eq "Intern"', 'title pr or userType eq "Intern"'),
            (
                'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
                'userType eq "Employee" and (emails.value co "example.com" or emails.value co "example.org")',
            ),
            (
                'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
                'userType ne "Employee" and not (emails.value co "example.com" or emails.value co "example.org")',
            ),
            (
                'userType eq "Employee" and (emails.type eq "work")',
                'userType eq "Employee" and emails.type eq "work"',
            ),
            (
                'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
                'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
            ),
            (
                'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
                'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
            ),
        ],
    )
    def test_filters_identity_providers_and_rfc_7644_send(self, text: str, canonical: str) -> None:
        assert str(parse(text)) == canonical

    @pytest.mark.parametrize(
        "text",
        [
            'displayName eq "Sales"',
            'members[value eq "u1"]',
            'members.value eq "u1"',
            'externalId eq "abc"',
            'displayName eq "Sales" and members[value eq "u1"]',
        ],
    )
    def test_group_filters(self, text: str) -> None:
        assert str(parse_filter(text, GROUP_RESOURCE_TYPE)) == text

    def test_user_attribute_is_unknown_on_groups(self) -> None:
        with pytest.raises(InvalidFilter):
            parse_filter('userName eq "a"', GROUP_RESOURCE_TYPE)

    def test_nesting_up_to_the_limit_is_accepted(self) -> None:
        text = "(" * MAX_NESTING_DEPTH + "title pr" + ")" * MAX_NESTING_DEPTH
        assert parse(text) == Present(user_path("title"))

    def test_nesting_beyond_the_limit_is_refused(self) -> None:
        text = "not (" * (MAX_NESTING_DEPTH + 1) + "title pr" + ")" * (MAX_NESTING_DEPTH + 1)
        with pytest.raises(InvalidFilter, match="nests more than 32 levels"):
            parse(text)

    def test_filter_at_the_length_limit_is_accepted(self) -> None:
        text = 'userName eq "' + "a" * (MAX_FILTER_LENGTH - len('userName eq ""')) + '"'
        assert len(text) == MAX_FILTER_LENGTH
        assert isinstance(parse(text), Comparison)

    def test_filter_beyond_the_length_limit_is_refused(self) -> None:
        text = 'userName eq "' + "a" * MAX_FILTER_LENGTH + '"'
        with pytest.raises(InvalidFilter, match="longer than 4096 characters"):
            parse(text)

    @pytest.mark.parametrize(
        ("text", "message"),
        [
            (
                'userName zz "x"',
                "Invalid filter: Unknown operator 'zz' (expected eq, ne, co, sw, ew, gt, lt, ge, le "
                "or pr) at column 10",
            ),
            ("userName eq", "Invalid filter: Expected a value after 'eq', found the end of the filter at column 12"),
            (
                'userName eq "x" and',
                "Invalid filter: Expected an attribute path, found the end of the filter at column 20",
            ),
            (
                '(userName eq "x"',
                "Invalid filter: Expected 'and', 'or' or ')' closing the '(' at column 1, found the end "
                "of the filter at column 17",
            ),
            ('userName eq "x', "Invalid filter: Unterminated string starting at column 13"),
            (
                "userName eq x",
                "Invalid filter: Expected a value after 'eq', found the bare word 'x' (strings must be in "
                'double quotes: "…"; other values are true, false, null or a number) at column 13',
            ),
            (
                "active gt true",
                "Invalid filter: Operator 'gt' cannot be applied to the boolean attribute 'active' at column 1",
            ),
            ('foo eq "x"', "Invalid filter: Unknown attribute 'foo' in path 'foo' at column 1"),
            ("", "Invalid filter: The filter is empty"),
        ],
    )
    def test_error_messages_name_the_problem_and_its_column(self, text: str, message: str) -> None:
        with pytest.raises(InvalidFilter) as raised:
            parse(text)
        assert raised.value.message == message
        assert raised.value.scim_type == "invalidFilter"
        assert raised.value.status == 400


# ----------------------------------------------------------------------- invalid filters
INVALID_FILTERS = {
    "empty": "",
    "blank": "   ",
    "unknown attribute": 'nickname2 eq "x"',
    "unknown sub-attribute": 'name.nickName eq "x"',
    "sub-attribute of a simple attribute": 'userName.value eq "x"',
    "unknown schema urn": 'urn:ietf:params:scim:schemas:extension:other:2.0:User:x eq "x"',
    "bare schema urn": f'{CORE_USER} eq "x"',
    "trailing dot": 'userName. eq "x"',
    "unknown operator": 'userName zz "x"',
    "symbolic operator": 'userName = "x"',
    "missing value": "userName eq",
    "missing operator": "userName",
    "dangling and": 'userName eq "x" and',
    "dangling or": 'userName eq "x" or',
    "leading and": 'and userName eq "x"',
    "unclosed parenthesis": '(userName eq "x"',
    "unopened parenthesis": 'userName eq "x")',
    "empty parentheses": "()",
    "not without parentheses": 'not userName eq "x"',
    "unterminated string": 'userName eq "x',
    "invalid escape": r'userName eq "\q"',
    "control character in string": 'userName eq "a\tb"',
    "single quotes": "userName eq 'x'",
    "bare word value": "userName eq x",
    "trailing garbage": 'userName eq "x" garbage',
    "two values": 'userName eq "x" "y"',
    "unclosed bracket": 'emails[type eq "work"',
    "empty brackets": "emails[]",
    "nested brackets": 'emails[value eq "a"[x eq "b"]]',
    "nested value path": 'emails[emails[type eq "x"]]',
    "value path on a sub-attribute": 'emails.value[type eq "x"]',
    "value path on a single-valued complex attribute": 'name[givenName eq "x"]',
    "value path on a simple attribute": 'userName[value eq "x"]',
    "unknown sub-attribute in brackets": 'emails[kind eq "work"]',
    "dotted path in brackets": 'emails[emails.type eq "work"]',
    "unknown sub-attribute after brackets": 'emails[type eq "work"].kind eq "x"',
    "path after brackets without operator": 'emails[type eq "work"].value',
    "ordering on boolean": "active gt true",
    "substring on boolean": 'active co "t"',
    "ordering on binary": 'x509Certificates.value gt "MIID"',
    "substring on dateTime": 'meta.created co "2011"',
    "comparison on complex": 'name co "x"',
    "equality on complex": 'name eq "x"',
    "comparison on complex extension attribute": f'{ENTERPRISE}:manager eq "x"',
    "comparison on multi-valued complex without value": 'addresses eq "x"',
    "string for boolean": 'active eq "yes"',
    "number for boolean": "active eq 1",
    "boolean for string": "userName eq true",
    "number for string": "userName eq 12",
    "not a date": 'meta.created gt "not a date"',
    "date without time": 'meta.created gt "2011-05-13"',
    "impossible date": 'meta.created gt "2011-13-45T04:42:34Z"',
    "number for dateTime": "meta.created gt 1305261754",
    "null with ordering": "title gt null",
    "null with substring": "title co null",
    "number out of range": "userName eq 1e999",
    "write-only attribute": 'password eq "secret"',
    "write-only attribute presence": "password pr",
    "unexpected character": 'userName eq "x" & title pr',
    "too long": 'userName eq "' + "a" * MAX_FILTER_LENGTH + '"',
    "too deep": "(" * (MAX_NESTING_DEPTH + 1) + "title pr" + ")" * (MAX_NESTING_DEPTH + 1),
}


@pytest.mark.parametrize("text", INVALID_FILTERS.values(), ids=INVALID_FILTERS.keys())
def test_invalid_filter_is_refused_with_invalid_filter(text: str) -> None:
    with pytest.raises(InvalidFilter) as raised:
        parse(text)
    assert raised.value.scim_type == "invalidFilter"


# ------------------------------------------------------------------------- evaluation
def evaluate(text: str, resource: dict[str, Any] | None = None) -> bool:
    return matches(parse(text), stored_barbara() if resource is None else resource)


class TestCaseSensitivity:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('userName eq "bjensen@example.com"', True),  # caseExact false
            ('userName eq "BJENSEN@EXAMPLE.COM"', True),
            ('userName sw "bjensen"', True),
            ('userName ew "EXAMPLE.COM"', True),
            ('userName co "JENSEN@"', True),
            ('externalId eq "Bjensen-701984"', True),  # caseExact true
            ('externalId eq "bjensen-701984"', False),
            ('externalId sw "bjensen"', False),
            ('id eq "2819c223-7f76-453a-919d-413861904646"', True),  # caseExact true
            ('id eq "2819C223-7F76-453A-919D-413861904646"', False),
            ('emails.value eq "BJensen@Example.COM"', True),
            ('emails[type eq "WORK"]', True),
            ('meta.version eq "W/\\"3694E05E9DFF591\\""', False),  # caseExact true
            ('meta.version eq "W/\\"3694e05e9dff591\\""', True),
        ],
    )
    def test_strings_compare_as_the_attribute_is_case_exact_or_not(self, text: str, expected: bool) -> None:
        assert evaluate(text) is expected

    def test_group_member_values_are_case_exact(self) -> None:
        member = "2819c223-7f76-453a-919d-413861904646"
        assert matches(parse_filter(f'members[value eq "{member}"]', GROUP_RESOURCE_TYPE), sales())
        assert not matches(parse_filter(f'members[value eq "{member.upper()}"]', GROUP_RESOURCE_TYPE), sales())

    def test_group_display_name_is_case_insensitive(self) -> None:
        assert matches(parse_filter('displayName eq "SALES"', GROUP_RESOURCE_TYPE), sales())

    def test_case_insensitive_comparison_folds_unicode(self) -> None:
        # given a family name with a sharp s, whose upper case is SS
        resource = stored_barbara() | {"name": {"familyName": "Straße"}}
        # then it equals its upper-case spelling (casefold, not lower)
        assert evaluate('name.familyName eq "STRASSE"', resource)


class TestOperators:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('title eq "Tour Guide"', True),
            ('title ne "Tour Guide"', False),
            ('title co "our G"', True),
            ('title sw "Tour"', True),
            ('title sw "Guide"', False),
            ('title ew "Guide"', True),
            ('title gt "Tour"', True),  # lexicographic
            ('title gt "Zebra"', False),
            ('title ge "tour guide"', True),
            ('title lt "Tour Guidf"', True),
            ('title le "Tour Guide"', True),
            ('title lt "Tour Guide"', False),
        ],
    )
    def test_string_operators(self, text: str, expected: bool) -> None:
        assert evaluate(text) is expected

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('title pr and userType eq "Employee"', True),
            ('title pr and userType eq "Intern"', False),
            ('title pr or userType eq "Intern"', True),
            ('nickName pr or userType eq "Intern"', False),
            ("not (nickName pr)", True),
            ("not (title pr)", False),
            ('userName eq "nobody" or userName eq "x" and title pr', False),
            ('title pr or userName eq "x" and nickName pr', True),
            ('(title pr or userName eq "x") and nickName pr', False),
        ],
    )
    def test_logical_operators(self, text: str, expected: bool) -> None:
        assert evaluate(text) is expected


class TestDateTimes:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('meta.lastModified eq "2011-05-13T04:42:34Z"', True),
            ('meta.lastModified eq "2011-05-13T04:42:34.000Z"', True),
            ('meta.lastModified eq "2011-05-13T06:42:34+02:00"', True),  # same instant, other offset
            ('meta.lastModified eq "2011-05-12T23:42:34-05:00"', True),
            ('meta.lastModified eq "2011-05-13T04:42:34"', True),  # no offset: UTC
            ('meta.lastModified gt "2011-05-13T04:42:33.999Z"', True),  # fractional seconds count
            ('meta.lastModified gt "2011-05-13T04:42:34.001Z"', False),
            ('meta.lastModified gt "2011-05-13T04:42:33.999999999Z"', True),  # nanoseconds are accepted
            ('meta.lastModified gt "2011-05-13T05:42:33+02:00"', True),  # 03:42:33Z: lexically greater, earlier
            ('meta.lastModified lt "2011-05-13T06:00:00+02:00"', False),  # 04:00:00Z
            ('meta.lastModified ge "2011-05-13T04:42:34Z"', True),
            ('meta.lastModified le "2011-05-13T04:42:34Z"', True),
            ('meta.lastModified ne "2011-05-13T04:42:34Z"', False),
            ('meta.created lt "2011-05-13T04:42:34Z"', True),
            ('meta.lastModified eq "2011-05-13t04:42:34z"', True),  # lower-case separators
        ],
    )
    def test_date_times_compare_as_instants(self, text: str, expected: bool) -> None:
        assert evaluate(text) is expected

    def test_stored_date_time_with_offset(self) -> None:
        resource = stored_barbara()
        resource["meta"]["lastModified"] = "2011-05-13T06:42:34.5+02:00"
        assert evaluate('meta.lastModified gt "2011-05-13T04:42:34Z"', resource)

    def test_unreadable_stored_date_time_matches_nothing_but_ne(self) -> None:
        resource = stored_barbara()
        resource["meta"]["lastModified"] = "yesterday"
        assert not evaluate('meta.lastModified lt "2099-01-01T00:00:00Z"', resource)
        assert evaluate('meta.lastModified ne "2099-01-01T00:00:00Z"', resource)


class TestMultiValued:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('emails.value eq "babs@jensen.org"', True),  # the second email
            ('emails eq "babs@jensen.org"', True),  # compares emails.value
            ('emails co "jensen.org"', True),
            ('emails.type eq "home"', True),
            ('emails.type eq "other"', False),
            ("emails.primary eq true", True),
            ("emails.primary eq false", False),  # the home email has no primary
            ('emails.type ne "work"', True),  # RFC: any value; the home email is not work
            ('not (emails.type eq "work")', False),  # "no email is work" is spelled with not
            ('emails[type eq "home" and value ew "jensen.org"]', True),
            ('emails[type eq "home" and value ew "example.com"]', False),  # not the same email
            ('emails.type eq "home" and emails.value ew "example.com"', True),  # any email for each
            ('emails[type eq "work"].value eq "bjensen@example.com"', True),
            ('emails[type eq "home"].value eq "bjensen@example.com"', False),
            ("emails[primary eq true]", True),
            ('emails[not (type eq "work")]', True),
            ("emails pr", True),
            ("emails.display pr", False),
            ("addresses pr", False),
            ('phoneNumbers[type eq "mobile"]', False),
            ('ims[type eq "aim" and value sw "some"]', True),
            ('roles[primary eq "True"].value eq "member"', True),
        ],
    )
    def test_a_multi_valued_attribute_matches_when_any_value_does(self, text: str, expected: bool) -> None:
        assert evaluate(text) is expected

    def test_rfc_example_with_two_value_paths(self) -> None:
        text = 'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]'
        assert evaluate(text)
        assert not evaluate(text, stored_barbara() | {"emails": [{"value": "b@other.org", "type": "work"}]})
        assert evaluate(text, stored_barbara() | {"emails": [], "ims": [{"value": "b@foo.com", "type": "xmpp"}]})

    def test_rfc_example_with_not(self) -> None:
        text = 'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")'
        assert not evaluate(text)
        assert evaluate(text, stored_barbara() | {"userType": "Contractor", "emails": [{"value": "b@other.net"}]})
        assert not evaluate(
            text, stored_barbara() | {"userType": "Contractor", "emails": [{"value": "b@x.example.org"}]}
        )


class TestUnassigned:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ('nickName eq "x"', False),
            ('nickName ne "x"', True),  # not equal, since it has no value
            ('nickName co "x"', False),
            ('nickName gt "a"', False),
            ("nickName pr", False),
            ("nickName eq null", True),
            ("nickName ne null", False),
            ("title eq null", False),
            ("title ne null", True),
            ('name.middleName ne "x"', True),
            ('addresses.type ne "work"', True),
            ('addresses.type eq "work"', False),
            ("addresses.type eq null", True),
            ('phoneNumbers.display ne "x"', True),
            ("emails.display eq null", True),  # any email without display
            ("emails.value eq null", False),  # every email has a value
            ('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter ne "x"', True),
            ("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr", False),
            ("active ne true", False),
        ],
    )
    def test_unassigned_attributes(self, text: str, expected: bool) -> None:
        assert evaluate(text) is expected

    @pytest.mark.parametrize("empty", ["", [], {}, None])
    def test_empty_values_are_not_present(self, empty: object) -> None:
        resource = stored_barbara() | {"title": empty, "emails": empty, "name": empty}
        assert not evaluate("title pr", resource)
        assert not evaluate("emails pr", resource)
        assert not evaluate("name pr", resource)
        assert evaluate('emails.value ne "x"', resource)

    def test_false_is_present(self) -> None:
        assert evaluate("active pr", stored_barbara() | {"active": False})

    def test_complex_value_whose_sub_attributes_are_unassigned_is_not_present(self) -> None:
        assert not evaluate("name pr", stored_barbara() | {"name": {"givenName": None, "familyName": ""}})

    def test_missing_extension(self) -> None:
        resource = stored_barbara()
        del resource[ENTERPRISE]
        assert not evaluate(f'{ENTERPRISE}:employeeNumber eq "701984"', resource)
        assert evaluate(f'{ENTERPRISE}:employeeNumber ne "701984"', resource)
        assert not evaluate(f"{ENTERPRISE}:manager pr", resource)


class TestBooleans:
    @pytest.mark.parametrize(
        ("text", "stored", "expected"),
        [
            ("active eq true", True, True),
            ("active eq false", True, False),
            ("active ne false", True, True),
            ('active eq "True"', True, True),  # Entra's string
            ('active eq "FALSE"', False, True),
            ("active eq true", "True", True),  # a string not yet converted (PATCH-created element)
            ("active eq false", "false", True),
            ("active eq true", "yes", False),  # not a boolean at all
            ("active ne true", "yes", True),
            ("active eq false", None, False),
        ],
    )
    def test_booleans(self, text: str, stored: object, expected: bool) -> None:
        assert evaluate(text, stored_barbara() | {"active": stored}) is expected


class TestExtension:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (f'{ENTERPRISE}:employeeNumber eq "701984"', True),
            (f'{ENTERPRISE}:department sw "tour"', True),
            (f'{ENTERPRISE}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"', True),
            (f'{ENTERPRISE}:manager.displayName co "smith"', True),
            (f"{ENTERPRISE}:manager pr", True),
            (f'{ENTERPRISE}:organization eq "x"', False),
        ],
    )
    def test_extension_attributes_are_read_under_the_schema_urn(self, text: str, expected: bool) -> None:
        assert evaluate(text) is expected

    def test_extension_attribute_at_the_top_level_is_not_read(self) -> None:
        # canonical form keeps extension attributes under their URN, never at the top level
        assert not evaluate(f'{ENTERPRISE}:employeeNumber eq "1"', {"employeeNumber": "1"})


# Numbers: this service's schema has no numeric attribute, so a test schema stands in.
DEVICE_SCHEMA = Schema(
    "urn:example:params:scim:schemas:core:2.0:Device",
    "Device",
    "A test resource with numeric attributes",
    (Attribute("serial", AttributeType.INTEGER), Attribute("weight", AttributeType.DECIMAL)),
)
DEVICE = ResourceType("Device", "Device", "/Devices", "Device", DEVICE_SCHEMA)


class TestNumbers:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("serial eq 42", True),
            ("serial gt 41", True),
            ("weight eq 2.5", True),
            ("weight eq 25e-1", True),
            ("weight lt 3", True),
            ("weight gt -1", True),
            ("weight le 2.4", False),
        ],
    )
    def test_numbers_compare_numerically(self, text: str, expected: bool) -> None:
        assert matches(parse_filter(text, DEVICE), {"serial": 42, "weight": 2.5}) is expected

    @pytest.mark.parametrize(
        "text",
        [
            'serial eq "42"',
            "serial eq true",
            "serial co 4",
            "serial ge 42.0",  # an integer attribute takes integers
            "weight eq 1.5.2",
            "serial eq 042",
            "serial eq +42",
            "weight eq .5",
        ],
    )
    def test_invalid_numeric_comparisons(self, text: str) -> None:
        with pytest.raises(InvalidFilter):
            parse_filter(text, DEVICE)


# ------------------------------------------------------------------------- PATCH paths
class TestPatchPath:
    @pytest.mark.parametrize(
        ("text", "path", "value_filter", "sub_attribute"),
        [
            ("userName", "userName", None, None),
            ("name.givenName", "name.givenName", None, None),
            ("NAME.GIVENNAME", "name.givenName", None, None),
            ("emails", "emails", None, None),
            ('emails[type eq "work"].value', "emails", 'type eq "work"', "value"),
            ('emails[type eq "work"]', "emails", 'type eq "work"', None),
            ('members[value eq "2819c223"]', "members", 'value eq "2819c223"', None),
            ('addresses[type eq "work"].formatted', "addresses", 'type eq "work"', "formatted"),
            ('roles[primary eq "True"].value', "roles", 'primary eq "True"', "value"),
            (
                'emails[type eq "work" and primary eq true].display',
                "emails",
                'type eq "work" and primary eq true',
                "display",
            ),
            (f"{ENTERPRISE}:manager", f"{ENTERPRISE}:manager", None, None),
            (f"{ENTERPRISE}:manager.value", f"{ENTERPRISE}:manager.value", None, None),
            (f"{CORE_USER}:displayName", "displayName", None, None),
            ("password", "password", None, None),  # written by PATCH, never filtered on
        ],
    )
    def test_valid_paths(self, text: str, path: str, value_filter: str | None, sub_attribute: str | None) -> None:
        resource_type = GROUP_RESOURCE_TYPE if text.startswith("members") else USER_RESOURCE_TYPE
        parsed = parse_patch_path(text, resource_type)
        assert str(parsed.path) == path
        assert (None if parsed.value_filter is None else str(parsed.value_filter)) == value_filter
        assert (None if parsed.sub_attribute is None else parsed.sub_attribute.name) == sub_attribute

    def test_value_filter_selects_elements(self) -> None:
        target = parse_patch_path('emails[type eq "work"].value', USER_RESOURCE_TYPE)
        assert target.value_filter is not None
        selected = [element for element in stored_barbara()["emails"] if matches(target.value_filter, element)]
        assert selected == [stored_barbara()["emails"][0]]

    def test_string_true_filter_selects_stored_boolean(self) -> None:
        target = parse_patch_path('roles[primary eq "True"]', USER_RESOURCE_TYPE)
        assert target.value_filter is not None
        assert matches(target.value_filter, {"value": "member", "primary": True})
        assert not matches(target.value_filter, {"value": "member"})

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "nickname2",
            "name.nickName",
            "userName.",
            f"{CORE_USER}",
            "urn:ietf:params:scim:schemas:extension:other:2.0:User:x",
            'userName eq "x"',  # a filter is not a path
            "emails[",
            'emails[type eq "work"',
            'emails[type eq "work"].',
            'emails[type eq "work"].kind',
            'emails[type eq "work"].value.display',
            'emails[type eq "work"].value eq "x"',
            'emails[type eq "work"] garbage',
            'emails.value[type eq "work"]',
            'name[givenName eq "x"]',
            'emails[kind eq "work"]',
            'emails[type zz "work"]',
            'emails[primary eq "yes"]',
            'emails[value eq "a"[type eq "b"]]',
            "emails[]",
            "(userName)",
            'userName "x"',
        ],
    )
    def test_invalid_paths_are_invalid_path(self, text: str) -> None:
        with pytest.raises(InvalidPath) as raised:
            parse_patch_path(text, USER_RESOURCE_TYPE)
        assert raised.value.scim_type == "invalidPath"

    def test_path_error_names_the_problem(self) -> None:
        with pytest.raises(InvalidPath) as raised:
            parse_patch_path('emails[type eq "work"].kind', USER_RESOURCE_TYPE)
        assert raised.value.message == (
            "Invalid path: Expected a sub-attribute of 'emails' after ']', found 'kind' at column 24"
        )

    def test_path_round_trips_to_text(self) -> None:
        text = 'emails[type eq "work" and value co "@example.com"].display'
        assert str(parse_patch_path(text, USER_RESOURCE_TYPE)) == text


# ----------------------------------------------------------------------- key lookups
class TestEqualityLookup:
    @pytest.mark.parametrize(
        ("text", "lookup"),
        [
            ('userName eq "test.user@example.com"', ("userName", "test.user@example.com", None)),
            ('USERNAME EQ "Bjensen"', ("userName", "Bjensen", None)),
            (f'{CORE_USER}:userName eq "b"', ("userName", "b", None)),
            ('externalId eq "abc"', ("externalId", "abc", None)),
            ('id eq "2819c223"', ("id", "2819c223", None)),
            ('emails.value eq "a@b.c"', ("emails.value", "a@b.c", None)),
            ('emails eq "a@b.c"', ("emails.value", "a@b.c", None)),
            ('emails[value eq "a@b.c"]', ("emails.value", "a@b.c", None)),
            ('emails[type eq "work"].value eq "a@b.c"', ("emails.value", "a@b.c", "work")),
            ('emails[type eq "work" and value eq "a@b.c"]', ("emails.value", "a@b.c", "work")),
            ('emails[value eq "a@b.c" and primary eq true]', ("emails.value", "a@b.c", None)),
            ('userName eq "a" and active eq true', ("userName", "a", None)),  # a superset: post-filtered
            ('active eq true and externalId eq "e"', ("externalId", "e", None)),
        ],
    )
    def test_user_lookups(self, text: str, lookup: tuple[str, str, str | None]) -> None:
        assert equality_lookup(parse(text), USER_LOOKUPS.keys) == lookup

    @pytest.mark.parametrize(
        ("text", "lookup"),
        [
            ('displayName eq "Sales"', ("displayName", "Sales", None)),
            ('members.value eq "u1"', ("members.value", "u1", None)),
            ('members[value eq "u1"]', ("members.value", "u1", None)),
            ('members eq "u1"', ("members.value", "u1", None)),
            ('id eq "g1"', ("id", "g1", None)),
            ('externalId eq "g-ext"', ("externalId", "g-ext", None)),
        ],
    )
    def test_group_lookups(self, text: str, lookup: tuple[str, str, str | None]) -> None:
        assert equality_lookup(parse_filter(text, GROUP_RESOURCE_TYPE), GROUP_LOOKUPS.keys) == lookup

    @pytest.mark.parametrize(
        "text",
        [
            'userName eq "a" or userName eq "b"',
            'userName co "a"',
            'userName ne "a"',
            'userName sw "a"',
            'not (userName eq "a")',
            "userName pr",
            "userName eq null",
            'displayName eq "Babs"',  # a user's displayName is no key
            'title eq "Tour Guide"',
            'name.familyName eq "Jensen"',
            'emails.type eq "work"',
            'emails[type eq "work"]',
            'emails[value co "@example.com"]',
            'emails[type eq "work" or value eq "a@b.c"]',
            'phoneNumbers.value eq "555"',
            'phoneNumbers[value eq "555"]',
            f'{ENTERPRISE}:employeeNumber eq "701984"',
            'meta.lastModified gt "2011-05-13T04:42:34Z"',
        ],
    )
    def test_everything_else_is_a_scan(self, text: str) -> None:
        assert equality_lookup(parse(text), USER_LOOKUPS.keys) is None

    def test_group_member_filter_other_than_value_is_a_scan(self) -> None:
        assert (
            equality_lookup(parse_filter('members[display eq "Babs"]', GROUP_RESOURCE_TYPE), GROUP_LOOKUPS.keys) is None
        )


class TestEqualityValues:
    def test_conjunction_of_eq_describes_the_element(self) -> None:
        target = parse_patch_path('roles[primary eq "True" and type eq "app"].value', USER_RESOURCE_TYPE)
        assert target.value_filter is not None
        assert equality_values(target.value_filter) == {"primary": "True", "type": "app"}

    @pytest.mark.parametrize(
        "text",
        [
            'emails[type eq "home" or type eq "other"]',
            'emails[type ne "home"]',
            "emails[display pr]",
            'emails[not (type eq "home")]',
            'emails[type eq "home" and type eq "work"]',
            'emails[type eq "home" and value co "@"]',
        ],
    )
    def test_other_filters_describe_no_element(self, text: str) -> None:
        target = parse_patch_path(text, USER_RESOURCE_TYPE)
        assert target.value_filter is not None
        assert equality_values(target.value_filter) is None
