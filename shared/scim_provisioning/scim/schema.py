"""The one definition of the SCIM schemas this service speaks (RFC 7643 §4, §8.7.1).

Validation of input, serialization (``returned``), ``attributes``/``excludedAttributes``,
filtering (``caseExact``, types), PATCH (``mutability``, ``multiValued``) and what
``/Schemas`` publishes are all read from the objects below: change an attribute here and
every one of those follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from scim_provisioning.limits import (
    MAX_BODY_BYTES,
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_MEMBERS_PER_REQUEST,
    MAX_MULTI_VALUED_ENTRIES,
    MAX_NAME_LENGTH,
    MAX_PATCH_OPERATIONS,
    MAX_RESOURCE_BYTES,
    MAX_STRING_LENGTH,
)
from scim_provisioning.models import OrganizationRole


class AttributeType(StrEnum):
    STRING = "string"
    BOOLEAN = "boolean"
    DECIMAL = "decimal"
    INTEGER = "integer"
    DATETIME = "dateTime"
    BINARY = "binary"
    REFERENCE = "reference"
    COMPLEX = "complex"


class Mutability(StrEnum):
    READ_ONLY = "readOnly"
    READ_WRITE = "readWrite"
    IMMUTABLE = "immutable"
    WRITE_ONLY = "writeOnly"


class Returned(StrEnum):
    ALWAYS = "always"
    NEVER = "never"
    DEFAULT = "default"
    REQUEST = "request"


class Uniqueness(StrEnum):
    NONE = "none"
    SERVER = "server"
    GLOBAL = "global"


@dataclass(frozen=True)
class Attribute:
    name: str
    type: AttributeType = AttributeType.STRING
    description: str = ""
    multi_valued: bool = False
    required: bool = False
    case_exact: bool = False
    mutability: Mutability = Mutability.READ_WRITE
    returned: Returned = Returned.DEFAULT
    uniqueness: Uniqueness = Uniqueness.NONE
    canonical_values: tuple[str, ...] = ()
    reference_types: tuple[str, ...] = ()
    sub_attributes: tuple[Attribute, ...] = ()

    def sub_attribute(self, name: str) -> Attribute | None:
        """Attribute names are case-insensitive (RFC 7643 §2.1)."""
        lowered = name.lower()
        return next((sub for sub in self.sub_attributes if sub.name.lower() == lowered), None)

    @property
    def is_complex(self) -> bool:
        return self.type is AttributeType.COMPLEX

    def to_document(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "name": self.name,
            "type": self.type.value,
            "multiValued": self.multi_valued,
            "description": self.description,
            "required": self.required,
            "mutability": self.mutability.value,
            "returned": self.returned.value,
        }
        if self.type is not AttributeType.COMPLEX:
            document["caseExact"] = self.case_exact
        if self.type in (AttributeType.STRING, AttributeType.REFERENCE, AttributeType.BINARY):
            document["uniqueness"] = self.uniqueness.value
        if self.canonical_values:
            document["canonicalValues"] = list(self.canonical_values)
        if self.reference_types:
            document["referenceTypes"] = list(self.reference_types)
        if self.sub_attributes:
            document["subAttributes"] = [sub.to_document() for sub in self.sub_attributes]
        return document


@dataclass(frozen=True)
class Schema:
    id: str
    name: str
    description: str
    attributes: tuple[Attribute, ...]

    def attribute(self, name: str) -> Attribute | None:
        lowered = name.lower()
        return next((attribute for attribute in self.attributes if attribute.name.lower() == lowered), None)

    def to_document(self, location: str) -> dict[str, Any]:
        return {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "attributes": [attribute.to_document() for attribute in self.attributes],
            "meta": {"resourceType": "Schema", "location": location},
        }


@dataclass(frozen=True)
class ResourceType:
    id: str
    name: str
    endpoint: str
    description: str
    schema: Schema
    extensions: tuple[Schema, ...] = field(default=())

    def to_document(self, location: str) -> dict[str, Any]:
        document: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": self.id,
            "name": self.name,
            "endpoint": self.endpoint,
            "description": self.description,
            "schema": self.schema.id,
            "meta": {"resourceType": "ResourceType", "location": location},
        }
        if self.extensions:
            document["schemaExtensions"] = [{"schema": ext.id, "required": False} for ext in self.extensions]
        return document


# ------------------------------------------------------------------ building blocks
S, B, DT, REF, CX = (
    AttributeType.STRING,
    AttributeType.BOOLEAN,
    AttributeType.DATETIME,
    AttributeType.REFERENCE,
    AttributeType.COMPLEX,
)
RO, RW, IMM, WO = Mutability.READ_ONLY, Mutability.READ_WRITE, Mutability.IMMUTABLE, Mutability.WRITE_ONLY


def _multi_valued(
    name: str,
    description: str,
    *,
    types: tuple[str, ...] = ("work", "home", "other"),
    values: tuple[str, ...] = (),
    value_type: AttributeType = S,
    reference_types: tuple[str, ...] = (),
    mutability: Mutability = RW,
    extra: tuple[Attribute, ...] = (),
) -> Attribute:
    """The common shape of RFC 7643's multi-valued attributes: value, display, type, primary."""
    return Attribute(
        name,
        CX,
        description,
        multi_valued=True,
        mutability=mutability,
        sub_attributes=(
            Attribute(
                "value",
                value_type,
                f"The value of the {name} entry.",
                canonical_values=values,
                reference_types=reference_types,
                mutability=mutability,
            ),
            Attribute(
                "display",
                S,
                "A human-readable name, primarily used for display purposes.",
                mutability=mutability,
            ),
            *extra,
            Attribute(
                "type",
                S,
                "A label indicating the attribute's function.",
                canonical_values=types,
                mutability=mutability,
            ),
            Attribute("primary", B, "Indicates the primary or preferred value.", mutability=mutability),
        ),
    )


