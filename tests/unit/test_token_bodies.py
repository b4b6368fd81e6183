"""The token API's request bodies (``http/token_bodies.py``) against the pydantic models they
replaced: for any body, the same values or the same 400 message, word for word.

The oracle below is the code the token API ran before its bodies moved to pydantic-core (to
spare the first request that reads a body the import of pydantic and the building of its
models); pydantic stays a test dependency for it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from scim_provisioning.errors import InvalidRequest
from scim_provisioning.http.token_bodies import CreateTokenBody, RotateTokenBody, _storable, parse_body

# ----------------------------------------------------------------------- the oracle
# The expiry check in UTC (``_storable``) is the module's own: it ran after pydantic's
# validation then as it runs after pydantic-core's now.
OracleExpiresAt = Annotated[AwareDatetime, AfterValidator(_storable)]


class OracleCreateTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=256)
    expiresAt: OracleExpiresAt | None = None


class OracleRotateTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expiresAt: OracleExpiresAt | None = None


Model = TypeVar("Model", bound=BaseModel)


def oracle_parse(model: type[Model], payload: Any) -> Model:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(_oracle_problem(model, problem) for problem in error.errors(include_url=False))
        raise InvalidRequest(f"Invalid request body: {problems}") from error


def _oracle_problem(model: type[BaseModel], problem: Any) -> str:
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    if problem["type"] == "extra_forbidden":
        return f"unknown field {where!r} (accepted: {', '.join(model.model_fields)})"
    return f"{where}: {problem['msg']}"


PAIRS = [(CreateTokenBody, OracleCreateTokenBody), (RotateTokenBody, OracleRotateTokenBody)]


def outcome(parse: Any, body: Any, payload: Any) -> tuple[str, Any]:
    """("ok", the fields' values) or ("400", the message)."""
    try:
        parsed = parse(body, payload)
    except InvalidRequest as refused:
        return "400", refused.message
    return "ok", {name: getattr(parsed, name) for name in ("description", "expiresAt") if hasattr(parsed, name)}


def assert_same(payload: dict[str, Any]) -> None:
    for body, oracle in PAIRS:
        assert outcome(parse_body, body, payload) == outcome(oracle_parse, oracle, payload), payload


# ----------------------------------------------------------------------- cases
@pytest.mark.parametrize(
    "payload",
    [
        {"description": "Okta", "expiresAt": "2030-12-31T23:59:59.000Z"},
        {"description": "Okta", "expiresAt": None},
        {"description": "Okta"},
        {"expiresAt": "2030-01-01T00:00:00+05:30"},
        {"expiresAt": "2030-01-01 00:00:00Z"},
        {"expiresAt": "2030-01-01T00:00:00.123456789Z"},  # beyond microseconds: truncated
        {"expiresAt": 1_900_000_000},  # a Unix time: pydantic takes it, in UTC
        {"expiresAt": "1900000000"},
        {"expiresAt": 1_900_000_000_000},  # milliseconds
        {"expiresAt": "2030-01-01T00:00:00"},  # no offset: refused
        {"expiresAt": "2030-01-01"},
        {"expiresAt": "tomorrow"},
        {"expiresAt": True},
        {"expiresAt": ["2030-01-01T00:00:00Z"]},
        {"description": "", "expiresAt": "2030-01-01T00:00:00Z"},
        {"description": "x" * 256},
        {"description": "x" * 257},
        {"description": "🔑" * 256},
        {"description": 42},
        {"description": None},
        {},
        {"description": "Okta", "expires_at": "2030-01-01T00:00:00Z"},
        {"description": "Okta", "scopes": ["users"], "ExpiresAt": "2030-01-01T00:00:00Z"},
        {"description": "", "expiresAt": "soon", "owner": "me"},
    ],
)
def test_a_body_is_answered_as_the_pydantic_models_answered_it(payload: dict[str, Any]) -> None:
    """Given a body the token API may receive (valid, malformed, with unknown fields), when it
    is parsed for a create and for a rotation, then the values or the 400 message are those
    the former pydantic models gave."""
    assert_same(payload)


def test_a_valid_body_gives_its_values() -> None:
    body = parse_body(CreateTokenBody, {"description": "Okta", "expiresAt": "2030-01-01T01:00:00+01:00"})
    assert body.description == "Okta"
    assert body.expiresAt == datetime(2030, 1, 1, tzinfo=UTC)
    assert parse_body(RotateTokenBody, {}).expiresAt is None


# Strings that look like instants, almost: each part may be off, so that the parser's every
# refusal (and its message) is met as well as its every accepted form.
_digits = st.text(alphabet="0123456789", min_size=0, max_size=5)
_instants = st.builds(
    lambda date, separator, time, fraction, offset: f"{date}{separator}{time}{fraction}{offset}",
    st.one_of(st.dates().map(str), st.builds(lambda *parts: "-".join(parts), _digits, _digits, _digits)),
    st.sampled_from(["T", "t", " ", "_", "", "X"]),
    st.one_of(st.times().map(lambda moment: moment.strftime("%H:%M:%S")), _digits, st.just("24:00:00")),
    st.sampled_from(["", ".1", ".123456", ".1234567", ".", ".x"]),
    st.sampled_from(["", "Z", "z", "+00:00", "-23:59", "+24:00", "+0530", "+05", "UTC", " Z"]),
)
_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**14), max_value=10**14),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=300),
    _instants,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
_payloads = st.dictionaries(
    st.one_of(st.sampled_from(["description", "expiresAt", "expires_at", "Description"]), st.text(max_size=8)),
    _values,
    max_size=4,
)


@settings(max_examples=400, derandomize=True, database=None, deadline=None)
@given(_payloads)
def test_any_body_is_answered_as_the_pydantic_models_answered_it(payload: dict[str, Any]) -> None:
    """Given any JSON object (fixed-seed examples), when it is parsed for a create and for a
    rotation, then the outcome is the former pydantic models' outcome, word for word."""
    assert_same(payload)
