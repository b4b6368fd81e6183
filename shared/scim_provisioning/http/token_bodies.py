"""The request bodies the token API accepts (create and rotate), validated by pydantic's core.

Each body is declared as the pydantic-core schema that pydantic builds for a model with these
fields (``model-fields``: the same validators, the same errors in the same order, the same
messages) rather than as a pydantic model: importing pydantic and building its models cost the
first request that reads a body about half of a cold start's floor, pydantic-core alone about
a tenth (docs/cold-start.md). ``tests/unit/test_token_bodies.py`` keeps the former pydantic
models as the oracle the answers are compared with. Only the two routes that read a body import
this module. A failure is a 400 in the admin dialect naming each problem."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

from pydantic_core import SchemaValidator, ValidationError, core_schema

from scim_provisioning.errors import InvalidRequest

# The latest expiry a token may have: any later instant (9999-12-31T23:59:59-23:59 is in the
# year 10000 in UTC) cannot be stored, nor have the retention of its retired credential added.
LATEST_EXPIRY = datetime(9000, 1, 1, tzinfo=UTC)


def _storable(moment: datetime) -> datetime:
    """The instant in UTC, when it is one the service can store and compute with."""
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is not a representable instant once converted to UTC") from None
    if utc >= LATEST_EXPIRY:
        raise ValueError(f"must be before {LATEST_EXPIRY.date().isoformat()}")
    return utc


# A timezone-aware instant (pydantic's ``AwareDatetime``) the service can store, in UTC, or
# null; absent means null.
_EXPIRES_AT = core_schema.model_field(
    core_schema.with_default_schema(
        core_schema.nullable_schema(
            core_schema.no_info_after_validator_function(
                _storable,
                core_schema.datetime_schema(tz_constraint="aware", microseconds_precision="truncate"),
            )
        ),
        default=None,
    )
)


def _body_validator(**body_fields: core_schema.ModelField) -> SchemaValidator:
    """A body's validator. An unknown field is refused, never ignored: a typo such as
    ``expires_at`` would otherwise mint a token without an expiry, which can never be rotated."""
    return SchemaValidator(core_schema.model_fields_schema(body_fields, extra_behavior="forbid"))


@dataclass(frozen=True)
class CreateTokenBody:
    description: str
    expiresAt: datetime | None = None

    validator: ClassVar[SchemaValidator] = _body_validator(
        description=core_schema.model_field(core_schema.str_schema(min_length=1, max_length=256)),
        expiresAt=_EXPIRES_AT,
    )


@dataclass(frozen=True)
class RotateTokenBody:
    expiresAt: datetime | None = None

    validator: ClassVar[SchemaValidator] = _body_validator(expiresAt=_EXPIRES_AT)


Body = TypeVar("Body", CreateTokenBody, RotateTokenBody)


def parse_body(body: type[Body], payload: Any) -> Body:
    try:
        values, _, _ = body.validator.validate_python(payload)
    except ValidationError as error:
        problems = "; ".join(_problem(body, problem) for problem in error.errors(include_url=False))
        raise InvalidRequest(f"Invalid request body: {problems}") from error
    return body(**values)


def _problem(body: type[Body], problem: Any) -> str:
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    if problem["type"] == "extra_forbidden":
        accepted = ", ".join(field.name for field in fields(body))
        return f"unknown field {where!r} (accepted: {accepted})"
    return f"{where}: {problem['msg']}"