# Common attributes (RFC 7643 §3.1): part of every resource, not of any schema's list.
ID = Attribute(
    "id",
    S,
    "Unique identifier assigned by the service provider.",
    case_exact=True,
    mutability=RO,
    returned=Returned.ALWAYS,
    uniqueness=Uniqueness.SERVER,
)
EXTERNAL_ID = Attribute("externalId", S, "Identifier assigned by the provisioning client.", case_exact=True)
META = Attribute(
    "meta",
    CX,
    "Resource metadata.",
    mutability=RO,
    sub_attributes=(
        Attribute("resourceType", S, "The resource type name.", case_exact=True, mutability=RO),
        Attribute("created", DT, "When the resource was added.", mutability=RO),
        Attribute("lastModified", DT, "When the resource was last updated.", mutability=RO),
        Attribute(
            "location",
            REF,
            "The URI of the resource.",
            case_exact=True,
            mutability=RO,
            reference_types=("uri",),
        ),
        Attribute("version", S, "The version (ETag) of the resource.", case_exact=True, mutability=RO),
    ),
)
COMMON_ATTRIBUTES = (ID, EXTERNAL_ID, META)

# What /Schemas publishes of limits.py: each schema's description ends with the limits every
# request on its resources keeps (a request over one is a 400 or 413 naming it).
_LIMITS = (
    f"Limits: a string at most {MAX_STRING_LENGTH:,} characters; at most {MAX_MULTI_VALUED_ENTRIES} values "
    f"in a multi-valued attribute; at most {MAX_RESOURCE_BYTES:,} bytes of attributes (as JSON) stored; a request "
    f"body at most {MAX_BODY_BYTES:,} bytes; a PATCH at most {MAX_PATCH_OPERATIONS:,} operations; a filter at "
    f"most {MAX_FILTER_LENGTH:,} characters, nested at most {MAX_FILTER_DEPTH} deep."
)
_NAME_LIMIT = f"At most {MAX_NAME_LENGTH} characters."

USER_SCHEMA_ID = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER_SCHEMA_ID = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA_ID = "urn:ietf:params:scim:schemas:core:2.0:Group"

USER_SCHEMA = Schema(
    USER_SCHEMA_ID,
    "User",
    f"User Account. {_LIMITS}",
    (
        Attribute(
            "userName",
            S,
            "Unique identifier for the User, used to sign in. Unique per organization, case-insensitively. "
            + _NAME_LIMIT,
            required=True,
            uniqueness=Uniqueness.SERVER,
        ),
        Attribute(
            "name",
            CX,
            "The components of the user's real name.",
            sub_attributes=(
                Attribute("formatted", S, "The full name, formatted for display."),
                Attribute("familyName", S, "The family name."),
                Attribute("givenName", S, "The given name."),
                Attribute("middleName", S, "The middle name(s)."),
                Attribute("honorificPrefix", S, "The honorific prefix(es)."),
                Attribute("honorificSuffix", S, "The honorific suffix(es)."),
            ),
        ),
        Attribute("displayName", S, "The name of the User, suitable for display."),
        Attribute("nickName", S, "The casual way to address the user."),
        Attribute("profileUrl", REF, "A URI of the user's online profile.", reference_types=("external",)),
        Attribute("title", S, "The user's title, such as 'Vice President'."),
        Attribute("userType", S, "The relationship between the organization and the user."),
        Attribute("preferredLanguage", S, "The user's preferred written or spoken language (RFC 7231)."),
        Attribute("locale", S, "The user's default location for localization (e.g. en-US)."),
        Attribute("timezone", S, "The user's time zone in IANA format (e.g. Europe/Paris)."),
        Attribute("active", B, "The user's administrative status; an inactive user cannot use the platform."),
        Attribute(
            "password",
            S,
            "Write-only; never returned and never stored by this service.",
            mutability=WO,
            returned=Returned.NEVER,
        ),
        _multi_valued("emails", "Email addresses for the user.", reference_types=()),
        _multi_valued(
            "phoneNumbers",
            "Phone numbers for the user.",
            types=("work", "home", "mobile", "fax", "pager", "other"),
        ),
        _multi_valued(
            "ims",
            "Instant messaging addresses for the user.",
            types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
        ),
        _multi_valued(
            "photos",
            "URLs of photos of the user.",
            types=("photo", "thumbnail"),
            value_type=REF,
            reference_types=("external",),
        ),
        Attribute(
            "addresses",
            CX,
            "A physical mailing address for this user.",
            multi_valued=True,
            sub_attributes=(
                Attribute("formatted", S, "The full mailing address, formatted for display."),
                Attribute("streetAddress", S, "The full street address component."),
                Attribute("locality", S, "The city or locality component."),
                Attribute("region", S, "The state or region component."),
                Attribute("postalCode", S, "The zip code or postal code component."),
                Attribute("country", S, "The country name component (ISO 3166-1 alpha-2)."),
                Attribute(
                    "type",
                    S,
                    "A label indicating the attribute's function.",
                    canonical_values=("work", "home", "other"),
                ),
                Attribute("primary", B, "Indicates the primary mailing address."),
            ),
        ),
        Attribute(
            "groups",
            CX,
            "Groups to which the user belongs; read-only, from group memberships.",
            multi_valued=True,
            mutability=RO,
            sub_attributes=(
                Attribute("value", S, "The identifier of the group.", mutability=RO),
                Attribute("$ref", REF, "The URI of the group.", mutability=RO, reference_types=("Group",)),
                Attribute("display", S, "The group's displayName.", mutability=RO),
                Attribute(
                    "type",
                    S,
                    "How the membership is derived.",
                    mutability=RO,
                    canonical_values=("direct", "indirect"),
                ),
            ),
        ),
        _multi_valued("entitlements", "Entitlements of the user.", types=()),
        # The only roles there are: published as canonical values so that a client generating
        # values from /Schemas (scim2-tester does) sends ones the service accepts.
        _multi_valued(
            "roles",
            "The user's role in the organization: 'admin' or 'member' (default).",
            types=(),
            values=tuple(role.value for role in OrganizationRole),
        ),
        _multi_valued(
            "x509Certificates",
            "X.509 certificates of the user (DER, base64).",
            types=(),
            value_type=AttributeType.BINARY,
        ),
    ),
)

