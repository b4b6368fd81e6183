"""SCIM PATCH (RFC 7644 §3.5.2) on resource dicts in canonical form.

PATCH is two steps because the Groups service intercepts the operations on ``members``
(memberships are separate items, a group can hold 100,000 of them) and applies only the
other operations to the group itself:

* :func:`parse_operations` validates the PatchOp message and resolves every path once. A
  path-less ``add`` or ``replace`` is expanded into one operation per attribute its value
  names, so every :class:`PatchOperation` carries a path and "is this about members?" is a
  plain attribute test.
* :func:`apply_operations` applies operations to a copy of a resource, all or nothing.

What Okta and Microsoft Entra ID send is not always what RFC 7644 says. The tolerances, each
chosen so that it cannot change the meaning of a conforming request:

* ``schemas`` may be absent; when present it must list the PatchOp URN.
* Member names (``Operations``, ``op``, ``path``, ``value``) and ``op`` values are
  case-insensitive: Entra sends ``"op": "Replace"``.
* The keys of a path-less value may be attribute names, dotted sub-attribute paths
  (``"name.givenName"``), URN-qualified paths (``"urn:…:enterprise:2.0:User:department"``)
  or a schema URN holding an object of that schema's attributes (all seen from Entra).
  ``schemas`` and read-only attributes (``id``, ``meta``, ``groups``: Okta echoes the group
  ``id``) are ignored there; any other unknown key is ``invalidPath``, as it would be in a
  ``path``.
* Read-only sub-attributes inside a value (``manager.displayName``) are dropped: they are the
  service's to compute. (``members.display`` is not read-only: a member's display is kept as
  the client sent it.) A *path* naming a read-only attribute is a
  ``mutability`` error.
* An ``add`` or ``replace`` whose value filter matches nothing creates the element the
  filter's ``eq`` comparisons describe: Entra sends ``Add`` and ``Replace`` on
  ``emails[type eq "work"].value`` for users with no work email. Other filters that match
  nothing are ``noTarget``, as RFC 7644 §3.5.2.3 requires.
* A ``remove`` whose path is a whole multi-valued attribute may carry a ``value`` listing
  the elements to remove (Entra: ``members`` with ``[{"value": id}]``); on any other path
  the value is ignored and the path alone selects, as RFC 7644 §3.5.2.2 reads it.
* Removing something absent, or through a filter matching nothing, succeeds and changes
  nothing (RFC 7644 §3.5.2.2's member-removal example), so IdP retries are harmless.
* ``null`` unassigns (RFC 7643 §2.5): ``replace`` with a null value, or a null inside a
  value, removes the attribute or sub-attribute.
* Values are not converted to the schema's types: ``"False"`` from Entra stays a string and
  the manager sent as a bare id stays a string. The resource validator that runs on the
  result of every PATCH normalizes them, once, for POST, PUT and PATCH alike.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from scim_provisioning.errors import InvalidPath, InvalidRequest, InvalidSyntax, MutabilityViolation, NoTarget, TooMany
from scim_provisioning.limits import MAX_MEMBERS_PER_REQUEST, MAX_PATCH_OPERATIONS
from scim_provisioning.models import ResourceDocument
from scim_provisioning.scim.filter import PatchPath, equality_values, matches, parse_patch_path
from scim_provisioning.scim.paths import ResolvedPath, UnknownAttribute, resolve, schema_for_urn
from scim_provisioning.scim.schema import Attribute, Mutability, ResourceType, Schema

PATCH_OP_SCHEMA: Final = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_OPERATIONS: Final = MAX_PATCH_OPERATIONS

OperationName = Literal["add", "replace", "remove"]
_OPERATION_NAMES: Final[frozenset[str]] = frozenset({"add", "replace", "remove"})
_ABSENT: Final = object()


@dataclass(frozen=True)
class PatchOperation:
    """One PATCH operation, validated and resolved against a resource type.

    Build it with :func:`parse_operations`, which puts ``value`` in the form the
    application relies on:

    * ``add``/``replace`` of a whole multi-valued attribute: a list of element dicts;
    * ``add``/``replace`` of the elements a value filter selects, without sub-attribute:
      one element dict;
    * ``add``/``replace`` of a complex single-valued attribute: a dict, or the value as
      sent when it is not an object (Entra's manager id, left to the resource validator);
    * ``remove`` of a whole multi-valued attribute: None (remove all) or the list of
      element dicts selecting what to remove; ``remove`` of anything else: None;
    * otherwise the value as sent, where None unassigns.

    Element and complex dicts use the schema's sub-attribute names; read-only
    sub-attributes are dropped from what is written (kept in removal selectors, which
    only read).
    """

    op: OperationName
    path: PatchPath
    value: Any

    @property
    def attribute(self) -> Attribute:
        """The attribute the operation changes; ``members`` for every members operation."""
        return self.path.path.attribute


# ---------------------------------------------------------------------------- parsing
def parse_operations(body: Any, resource_type: ResourceType) -> list[PatchOperation]:
    """Validate a PatchOp message (RFC 7644 §3.5.2) and resolve its operations.

    Raises InvalidSyntax for a malformed message, InvalidPath for a path or value key that
    names no attribute, NoTarget for a ``remove`` without path, MutabilityViolation for a
    path to a read-only attribute or an unassigned required one, InvalidRequest
    (``invalidValue``) for a missing or ill-shaped value. Nothing here depends on the
    resource: what does (immutable attributes, filters) is checked when applying."""
    if not isinstance(body, dict):
        raise InvalidSyntax("A PATCH request body must be a JSON object")
    _check_schemas(_member(body, "schemas"))
    raw_operations = _member(body, "Operations")
    if not isinstance(raw_operations, list) or not raw_operations:
        raise InvalidSyntax("'Operations' must be a non-empty array of PATCH operations")
    if len(raw_operations) > MAX_OPERATIONS:
        raise TooMany(
            f"A PATCH request may hold at most {MAX_OPERATIONS:,} operations; {len(raw_operations):,} were sent"
        )
    _check_member_count(sum(_members_named(raw_operation) for raw_operation in raw_operations))
    operations: list[PatchOperation] = []
    for index, raw_operation in enumerate(raw_operations):
        operations.extend(_parse_operation(raw_operation, resource_type, f"Operations[{index}]"))
    return operations


def _members_named(raw_operation: Any) -> int:
    """How many members one operation names, read before anything is parsed: the value list of
    a ``members`` path, or the ``members`` of a path-less value."""
    if not isinstance(raw_operation, dict):
        return 0
    path, value = _member(raw_operation, "path"), _member(raw_operation, "value")
    if isinstance(path, str) and path.strip().lower().startswith("members"):
        return len(value) if isinstance(value, list) else 1
    if path is _ABSENT and isinstance(value, dict):
        members = next((item for key, item in value.items() if str(key).lower() == "members"), None)
        return len(members) if isinstance(members, list) else 0
    return 0


def _check_member_count(named: int) -> None:
    """All the operations of one PATCH name at most MAX_MEMBERS_PER_REQUEST members between
    them, counted before any is parsed or looked up (each is checked to be a user, then written)."""
    if named > MAX_MEMBERS_PER_REQUEST:
        raise TooMany(f"A PATCH request may name at most {MAX_MEMBERS_PER_REQUEST:,} members; {named:,} were named")


def _member(message: Mapping[str, Any], name: str) -> Any:
    """A message member, or _ABSENT. Names are matched case-insensitively, as attribute
    names are (RFC 7643 §2.1): Entra sends ``Operations``, other clients ``operations``."""
    lowered = name.lower()
    return next(
        (value for key, value in message.items() if isinstance(key, str) and key.lower() == lowered),
        _ABSENT,
    )


def _check_schemas(schemas: Any) -> None:
    """Absent ``schemas`` is tolerated (nothing else could be meant at a PATCH endpoint);
    a present one naming something else is a different message and is refused."""
    if schemas is _ABSENT:
        return
    if not isinstance(schemas, list) or PATCH_OP_SCHEMA.lower() not in {
        urn.lower() for urn in schemas if isinstance(urn, str)
    }:
        raise InvalidSyntax(f"'schemas' must list '{PATCH_OP_SCHEMA}'")


def _parse_operation(raw: Any, resource_type: ResourceType, where: str) -> list[PatchOperation]:
    if not isinstance(raw, dict):
        raise InvalidSyntax(f"{where} must be an object")
    name = _member(raw, "op")
    if not isinstance(name, str) or name.lower() not in _OPERATION_NAMES:
        raise InvalidSyntax(f"{where}: 'op' must be 'add', 'replace' or 'remove'")
    op = cast("OperationName", name.lower())
    path_text = _member(raw, "path")
    value = _member(raw, "value")

    if path_text is _ABSENT or path_text is None:
        if op == "remove":
            raise NoTarget(f"{where}: a remove operation requires a 'path'")
        if not isinstance(value, dict):
            raise InvalidRequest(f"{where}: without a 'path', the 'value' must be an object of attributes")
        return list(_expand_pathless_value(op, value, resource_type, where))

    if not isinstance(path_text, str):
        raise InvalidSyntax(f"{where}: 'path' must be a string")
    schema = schema_for_urn(resource_type, path_text)
    if schema is not None:
        return list(_schema_operations(op, schema, value, resource_type, where))
    target = parse_patch_path(path_text, resource_type)
    _refuse_read_only(target, where)
    if op == "remove":
        selectors = _removal_selectors(target, value, where)
        if selectors is None:
            _refuse_unassigning_required(target, where)
        return [PatchOperation(op, target, selectors)]
    if value is _ABSENT or (value is None and op == "add"):
        raise InvalidRequest(f"{where}: an {op} operation requires a 'value'")
    return [_write_operation(op, target, value, where)]


def _expand_pathless_value(
    op: OperationName, value: dict[str, Any], resource_type: ResourceType, where: str
) -> Iterator[PatchOperation]:
    """RFC 7644 §3.5.2.1/3: without a path the target is the resource and each key of the
    value an attribute to add or replace, exactly as if it had been the path."""
    for key, item in value.items():
        if not isinstance(key, str):
            raise InvalidPath(f"{where}: value keys must be attribute names")
        if key.lower() == "schemas":
            continue
        schema = schema_for_urn(resource_type, key)
        if schema is None:
            yield from _expand_attribute(op, key, item, resource_type, where)
            continue
        if not isinstance(item, dict):
            raise InvalidRequest(f"{where}: the value of '{schema.id}' must be an object of its attributes")
        for name, sub_item in item.items():
            # An extension object serialized by a SCIM library carries its own "schemas".
            if isinstance(name, str) and name.lower() == "schemas":
                continue
            yield from _expand_attribute(op, f"{schema.id}:{name}", sub_item, resource_type, where)


def _schema_operations(
    op: OperationName, schema: Schema, value: Any, resource_type: ResourceType, where: str
) -> Iterator[PatchOperation]:
    """A path that is a schema URN alone (``urn:…:enterprise:2.0:User``) targets that
    schema's attributes as a whole: ``add``/``replace`` take an object of them, exactly as
    the same object under that URN key in a path-less value would be (RFC 7644 §3.5.2.3:
    sub-attributes left out are unchanged); ``remove`` unassigns every one of them.
    scim2-tester sends these; RFC 7644's ``attrPath`` grammar does not spell them out, but
    refusing them would break clients for no gain in safety."""
    if op != "remove":
        if not isinstance(value, dict):
            raise InvalidRequest(f"{where}: the value of '{schema.id}' must be an object of its attributes")
        yield from _expand_pathless_value(op, {schema.id: value}, resource_type, where)
        return
    for attribute in schema.attributes:
        resolved = resolve(resource_type, f"{schema.id}:{attribute.name}")
        if _is_read_only(attribute):
            continue
        target = PatchPath(path=resolved, value_filter=None, sub_attribute=None)
        _refuse_unassigning_required(target, where)
        yield PatchOperation("remove", target, None)


def _expand_attribute(
    op: OperationName, key: str, item: Any, resource_type: ResourceType, where: str
) -> Iterator[PatchOperation]:
    try:
        resolved = resolve(resource_type, key)
    except UnknownAttribute as error:
        raise InvalidPath(f"{where}: {error}") from error
    if _is_read_only(resolved.attribute) or _is_read_only(resolved.sub_attribute):
        return  # echoed by clients (Okta's group "id"), never theirs to set
    yield _write_operation(op, PatchPath(path=resolved, value_filter=None, sub_attribute=None), item, where)


def _write_operation(op: OperationName, target: PatchPath, value: Any, where: str) -> PatchOperation:
    if value is None:
        _refuse_unassigning_required(target, where)
    return PatchOperation(op, target, _canonical_value(target, value, where))


def _canonical_value(target: PatchPath, value: Any, where: str) -> Any:
    """The value of an add or replace in the shape described on PatchOperation."""
    attribute = target.path.attribute
    if _sub_attribute(target) is not None or not attribute.is_complex:
        return value
    if attribute.multi_valued and target.value_filter is None:
        if value is None:
            return None
        items = value if isinstance(value, list) else [value]
        return [_canonical_element(attribute, item, where) for item in items]
    if isinstance(value, dict):
        return _canonical_element(attribute, value, where)
    if attribute.multi_valued:
        raise InvalidRequest(f"{where}: the value for the selected '{attribute.name}' must be an object")
    return value


def _canonical_element(
    attribute: Attribute, element: Any, where: str, *, keep_read_only: bool = False
) -> dict[str, Any]:
    """An element (or complex value) with the schema's sub-attribute names; a sub-attribute
    the schema does not define is ``invalidPath``, as it would be in a path."""
    if not isinstance(element, dict):
        raise InvalidRequest(f"{where}: each value of '{attribute.name}' must be an object")
    canonical: dict[str, Any] = {}
    for key, sub_value in element.items():
        sub = attribute.sub_attribute(key) if isinstance(key, str) else None
        if sub is None:
            raise InvalidPath(f"{where}: '{attribute.name}' has no sub-attribute '{key}'")
        if keep_read_only or not _is_read_only(sub):
            canonical[sub.name] = sub_value
    return canonical


def _removal_selectors(target: PatchPath, value: Any, where: str) -> list[dict[str, Any]] | None:
    """Entra removes members with ``"path": "members", "value": [{"value": id}, …]``: each
    listed object selects the elements equal to it on the sub-attributes it names. None
    means the path alone selects."""
    attribute = target.path.attribute
    whole_multi_valued = attribute.multi_valued and target.value_filter is None and _sub_attribute(target) is None
    if value is _ABSENT or value is None or not whole_multi_valued:
        return None
    selectors = [
        _canonical_element(attribute, item, where, keep_read_only=True)
        for item in (value if isinstance(value, list) else [value])
    ]
    if not all(selectors):
        raise InvalidRequest(f"{where}: each value of a remove must name the sub-attributes to match")
    return selectors


def _refuse_read_only(target: PatchPath, where: str) -> None:
    """RFC 7644 §3.5.2: an operation on a readOnly attribute fails with ``mutability``."""
    for attribute in (target.path.attribute, _sub_attribute(target)):
        if _is_read_only(attribute):
            raise MutabilityViolation(f"{where}: '{target.path}' is read-only")


def _refuse_unassigning_required(target: PatchPath, where: str) -> None:
    """RFC 7644 §3.5.2.2: a required attribute cannot become unassigned (``mutability``)."""
    if target.value_filter is None and _sub_attribute(target) is None and target.path.attribute.required:
        raise MutabilityViolation(f"{where}: required attribute '{target.path}' cannot be removed")


def _is_read_only(attribute: Attribute | None) -> bool:
    return attribute is not None and attribute.mutability is Mutability.READ_ONLY


def _sub_attribute(target: PatchPath) -> Attribute | None:
    """``name.givenName`` and ``emails[type eq "work"].value`` both end in a sub-attribute."""
    return target.sub_attribute or target.path.sub_attribute


# --------------------------------------------------------------------------- applying
def apply_operations(
    resource: ResourceDocument, operations: Sequence[PatchOperation], resource_type: ResourceType
) -> ResourceDocument:
    """The resource after the operations, in order (RFC 7644 §3.5.2).

    Returns a new dict and never touches ``resource``, so a failing operation leaves the
    caller with the resource as it was: the request is atomic. After each operation, an
    element it marked primary demotes the other elements of its attribute (RFC 7644
    §3.5.2, RFC 7643 §2.4); marking two at once is ``invalidValue``.

    Raises NoTarget when a filter matches nothing and describes no element to create,
    MutabilityViolation for a change to an assigned immutable attribute, InvalidRequest
    when a created element would contradict its filter."""
    patched = copy.deepcopy(resource)
    for operation in operations:
        primaries_before = _primary_elements(patched, resource_type)
        if operation.op == "remove":
            _remove(patched, operation.path, operation.value)
        else:
            _write(patched, operation.op, operation.path, copy.deepcopy(operation.value))
        _demote_other_primaries(patched, resource_type, primaries_before)
    return patched


def _write(resource: dict[str, Any], op: OperationName, target: PatchPath, value: Any) -> None:
    resolved = target.path
    attribute = resolved.attribute
    sub = _sub_attribute(target)
    current = _load(resource, resolved)
    if attribute.multi_valued and (target.value_filter is not None or sub is not None):
        _store(resource, resolved, _written_elements(op, target, sub, list(current or []), value))
    elif sub is not None:
        element = dict(current) if isinstance(current, dict) else {}
        _assign(element, sub, value)
        _store(resource, resolved, element)
    elif attribute.multi_valued and op == "add" and value is not None:
        _store(resource, resolved, _appended(attribute, current or [], value))
    elif attribute.is_complex and not attribute.multi_valued and isinstance(value, dict):
        merged = dict(current) if isinstance(current, dict) else {}
        _merge_into(attribute, merged, value)
        _store(resource, resolved, merged)
    else:
        _refuse_immutable_change(attribute, current, value)
        if attribute.multi_valued and value is not None:
            value = [element for element in map(_without_nulls, value) if element]
        _store(resource, resolved, value)


def _written_elements(
    op: OperationName, target: PatchPath, sub: Attribute | None, elements: list[dict[str, Any]], value: Any
) -> list[dict[str, Any]]:
    """Elements after an add or replace on ``attr[filter]``, ``attr[filter].sub`` or
    ``attr.sub`` (every element: RFC 7644 §3.10 has an unfiltered path designate them all)."""
    attribute = target.path.attribute
    value_filter = target.value_filter
    selected = [element for element in elements if value_filter is None or matches(value_filter, element)]
    if value_filter is not None and not selected:
        return elements if value is None else [*elements, _described_element(target, sub, value)]
    for element in selected:
        if sub is not None:
            _assign(element, sub, value)
        elif op == "add":
            _merge_into(attribute, element, value)
        else:  # RFC 7644 §3.5.2.3: "all matching record values SHALL be replaced"
            for sub_attribute in attribute.sub_attributes:
                _refuse_immutable_change(sub_attribute, element.get(sub_attribute.name), value.get(sub_attribute.name))
            element.clear()
            element.update(_without_nulls(value))
    return [element for element in elements if element]


def _described_element(target: PatchPath, sub: Attribute | None, value: Any) -> dict[str, Any]:
    """The element an unmatched filter describes, for Entra's ``Add``/``Replace`` on
    ``emails[type eq "work"].value``: the filter's ``eq`` values, then the written value.
    The element must match the filter, so that the next operation on the same path finds it."""
    value_filter = target.value_filter
    described = None if value_filter is None else equality_values(value_filter)
    if value_filter is None or described is None:
        raise NoTarget(f"No value of '{target.path}' matches the filter")
    element = _without_nulls({**described, **({sub.name: value} if sub is not None else value)})
    if not matches(value_filter, element):
        raise InvalidRequest(f"The value written to '{target.path}' contradicts its filter")
    return element


def _remove(resource: dict[str, Any], target: PatchPath, selectors: list[dict[str, Any]] | None) -> None:
    resolved = target.path
    attribute = resolved.attribute
    sub = _sub_attribute(target)
    current = _load(resource, resolved)
    if current is None:
        return  # already absent: success, nothing changes
    if attribute.multi_valued and (target.value_filter is not None or sub is not None):
        _store(resource, resolved, _kept_elements(target, sub, current))
    elif sub is not None:
        if isinstance(current, dict):  # a scalar (Entra's manager id, unvalidated) has no sub-attributes
            element = dict(current)
            _assign(element, sub, None)
            _store(resource, resolved, element)
    elif selectors is not None:
        kept = [
            element for element in current if not any(_selects(attribute, selector, element) for selector in selectors)
        ]
        _store(resource, resolved, kept)
    else:
        _refuse_immutable_change(attribute, current, None)
        _store(resource, resolved, None)


def _kept_elements(target: PatchPath, sub: Attribute | None, elements: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Elements after a remove on ``attr[filter]``, ``attr[filter].sub`` or ``attr.sub``;
    an element left with no sub-attribute goes too."""
    value_filter = target.value_filter
    kept = []
    for element in elements:
        if value_filter is not None and not matches(value_filter, element):
            kept.append(element)
        elif sub is not None:
            _assign(element, sub, None)
            if element:
                kept.append(element)
    return kept


# ----------------------------------------------------------------- resource dict access
def _load(resource: dict[str, Any], resolved: ResolvedPath) -> Any:
    container = resource if resolved.container_key is None else resource.get(resolved.container_key) or {}
    return container.get(resolved.attribute.name)


def _store(resource: dict[str, Any], resolved: ResolvedPath, value: Any) -> None:
    """Set an attribute. An unassigned value (null, empty list or object: RFC 7643 §2.5)
    removes it, and an extension left empty goes too: stored resources hold no empty values."""
    key = resolved.container_key
    container = resource if key is None else resource.setdefault(key, {})
    if value is None or value == [] or value == {}:
        container.pop(resolved.attribute.name, None)
    else:
        container[resolved.attribute.name] = value
    if key is not None and not container:
        del resource[key]


def _assign(element: dict[str, Any], sub: Attribute, value: Any) -> None:
    _refuse_immutable_change(sub, element.get(sub.name), value)
    if value is None:
        element.pop(sub.name, None)
    else:
        element[sub.name] = value


def _merge_into(attribute: Attribute, element: dict[str, Any], value: dict[str, Any]) -> None:
    """RFC 7644 §3.5.2.3: the sub-attributes given replace, the others are left unchanged.
    ``value`` is canonical, so every key names a sub-attribute."""
    for name, sub_value in value.items():
        _assign(element, cast("Attribute", attribute.sub_attribute(name)), sub_value)


def _appended(
    attribute: Attribute, elements: list[dict[str, Any]], additions: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """RFC 7644 §3.5.2.1: an element the attribute already contains is not added again, so
    a retried add changes nothing."""
    result = list(elements)
    for addition in map(_without_nulls, additions):
        if addition and not any(_same_element(attribute, addition, existing) for existing in result):
            result.append(addition)
    return result


def _same_element(attribute: Attribute, first: dict[str, Any], second: dict[str, Any]) -> bool:
    return first.keys() == second.keys() and _selects(attribute, first, second)


def _selects(attribute: Attribute, selector: dict[str, Any], element: dict[str, Any]) -> bool:
    """True when ``element`` has every sub-attribute value ``selector`` names; strings
    compare caselessly unless the sub-attribute is caseExact (RFC 7643 §2.2), as filters do."""
    for name, expected in selector.items():
        actual = element.get(name)
        sub = attribute.sub_attribute(name)
        if isinstance(actual, str) and isinstance(expected, str) and sub is not None and not sub.case_exact:
            if actual.casefold() != expected.casefold():
                return False
        elif actual != expected:
            return False
    return True


def _without_nulls(element: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in element.items() if value is not None}


def _refuse_immutable_change(attribute: Attribute, current: Any, new: Any) -> None:
    """RFC 7644 §3.5.2: an immutable attribute may be set while unassigned, never changed."""
    if attribute.mutability is Mutability.IMMUTABLE and current is not None and new != current:
        raise MutabilityViolation(f"Attribute '{attribute.name}' is immutable")


# --------------------------------------------------------------------------- primary
def _primary_elements(resource: dict[str, Any], resource_type: ResourceType) -> list[dict[str, Any]]:
    return [
        element
        for elements in _lists_with_primary(resource, resource_type)
        for element in elements
        if _is_true(element.get("primary"))
    ]


def _demote_other_primaries(
    resource: dict[str, Any], resource_type: ResourceType, primaries_before: list[dict[str, Any]]
) -> None:
    """Elements are told apart by identity: operations change elements in place, so a
    primary element that is not one of those primary before was marked by the operation."""
    for elements in _lists_with_primary(resource, resource_type):
        primaries = [element for element in elements if _is_true(element.get("primary"))]
        marked = [element for element in primaries if not any(element is seen for seen in primaries_before)]
        if len(marked) > 1:
            raise InvalidRequest("At most one value of a multi-valued attribute may be primary")
        for element in primaries:
            if marked and element is not marked[0]:
                element["primary"] = False


def _lists_with_primary(resource: dict[str, Any], resource_type: ResourceType) -> Iterator[list[dict[str, Any]]]:
    for schema in (resource_type.schema, *resource_type.extensions):
        container = resource if schema is resource_type.schema else resource.get(schema.id) or {}
        for attribute in schema.attributes:
            elements = container.get(attribute.name)
            if attribute.multi_valued and attribute.sub_attribute("primary") and isinstance(elements, list):
                yield elements


def _is_true(value: Any) -> bool:
    """Entra sends booleans as "True"/"False"; they are converted later, but a primary sent
    as "True" must demote the others now."""
    return value is True or (isinstance(value, str) and value.lower() == "true")
