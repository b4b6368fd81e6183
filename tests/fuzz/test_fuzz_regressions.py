"""Every case a fuzz run ever found, kept as an explicit test (issue 14.4): each was a 5xx, an
error outside the route's dialect, or leaked internals, until the fix named beside it. They run
through the same handlers and the same oracle as the fuzz suite."""

from __future__ import annotations

import pytest

from devserver.dispatch import Dispatcher
from tests.fuzz.oracle import problems
from tests.fuzz.strategies import SCIM, SEARCH, Request, Targets

JSON = "application/scim+json"


def cases(targets: Targets) -> dict[str, tuple[Request, int]]:
    """name: (request, the status it must now get)."""
    bearer = [("Content-Type", JSON), ("Authorization", targets.bearer)]
    user = targets.user_ids[0]
    return {
        # a 5,000-digit number: int() refused it inside the JSON decoder (ValueError, 500);
        # now the decoder's parse_int refuses numbers over 100 digits first
        "a body of 5,000 digits": (Request("PUT", f"{SCIM}/Users/{user}", bearer, b"1" * 5000), 400),
        # a lone surrogate in a filter's string literal reached the externalId digest's
        # encode() (UnicodeEncodeError, 500); the filter parser refuses it
        "a lone surrogate in a nested filter": (
            Request(
                "GET", f"{SCIM}/Users?filter=" + "%28" * 31 + "externalId%20eq%20%22%5Cud800%22" + "%29" * 31, bearer
            ),
            400,
        ),
        # a SearchRequest whose filter is an object and count 2e19: list_query handed the dict
        # to the filter parser (AttributeError, 500); parameters are type-checked now
        "a search with an object as filter": (
            Request(
                "POST",
                f"{SCIM}/Groups/.search",
                bearer,
                b'{"schemas":["' + SEARCH.encode() + b'"],"count":22973652554364100608,"filter":{"value":[]}}',
            ),
            400,
        ),
        # POST /.search at the root: RFC 7644's 501 for an unsupported operation, by decision
        # (docs/decisions.md); the oracle accepts it there and nowhere else
        "search at the root": (Request("POST", f"{SCIM}//.search", bearer, b"{}"), 501),
        # 415 names its error "UnsupportedMediaTypeError": not a leaked TypeError (the oracle
        # matches Python's exception names as whole words)
        "a body in Latin-1": (
            Request(
                "PATCH",
                f"/api/v1/scim/organization-access-tokens/{targets.token_uuids[0]}/rotate",
                [
                    ("Content-Type", "application/scim+json; charset=ISO-8859-1"),
                    ("Authorization", f"ApiKey {targets.api_key}"),
                ],
                b"",
            ),
            415,
        ),
    }


@pytest.mark.parametrize(
    "name",
    [
        "a body of 5,000 digits",
        "a lone surrogate in a nested filter",
        "a search with an object as filter",
        "search at the root",
        "a body in Latin-1",
    ],
)
def test_a_case_the_fuzzer_found_stays_fixed(dispatcher: Dispatcher, targets: Targets, name: str) -> None:
    # Given the request a fuzz run found
    request, expected = cases(targets)[name]

    # When the handlers answer it
    response = dispatcher.handle(request.method, request.target, request.headers, request.body)

    # Then it gets its status, with nothing the oracle objects to
    assert response.status == expected, response.body
    assert problems(request.method, request.path, response.status, response.headers, response.body, 0.0) == []
