"""The discovery documents (RFC 7644 §4): ServiceProviderConfig, Schemas and ResourceTypes.

Everything here is built from the constants the service actually enforces (page sizes, body
limit) and from the single schema definition in ``schema.py``, so the documents cannot drift
from the behaviour. No I/O and no AWS imports: the discovery function stays light."""

from __future__ import annotations

from typing import Any

from scim_provisioning.limits import DEFAULT_PAGE_SIZE, MAX_BODY_BYTES, MAX_PAGE_SIZE
from scim_provisioning.scim.listing import list_response
from scim_provisioning.scim.schema import RESOURCE_TYPES, SCHEMAS, ResourceType, Schema

SERVICE_PROVIDER_CONFIG_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
DOCUMENTATION_URI = "https://datatracker.ietf.org/doc/html/rfc7644"
# RFC 9865: how long a cursor stays valid. Ours encode a position, so they never expire
# sooner than this; the figure is the promise we publish.
CURSOR_TIMEOUT_SECONDS = 3600


def service_provider_config(base_url: str) -> dict[str, Any]:
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": DOCUMENTATION_URI,
        "patch": {"supported": True},
        "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": MAX_BODY_BYTES},
        "filter": {"supported": True, "maxResults": MAX_PAGE_SIZE},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
        "pagination": {
            "cursor": True,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": DEFAULT_PAGE_SIZE,
            "maxPageSize": MAX_PAGE_SIZE,
            "cursorTimeout": CURSOR_TIMEOUT_SECONDS,
        },
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "Authentication with an organization's SCIM access token: "
                "'Authorization: Bearer scim_…', as generated through the access-token API.",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": True,
            }
        ],
        "meta": {"resourceType": "ServiceProviderConfig", "location": f"{base_url}/ServiceProviderConfig"},
    }


def _find(items: tuple[Any, ...], identifier: str) -> Any | None:
    # Schema URNs and resource-type ids are compared case-insensitively, as clients vary.
    return next((item for item in items if item.id.lower() == identifier.lower()), None)


def schema_document(schema: Schema, base_url: str) -> dict[str, Any]:
    return schema.to_document(f"{base_url}/Schemas/{schema.id}")


def find_schema(identifier: str) -> Schema | None:
    return _find(SCHEMAS, identifier)


def schemas_list(base_url: str) -> dict[str, Any]:
    documents = [schema_document(schema, base_url) for schema in SCHEMAS]
    return list_response(documents, len(documents), 1)


def resource_type_document(resource_type: ResourceType, base_url: str) -> dict[str, Any]:
    return resource_type.to_document(f"{base_url}/ResourceTypes/{resource_type.id}")


def find_resource_type(identifier: str) -> ResourceType | None:
    return _find(RESOURCE_TYPES, identifier)


def resource_types_list(base_url: str) -> dict[str, Any]:
    documents = [resource_type_document(resource_type, base_url) for resource_type in RESOURCE_TYPES]
    return list_response(documents, len(documents), 1)
