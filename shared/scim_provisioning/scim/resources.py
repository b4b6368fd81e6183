"""Resource rules driven by the schema: normalizing what a client sends, and shaping what we
answer (``returned`` rules and ``attributes``/``excludedAttributes``).

Stored resources are in canonical form: core attributes at the top level under their schema
names, extension attributes under their schema URN, values of the schema's types, no nulls,
no empty values, nothing read-only (``id``, ``meta``, ``groups`` are the service's own) and
nothing write-only (``password`` is never kept)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from scim_provisioning.errors import InvalidRequest, InvalidSyntax, MutabilityViolation, PayloadTooLarge, TooMany
from scim_provisioning.limits import (
    MAX_MEMBERS_PER_REQUEST,
    MAX_MULTI_VALUED_ENTRIES,
    MAX_NAME_KEY_BYTES,
    MAX_NAME_LENGTH,
    MAX_RESOURCE_BYTES,
    MAX_STRING_LENGTH,
)
from scim_provisioning.models import ResourceDocument
from scim_provisioning.scim.paths import UnknownAttribute, resolve, split_schema_prefix
from scim_provisioning.scim.schema import (
    COMMON_ATTRIBUTES,
    Attribute,
    AttributeType,
    Mutability,
    ResourceType,
    Returned,
    Schema,
    Uniqueness,
)
from scim_provisioning.unicode_text import case_insensitive_key

_IGNORED_TOP_LEVEL = {"schemas", "id", "meta"}


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, scim_type="invalidValue")


# ------------------------------------------------------------------------- input
def _coerce_boolean(value: Any, where: str) -> bool:
    """Entra ID sends booleans as "True"/"False" strings; accept those, refuse anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _invalid(f"Attribute '{where}' must be a boolean")


def _coerce_simple(attribute: Attribute, value: Any, where: str) -> Any:
    if attribute.type is AttributeType.BOOLEAN:
        return _coerce_boolean(value, where)
    if attribute.type is AttributeType.INTEGER:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _invalid(f"Attribute '{where}' must be an integer")
        return value
    if attribute.type is AttributeType.DECIMAL:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _invalid(f"Attribute '{where}' must be a number")
        return value
    if isinstance(value, bool | dict | list):
        raise _invalid(f"Attribute '{where}' must be a string")
    if isinstance(value, int | float):
        value = str(value)  # employeeNumber and the like arrive as numbers from some clients
    if not isinstance(value, str):
        raise _invalid(f"Attribute '{where}' must be a string")
    if len(value) > MAX_STRING_LENGTH:
        raise _invalid(f"Attribute '{where}' is longer than {MAX_STRING_LENGTH} characters")
    if attribute.type is AttributeType.DATETIME:
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as error:
            raise _invalid(f"Attribute '{where}' must be an ISO 8601 dateTime") from error
    return value


def _normalize_complex(attribute: Attribute, value: Any, where: str) -> dict[str, Any] | None:
    if isinstance(value, str) and attribute.sub_attribute("value") is not None and not attribute.multi_valued:
        # Entra sends the enterprise manager as a bare id string; it reads back as {"value": id}.
        value = {"value": value}
    if not isinstance(value, dict):
        raise _invalid(f"Attribute '{where}' must be an object")
    normalized: dict[str, Any] = {}
    for key, sub_value in value.items():
        sub = attribute.sub_attribute(key)
        if sub is None or sub_value is None or sub.mutability is Mutability.READ_ONLY:
            continue  # unknown and read-only sub-attributes are the service's to set, not the client's
        coerced = _coerce_simple(sub, sub_value, f"{where}.{sub.name}")
        if coerced != "":
            normalized[sub.name] = coerced
    return normalized or None


def max_entries(attribute: Attribute) -> int:
    """How many values one request may give a multi-valued attribute (limits.py says why)."""
    return MAX_MEMBERS_PER_REQUEST if attribute.name == "members" else MAX_MULTI_VALUED_ENTRIES


