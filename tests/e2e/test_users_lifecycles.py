"""SCIM /Users over real HTTP against the dev server, as Okta and Microsoft Entra ID drive it.

Each lifecycle is the sequence of requests the identity provider sends, in order, with its
own request shapes (tests/scim_samples.py) and query strings as it encodes them. Then the
races an identity provider causes when it retries or runs provisioning jobs in parallel,
with real threads and real connections, and the body-size limit."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from urllib.parse import quote

import pytest
import requests

from scim_provisioning.limits import MAX_BODY_BYTES
from tests.e2e.helpers import (
    SCIM_BASE_PATH,
    DevServer,
    Scim,
    assert_scim_error,
    mint_scim_token,
    unique_name,
)
from tests.scim_samples import ENTERPRISE, entra_user, okta_user, patch_op

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def scim(dev_server: DevServer) -> Scim:
    return Scim(dev_server, mint_scim_token(dev_server, "Identity provider"))


# ------------------------------------------------------------------------------ Okta
def test_okta_scim_2_test_app_lifecycle(scim: Scim) -> None:
    user_name = unique_name("okta")
    lookup = f"filter=userName%20eq%20%22{quote(user_name)}%22&startIndex=1&count=100"

    # Given a person assigned to the app: Okta first looks them up
    missing = scim.listed(lookup)
    assert (missing["totalResults"], missing["Resources"], missing["startIndex"]) == (0, [], 1)

    # When Okta creates them, with groups: [], a password and a locale
    response = scim.request("POST", "/Users", okta_user(user_name))
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["Location"] == created["meta"]["location"]
    assert response.headers["ETag"] == created["meta"]["version"]
    assert "password" not in created
    assert (created["userName"], created["locale"], created["active"]) == (user_name, "en-US", True)
    user_id = created["id"]

    # Then it is readable by id
    fetched = scim.ok("GET", f"/Users/{user_id}")
    assert fetched == created

    # When Okta pushes a profile change with PUT, echoing id, meta and groups
    replacement = {**fetched, "displayName": "Ada King", "title": "Countess", "groups": [], "password": "New-5678!"}
    replaced = scim.ok("PUT", f"/Users/{user_id}", replacement)
    assert (replaced["id"], replaced["displayName"], replaced["title"]) == (user_id, "Ada King", "Countess")
    assert replaced["meta"]["created"] == created["meta"]["created"]
    assert replaced["meta"]["version"] != created["meta"]["version"]
    assert "password" not in replaced

    # When Okta deactivates them with a path-less replace
    deactivated = scim.ok("PATCH", f"/Users/{user_id}", patch_op({"op": "replace", "value": {"active": False}}))
    assert deactivated["active"] is False

    # Then the user is still there, by id and by Okta's lookup filter
    assert scim.ok("GET", f"/Users/{user_id}")["active"] is False
    found = scim.listed(lookup)
    assert found["totalResults"] == 1
    assert (found["Resources"][0]["id"], found["Resources"][0]["active"]) == (user_id, False)

    # When Okta reactivates them
    reactivated = scim.ok("PATCH", f"/Users/{user_id}", patch_op({"op": "replace", "value": {"active": True}}))

    # Then everything else survived deactivation
    assert reactivated["active"] is True
    assert (reactivated["displayName"], reactivated["title"]) == ("Ada King", "Countess")


# ------------------------------------------------------------------------------ Entra
def test_entra_provisioning_lifecycle(scim: Scim) -> None:
    user_name = unique_name("entra")
    external_id = str(uuid.uuid4())

    # Given Entra's Test Connection: a filter on a random GUID must be 200 and empty
    probe = scim.listed("filter=" + quote(f'userName eq "{uuid.uuid4()}"'))
    assert (probe["totalResults"], probe["Resources"]) == (0, [])

    # When Entra creates the user with nulls (no mail in the directory yet), roles: [],
    # "active": "True" and a manager
    body = entra_user(user_name, externalId=external_id, emails=None)
    body[ENTERPRISE] = {**body[ENTERPRISE], "manager": {"value": "boss-0001"}}
    created = scim.ok("POST", "/Users", body, status=201)
    user_id = created["id"]
    assert created["active"] is True
    assert "title" not in created and "roles" not in created and "emails" not in created
    assert created[ENTERPRISE] == {"employeeNumber": "42", "manager": {"value": "boss-0001"}}

    # When Entra updates attributes in its own PATCH dialect
    patched = scim.ok(
        "PATCH",
        f"/Users/{user_id}",
        patch_op(
            {"op": "Replace", "path": "displayName", "value": "Amazing Grace"},
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": user_name},
            {"op": "Add", "path": 'emails[type eq "home"].value', "value": "grace@home.test"},
            {"op": "Add", "path": 'phoneNumbers[type eq "mobile"].value', "value": "+1 555 0100"},
            {"op": "Add", "value": {"name.givenName": "Gracie", f"{ENTERPRISE}:department": "Navy"}},
            {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": "boss-0002"},
            {"op": "Remove", "path": f"{ENTERPRISE}:employeeNumber"},
        ),
    )

    # Then every change is there, the manager reads back as an object
    assert patched["displayName"] == "Amazing Grace"
    assert patched["emails"] == [{"type": "work", "value": user_name}, {"type": "home", "value": "grace@home.test"}]
    assert {"type": "mobile", "value": "+1 555 0100"} in patched["phoneNumbers"]
    assert patched["name"]["givenName"] == "Gracie"
    assert patched[ENTERPRISE] == {"department": "Navy", "manager": {"value": "boss-0002"}}
    assert scim.ok("GET", f"/Users/{user_id}") == patched

    # Entra matches by externalId (with + for spaces, as form encoding does)
    by_external_id = scim.listed("filter=externalId+eq+%22" + external_id + "%22")
    assert [user["id"] for user in by_external_id["Resources"]] == [user_id]
    by_work_email = scim.listed("filter=" + quote(f'emails[type eq "work"].value eq "{user_name.upper()}"'))
    assert [user["id"] for user in by_work_email["Resources"]] == [user_id]

    # When Entra disables the user with a boolean sent as a string
    disabled = scim.ok("PATCH", f"/Users/{user_id}", patch_op({"op": "Replace", "path": "active", "value": "False"}))
    assert disabled["active"] is False
    assert scim.listed("filter=userName%20eq%20%22" + quote(user_name) + "%22")["totalResults"] == 1

    # When Entra deletes the user (30 days later, in real life)
    assert scim.request("DELETE", f"/Users/{user_id}").status_code == 204

    # Then it is gone, and its userName is free again
    assert_scim_error(scim.request("GET", f"/Users/{user_id}"), 404)
    assert_scim_error(scim.request("DELETE", f"/Users/{user_id}"), 404)
    assert scim.listed("filter=" + quote(f'userName eq "{user_name}"'))["totalResults"] == 0
    assert scim.ok("POST", "/Users", entra_user(user_name.upper()), status=201)["id"] != user_id


# ------------------------------------------------------------------------------ concurrency
def run_together(calls: list[Callable[[], requests.Response]]) -> list[requests.Response]:
    """Start every call at once (a barrier), each in its own thread and connection."""
    results: list[requests.Response | BaseException | None] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = calls[index]()
        except BaseException as error:  # surfaced below, in the test's thread
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results  # type: ignore[return-value]


def test_twenty_simultaneous_creates_of_one_user_name_in_mixed_case_make_one_user(scim: Scim) -> None:
    user_name = unique_name("race")
    spellings = [user_name, user_name.upper(), user_name.title(), user_name.swapcase()] * 5

    responses = run_together(
        [(lambda name=name: scim.request("POST", "/Users", okta_user(name))) for name in spellings]
    )

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [201] + [409] * 19, [response.text for response in responses]
    for response in responses:
        if response.status_code == 409:
            assert_scim_error(response, 409, "uniqueness")
    found = scim.listed("filter=" + quote(f'userName eq "{user_name.upper()}"'))
    assert found["totalResults"] == 1


def test_ten_simultaneous_patches_of_one_user_all_land(scim: Scim) -> None:
    user_id = scim.ok("POST", "/Users", okta_user(unique_name("patched")), status=201)["id"]
    numbers = [f"+1 555 01{index:02d}" for index in range(10)]

    responses = run_together(
        [
            (
                lambda number=number: scim.request(
                    "PATCH",
                    f"/Users/{user_id}",
                    patch_op({"op": "add", "path": "phoneNumbers", "value": [{"value": number, "type": "work"}]}),
                )
            )
            for number in numbers
        ]
    )

    # Every change was acknowledged ...
    assert [response.status_code for response in responses] == [200] * 10, [r.text for r in responses]
    # ... and every acknowledged change is there: none overwrote another
    final = scim.ok("GET", f"/Users/{user_id}")
    assert sorted(phone["value"] for phone in final["phoneNumbers"]) == numbers
    assert final["meta"]["version"] == 'W/"11"'


# ------------------------------------------------------------------------------ limits
def test_a_body_over_the_published_limit_is_a_scim_413(scim: Scim, dev_server: DevServer) -> None:
    published = requests.get(dev_server.url(f"{SCIM_BASE_PATH}/ServiceProviderConfig"), timeout=10).json()
    limit = published["bulk"]["maxPayloadSize"]
    assert limit == MAX_BODY_BYTES
    user_name = unique_name("huge")
    body = okta_user(user_name, displayName="x" * limit)

    error = assert_scim_error(scim.request("POST", "/Users", body), 413)

    assert str(limit) in error["detail"]
    assert scim.listed("filter=" + quote(f'userName eq "{user_name}"'))["totalResults"] == 0
