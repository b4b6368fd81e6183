"""The request bodies the token API accepts (create and rotate), validated by pydantic.

Only the two routes that read a body import this module (and pydantic with it): importing
pydantic and building these models costs about a quarter of a cold start's floor, which the
token API's reads (the list, a token) and the request-logs API never need
(docs/cold-start.md). A failure is a 400 in the admin dialect naming each problem."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

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


ExpiresAt = Annotated[AwareDatetime, AfterValidator(_storable)]


# An unknown field is refused, never ignored: a typo such as ``expires_at`` would otherwise mint
# a token without an expiry, which can never be rotated.
class CreateTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=256)
    expiresAt: ExpiresAt | None = None


class RotateTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expiresAt: ExpiresAt | None = None


Body = TypeVar("Body", bound=BaseModel)


def parse_body(model: type[Body], payload: Any) -> Body:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        problems = "; ".join(_problem(model, problem) for problem in error.errors(include_url=False))
        raise InvalidRequest(f"Invalid request body: {problems}") from error


def _problem(model: type[BaseModel], problem: Any) -> str:
    where = ".".join(str(part) for part in problem["loc"]) or "body"
    if problem["type"] == "extra_forbidden":
        return f"unknown field {where!r} (accepted: {', '.join(model.model_fields)})"
    return f"{where}: {problem['msg']}"