def normalize_value(attribute: Attribute, value: Any, where: str | None = None) -> Any:
    """One attribute's value in canonical form; None when it amounts to 'unassigned'."""
    where = where or attribute.name
    if value is None:
        return None
    if attribute.multi_valued:
        items = value if isinstance(value, list) else [value]
        limit = max_entries(attribute)
        if len(items) > limit:  # counted before any work: 61,000 entries cost nothing
            raise TooMany(f"Attribute '{where}' may hold at most {limit:,} values; {len(items):,} were sent")
        normalized_items = []
        seen: set[str] = set()  # identical entries are one: linear, whatever the count
        for item in items:
            normalized = (
                _normalize_complex(attribute, item, where)
                if attribute.is_complex
                else _coerce_simple(attribute, item, where)
            )
            if normalized in (None, ""):
                continue
            identity = json.dumps(normalized, sort_keys=True)
            if identity not in seen:
                seen.add(identity)
                normalized_items.append(normalized)
        if attribute.is_complex and sum(1 for item in normalized_items if item.get("primary") is True) > 1:
            raise _invalid(f"At most one '{where}' value may be primary")
        return normalized_items or None
    if attribute.is_complex:
        return _normalize_complex(attribute, value, where)
    coerced = _coerce_simple(attribute, value, where)
    return None if coerced == "" else coerced


def _writable(attribute: Attribute) -> bool:
    return attribute.mutability is not Mutability.READ_ONLY


def _kept(attribute: Attribute) -> bool:
    """Write-only attributes (``password``) are validated like any other, then dropped: this
    service has no password sign-in, so nothing may keep one at rest (docs/decisions.md)."""
    return attribute.mutability is not Mutability.WRITE_ONLY


def normalize_resource(document: Any, resource_type: ResourceType) -> ResourceDocument:
    """Canonical form of a client's full resource (POST, PUT, the result of a PATCH).

    Read-only attributes that clients echo back (Okta's ``id``/``meta``/``groups`` on PUT) are
    ignored; unknown attributes and unknown schema URNs are ignored (Entra sends extra group
    schemas); a value of the wrong type is a 400 invalidValue; write-only attributes are
    checked and dropped (``_kept``)."""
    if not isinstance(document, dict):
        raise InvalidSyntax("A SCIM resource must be a JSON object")
    resource: dict[str, Any] = {}
    for key, value in document.items():
        if key.lower() in _IGNORED_TOP_LEVEL or value is None:
            continue
        schema, remainder = split_schema_prefix(resource_type, key)
        if schema is not None and schema is not resource_type.schema and remainder == "":
            _merge_extension(resource, schema, value, resource_type)
            continue
        try:
            path = resolve(resource_type, key)
        except UnknownAttribute:
            continue
        if path.sub_attribute is not None:
            _assign_sub_attribute(resource, path.container_key, path.attribute, path.sub_attribute, value)
            continue
        if not _writable(path.attribute):
            continue
        normalized = normalize_value(path.attribute, value)
        if _kept(path.attribute):
            _put(resource, path.container_key, path.attribute.name, normalized)
    _check_names(resource, resource_type)
    _check_size(resource, resource_type)
    return resource


def _check_names(resource: ResourceDocument, resource_type: ResourceType) -> None:
    """userName and a group's displayName are the keys of their uniqueness claims: bounded so
    that the claim's key fits DynamoDB's (limits.MAX_NAME_LENGTH says why)."""
    for attribute in resource_type.schema.attributes:
        name = resource.get(attribute.name)
        if attribute.uniqueness is not Uniqueness.SERVER or not isinstance(name, str):
            continue
        if len(name) > MAX_NAME_LENGTH or len(case_insensitive_key(name).encode("utf-8")) > MAX_NAME_KEY_BYTES:
            raise _invalid(
                f"Attribute '{attribute.name}' may be at most {MAX_NAME_LENGTH} characters "
                f"(and {MAX_NAME_KEY_BYTES:,} bytes in UTF-8 once case-folded)"
            )


