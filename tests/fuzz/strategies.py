"""Hypothesis strategies for hostile requests to every route: methods, paths, query parameters,
headers and bodies, from well-formed SCIM (so that requests reach the rules) to JSON edge cases
(numbers of thousands of digits, NaN and Infinity, deep nesting, lone surrogates, bytes that are
not UTF-8) and the values issue 14 found (61,000 phone numbers, ``?limit=²``, an expiresAt at
-23:59).

A request is drawn against a ``Targets``: the ids and credentials that exist, so that most
requests authenticate and name real resources and the fuzzing reaches the services, not only
the 401 and 404 at the door."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

SCIM = "/api/v1/scim/v2"
TOKENS = "/api/v1/scim/organization-access-tokens"
LOGS = "/api/v1/scim/request-logs"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@dataclass(frozen=True)
class Targets:
    """What exists in the fuzzed organization (ids are strings as the API shows them)."""

    bearer: str
    api_key: str
    user_ids: list[str]
    group_ids: list[str]
    token_uuids: list[str]  # sacrificial tokens: rotating or revoking them harms nothing


@dataclass(frozen=True)
class Request:
    method: str
    target: str  # path and query string, as on the request line
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    def __repr__(self) -> str:  # what a failing example shows: enough to replay it
        body = None if self.body is None else self.body[:400]
        return f"Request({self.method!r}, {self.target[:300]!r}, {self.headers!r}, {body!r})"


# ------------------------------------------------------------------ values
HOSTILE_STRINGS = [
    "",
    " ",
    "\u0000",
    "ß" * 300,  # case-folds to twice its length
    "\ufb03" * 400,  # "ffi" ligature: three characters once case-folded
    "x" * 1001,
    "y" * 5000,
    "Ω\u0301",
    "K",  # Kelvin sign
    "\U0001f600" * 300,  # four bytes each in UTF-8
    "a@b.c",
    '"quoted"',
    "\\",
    "</script><script>",
    "../../etc/passwd",
    "%00",
    "${jndi:ldap://x}",
    "true",
    "False",
    "1e999",
    "NaN",
]

short_text = st.text(max_size=20)
# Long strings are a drawn character repeated: a few choices for hypothesis to record per
# example, not thousands (its record of every example's choices is what a long run's memory holds).
long_text = st.builds(lambda piece, count: piece * count, st.text(min_size=1, max_size=3), st.integers(100, 1500))
hostile_string = st.one_of(st.sampled_from(HOSTILE_STRINGS), short_text, long_text)
numbers = st.one_of(
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -1, 2**63, 2**64, 10**30, 1e308, -0.0]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, hostile_string)
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(short_text, st.sampled_from(["value", "type"])), children, max_size=5),
    ),
    max_leaves=15,
)


def many(element: st.SearchStrategy[Any], sizes: list[int]) -> st.SearchStrategy[list[Any]]:
    """A list of one of these sizes, all of one drawn element (a flood of entries)."""
    return st.tuples(element, st.sampled_from(sizes)).map(lambda pair: [pair[0]] * pair[1])


def distinct_many(prefix: str, sizes: list[int]) -> st.SearchStrategy[list[str]]:
    return st.sampled_from(sizes).map(lambda size: [f"{prefix}{index}" for index in range(size)])


# ------------------------------------------------------------------ SCIM bodies
USER_ATTRIBUTES = [
    "userName",
    "displayName",
    "nickName",
    "title",
    "externalId",
    "active",
    "name",
    "emails",
    "phoneNumbers",
    "addresses",
    "roles",
    "entitlements",
    "password",
    "id",
    "meta",
    "groups",
    "schemas",
    "locale",
    "timezone",
    ENTERPRISE,
    f"{ENTERPRISE}:department",
    "name.givenName",
    'emails[type eq "work"].value',
]


def multi_valued(draw: st.DrawFn) -> Any:
    return draw(
        st.one_of(
            st.lists(
                st.fixed_dictionaries({"value": hostile_string}, optional={"type": short_text, "primary": scalars}),
                max_size=4,
            ),
            many(st.fixed_dictionaries({"value": st.just("1")}), [41, 500, 61_000]),
            st.builds(lambda values: [{"value": value} for value in values], distinct_many("e", [39, 40, 41, 98])).map(
                lambda entries: [{"value": f"{entry['value']}@x.test"} for entry in entries]
            ),
            json_values,
        )
    )


@st.composite
def user_body(draw: st.DrawFn, targets: Targets) -> Any:
    body: dict[str, Any] = {"schemas": [USER]}
    if draw(st.booleans()):
        body["userName"] = draw(
            st.one_of(
                st.just("fuzz@acme.test"),
                st.builds(lambda n: f"u{n}@acme.test", st.integers(0, 50)),
                hostile_string,
                scalars,
            )
        )
    for name in draw(st.lists(st.sampled_from(USER_ATTRIBUTES), max_size=5, unique=True)):
        if name in ("emails", "phoneNumbers", "addresses", "roles", "entitlements", "groups"):
            body[name] = multi_valued(draw)
        elif name == "name":
            body[name] = draw(
                st.one_of(st.fixed_dictionaries({"givenName": hostile_string, "familyName": scalars}), json_values)
            )
        elif name == "active":
            body[name] = draw(st.one_of(st.booleans(), st.sampled_from(["True", "False", "yes", 1]), scalars))
        else:
            body[name] = draw(json_values)
    return body


@st.composite
def group_body(draw: st.DrawFn, targets: Targets) -> Any:
    body: dict[str, Any] = {"schemas": [GROUP]}
    if draw(st.booleans()):
        body["displayName"] = draw(st.one_of(st.builds(lambda n: f"g{n}", st.integers(0, 50)), hostile_string, scalars))
    if draw(st.booleans()):
        body["members"] = draw(members(targets))
    if draw(st.booleans()):
        body["externalId"] = draw(scalars)
    return body


def members(targets: Targets) -> st.SearchStrategy[Any]:
    member_id = st.one_of(st.sampled_from(targets.user_ids), st.uuids().map(str), hostile_string, scalars)
    member = st.one_of(
        st.fixed_dictionaries(
            {"value": member_id}, optional={"display": hostile_string, "type": st.sampled_from(["User", "Group", "x"])}
        ),
        json_values,
    )
    return st.one_of(
        st.lists(member, max_size=5),
        distinct_many("", [100, 1001, 10_001, 55_000]).map(lambda ids: [{"value": i} for i in ids]),
        json_values,
    )


PATCH_PATHS = [
    None,
    "active",
    "userName",
    "displayName",
    "title",
    "name.givenName",
    "emails",
    'emails[type eq "work"].value',
    'emails[type eq "work" and primary eq true]',
    "phoneNumbers",
    "members",
    'members[value eq "x"]',
    "roles",
    'roles[primary eq "True"].value',
    "externalId",
    "id",
    "meta",
    "groups",
    "password",
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:department",
    "urn:unknown:schema:attr",
    "members[",
    "((((((((((",
    "emails[" * 40,
    "a" * 5000,
]


@st.composite
def patch_body(draw: st.DrawFn, targets: Targets) -> Any:
    def operation() -> st.SearchStrategy[Any]:
        return st.one_of(
            st.fixed_dictionaries(
                {"op": st.sampled_from(["add", "replace", "remove", "Add", "Replace", "Remove", "copy", "", 5])},
                optional={
                    "path": st.one_of(st.sampled_from(PATCH_PATHS), hostile_string, scalars),
                    "value": st.one_of(
                        json_values, members(targets), st.sampled_from([{"active": "False"}, {"userName": "y" * 2000}])
                    ),
                },
            ),
            json_values,
        )

    operations = draw(
        st.one_of(
            st.lists(operation(), min_size=0, max_size=6),
            st.tuples(operation(), st.sampled_from([1001, 5000])).map(lambda pair: [pair[0]] * pair[1]),
            json_values,
        )
    )
    body: dict[str, Any] = {"Operations": operations}
    if draw(st.booleans()):
        body["schemas"] = draw(st.one_of(st.just([PATCH_OP]), json_values))
    return body


FILTER_ATTRIBUTES = [
    "userName",
    "displayName",
    "externalId",
    "id",
    "emails.value",
    'emails[type eq "work"].value',
    "members.value",
    "groups.value",
    "meta.lastModified",
    "active",
    "name.familyName",
    "password",
    "x",
]


@st.composite
def filter_text(draw: st.DrawFn) -> str:
    def comparison() -> str:
        attribute = draw(st.sampled_from(FILTER_ATTRIBUTES))
        operator = draw(st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr", "EQ", "xx"]))
        if operator == "pr":
            return f"{attribute} pr"
        value = draw(
            st.one_of(
                st.text(max_size=10).map(json.dumps),
                st.sampled_from(
                    ["true", "null", "1", "1" * 5000, "1e999", "-1", '"2026-01-01T00:00:00Z"', '"\\ud800"', "'x'"]
                ),
            )
        )
        return f"{attribute} {operator} {value}"

    shape = draw(st.integers(0, 6))
    if shape == 0:
        return draw(st.text(max_size=50))
    if shape == 1:
        depth = draw(st.sampled_from([31, 33, 200, 5000]))
        return "(" * depth + comparison() + ")" * depth
    if shape == 2:
        return " or ".join(comparison() for _ in range(draw(st.integers(1, 400))))
    if shape == 3:
        return "not (" + comparison() + ") and " + comparison()
    if shape == 4:
        return "x" * draw(st.sampled_from([4096, 4097, 100_000]))
    return comparison()


# ------------------------------------------------------------------ query strings
def query_string(parameters: dict[str, Any]) -> str:
    return "&".join(f"{quote(str(name))}={quote(str(value), safe='')}" for name, value in parameters.items())


INTEGERISH = [
    "1",
    "0",
    "-1",
    "100",
    "101",
    "1000",
    "1001",
    "²",
    "١٢",
    "1_000",
    "+5",
    " 5",
    "5.0",
    "1e3",
    "9" * 5000,
    "",
    "x",
    "NaN",
    "Infinity",
]


@st.composite
def list_parameters(draw: st.DrawFn) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    if draw(st.booleans()):
        parameters["filter"] = draw(filter_text())
    for name in draw(
        st.lists(
            st.sampled_from(["count", "startIndex", "cursor", "attributes", "excludedAttributes", "sortBy", "COUNT"]),
            max_size=3,
            unique=True,
        )
    ):
        if name in ("count", "startIndex", "COUNT"):
            parameters[name] = draw(st.one_of(st.sampled_from(INTEGERISH), st.integers().map(str)))
        elif name == "cursor":
            parameters[name] = draw(st.one_of(st.just(""), st.text(max_size=30), st.just("A" * 3000), st.just("_-_-")))
        else:
            parameters[name] = draw(
                st.one_of(
                    st.sampled_from(["groups", "members", "emails.value", "urn:x", ",,,", "a" * 5000]),
                    st.text(max_size=20),
                )
            )
    return parameters


@st.composite
def search_body(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["schemas"] = [SEARCH]
    for name in draw(
        st.lists(
            st.sampled_from(["filter", "count", "startIndex", "cursor", "attributes", "excludedAttributes"]),
            max_size=4,
            unique=True,
        )
    ):
        body[name] = draw(st.one_of(filter_text(), json_values, st.sampled_from(INTEGERISH)))
    return body


# ------------------------------------------------------------------ admin APIs
OFFSETS = ["Z", "+00:00", "-23:59", "+23:59", "-24:00", "+14:00", "+05:30", ""]


@st.composite
def expires_at(draw: st.DrawFn) -> Any:
    return draw(
        st.one_of(
            st.builds(
                lambda year, offset: f"{year:04d}-12-31T23:59:59{offset}",
                st.sampled_from([1, 1970, 2026, 2027, 2099, 9999]),
                st.sampled_from(OFFSETS),
            ),
            st.sampled_from(
                [
                    "2030-01-01",
                    "2030-13-01T00:00:00Z",
                    "tomorrow",
                    "2030-01-01T00:00:00.123456789Z",
                    "0001-01-01T00:00:00-23:59",
                ]
            ),
            scalars,
        )
    )


@st.composite
def token_body(draw: st.DrawFn) -> Any:
    body: dict[str, Any] = {}
    if draw(st.booleans()):
        body["description"] = draw(st.one_of(hostile_string, scalars))
    if draw(st.booleans()):
        body["expiresAt"] = draw(expires_at())
    if draw(st.integers(0, 5)) == 0:
        body[draw(short_text)] = draw(scalars)
    return draw(st.one_of(st.just(body), json_values)) if draw(st.integers(0, 9)) == 0 else body


@st.composite
def log_parameters(draw: st.DrawFn) -> dict[str, Any]:
    parameters: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(["limit", "cursor", "status", "action"]), max_size=4, unique=True)):
        if name == "limit":
            parameters[name] = draw(st.sampled_from(INTEGERISH))
        elif name == "status":
            parameters[name] = draw(st.sampled_from(["failure", "success", "404", "²", "99999", "-1", "4O4", ""]))
        elif name == "cursor":
            parameters[name] = draw(st.one_of(st.text(max_size=30), st.just("A" * 3000)))
        else:
            parameters[name] = draw(st.one_of(st.sampled_from(["create_user", "x"]), st.text(max_size=30)))
    return parameters


# ------------------------------------------------------------------ raw JSON texts
RAW_BODIES = [
    b"",
    b" ",
    b"null",
    b"[]",
    b"{",
    b'{"count": Infinity}',
    b'{"count": NaN}',
    b'{"count": -Infinity}',
    b'{"count": 1e999}',
    b'{"count": ' + b"9" * 5000 + b"}",
    b'{"userName": ' + b"1" * 4301 + b"}",
    b'{"userName": "\\ud800"}',
    b'{"userName": "a\\udfffb"}',
    b'{"displayName": "\\ud83d"}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"[" * 33 + b"]" * 33,
    b"\xff\xfe{}",
    b"\xef\xbb\xbf{}",
    b'{"userName": "caf\xe9"}',
    b'{"userName": "x", "userName": "y"}',
    b'"just a string"',
    b"1" * 5000,
]


def encode(value: Any) -> bytes:
    """A value as the JSON text a client would send (lone surrogates as escapes)."""
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def body_of(value: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    return st.one_of(value.map(encode), value.map(encode), value.map(encode), st.sampled_from(RAW_BODIES))


# ------------------------------------------------------------------ requests
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "get", "FOO", "CONNECT"]
CONTENT_TYPES = [
    "application/scim+json",
    "application/scim+json",
    "application/json",
    "application/json; charset=utf-8",
    "application/scim+json; charset=ISO-8859-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "",
    "*/*",
    "application/xml",
]


def identifiers(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(known),
        st.uuids().map(str),
        st.sampled_from([".search", "x" * 1100, "x" * 3000, "%2e%2e", "..", "ß" * 600, "me", "Me"]),
        st.text(
            alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="/?#"), min_size=1, max_size=30
        ),
    )


@st.composite
def headers(draw: st.DrawFn, targets: Targets, admin: bool) -> list[tuple[str, str]]:
    valid = f"ApiKey {targets.api_key}" if admin else targets.bearer
    authorization = draw(
        st.one_of(
            st.just(valid),
            st.just(valid),
            st.just(valid),
            st.sampled_from(
                [None, "", "Bearer", "Bearer " + "a" * 5000, "ApiKey x", "Basic dXNlcjpwYXNz", targets.bearer.lower()]
            ),
        )
    )
    result = []
    content_type = draw(st.one_of(st.just("application/scim+json"), st.sampled_from(CONTENT_TYPES)))
    if content_type:
        result.append(("Content-Type", content_type))
    if authorization is not None:
        result.append(("Authorization", authorization))
    for name in draw(
        st.lists(
            st.sampled_from(["If-Match", "If-None-Match", "Accept", "Host", "X-Forwarded-Proto"]),
            max_size=2,
            unique=True,
        )
    ):
        result.append(
            (
                name,
                draw(
                    st.sampled_from(['W/"1"', "*", '"x"', "W/" * 500, "", "application/xml", "evil.example", "gopher"])
                ),
            )
        )
    return result


@st.composite
def requests(draw: st.DrawFn, targets: Targets) -> Request:
    """One request to any route of the API (or near one)."""
    kind = draw(
        st.sampled_from(
            [
                "users",
                "users",
                "user",
                "user",
                "groups",
                "group",
                "group",
                "search",
                "discovery",
                "tokens",
                "logs",
                "other",
            ]
        )
    )
    method = draw(st.sampled_from(METHODS))
    body: bytes | None = None
    admin = kind in ("tokens", "logs", "other")
    if kind in ("users", "groups"):
        resource = "Users" if kind == "users" else "Groups"
        method = draw(st.sampled_from(["GET", "POST", "GET", "POST", method]))
        target = f"{SCIM}/{resource}"
        if method == "GET":
            target += "?" + query_string(draw(list_parameters()))
        else:
            body = draw(body_of(user_body(targets) if kind == "users" else group_body(targets)))
    elif kind in ("user", "group"):
        resource = "Users" if kind == "user" else "Groups"
        known = targets.user_ids if kind == "user" else targets.group_ids
        method = draw(st.sampled_from(["GET", "PUT", "PATCH", "PATCH", "DELETE", method]))
        target = f"{SCIM}/{resource}/{quote(draw(identifiers(known)), safe='')}"
        if draw(st.booleans()):
            target += "?" + query_string(draw(list_parameters()))
        if method == "PATCH":
            body = draw(body_of(patch_body(targets)))
        elif method in ("PUT", "POST"):
            body = draw(body_of(user_body(targets) if kind == "user" else group_body(targets)))
    elif kind == "search":
        method = draw(st.sampled_from(["POST", "POST", method]))
        target = f"{SCIM}/{draw(st.sampled_from(['Users', 'Groups', '']))}/.search"
        body = draw(body_of(search_body()))
    elif kind == "discovery":
        method = draw(st.sampled_from(["GET", "GET", method]))
        target = SCIM + draw(
            st.sampled_from(
                [
                    "",
                    "/",
                    "/ServiceProviderConfig",
                    "/Schemas",
                    f"/Schemas/{USER}",
                    f"/Schemas/{ENTERPRISE}",
                    "/Schemas/x",
                    "/ResourceTypes",
                    "/ResourceTypes/User",
                    "/ResourceTypes/Group",
                    "/ResourceTypes/x",
                    "//Users",
                    "/Bulk",
                    "/Me",
                    "/Users/x/y",
                ]
            )
        )
    elif kind == "tokens":
        suffix = draw(
            st.one_of(
                st.just(""),
                identifiers(targets.token_uuids).map(lambda u: "/" + quote(u, safe="")),
                identifiers(targets.token_uuids).map(lambda u: f"/{quote(u, safe='')}/rotate"),
            )
        )
        method = draw(st.sampled_from(["GET", "POST", "PATCH", "DELETE", method]))
        target = TOKENS + suffix
        if method in ("POST", "PATCH", "PUT"):
            body = draw(body_of(token_body()))
    elif kind == "logs":
        method = draw(st.sampled_from(["GET", "GET", method]))
        target = LOGS + "?" + query_string(draw(log_parameters()))
    else:
        method = draw(st.sampled_from(["GET", method]))
        target = draw(
            st.sampled_from(
                [
                    "/settings/scim",
                    "/settings/scim/settings.js",
                    "/settings/scim/../x",
                    "/api/v1/health",
                    "/api/v1/scim",
                    "/",
                    "/api/v1/scim/v2x",
                ]
            )
        )
    if body is not None and draw(st.integers(0, 19)) == 0:
        body = body[: len(body) // 2]  # a body cut short
    return Request(method, target, draw(headers(targets, admin)), body)
