"""A client's parameters, from a query string (always text) or a JSON body (any JSON value):
the one reader of integers and strings every route uses, so that a parameter of the wrong type
or shape is a 400 naming it, never a crash further in.

Integers are ASCII digits with an optional sign (``int()`` alone also takes ``"١٢"``,
``"1_000"`` or ``" 5"``, and ``str.isdigit`` says yes to ``"²"``, which ``int()`` refuses), or a
JSON integer; anything longer than ``MAX_NUMBER_DIGITS`` is refused before it is converted."""

from __future__ import annotations

import re
from typing import Any

from scim_provisioning.errors import InvalidRequest
from scim_provisioning.limits import MAX_NUMBER_DIGITS

_INTEGER = re.compile(r"[+-]?[0-9]+")


def integer(value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an integer within [minimum, maximum], or a 400 that names ``name`` and the range."""
    allowed = _range(minimum, maximum)
    if not _is_integer(value):
        raise InvalidRequest(f"'{name}' must be an integer{allowed}")
    number = int(value)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InvalidRequest(f"'{name}' must be an integer{allowed}, not {number}")
    return number


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return value.is_integer()
    if isinstance(value, str):
        return len(value) <= MAX_NUMBER_DIGITS and _INTEGER.fullmatch(value) is not None
    return isinstance(value, int)


def text(value: Any, name: str) -> str:
    """``value`` when it is a string; a 400 naming ``name`` when it is another JSON value."""
    if not isinstance(value, str):
        raise InvalidRequest(f"'{name}' must be a string")
    return value


def _range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f" from {minimum} to {maximum}"
    if minimum is not None:
        return f" of at least {minimum}"
    if maximum is not None:
        return f" of at most {maximum}"
    return ""
