"""What a DynamoDB failure means to the stores, part of the table core: a condition that did
not hold (``ConditionFailed``, which each store translates into what it means for its
aggregate), or a refusal that may pass later (the domain error ``ServiceUnavailable``, a 503
for the client to retry; docs/decisions.md, "Stores by aggregate, and what a DynamoDB failure
means").

Its own module so that this one rule (which codes, reasons and transport errors are "not now")
is read and changed in one place, apart from how requests are built and sent; ``Table._send``
applies it to every request."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from scim_provisioning.errors import ServiceUnavailable
from scim_provisioning.repository.items import Item, deserialize

# DynamoDB's error codes for "not now": botocore's standard mode has already retried them.
_UNAVAILABLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
    }
)
# A cancelled transaction's reasons that mean "not now" rather than "your condition failed".
_UNAVAILABLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "TransactionConflict"})
_CONDITION_CODES = frozenset({"ConditionalCheckFailedException", "TransactionCanceledException"})


class ConditionFailed(Exception):
    """A write's condition did not hold. ``reasons`` are a cancelled transaction's
    CancellationReasons, one per operation in order (empty for a single-item write)."""

    def __init__(self, reasons: list[dict[str, Any]]) -> None:
        super().__init__("condition failed")
        self.reasons = reasons

    def failed_alone(self, index: int) -> bool:
        """Whether operation ``index``'s condition failed and operation 0's did not."""
        codes = [reason.get("Code") for reason in self.reasons]
        return len(codes) > index and codes[index] == "ConditionalCheckFailed" and codes[0] != "ConditionalCheckFailed"

    def failed(self, index: int) -> bool:
        """Whether operation ``index``'s own condition failed."""
        return len(self.reasons) > index and self.reasons[index].get("Code") == "ConditionalCheckFailed"

    def old_item(self, index: int) -> Item | None:
        """The item operation ``index`` found (it asked ReturnValuesOnConditionCheckFailure)."""
        old = self.reasons[index].get("Item") if len(self.reasons) > index else None
        return None if old is None else deserialize(old)

    @property
    def conflicted(self) -> bool:
        """Cancelled only because another transaction held an item: worth sending again."""
        codes = {reason.get("Code") for reason in self.reasons} - {"None", None}
        return codes == {"TransactionConflict"}


@contextmanager
def translated_errors() -> Iterator[None]:
    """DynamoDB's failures as the stores see them: ``ConditionFailed``, or ``ServiceUnavailable``
    for anything that may succeed later."""
    try:
        yield
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _CONDITION_CODES:
            reasons = [dict(reason) for reason in error.response.get("CancellationReasons", [])]
            failure = ConditionFailed(reasons)
            unavailable = {str(reason.get("Code")) for reason in reasons} & _UNAVAILABLE_REASONS
            if unavailable and not failure.conflicted and not any(map(failure.failed, range(len(reasons)))):
                raise ServiceUnavailable(f"DynamoDB cancelled a transaction: {sorted(unavailable)}") from error
            raise failure from error
        if code in _UNAVAILABLE_CODES or status >= 500:
            raise ServiceUnavailable(f"DynamoDB refused {error.operation_name} after retries: {code}") from error
        raise
    except (HTTPClientError, BotocoreConnectionError) as error:
        # Timeouts and dropped connections that outlasted botocore's retries. The request may
        # have been applied (a dropped answer): a transaction's retry with its
        # ClientRequestToken would say so, which is why every transaction carries one.
        raise ServiceUnavailable(f"DynamoDB did not answer: {type(error).__name__}") from error
