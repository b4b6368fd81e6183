"""SCIM filters (RFC 7644 §3.4.2.2) and PATCH paths (RFC 7644 §3.5.2).

One lexer and one recursive-descent parser read both: a PATCH path is an attribute path
optionally followed by ``[valFilter]`` and a sub-attribute, and that value filter is the
filter grammar. Every attribute is resolved against the schema while parsing, so an
unknown attribute, an operator its type does not take or a value of the wrong type is
refused before anything is evaluated; evaluation can then never fail.

The standard library only: this module is imported by every Lambda cold start, where
scim2-models (the test oracle) would cost more than the rest of the function
(docs/decisions.md, "A lean SCIM core").

Choices where RFC 7644 leaves room, or where what identity providers send is not the ABNF:

* Keywords, operators and ``true``/``false``/``null`` are case-insensitive (``EQ``,
  ``And``, ``NOT``); whitespace between tokens is any run of spaces, tabs or line breaks.
* ``emails[type eq "work"].value eq "x"`` (Entra) is accepted and means
  ``emails[type eq "work" and value eq "x"]``: one element must satisfy both.
* A comparison on a multi-valued complex attribute compares its ``value`` sub-attribute:
  RFC 7644's own example writes ``emails co "example.com"`` next to ``emails.value co``.
* A multi-valued attribute matches when *any* of its values satisfies the comparison, for
  ``ne`` as for every other operator (RFC 7644 §3.4.2.2 makes no exception).
* An unassigned attribute (absent, null, ``""``, ``[]``, ``{}``: equivalent by RFC 7643
  §2.5) is ``ne`` any value and ``eq`` none; ``attr eq null`` holds exactly when it is
  unassigned and ``attr ne null`` when it is assigned, like ``attr pr``.
* Boolean attributes also accept ``"true"``/``"false"`` strings, in any case, in filters
  and in resources: Entra sends ``roles[primary eq "True"]``. No other string is a boolean.
* dateTime values must be xsd:dateTime (date, ``T``, time with seconds); they compare as
  instants, so offsets and fractional seconds are honoured. One without an offset is UTC.
* ``password`` (writeOnly, never returned, never stored) cannot be filtered on.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, NamedTuple, TypeAlias, cast

from scim_provisioning.errors import InvalidFilter, InvalidPath
from scim_provisioning.limits import MAX_FILTER_DEPTH, MAX_FILTER_LENGTH, MAX_NUMBER_DIGITS
from scim_provisioning.scim.paths import ResolvedPath, UnknownAttribute, resolve
from scim_provisioning.scim.schema import (
    Attribute,
    AttributeType,
    Mutability,
    ResourceType,
    Returned,
)
from scim_provisioning.unicode_text import has_lone_surrogate

# Longer filters and paths are refused: no identity provider sends one, and the bound keeps
# the cost of a request proportional to what a client may legitimately ask. Nesting of
# parentheses, ``not`` and value filters is bounded because the parser and the evaluator
# recurse once per level (limits.py publishes both).
MAX_NESTING_DEPTH: Final = MAX_FILTER_DEPTH

Operator: TypeAlias = Literal["eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"]
ComparisonValue: TypeAlias = str | int | float | bool | None
"""A ``compValue`` as written in the filter: a JSON string, number, true, false or null."""


# --------------------------------------------------------------------------------- AST
@dataclass(frozen=True, slots=True)
class Comparison:
    """``attrPath compareOp compValue``, e.g. ``userName eq "bjensen"``.

    ``value`` is the literal as written: a boolean attribute compared with ``"True"``
    keeps the string, because PATCH creates the elements a value filter describes with the
    values the client sent (the resource validator converts them afterwards, once).
    ``path`` always names a simple attribute: a comparison written on a multi-valued
    complex attribute (``emails eq "x"``) is stored on its ``value`` sub-attribute."""

    path: ResolvedPath
    operator: Operator
    value: ComparisonValue

    def __str__(self) -> str:
        return f"{self.path} {self.operator} {json.dumps(self.value, ensure_ascii=False)}"


@dataclass(frozen=True, slots=True)
class Present:
    """``attrPath pr``: the attribute has a value that is not null, ``""``, ``[]`` or ``{}``."""

    path: ResolvedPath

    def __str__(self) -> str:
        return f"{self.path} pr"


@dataclass(frozen=True, slots=True)
class And:
    """Every operand holds. A chain ``a and b and c`` is one node with three operands, so
    that a long chain costs no recursion depth."""

    operands: tuple[Filter, ...]

    def __str__(self) -> str:
        return " and ".join(f"({operand})" if isinstance(operand, Or) else str(operand) for operand in self.operands)


@dataclass(frozen=True, slots=True)
class Or:
    """At least one operand holds; ``and`` binds tighter, so ``a or b and c`` is
    ``Or((a, And((b, c))))``. A chain is one node, like :class:`And`."""

    operands: tuple[Filter, ...]

    def __str__(self) -> str:
        return " or ".join(str(operand) for operand in self.operands)


@dataclass(frozen=True, slots=True)
class Not:
    """``not (filter)``."""

    operand: Filter

    def __str__(self) -> str:
        return f"not ({self.operand})"


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``attrPath[valFilter]``: some element of the multi-valued complex attribute ``path``
    satisfies ``condition`` as a whole (``emails[type eq "work" and value co "@x"]`` needs
    one email that is both, where ``emails.type eq "work" and emails.value co "@x"`` may be
    satisfied by two different emails).

    The paths inside ``condition`` are relative to an element: their ``attribute`` is a
    sub-attribute of ``path.attribute`` and they hold no extension, so the condition is
    evaluated with :func:`matches` on the element dict itself."""

    path: ResolvedPath
    condition: Filter

    def __str__(self) -> str:
        return f"{self.path}[{self.condition}]"


