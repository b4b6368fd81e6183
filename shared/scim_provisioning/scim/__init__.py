"""SCIM semantics, independent of storage and HTTP: the schema definition, attribute paths,
the filter grammar, PATCH, and the resource rules (validation, serialization, projection)."""
