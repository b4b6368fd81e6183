"""The request bodies the token API accepts (create and rotate), validated by pydantic.

Only the two routes that read a body import this module (and pydantic with it): importing
pydantic and building these models costs about a quarter of a cold start's floor, which the
token API's reads (the list, a token) and the request-logs API never need
(docs/cold-start.md). A failure is a 400 in the admin dialect naming each problem."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from scim_provisioning.errors import InvalidRequest


# An unknown field is refused, never ignored: a typo such as ``expires_at`` would otherwise mint
# a token without an expiry, which can never be rotated.
class CreateTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = Field(min_length=1, max_length=256)
    expiresAt: AwareDatetime | None = None


class RotateTokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expiresAt: AwareDatetime | None = None


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