ENTERPRISE_USER_SCHEMA = Schema(
    ENTERPRISE_USER_SCHEMA_ID,
    "EnterpriseUser",
    "Enterprise User",
    (
        Attribute("employeeNumber", S, "Numeric or alphanumeric identifier assigned to a person."),
        Attribute("costCenter", S, "Identifies the name of a cost center."),
        Attribute("organization", S, "Identifies the name of an organization."),
        Attribute("division", S, "Identifies the name of a division."),
        Attribute("department", S, "Identifies the name of a department."),
        Attribute(
            "manager",
            CX,
            "The user's manager.",
            sub_attributes=(
                Attribute("value", S, "The id of the manager's User resource."),
                Attribute("$ref", REF, "The URI of the manager's User resource.", reference_types=("User",)),
                Attribute("displayName", S, "The manager's displayName.", mutability=RO),
            ),
        ),
    ),
)

# The most members one answer carries (GET of a group, or one page of a list): a member
# entry is about 200 bytes, so the answer stays near 2 MB, under Lambda's 6 MB (the handler
# also measures it: long display names could exceed it). Beyond it the answer is a 400
# tooMany naming excludedAttributes=members; published in the members description.
MAX_MEMBERS_RETURNED = 10_000

GROUP_SCHEMA = Schema(
    GROUP_SCHEMA_ID,
    "Group",
    f"Group. {_LIMITS}",
    (
        Attribute(
            "displayName",
            S,
            "A human-readable name for the Group; unique per organization, case-insensitively. " + _NAME_LIMIT,
            required=True,
            uniqueness=Uniqueness.SERVER,
        ),
        Attribute(
            "members",
            CX,
            f"The Users who are members of the Group. An answer carries at most {MAX_MEMBERS_RETURNED:,} of "
            "them: a larger group is read with excludedAttributes=members, its members with "
            '/Users?filter=groups.value eq "<group id>". One request (a POST, a PUT, or all the operations of '
            f"a PATCH) names at most {MAX_MEMBERS_PER_REQUEST:,} members.",
            multi_valued=True,
            sub_attributes=(
                Attribute("value", S, "The id of the member's User resource.", case_exact=True, mutability=IMM),
                Attribute("$ref", REF, "The URI of the member.", mutability=IMM, reference_types=("User",)),
                Attribute(
                    "display",
                    S,
                    "The member's display: as the client sent it with the member, stored with the "
                    "membership and returned as sent (Okta sends the user's login); when the client sent "
                    "none, the user's displayName, else its userName, read when the group is answered.",
                ),
                Attribute("type", S, "The type of the member.", mutability=IMM, canonical_values=("User",)),
            ),
        ),
    ),
)

USER_RESOURCE_TYPE = ResourceType("User", "User", "/Users", "User Account", USER_SCHEMA, (ENTERPRISE_USER_SCHEMA,))
GROUP_RESOURCE_TYPE = ResourceType("Group", "Group", "/Groups", "Group", GROUP_SCHEMA)

SCHEMAS: tuple[Schema, ...] = (USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA)
RESOURCE_TYPES: tuple[ResourceType, ...] = (USER_RESOURCE_TYPE, GROUP_RESOURCE_TYPE)