Filter: TypeAlias = Comparison | Present | And | Or | Not | ValuePath


@dataclass(frozen=True, slots=True)
class PatchPath:
    """The target of a PATCH operation (RFC 7644 §3.5.2: ``attrPath / valuePath [subAttr]``).

    ``name.givenName`` is ``path`` alone (its ``sub_attribute`` set);
    ``emails[type eq "work"].value`` is ``path`` = emails, ``value_filter`` selecting
    elements (element-relative, as in :class:`ValuePath`) and ``sub_attribute`` = value."""

    path: ResolvedPath
    value_filter: Filter | None
    sub_attribute: Attribute | None

    def __str__(self) -> str:
        selection = "" if self.value_filter is None else f"[{self.value_filter}]"
        suffix = "" if self.sub_attribute is None else f".{self.sub_attribute.name}"
        return f"{self.path}{selection}{suffix}"


# ------------------------------------------------------------------------------- lexer
class _Token(NamedTuple):
    kind: str  # "word", "string", "number", "end", or the punctuation character itself
    text: str
    position: int


_TOKEN = re.compile(
    r"(?P<space>[ \t\r\n\f]+)"
    r'|(?P<string>"(?:[^"\\\x00-\x1f]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*")'
    r"|(?P<number>-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)"
    # An attribute path is one word, URN included: urn:…:2.0:User:name.givenName
    r"|(?P<word>[A-Za-z$][A-Za-z0-9_$:.\-]*)"
    r"|(?P<punctuation>[()\[\].])"
)
_CLOSED_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NAME = r"\$?[A-Za-z][A-Za-z0-9_$\-]*"
_ATTRIBUTE_NAME = re.compile(_NAME)
# Spelled-out case alternatives rather than re.IGNORECASE, which triples the compile time:
# every cold start pays it.
_ATTRIBUTE_PATH = re.compile(rf"(?:[Uu][Rr][Nn]:[A-Za-z0-9:._\-]*:)?{_NAME}(?:\.{_NAME})?")