def _check_size(resource: ResourceDocument, resource_type: ResourceType) -> None:
    """A stored resource is one DynamoDB item (at most 400 KB): refused well before that."""
    size = len(json.dumps(resource, separators=(",", ":")).encode("utf-8"))
    if size > MAX_RESOURCE_BYTES:
        raise PayloadTooLarge(
            f"The {resource_type.name} would hold {size:,} bytes of attributes; "
            f"at most {MAX_RESOURCE_BYTES:,} are stored"
        )


def _merge_extension(resource: dict[str, Any], schema: Schema, value: Any, resource_type: ResourceType) -> None:
    if not isinstance(value, dict):
        raise _invalid(f"Extension '{schema.id}' must be an object")
    for name, sub_value in value.items():
        attribute = schema.attribute(name)
        if attribute is None or not _writable(attribute):
            continue
        normalized = normalize_value(attribute, sub_value, f"{schema.id}:{name}")
        if _kept(attribute):
            _put(resource, schema.id, attribute.name, normalized)


def _assign_sub_attribute(
    resource: dict[str, Any], container_key: str | None, attribute: Attribute, sub: Attribute, value: Any
) -> None:
    """A dotted key (``"name.givenName": "X"``) in a resource body."""
    if attribute.multi_valued or not _writable(attribute) or not _writable(sub):
        return
    container = resource if container_key is None else resource.setdefault(container_key, {})
    current = dict(container.get(attribute.name) or {})
    current[sub.name] = value
    _put(resource, container_key, attribute.name, normalize_value(attribute, current))


def _put(resource: dict[str, Any], container_key: str | None, name: str, value: Any) -> None:
    container = resource if container_key is None else resource.setdefault(container_key, {})
    if value is None:
        container.pop(name, None)
    else:
        container[name] = value
    if container_key is not None and not container:
        resource.pop(container_key, None)


def require_attributes(resource: ResourceDocument, resource_type: ResourceType) -> None:
    for attribute in resource_type.schema.attributes:
        if attribute.required and attribute.name not in resource:
            raise _invalid(f"Attribute '{attribute.name}' is required")


def refuse_immutable_changes(before: ResourceDocument, after: ResourceDocument, resource_type: ResourceType) -> None:
    """Immutable attributes may be set once, never changed (RFC 7643 §2.2)."""
    for schema in (resource_type.schema, *resource_type.extensions):
        old_container = before if schema is resource_type.schema else before.get(schema.id, {})
        new_container = after if schema is resource_type.schema else after.get(schema.id, {})
        for attribute in schema.attributes:
            if attribute.mutability is Mutability.IMMUTABLE:
                old = old_container.get(attribute.name)
                if old is not None and new_container.get(attribute.name) != old:
                    raise MutabilityViolation(f"Attribute '{attribute.name}' is immutable")


# ------------------------------------------------------------------------ output
def parse_attribute_list(text: str | None, resource_type: ResourceType) -> list[str] | None:
    """``attributes=a,b.c`` → canonical path strings; unknown names are ignored (RFC 7644 §3.9)."""
    if not text:
        return None
    paths = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        schema, remainder = split_schema_prefix(resource_type, part)
        if schema is not None and remainder == "":
            paths.append(schema.id)
            continue
        try:
            paths.append(str(resolve(resource_type, part)))
        except UnknownAttribute:
            continue
    return paths


def _selected(path: str, selection: Iterable[str]) -> bool:
    """True when ``path`` or one of its parents or children is in ``selection``."""
    lowered = path.lower()
    for chosen in selection:
        other = chosen.lower()
        if lowered == other or lowered.startswith(other + ".") or other.startswith(lowered + "."):
            return True
        if lowered.startswith(other + ":") or other.startswith(lowered + ":"):
            return True
    return False


