"""Differential tests of the filter module against scim2-models (a test-only oracle).

scim2-models parses a filter into a syntax tree and evaluates it on its pydantic models
(``ScimFilter[Model](text).match(model)``); ``SearchRequest[Model](filter=text)`` also
refuses attributes the model does not declare. The same filters run through both on the
same users and groups, and must agree on:

* the result of every filter of ``MATCH_CORPUS`` on every resource;
* accepting or refusing every filter of ``ACCEPTANCE_CORPUS``;
* the shape of the syntax tree (precedence, ``not``, value paths) for ``SHAPE_CORPUS``.

Where the two disagree, RFC 7644/7643 decides; each difference is a test of its own in
``TestDocumentedDifferences``, which says why and pins both behaviours, so that a change
on either side shows up.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from scim2_models import EnterpriseUser, Group, ScimFilter, SearchRequest, User
from scim2_models.path import Comparison as TheirComparison
from scim2_models.path import FilterNode, LogicalExpr
from scim2_models.path import Not as TheirNot
from scim2_models.path import Present as TheirPresent
from scim2_models.path import ValuePath as TheirValuePath

from scim_provisioning.errors import InvalidFilter
from scim_provisioning.scim.filter import (
    MAX_NESTING_DEPTH,
    And,
    Comparison,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
    matches,
    parse_filter,
)
from scim_provisioning.scim.schema import GROUP_RESOURCE_TYPE, GROUP_SCHEMA_ID, USER_RESOURCE_TYPE, USER_SCHEMA_ID
from tests.scim_samples import stored_barbara

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ScimUser = User[EnterpriseUser]

# ----------------------------------------------------------------------------- users
# In canonical form, as the service stores and filters them.
USERS: dict[str, dict[str, Any]] = {
    "entra-barbara": stored_barbara(),
    "okta-isaac": {
        "id": "6f0e4b3c-93a4-4d0e-9c57-2a6b0c1d9e11",
        "externalId": "00u1a2b3c4D5e6F7g8h9",
        "userName": "isaac.brock@example.com",
        "name": {"givenName": "Isaac", "familyName": "Brock"},
        "displayName": "Isaac Brock",
        "locale": "en-US",
        "timezone": "America/Los_Angeles",
        "active": True,
        "emails": [{"value": "isaac.brock@example.com", "type": "work", "primary": True}],
        "meta": {
            "resourceType": "User",
            "created": "2023-03-01T10:00:00.000Z",
            "lastModified": "2024-06-30T23:59:59.999Z",
        },
    },
    "entra-deprovisioned": {
        "id": "3e0a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8",
        "externalId": "5f1b0c2e-8d3a-4c6b-9e7f-0a1b2c3d4e5f",
        "userName": "Test.User@contoso.onmicrosoft.com",
        "name": {"givenName": "Test", "familyName": "User"},
        "displayName": "Test User",
        "userType": "Member",
        "active": False,
        "emails": [{"value": "Test.User@contoso.com", "type": "work", "primary": True}],
        "addresses": [
            {"type": "work", "formatted": "1 Microsoft Way, Redmond", "locality": "Redmond", "country": "US"}
        ],
        ENTERPRISE: {"employeeNumber": "12345", "department": "Sales", "costCenter": "4130"},
        "meta": {
            "resourceType": "User",
            "created": "2024-01-15T08:30:00.000Z",
            "lastModified": "2024-02-01T12:00:00.000Z",
        },
    },
    "contractor": {
        "id": "a1b2c3d4-0000-4000-8000-000000000004",
        "userName": "k.contractor@example.org",
        "name": {"givenName": "Kim", "familyName": "Contractor"},
        "title": "Consultant",
        "userType": "Contractor",
        "active": True,
        "emails": [
            {"value": "kim@example.org", "type": "work"},
            {"value": "kim@contractor.example.com", "type": "other"},
        ],
        "ims": [{"value": "kim@foo.com", "type": "xmpp"}],
        "phoneNumbers": [{"value": "+1 555 0199", "type": "mobile", "primary": True}],
        "meta": {
            "resourceType": "User",
            "created": "2011-05-13T04:42:34.000Z",
            "lastModified": "2011-05-13T04:42:35.000Z",
        },
    },
    "minimal": {
        "id": "a1b2c3d4-0000-4000-8000-000000000005",
        "userName": "minimal",
        "meta": {
            "resourceType": "User",
            "created": "2020-01-01T00:00:00.000Z",
            "lastModified": "2020-01-01T00:00:00.000Z",
        },
    },
    "unicode": {
        "id": "a1b2c3d4-0000-4000-8000-000000000006",
        "externalId": "ÉXT-6",
        "userName": "José.García@Example.com",
        "name": {"givenName": "José", "familyName": "García Müller"},
        "displayName": "Zoë García",
        "userType": "Employee",
        "active": True,
        "emails": [
            {"value": "JOSE.GARCIA@EXAMPLE.COM", "type": "work", "primary": False},
            {"value": "jose@example.com", "type": "work", "primary": True},
        ],
        ENTERPRISE: {"manager": {"value": "2819c223-7f76-453a-919d-413861904646"}},
        "meta": {
            "resourceType": "User",
            "created": "2011-05-13T06:42:34.500+02:00",
            "lastModified": "2025-12-31T23:00:00.000Z",
        },
    },
}

GROUPS: dict[str, dict[str, Any]] = {
    "sales": {
        "id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
        "displayName": "Sales",
        "externalId": "sales-okta",
        "members": [
            {"value": "2819c223-7f76-453a-919d-413861904646", "display": "Babs Jensen", "type": "User"},
            {"value": "6f0e4b3c-93a4-4d0e-9c57-2a6b0c1d9e11", "type": "User"},
        ],
        "meta": {
            "resourceType": "Group",
            "created": "2010-01-23T04:56:22.000Z",
            "lastModified": "2011-05-13T04:42:34.000Z",
        },
    },
    "empty": {
        "id": "fc348aa8-3835-40eb-a20b-c726e15c55b5",
        "displayName": "Tour Guides",
        "meta": {
            "resourceType": "Group",
            "created": "2012-01-01T00:00:00.000Z",
            "lastModified": "2012-01-01T00:00:00.000Z",
        },
    },
}


def as_scim2_user(resource: dict[str, Any]) -> ScimUser:
    schemas = [USER_SCHEMA_ID, *([ENTERPRISE] if ENTERPRISE in resource else [])]
    return ScimUser.model_validate({"schemas": schemas, **resource})


def as_scim2_group(resource: dict[str, Any]) -> Group:
    return Group.model_validate({"schemas": [GROUP_SCHEMA_ID], **resource})


def theirs(text: str, resource: dict[str, Any]) -> bool:
    return ScimFilter[ScimUser](text).match(as_scim2_user(resource))


def ours(text: str, resource: dict[str, Any]) -> bool:
    return matches(parse_filter(text, USER_RESOURCE_TYPE), resource)


# ----------------------------------------------------------------- evaluation agreement
MATCH_CORPUS = [
    # keys Entra and Okta look users up by
    'userName eq "bjensen@example.com"',
    'userName eq "test.user@contoso.onmicrosoft.com"',
    'userName eq "3e0a3b4c-5d6e-4f70-8192-a3b4c5d6e7f8"',
    'userName eq "josé.garcía@example.com"',
    'externalId eq "Bjensen-701984"',
    'externalId eq "bjensen-701984"',
    'externalId eq "éxt-6"',
    'id eq "2819c223-7f76-453a-919d-413861904646"',
    'id eq "2819C223-7F76-453A-919D-413861904646"',
    'emails[type eq "work"].value eq "test.user@contoso.com"',
    'emails[type eq "work"].value eq "isaac.brock@example.com"',
    'emails.value eq "jose.garcia@example.com"',
    'emails eq "KIM@example.org"',
    # strings
    'userName sw "j"',
    'userName ew "@example.com"',
    'userName co "contoso"',
    'displayName co "garcía"',
    'name.familyName eq "jensen"',
    'name.givenName sw "Is"',
    'userName gt "m"',
    'userName le "minimal"',
    "title pr",
    "not (title pr)",
    'userType eq "Employee"',
    'userType ne "Employee"',
    'nickName ne "x"',
    "nickName eq null",
    "title ne null",
    'locale eq "en-us"',
    # booleans
    "active eq true",
    "active eq false",
    "active ne true",
    'active eq "True"',
    'active eq "false"',
    # multi-valued and value paths
    "emails pr",
    'emails co "example.org"',
    'emails.type eq "home"',
    "emails.primary eq true",
    "emails.display eq null",
    'emails[type eq "work"]',
    'emails[type eq "work" and value co "@example.com"]',
    'emails[type eq "work" and primary eq false]',
    "emails[not (primary eq true)]",
    'emails[type eq "work"].value pr',
    'emails.type eq "work" and emails.value ew "example.org"',
    'emails[type eq "work" and value ew "example.org"]',
    'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
    'phoneNumbers[type eq "mobile" and primary eq true]',
    'addresses[type eq "work"].formatted co "redmond"',
    'addresses.country eq "us"',
    'roles[primary eq "True"].value eq "member"',
    # extension
    f'{ENTERPRISE}:employeeNumber eq "701984"',
    f'{ENTERPRISE}:department eq "sales"',
    f"{ENTERPRISE}:costCenter pr",
    f"{ENTERPRISE}:manager pr",
    f'{ENTERPRISE}:manager.value eq "2819c223-7f76-453a-919d-413861904646"',
    f'{ENTERPRISE}:manager.displayName sw "john"',
    f'{ENTERPRISE}:department ne "Sales"',
    f'{USER_SCHEMA_ID}:userName sw "k."',
    f'{USER_SCHEMA_ID}:name.familyName co "ll"',
    # dates
    'meta.created gt "2011-05-13T04:42:34Z"',
    'meta.created ge "2011-05-13T04:42:34Z"',
    'meta.created eq "2011-05-13T04:42:34.5Z"',
    'meta.created lt "2011-05-13T06:42:34+02:00"',
    'meta.lastModified gt "2011-05-13T04:42:34.999Z"',
    'meta.lastModified le "2024-06-30T23:59:59.999Z"',
    'meta.lastModified gt "2025-12-31T23:30:00-00:30"',
    'meta.resourceType eq "User"',
    # RFC 7644 §3.4.2.2 compositions
    'title pr and userType eq "Employee"',
    'title pr or userType eq "Intern"',
    'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")',
    'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    'userType eq "Employee" and (emails.type eq "work")',
    'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
    'active eq true and not (userType eq "Contractor") or title eq "Consultant"',
    'active eq true and (not (userType eq "Contractor") or title eq "Consultant")',
]


@pytest.mark.parametrize("user", USERS.keys())
@pytest.mark.parametrize("text", MATCH_CORPUS)
def test_matches_agrees_with_scim2_models(text: str, user: str) -> None:
    resource = USERS[user]
    assert ours(text, resource) is theirs(text, resource)


def test_the_corpus_discriminates() -> None:
    # a corpus whose filters all match, or all fail, on every user would test little
    results = {text: {ours(text, resource) for resource in USERS.values()} for text in MATCH_CORPUS}
    discriminating = [text for text, outcomes in results.items() if outcomes == {True, False}]
    assert len(discriminating) >= 0.8 * len(MATCH_CORPUS)


GROUP_CORPUS = [
    'displayName eq "sales"',
    'displayName eq "Tour Guides"',
    'externalId eq "sales-okta"',
    'members[value eq "2819c223-7f76-453a-919d-413861904646"]',
    'members[value eq "2819C223-7F76-453A-919D-413861904646"]',
    'members.value eq "6f0e4b3c-93a4-4d0e-9c57-2a6b0c1d9e11"',
    'members eq "6f0e4b3c-93a4-4d0e-9c57-2a6b0c1d9e11"',
    "members pr",
    "not (members pr)",
    'members[type eq "user" and display co "babs"]',
    'members.display pr and displayName sw "s"',
    'meta.created lt "2011-01-01T00:00:00Z"',
]


@pytest.mark.parametrize("group", GROUPS.keys())
@pytest.mark.parametrize("text", GROUP_CORPUS)
def test_group_matches_agree_with_scim2_models(text: str, group: str) -> None:
    resource = GROUPS[group]
    expected = ScimFilter[Group](text).match(as_scim2_group(resource))
    assert matches(parse_filter(text, GROUP_RESOURCE_TYPE), resource) is expected


# ------------------------------------------------------------------ parse acceptance
def we_accept(text: str) -> bool:
    try:
        parse_filter(text, USER_RESOURCE_TYPE)
    except InvalidFilter:
        return False
    return True


def they_accept(text: str) -> bool:
    """SearchRequest binds the filter to the model and refuses unknown attributes too."""
    try:
        SearchRequest[ScimUser](filter=text)
    except ValidationError:
        return False
    return True


ACCEPTANCE_CORPUS = [
    *MATCH_CORPUS,
    # accepted by both
    "not(title pr)",
    'USERNAME EQ "a" AND TITLE PR',
    'userName eq "a \\"quoted\\" word"',
    'userName eq "caf\\u00e9"',
    'emails[type eq "work" or type eq "home"].value eq "x@example.com"',
    'x509Certificates.value eq "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"',
    'profileUrl sw "https://"',
    'groups.value eq "e9e30dba-f08f-4109-8486-d5c6a331660a"',
    'meta.version eq "W/\\"1\\""',
    # refused by both
    "",
    'nickname2 eq "x"',
    'name.nickName eq "x"',
    f'{USER_SCHEMA_ID} eq "x"',
    'userName zz "x"',
    "userName eq",
    'userName eq "x" and',
    '(userName eq "x"',
    'userName eq "x")',
    'userName eq "x',
    'userName eq "\\q"',
    "userName eq 'x'",
    "userName eq x",
    'userName eq "x" garbage',
    'emails[type eq "work"',
    "emails[]",
    'emails[value eq "a"[x eq "b"]]',
    'emails[emails[type eq "x"]]',
    'emails.value[type eq "x"]',
    'name[givenName eq "x"]',
    'emails[kind eq "work"]',
    'emails[type eq "work"].value',
    "active gt true",
    'active co "t"',
    'x509Certificates.value gt "MIID"',
    "userName eq true",
    "userName eq 12",
    "title eq 1.5",
    'meta.created gt "not a date"',
    "not userName pr",
]


@pytest.mark.parametrize("text", ACCEPTANCE_CORPUS)
def test_parse_acceptance_agrees_with_scim2_models(text: str) -> None:
    assert we_accept(text) is they_accept(text)


# ------------------------------------------------------------------- tree agreement
def our_shape(node: Filter) -> tuple[Any, ...]:
    match node:
        case Comparison(path=path, operator=operator, value=value):
            return ("compare", str(path).lower(), operator, value)
        case Present(path=path):
            return ("present", str(path).lower())
        case And(operands=operands):
            return ("and", tuple(our_shape(operand) for operand in operands))
        case Or(operands=operands):
            return ("or", tuple(our_shape(operand) for operand in operands))
        case Not(operand=operand):
            return ("not", our_shape(operand))
        case ValuePath(path=path, condition=condition):
            return ("select", str(path).lower(), our_shape(condition))


def their_shape(node: FilterNode) -> tuple[Any, ...]:
    def path(attr_path: Any) -> str:
        return str(attr_path).lower().removeprefix(USER_SCHEMA_ID.lower() + ":")

    if isinstance(node, TheirComparison):
        return ("compare", path(node.attr_path), node.op.value, node.value)
    if isinstance(node, TheirPresent):
        return ("present", path(node.attr_path))
    if isinstance(node, LogicalExpr):
        return (node.op.value, tuple(their_shape(term) for term in node.terms))
    if isinstance(node, TheirNot):
        return ("not", their_shape(node.expr))
    assert isinstance(node, TheirValuePath)
    return ("select", path(node.attr_path), their_shape(node.val_filter))


# Filters without the emails-means-emails.value shorthand, which we resolve while parsing
# and scim2-models while evaluating.
SHAPE_CORPUS = [
    'userName eq "a" or userName eq "b" and title pr',
    '(userName eq "a" or userName eq "b") and title pr',
    'title pr and userType eq "x" and active eq true or nickName pr or not (locale pr)',
    'not (not (title pr)) and (((userName sw "a")))',
    'emails[type eq "work" and (value co "@a" or value co "@b")]',
    'emails[type eq "work"].value eq "x@example.com"',
    'emails[type eq "work" and primary eq true].value sw "x"',
    'emails[type eq "work"].display pr',
    f'{ENTERPRISE}:manager.value eq "m" or {USER_SCHEMA_ID}:userName eq "u"',
    'meta.lastModified gt "2011-05-13T04:42:34Z" and active eq "True"',
    'userName eq "a \\"b\\" \\u00e9"',
]


@pytest.mark.parametrize("text", SHAPE_CORPUS)
def test_syntax_tree_agrees_with_scim2_models(text: str) -> None:
    assert our_shape(parse_filter(text, USER_RESOURCE_TYPE)) == their_shape(ScimFilter[ScimUser](text).ast)


# ------------------------------------------------------------- documented differences
class TestDocumentedDifferences:
    """Each case: what we do, what scim2-models does, and why ours follows RFC 7644/7643."""

    def test_ne_on_a_multi_valued_attribute_matches_when_any_value_differs(self) -> None:
        # RFC 7644 §3.4.2.2: "the filter matches if any of the values of the specified
        # attribute match the specified criterion", with no exception for ne. scim2-models
        # reads ne universally (no value equal); "no work email" is spelled
        # not (emails.type eq "work") in our reading.
        barbara = USERS["entra-barbara"]  # a work and a home email
        assert ours('emails.type ne "work"', barbara) is True
        assert theirs('emails.type ne "work"', barbara) is False
        assert ours('not (emails.type eq "work")', barbara) is theirs('not (emails.type eq "work")', barbara) is False

    def test_date_time_without_offset_is_utc(self) -> None:
        # RFC 7643 §2.3.5 leaves the offset optional (xsd:dateTime); we read a missing one as
        # UTC, the only zone the service stores. scim2-models compares a naive datetime
        # with an aware one, which never matches.
        barbara = USERS["entra-barbara"]
        assert ours('meta.lastModified eq "2011-05-13T04:42:34"', barbara) is True
        assert theirs('meta.lastModified eq "2011-05-13T04:42:34"', barbara) is False

    def test_case_insensitive_strings_are_casefolded(self) -> None:
        # RFC 7643 §2.3.1 asks for case-insensitive comparison without naming a method. We
        # use Unicode caseless matching (casefold: ß is ss); scim2-models lower-cases (and
        # normalizes to NFC, which we do not: IdPs send NFC).
        resource = USERS["minimal"] | {"name": {"familyName": "Straße"}}
        assert ours('name.familyName eq "STRASSE"', resource) is True
        assert theirs('name.familyName eq "STRASSE"', resource) is False

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ('active eq "yes"', 'a boolean takes true/false (and Entra\'s "True"/"False"), not pydantic\'s lax forms'),
            ('active eq "1"', 'a boolean takes true/false (and Entra\'s "True"/"False"), not pydantic\'s lax forms'),
            ("active eq 1", 'a boolean takes true/false (and Entra\'s "True"/"False"), not pydantic\'s lax forms'),
            ('meta.created gt "2011-05-13"', "RFC 7643 §2.3.5: a dateTime MUST include both a date and a time"),
            ('meta.created gt "1300000000"', "RFC 7643 §2.3.5: a dateTime is xsd:dateTime, not Unix time"),
            ('meta.created gt "2011-05-13T04:42Z"', "xsd:dateTime has seconds"),
            ('meta.created gt "2011-05-13 04:42:34Z"', "xsd:dateTime separates date and time with T"),
            ('meta.created gt "2011-05-13T04:42:34+0200"', "xsd:dateTime writes the offset hh:mm"),
            ('name eq "x"', "RFC 7644 §3.12 invalidFilter: a complex value has no comparison; scim2 never matches"),
            ('name co "x"', "RFC 7644 §3.12 invalidFilter: a complex value has no comparison; scim2 never matches"),
            (f'{ENTERPRISE}:manager eq "x"', "comparison on a complex attribute, as above"),
            ('meta.created co "2011"', "co/sw/ew compare text; on a dateTime scim2 accepts and never matches"),
            ("title gt null", "null is only equal or not equal; scim2 accepts and never matches"),
            ("title co null", "null is only equal or not equal; scim2 accepts and never matches"),
            ('password eq "x"', "password is writeOnly and never stored: a filter on it could only mislead"),
            ("password pr", "password is writeOnly and never stored: a filter on it could only mislead"),
            ('schemas eq "urn:x"', "schemas is no attribute of our schema definition, and no IdP filters on it"),
            (
                "(" * (MAX_NESTING_DEPTH + 1) + "title pr" + ")" * (MAX_NESTING_DEPTH + 1),
                "our parser recurses on parentheses too, so they count toward the depth limit",
            ),
        ],
    )
    def test_filters_we_refuse_and_scim2_models_accepts(self, text: str, reason: str) -> None:
        assert reason
        assert not we_accept(text)
        assert they_accept(text)

    @pytest.mark.parametrize(
        "text",
        [
            'emails.value eq "bjensen"',
            'emails eq "bjensen"',
            'emails[type eq "work"].value eq "bjensen"',
            'profileUrl eq "not a url"',
            'photos.value eq "photo.jpg"',
        ],
    )
    def test_filters_we_accept_and_scim2_models_refuses(self, text: str) -> None:
        # RFC 7643 §2.3.1/§2.3.7: emails.value is a string and a reference a string URI;
        # scim2-models validates the compared value as an email address or a URL. A value
        # that no stored value can equal just matches nothing: refusing it would turn an
        # IdP's lookup of an odd address (Entra sends what the directory holds) into a 400.
        assert we_accept(text)
        assert not they_accept(text)