class _Problem(Exception):
    """Why the text cannot be read, and where; the public functions turn it into
    InvalidFilter or InvalidPath."""

    def __init__(self, detail: str, position: int | None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.position = position

    def message(self) -> str:
        return self.detail if self.position is None else f"{self.detail} at column {self.position + 1}"


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        found = _TOKEN.match(text, position)
        if found is None:
            if text[position] == '"':
                problem = (
                    "Invalid escape or control character in the string"
                    if _CLOSED_STRING.match(text, position)
                    else "Unterminated string"
                )
                raise _Problem(f"{problem} starting", position)
            raise _Problem(f"Unexpected character {text[position]!r}", position)
        kind = found.lastgroup or ""
        if kind == "punctuation":
            tokens.append(_Token(found.group(), found.group(), position))
        elif kind != "space":
            tokens.append(_Token(kind, found.group(), position))
        position = found.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# ------------------------------------------------------------------------------ parser
_OPERATORS: Final[frozenset[str]] = frozenset({"eq", "ne", "co", "sw", "ew", "gt", "lt", "ge", "le"})
_EQUALITY: Final = frozenset({"eq", "ne"})
_ORDERING: Final = frozenset({"gt", "lt", "ge", "le"})
# RFC 7644 §3.4.2.2: gt/ge/lt/le on boolean or binary attributes is invalidFilter; co/sw/ew
# only mean something on text.
_OPERATORS_BY_TYPE: Final[dict[AttributeType, frozenset[str]]] = {
    AttributeType.STRING: _OPERATORS,
    AttributeType.REFERENCE: _OPERATORS,
    AttributeType.BINARY: _EQUALITY,
    AttributeType.BOOLEAN: _EQUALITY,
    AttributeType.DATETIME: _EQUALITY | _ORDERING,
    AttributeType.INTEGER: _EQUALITY | _ORDERING,
    AttributeType.DECIMAL: _EQUALITY | _ORDERING,
}
_OPERATOR_LIST: Final = "eq, ne, co, sw, ew, gt, lt, ge, le or pr"
_KEYWORD_VALUES: Final[dict[str, ComparisonValue]] = {"true": True, "false": False, "null": None}
_BOOLEAN_STRINGS: Final = {"true": True, "false": False}  # Entra's "True"/"False", lower-cased


class _Parser:
    """Recursive descent over the tokens of one filter or path.

    ``scope`` is None at the top level, where attribute paths resolve against the resource
    type, and the selected attribute inside ``[…]``, where they name its sub-attributes.
    ``depth`` counts the enclosing parentheses, ``not`` and brackets."""

    def __init__(self, text: str, resource_type: ResourceType, subject: Literal["filter", "path"]) -> None:
        if len(text) > MAX_FILTER_LENGTH:
            raise _Problem(f"The {subject} is longer than {MAX_FILTER_LENGTH} characters", None)
        self._tokens = _tokenize(text)
        self._index = 0
        self._resource_type = resource_type
        self._subject = subject

    # -------------------------------------------------------------- entry points
    def whole_filter(self) -> Filter:
        if self._peek().kind == "end":
            raise _Problem("The filter is empty", None)
        result = self._disjunction(None, 0)
        self._expect_end("'and', 'or' or the end of the filter")
        return result

    def patch_path(self) -> PatchPath:
        token = self._next()
        if token.kind != "word":
            raise self._unexpected(token, "an attribute path")
        path = self._resolve(token, None)
        if self._peek().kind != "[":
            self._expect_end("'[' or the end of the path")
            return PatchPath(path=path, value_filter=None, sub_attribute=None)
        attribute = self._selectable(path, token)
        condition = self._bracketed_condition(attribute, 0)
        sub_attribute = self._sub_attribute_after_brackets(attribute) if self._accept(".") else None
        self._expect_end("'.' and a sub-attribute, or the end of the path")
        return PatchPath(path=path, value_filter=condition, sub_attribute=sub_attribute)

    # --------------------------------------------------------------- grammar rules
    def _disjunction(self, scope: Attribute | None, depth: int) -> Filter:
        operands = [self._conjunction(scope, depth)]
        while self._accept_keyword("or"):
            operands.append(self._conjunction(scope, depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def _conjunction(self, scope: Attribute | None, depth: int) -> Filter:
        operands = [self._factor(scope, depth)]
        while self._accept_keyword("and"):
            operands.append(self._factor(scope, depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def _factor(self, scope: Attribute | None, depth: int) -> Filter:
        token = self._peek()
        if token.kind == "word" and token.text.lower() == "not":
            self._next()
            opening = self._next()
            if opening.kind != "(":
                raise self._unexpected(opening, "'(' after 'not'")
            return Not(self._parenthesized(opening, scope, depth))
        if token.kind == "(":
            return self._parenthesized(self._next(), scope, depth)
        return self._attribute_expression(scope, depth)

    def _parenthesized(self, opening: _Token, scope: Attribute | None, depth: int) -> Filter:
        self._check_depth(opening, depth + 1)
        inner = self._disjunction(scope, depth + 1)
        self._expect(")", f"'and', 'or' or ')' closing the '(' at column {opening.position + 1}")
        return inner

    def _attribute_expression(self, scope: Attribute | None, depth: int) -> Filter:
        token = self._next()
        if token.kind != "word" or token.text.lower() in ("and", "or"):
            raise self._unexpected(token, "an attribute path")
        if self._peek().kind == "[":
            if scope is not None:
                raise _Problem(
                    f"Value filters cannot be nested: '{scope.name}[…]' contains '{token.text}[…]'",
                    self._peek().position,
                )
            return self._value_path(token, depth)
        return self._test(self._resolve(token, scope), token)

    def _value_path(self, token: _Token, depth: int) -> ValuePath:
        """``attr[filter]``, and Entra's ``attr[filter].sub op value`` (or ``.sub pr``),
        which reads as ``attr[filter and sub op value]``."""
        path = self._resolve(token, None)
        attribute = self._selectable(path, token)
        condition = self._bracketed_condition(attribute, depth)
        if self._accept("."):
            sub_token = self._peek()
            sub_attribute = self._sub_attribute_after_brackets(attribute)
            test = self._test(ResolvedPath(None, sub_attribute), sub_token)
            condition = And((*_conjuncts(condition), test))
        return ValuePath(path, condition)

    def _bracketed_condition(self, attribute: Attribute, depth: int) -> Filter:
        opening = self._next()
        self._check_depth(opening, depth + 1)
        condition = self._disjunction(attribute, depth + 1)
        self._expect("]", f"'and', 'or' or ']' closing the '[' at column {opening.position + 1}")
        return condition

    def _test(self, path: ResolvedPath, path_token: _Token) -> Filter:
        """What follows an attribute path in a filter: ``pr``, or an operator and a value."""
        operator_token = self._next()
        if operator_token.kind != "word":
            raise self._unexpected(operator_token, f"an operator ({_OPERATOR_LIST}) after '{path_token.text}'")
        operator = operator_token.text.lower()
        if operator == "pr":
            return Present(path)
        if operator not in _OPERATORS:
            raise _Problem(
                f"Unknown operator '{operator_token.text}' (expected {_OPERATOR_LIST})", operator_token.position
            )
        value_token = self._next()
        value = self._literal(value_token, operator_token.text)
        return _checked_comparison(path, cast("Operator", operator), value, path_token, value_token)

    def _literal(self, token: _Token, operator: str) -> ComparisonValue:
        if token.kind == "string":
            decoded: str = json.loads(token.text)
            if has_lone_surrogate(decoded):
                raise _Problem(
                    "The string holds a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)", token.position
                )
            return decoded
        if token.kind == "number":
            if len(token.text) > MAX_NUMBER_DIGITS:
                raise _Problem(f"The number has more than {MAX_NUMBER_DIGITS} digits", token.position)
            if not any(mark in token.text for mark in ".eE"):
                return int(token.text)
            number = float(token.text)
            if not math.isfinite(number):
                raise _Problem(f"The number {token.text} is out of range", token.position)
            return number
        if token.kind == "word":
            keyword = token.text.lower()
            if keyword in _KEYWORD_VALUES:
                return _KEYWORD_VALUES[keyword]
            raise _Problem(
                f"Expected a value after '{operator}', found the bare word '{token.text}' "
                '(strings must be in double quotes: "…"; other values are true, false, null or a number)',
                token.position,
            )
        raise self._unexpected(token, f"a value after '{operator}'")

    # ------------------------------------------------------------------ resolution
    def _resolve(self, token: _Token, scope: Attribute | None) -> ResolvedPath:
        """Resolve an attribute path: against the resource type at the top level, or as a
        sub-attribute of ``scope`` inside brackets (where the path holds one plain name)."""
        if scope is not None:
            sub_attribute = scope.sub_attribute(token.text) if _ATTRIBUTE_NAME.fullmatch(token.text) else None
            if sub_attribute is None:
                raise _Problem(f"'{token.text}' is not a sub-attribute of '{scope.name}'", token.position)
            return ResolvedPath(None, sub_attribute)
        if not _ATTRIBUTE_PATH.fullmatch(token.text):
            raise _Problem(f"'{token.text}' is not an attribute path", token.position)
        try:
            path = resolve(self._resource_type, token.text)
        except UnknownAttribute as error:
            raise _Problem(str(error), token.position) from None
        if self._subject == "filter" and any(_is_secret(attribute) for attribute in (path.attribute, path.target)):
            raise _Problem(f"'{path}' is write-only and cannot be filtered on", token.position)
        return path

    def _selectable(self, path: ResolvedPath, token: _Token) -> Attribute:
        """The attribute ``path[…]`` selects elements of: multi-valued and complex."""
        if path.sub_attribute is not None:
            raise _Problem(
                f"A value filter selects elements of an attribute, not of the sub-attribute '{path}'", token.position
            )
        if not (path.attribute.multi_valued and path.attribute.is_complex):
            raise _Problem(
                f"'{path}' is not a multi-valued complex attribute: it has no elements to select", token.position
            )
        return path.attribute

    def _sub_attribute_after_brackets(self, attribute: Attribute) -> Attribute:
        token = self._next()
        sub_attribute = (
            attribute.sub_attribute(token.text)
            if token.kind == "word" and _ATTRIBUTE_NAME.fullmatch(token.text)
            else None
        )
        if sub_attribute is None:
            raise self._unexpected(token, f"a sub-attribute of '{attribute.name}' after ']'")
        return sub_attribute

    # -------------------------------------------------------------------- tokens
    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _next(self) -> _Token:
        token = self._tokens[self._index]
        if token.kind != "end":
            self._index += 1
        return token

    def _accept(self, kind: str) -> bool:
        if self._peek().kind == kind:
            self._index += 1
            return True
        return False

    def _accept_keyword(self, keyword: str) -> bool:
        token = self._peek()
        if token.kind == "word" and token.text.lower() == keyword:
            self._index += 1
            return True
        return False

    def _expect(self, kind: str, expected: str) -> None:
        token = self._next()
        if token.kind != kind:
            raise self._unexpected(token, expected)

    def _expect_end(self, expected: str) -> None:
        self._expect("end", expected)

    def _check_depth(self, opening: _Token, depth: int) -> None:
        if depth > MAX_NESTING_DEPTH:
            raise _Problem(f"The {self._subject} nests more than {MAX_NESTING_DEPTH} levels", opening.position)

    def _unexpected(self, token: _Token, expected: str) -> _Problem:
        found = {
            "end": f"the end of the {self._subject}",
            "string": f"the string {token.text}",
            "number": f"the number {token.text}",
        }.get(token.kind, f"'{token.text}'")
        return _Problem(f"Expected {expected}, found {found}", token.position)


def _is_secret(attribute: Attribute) -> bool:
    return attribute.mutability is Mutability.WRITE_ONLY or attribute.returned is Returned.NEVER


def _checked_comparison(
    path: ResolvedPath, operator: Operator, value: ComparisonValue, path_token: _Token, value_token: _Token
) -> Comparison:
    """A comparison that makes sense for the attribute's type, or the reason it does not."""
    target = path.target
    if target.is_complex:
        value_sub_attribute = target.sub_attribute("value") if target.multi_valued else None
        if value_sub_attribute is None:
            raise _Problem(
                f"'{path}' is complex: compare one of its sub-attributes, or test it with pr", path_token.position
            )
        path = ResolvedPath(path.extension, path.attribute, value_sub_attribute)
        target = value_sub_attribute
    if value is None:
        if operator not in _EQUALITY:
            raise _Problem(f"null can only be compared with eq or ne, not '{operator}'", value_token.position)
        return Comparison(path, operator, value)
    if operator not in _OPERATORS_BY_TYPE[target.type]:
        raise _Problem(
            f"Operator '{operator}' cannot be applied to the {target.type.value} attribute '{path}'",
            path_token.position,
        )
    if _comparable(target, value) is None:
        raise _Problem(
            f"{json.dumps(value, ensure_ascii=False)} is not a valid {target.type.value} value for '{path}'"
            + _VALUE_HINTS.get(target.type, ""),
            value_token.position,
        )
    return Comparison(path, operator, value)


_VALUE_HINTS: Final = {
    AttributeType.BOOLEAN: " (use true or false)",
    AttributeType.DATETIME: ' (use an xsd:dateTime string such as "2011-05-13T04:42:34Z")',
}


# ------------------------------------------------------------------------ public parse
def parse_filter(text: str, resource_type: ResourceType) -> Filter:
    """Parse and resolve a ``filter`` (query parameter or SearchRequest) for a resource type.

    Raises InvalidFilter (scimType invalidFilter) naming the problem and its column."""
    try:
        return _Parser(text, resource_type, "filter").whole_filter()
    except _Problem as problem:
        raise InvalidFilter(f"Invalid filter: {problem.message()}") from None


def parse_patch_path(text: str, resource_type: ResourceType) -> PatchPath:
    """Parse and resolve the ``path`` of a PATCH operation.

    Raises InvalidPath (scimType invalidPath), also for a problem inside its value filter:
    the path as a whole is what the client got wrong."""
    try:
        return _Parser(text, resource_type, "path").patch_path()
    except _Problem as problem:
        raise InvalidPath(f"Invalid path: {problem.message()}") from None


# -------------------------------------------------------------------------- evaluation
def matches(filter: Filter, resource: Mapping[str, Any]) -> bool:
    """Whether ``resource`` satisfies ``filter``.

    ``resource`` is in canonical form (attributes under their schema names, extension
    attributes under their schema URN), or is one element of a multi-valued attribute when
    ``filter`` is a value filter (:attr:`ValuePath.condition`, :attr:`PatchPath.value_filter`).
    """
    match filter:
        case Comparison(path=path, operator=operator, value=expected):
            return any(_compare(actual, operator, expected, path.target) for actual in _values(resource, path))
        case Present(path=path):
            return any(_is_assigned(actual) for actual in _values(resource, path))
        case And(operands=operands):
            return all(matches(operand, resource) for operand in operands)
        case Or(operands=operands):
            return any(matches(operand, resource) for operand in operands)
        case Not(operand=operand):
            return not matches(operand, resource)
        case ValuePath(path=path, condition=condition):
            elements = _container(resource, path).get(path.attribute.name)
            return isinstance(elements, list) and any(
                isinstance(element, Mapping) and matches(condition, element) for element in elements
            )


def _container(resource: Mapping[str, Any], path: ResolvedPath) -> Mapping[str, Any]:
    if path.container_key is None:
        return resource
    extension = resource.get(path.container_key)
    return extension if isinstance(extension, Mapping) else {}


def _values(resource: Mapping[str, Any], path: ResolvedPath) -> list[Any]:
    """The values a path designates: one per element of a multi-valued attribute, and a
    single None when there is none, so that unassigned attributes compare as such."""
    value = _container(resource, path).get(path.attribute.name)
    values = value if isinstance(value, list) else [value]
    if path.sub_attribute is not None:
        name = path.sub_attribute.name
        values = [element.get(name) if isinstance(element, Mapping) else None for element in values]
    return values or [None]


def _is_assigned(value: Any) -> bool:
    """RFC 7643 §2.5: null, "" and [] are unassigned, and so is a complex value whose
    sub-attributes all are. False and 0 are values."""
    if value is None or value == "":
        return False
    if isinstance(value, Mapping):
        return any(_is_assigned(item) for item in value.values())
    if isinstance(value, list):
        return any(_is_assigned(item) for item in value)
    return True


def _compare(actual: Any, operator: Operator, expected: ComparisonValue, attribute: Attribute) -> bool:
    if operator == "ne":
        return not _compare(actual, "eq", expected, attribute)
    if expected is None:
        return not _is_assigned(actual)
    left, right = _comparable(attribute, actual), _comparable(attribute, expected)
    if left is None or right is None:
        return False
    if operator == "eq":
        return bool(left == right)
    if operator == "co":
        return bool(right in left)
    if operator == "sw":
        return bool(left.startswith(right))
    if operator == "ew":
        return bool(left.endswith(right))
    if operator == "gt":
        return bool(left > right)
    if operator == "ge":
        return bool(left >= right)
    if operator == "lt":
        return bool(left < right)
    return bool(left <= right)


def _comparable(attribute: Attribute, value: Any) -> Any:
    """The form ``value`` compares in for ``attribute``'s type, or None when it is not a
    value of that type. Strings of attributes that are not caseExact are casefolded
    (Unicode caseless matching: "STRASSE" equals "Straße")."""
    kind = attribute.type
    if kind in (AttributeType.STRING, AttributeType.REFERENCE, AttributeType.BINARY):
        if not isinstance(value, str):
            return None
        return value if attribute.case_exact else value.casefold()
    if kind is AttributeType.BOOLEAN:
        if isinstance(value, bool):
            return value
        return _BOOLEAN_STRINGS.get(value.lower()) if isinstance(value, str) else None
    if kind is AttributeType.DATETIME:
        return _instant(value)
    if kind in (AttributeType.INTEGER, AttributeType.DECIMAL):
        is_number = isinstance(value, int | float) and not isinstance(value, bool)
        return value if is_number and (kind is AttributeType.DECIMAL or isinstance(value, int)) else None
    return None


_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def _instant(value: Any) -> datetime | None:
    """An xsd:dateTime string (RFC 7643 §2.3.5) as an aware datetime; UTC when it has no offset."""
    if not isinstance(value, str) or not _DATE_TIME.fullmatch(value):
        return None
    try:
        moment = datetime.fromisoformat(value.upper())
    except ValueError:  # a well-formed but impossible date, such as month 13
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ------------------------------------------------------------------------ key lookups
def equality_lookup(filter: Filter, keys: Collection[str]) -> tuple[str, str, str | None] | None:
    """The key lookup that finds every resource ``filter`` can match, if there is one.

    ``keys`` are the canonical paths the caller can look a value up by (the services' finder
    tables, ``services/lookups.py``). Returns (canonical path, value, element type):
    ``("userName", "x", None)`` for ``userName eq "x"``; ``("emails.value", "x", "work")`` for
    ``emails[type eq "work"].value eq "x"`` or ``emails[type eq "work" and value eq "x"]``;
    ``("emails.value", "x", None)`` for ``emails eq "x"``, ``emails.value eq "x"`` or
    ``emails[value eq "x"]``. For a conjunction, the first conjunct that is a lookup.
    Anything else (or, not, another operator, another attribute) is None: scan.

    The result may find more than ``filter`` matches (case, the other conjuncts): callers
    keep only the resources :func:`matches` accepts."""
    for conjunct in _conjuncts(filter):
        if isinstance(conjunct, Comparison) and conjunct.operator == "eq" and isinstance(conjunct.value, str):
            if str(conjunct.path) in keys:
                return str(conjunct.path), conjunct.value, None
        elif isinstance(conjunct, ValuePath):
            lookup = _element_lookup(conjunct, keys)
            if lookup is not None:
                return lookup
    return None


def _element_lookup(value_path: ValuePath, keys: Collection[str]) -> tuple[str, str, str | None] | None:
    attribute = value_path.path.attribute
    key = str(ResolvedPath(value_path.path.extension, attribute, attribute.sub_attribute("value")))
    if key not in keys:
        return None
    described = {
        conjunct.path.target.name: conjunct.value
        for conjunct in _conjuncts(value_path.condition)
        if isinstance(conjunct, Comparison) and conjunct.operator == "eq" and isinstance(conjunct.value, str)
    }
    value = described.get("value")
    return None if value is None else (key, value, described.get("type"))


def tests_attribute(filter: Filter, attribute: Attribute) -> bool:
    """True when some comparison of ``filter`` is on ``attribute`` or one of its sub-attributes."""
    if isinstance(filter, Comparison | Present | ValuePath):
        return filter.path.attribute is attribute
    if isinstance(filter, Not):
        return tests_attribute(filter.operand, attribute)
    return any(tests_attribute(operand, attribute) for operand in filter.operands)


def equality_values(value_filter: Filter) -> dict[str, ComparisonValue] | None:
    """The element a value filter describes, for PATCH to create when it selects nothing:
    ``type eq "work" and primary eq "True"`` → ``{"type": "work", "primary": "True"}``.

    None unless the filter is ``eq`` comparisons joined by ``and``, each sub-attribute named
    once: ``or``, ``not``, ``pr`` or another operator leave the element open."""
    described: dict[str, ComparisonValue] = {}
    for conjunct in _conjuncts(value_filter):
        if not isinstance(conjunct, Comparison) or conjunct.operator != "eq":
            return None
        name = conjunct.path.target.name
        if name in described:
            return None
        described[name] = conjunct.value
    return described


def _conjuncts(filter: Filter) -> Iterator[Filter]:
    """The operands of nested ``and`` nodes; a filter that is no conjunction is its own."""
    if isinstance(filter, And):
        for operand in filter.operands:
            yield from _conjuncts(operand)
    else:
        yield filter
