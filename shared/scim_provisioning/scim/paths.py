"""Attribute paths (RFC 7644 §3.10): ``userName``, ``name.givenName``, ``emails.value``,
``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value``.

Resolution maps a path, case-insensitively, onto the schema definition and the canonical
names under which a resource dict stores the value: core attributes at the top level,
extension attributes under their schema URN."""

from __future__ import annotations

from dataclasses import dataclass

from scim_provisioning.scim.schema import COMMON_ATTRIBUTES, Attribute, ResourceType, Schema


class UnknownAttribute(ValueError):
    """The path names no attribute of the resource type."""


@dataclass(frozen=True)
class ResolvedPath:
    """Where a path points: ``extension`` is the schema whose URN key holds the attribute
    (None for core and common attributes); ``sub_attribute`` is set for ``a.b`` paths."""

    extension: Schema | None
    attribute: Attribute
    sub_attribute: Attribute | None = None

    @property
    def target(self) -> Attribute:
        return self.sub_attribute or self.attribute

    @property
    def container_key(self) -> str | None:
        return None if self.extension is None else self.extension.id

    def __str__(self) -> str:
        prefix = f"{self.extension.id}:" if self.extension else ""
        suffix = f".{self.sub_attribute.name}" if self.sub_attribute else ""
        return f"{prefix}{self.attribute.name}{suffix}"


def split_schema_prefix(resource_type: ResourceType, path: str) -> tuple[Schema | None, str]:
    """Separate a leading schema URN (``urn:…:User:``) from the attribute part of ``path``.

    Returns the schema named (None when the path carries no URN) and the remainder."""
    lowered = path.lower()
    for schema in (resource_type.schema, *resource_type.extensions):
        prefix = schema.id.lower() + ":"
        if lowered.startswith(prefix):
            return schema, path[len(prefix) :]
        if lowered == schema.id.lower():
            return schema, ""
    return None, path


def schema_for_urn(resource_type: ResourceType, urn: str) -> Schema | None:
    lowered = urn.lower()
    return next(
        (schema for schema in (resource_type.schema, *resource_type.extensions) if schema.id.lower() == lowered),
        None,
    )


def resolve(resource_type: ResourceType, path: str) -> ResolvedPath:
    """Resolve ``path`` or raise UnknownAttribute."""
    schema, remainder = split_schema_prefix(resource_type, path)
    if schema is None and remainder.lower().startswith("urn:"):
        raise UnknownAttribute(f"Unknown schema in attribute path '{path}'")
    name, _, sub_name = remainder.partition(".")
    if not name:
        raise UnknownAttribute(f"Attribute path '{path}' names no attribute")
    attribute: Attribute | None
    extension: Schema | None = None
    if schema is not None and schema is not resource_type.schema:
        extension = schema
        attribute = schema.attribute(name)
    else:
        attribute = resource_type.schema.attribute(name) or next(
            (common for common in COMMON_ATTRIBUTES if common.name.lower() == name.lower()), None
        )
    if attribute is None:
        raise UnknownAttribute(f"Unknown attribute '{name}' in path '{path}'")
    if not sub_name:
        return ResolvedPath(extension, attribute)
    sub_attribute = attribute.sub_attribute(sub_name)
    if sub_attribute is None or "." in sub_name:
        raise UnknownAttribute(f"Unknown sub-attribute '{sub_name}' of '{attribute.name}' in path '{path}'")
    return ResolvedPath(extension, attribute, sub_attribute)