def _include(attribute: Attribute, path: str, attributes: list[str] | None, excluded: list[str] | None) -> bool:
    if attribute.returned is Returned.NEVER:
        return False
    if attribute.returned is Returned.ALWAYS:
        return True
    if attributes is not None:
        return _selected(path, attributes)
    if excluded is not None and any(path.lower() == item.lower() for item in excluded):
        return False
    return attribute.returned is Returned.DEFAULT


def is_returned(
    resource_type: ResourceType, name: str, attributes: list[str] | None, excluded: list[str] | None
) -> bool:
    """Whether an answer shaped by ``project`` would carry the core attribute ``name``: lets
    a handler skip reading what is stored apart (a group's members, a user's groups)."""
    attribute = resource_type.schema.attribute(name)
    return attribute is not None and _include(attribute, attribute.name, attributes, excluded)


def _project_complex(
    attribute: Attribute, value: Any, path: str, attributes: list[str] | None, excluded: list[str] | None
) -> Any:
    """Apply the rules to sub-attributes when a client selected or excluded some of them."""
    narrowed = attributes is not None and any(item.lower().startswith(path.lower() + ".") for item in attributes)
    narrowed = narrowed and not any(item.lower() == path.lower() for item in attributes or [])
    excluded_subs = {
        item.lower()[len(path) + 1 :] for item in excluded or [] if item.lower().startswith(path.lower() + ".")
    }
    if not narrowed and not excluded_subs:
        return value

    def shape(element: dict[str, Any]) -> dict[str, Any]:
        kept = {}
        for name, sub_value in element.items():
            sub_path = f"{path}.{name}".lower()
            if sub_path[len(path) + 1 :] in excluded_subs:
                continue
            if narrowed and not any(item.lower() == sub_path for item in attributes or []):
                continue
            kept[name] = sub_value
        return kept

    if isinstance(value, list):
        return [shaped for shaped in (shape(element) for element in value) if shaped]
    return shape(value)


def project(
    document: ResourceDocument,
    resource_type: ResourceType,
    attributes: list[str] | None = None,
    excluded: list[str] | None = None,
) -> ResourceDocument:
    """Shape a full representation for the client: ``returned`` rules first, then the
    request's ``attributes`` (only these, plus ``returned: always``) or ``excludedAttributes``."""
    shaped: dict[str, Any] = {"schemas": document["schemas"]}
    for attribute in COMMON_ATTRIBUTES:
        if attribute.name in document and _include(attribute, attribute.name, attributes, excluded):
            shaped[attribute.name] = _project_complex(
                attribute, document[attribute.name], attribute.name, attributes, excluded
            )
    for attribute in resource_type.schema.attributes:
        if attribute.name in document and _include(attribute, attribute.name, attributes, excluded):
            shaped[attribute.name] = _project_complex(
                attribute, document[attribute.name], attribute.name, attributes, excluded
            )
    for extension in resource_type.extensions:
        values = document.get(extension.id)
        if not values:
            continue
        kept = {}
        for attribute in extension.attributes:
            path = f"{extension.id}:{attribute.name}"
            if attribute.name in values and (
                _include(attribute, path, attributes, excluded)
                and not (excluded and any(item.lower() == extension.id.lower() for item in excluded))
            ):
                kept[attribute.name] = _project_complex(attribute, values[attribute.name], path, attributes, excluded)
        if kept:
            shaped[extension.id] = kept
    if not any(key.startswith("urn:") for key in shaped if key != "schemas"):
        shaped["schemas"] = [resource_type.schema.id]
    else:
        shaped["schemas"] = [resource_type.schema.id, *(key for key in shaped if key.startswith("urn:"))]
    return shaped


def full_representation(
    resource: ResourceDocument, resource_type: ResourceType, resource_id: str, meta: dict[str, Any]
) -> ResourceDocument:
    """The stored resource with the service's own attributes added, before projection."""
    document = copy.deepcopy(resource)
    document["id"] = resource_id
    document["meta"] = meta
    document["schemas"] = [
        resource_type.schema.id,
        *(extension.id for extension in resource_type.extensions if extension.id in document),
    ]
    return document
