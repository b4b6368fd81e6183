"""Domain errors. Services raise these; the HTTP edge (``http/``) turns them into the
token API's ``{"status": "error"}`` envelope or a SCIM error body. A service never
builds a response itself, and nothing outside the edge chooses a status code."""

from __future__ import annotations


class ServiceError(Exception):
    """Base of every expected failure; ``status`` is the HTTP status it maps to."""

    status = 500
    name = "UnexpectedServerError"
    scim_type: str | None = None
    # Seconds after which the same request may succeed: the answer's Retry-After header.
    retry_after_seconds: int | None = None

    def __init__(self, message: str, *, scim_type: str | None = None, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if scim_type is not None:
            self.scim_type = scim_type
        if retry_after_seconds is not None:
            self.retry_after_seconds = retry_after_seconds


class InvalidRequest(ServiceError):
    status = 400
    name = "ParameterError"
    scim_type = "invalidValue"


class Unauthenticated(ServiceError):
    status = 401
    name = "AuthorizationError"


class Forbidden(ServiceError):
    status = 403
    name = "ForbiddenError"


class NotFound(ServiceError):
    status = 404
    name = "NotFoundError"


class Conflict(ServiceError):
    status = 409
    name = "AlreadyExistsError"
    scim_type = "uniqueness"


class StillChanging(ServiceError):
    """A write kept losing optimistic-lock races. 409 like a uniqueness conflict, but
    without ``scimType: uniqueness``, which would tell the client its data clashes."""

    status = 409
    name = "ConflictError"


class PreconditionFailed(ServiceError):
    status = 412
    name = "PreconditionFailedError"


class PayloadTooLarge(ServiceError):
    status = 413
    name = "PayloadTooLargeError"


class UnsupportedMediaType(ServiceError):
    status = 415
    name = "UnsupportedMediaTypeError"


class ServiceUnavailable(ServiceError):
    """DynamoDB kept refusing work for lack of capacity after every retry: the request may
    succeed later, so it is a 503 with ``Retry-After`` for the client to retry, not a 500.
    The client is told only that; ``reason`` is for the log."""

    status = 503
    name = "ServiceUnavailableError"
    retry_after_seconds = 5

    def __init__(self, reason: str) -> None:
        super().__init__("The service is busy; retry the request later")
        self.reason = reason


# SCIM-specific 400s (RFC 7644 §3.12, table 9): the scimType says which rule was broken.
class InvalidSyntax(InvalidRequest):
    scim_type = "invalidSyntax"


class InvalidFilter(InvalidRequest):
    scim_type = "invalidFilter"


class InvalidPath(InvalidRequest):
    scim_type = "invalidPath"


class NoTarget(InvalidRequest):
    scim_type = "noTarget"


class MutabilityViolation(InvalidRequest):
    scim_type = "mutability"


class TooMany(InvalidRequest):
    scim_type = "tooMany"
