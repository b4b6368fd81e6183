"""SCIM discovery (RFC 7644 §4) through its Lambda handler: no authentication required."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from devserver.dispatch import Dispatcher, HttpResponse
from devserver.template import PROJECT_ROOT
from scim_provisioning.limits import MAX_BODY_BYTES
from scim_provisioning.scim.listing import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from scim_provisioning.scim.schema import RESOURCE_TYPES, SCHEMAS

BASE = "/api/v1/scim/v2"
SCIM_JSON = "application/scim+json"
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def get(api: Dispatcher, path: str, method: str = "GET") -> HttpResponse:
    return api.handle(method, path, [("Accept", SCIM_JSON)])


def ok(response: HttpResponse) -> dict[str, Any]:
    assert response.status == 200, response.body
    assert response.header("Content-Type") == SCIM_JSON
    return json.loads(response.body)


def scim_error(response: HttpResponse, status: int) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.header("Content-Type") == SCIM_JSON
    document = json.loads(response.body)
    assert document["schemas"] == [ERROR_SCHEMA]
    assert document["status"] == str(status)
    return document


def test_service_provider_config_tells_what_the_service_supports(api: Dispatcher):
    config = ok(get(api, f"{BASE}/ServiceProviderConfig"))

    assert config["schemas"] == [SPC_SCHEMA]
    assert config["patch"] == {"supported": True}
    assert config["filter"] == {"supported": True, "maxResults": MAX_PAGE_SIZE}
    assert config["sort"] == {"supported": False}
    assert config["etag"] == {"supported": True}
    assert config["changePassword"] == {"supported": False}
    assert config["bulk"] == {"supported": False, "maxOperations": 0, "maxPayloadSize": MAX_BODY_BYTES}
    assert config["pagination"] == {
        "cursor": True,
        "index": True,
        "defaultPaginationMethod": "index",
        "defaultPageSize": DEFAULT_PAGE_SIZE,
        "maxPageSize": MAX_PAGE_SIZE,
        "cursorTimeout": 3600,
    }
    (scheme,) = config["authenticationSchemes"]
    assert scheme["type"] == "oauthbearertoken" and scheme["primary"] is True
    assert scheme["name"] == "OAuth Bearer Token" and scheme["description"]
    assert config["meta"]["resourceType"] == "ServiceProviderConfig"
    assert config["meta"]["location"].endswith(f"{BASE}/ServiceProviderConfig")


def test_the_base_url_answers_connection_tests_with_the_service_provider_config(api: Dispatcher):
    assert ok(get(api, BASE)) == ok(get(api, f"{BASE}/ServiceProviderConfig"))


def test_schemas_lists_every_schema_with_its_location(api: Dispatcher):
    listing = ok(get(api, f"{BASE}/Schemas"))

    assert listing["schemas"] == [LIST_RESPONSE]
    assert listing["totalResults"] == listing["itemsPerPage"] == len(SCHEMAS) == len(listing["Resources"])
    assert listing["startIndex"] == 1
    assert [schema["id"] for schema in listing["Resources"]] == [schema.id for schema in SCHEMAS]
    for schema in listing["Resources"]:
        assert schema["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
        assert schema["meta"] == {"resourceType": "Schema", "location": schema["meta"]["location"]}
        assert schema["meta"]["location"].endswith(f"{BASE}/Schemas/{schema['id']}")
        assert schema["attributes"]


def test_one_schema_by_id(api: Dispatcher):
    user = ok(get(api, f"{BASE}/Schemas/{USER_SCHEMA}"))
    enterprise = ok(get(api, f"{BASE}/Schemas/{ENTERPRISE}"))

    assert user["id"] == USER_SCHEMA
    names = {attribute["name"]: attribute for attribute in user["attributes"]}
    assert names["userName"]["required"] is True and names["userName"]["uniqueness"] == "server"
    assert names["password"]["returned"] == "never" and names["password"]["mutability"] == "writeOnly"
    assert any(attribute["name"] == "manager" for attribute in enterprise["attributes"])
    assert user == next(item for item in ok(get(api, f"{BASE}/Schemas"))["Resources"] if item["id"] == USER_SCHEMA)


def test_resource_types_list_and_one(api: Dispatcher):
    listing = ok(get(api, f"{BASE}/ResourceTypes"))
    user = ok(get(api, f"{BASE}/ResourceTypes/User"))

    assert listing["schemas"] == [LIST_RESPONSE]
    assert listing["totalResults"] == len(RESOURCE_TYPES)
    assert [item["id"] for item in listing["Resources"]] == [item.id for item in RESOURCE_TYPES]
    assert user["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"]
    assert user["endpoint"] == "/Users"
    assert user["schema"] == USER_SCHEMA
    assert user["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    assert user["meta"]["location"].endswith(f"{BASE}/ResourceTypes/User")
    assert user in listing["Resources"]


def test_unknown_schema_or_resource_type_is_a_scim_404(api: Dispatcher):
    scim_error(get(api, f"{BASE}/Schemas/urn:nope"), 404)
    scim_error(get(api, f"{BASE}/ResourceTypes/Printer"), 404)


def test_unknown_scim_paths_are_a_scim_404(api: Dispatcher):
    scim_error(get(api, f"{BASE}/Printers"), 404)
    scim_error(get(api, f"{BASE}/Printers/42", "POST"), 404)
    scim_error(get(api, f"{BASE}/Bulk", "POST"), 404)


@pytest.mark.parametrize(
    "path", ["/", "//ServiceProviderConfig", "//Schemas", f"//Schemas/{USER_SCHEMA}", "//ResourceTypes//User"]
)
def test_a_doubled_slash_after_the_base_url_is_served_like_a_single_one(api: Dispatcher, path: str):
    """Given the base URL's trailing slash and a client appending a discovery path, when the
    doubled slash reaches the template's greedy route, then the same document as with one slash."""
    single = f"{BASE}{path}".replace("//", "/")

    assert ok(get(api, f"{BASE}{path}")) == ok(get(api, single))


def test_an_unknown_path_with_a_doubled_slash_is_a_scim_404(api: Dispatcher):
    scim_error(get(api, f"{BASE}//Bulk"), 404)


def test_a_search_at_the_root_is_a_scim_501(api: Dispatcher):
    # RFC 7644 §3.4.3 makes a search over every resource type optional; we answer that we
    # do not do it rather than 404, which would read as a wrong base URL
    error = scim_error(get(api, f"{BASE}/.search", "POST"), 501)

    assert "/Users/.search" in error["detail"]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "get"])
@pytest.mark.parametrize(
    "path",
    ["", "/ServiceProviderConfig", "/Schemas", f"/Schemas/{USER_SCHEMA}", "/ResourceTypes", "/ResourceTypes/User"],
)
def test_other_methods_are_a_scim_405_with_allow(api: Dispatcher, method: str, path: str):
    """Given a discovery path, when any method but GET arrives (methods are case-sensitive), then
    a SCIM 405 with Allow: GET, without authentication like the GET itself."""
    response = get(api, f"{BASE}{path}", method)

    scim_error(response, 405)
    assert response.header("Allow") == "GET"


def test_discovery_does_not_import_boto3():
    """Cold start: the unauthenticated discovery function has no use for the AWS SDK nor the
    table (Powertools itself imports the small ``botocore`` top package; that is not ours)."""
    loaded = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, functions.scim_discovery.handler; "
            "print(sorted(name for name in sys.modules if name == 'boto3' or name.startswith('boto3.') "
            "or name in ('scim_provisioning.runtime', 'scim_provisioning.repository.dynamodb')))",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "[]"
