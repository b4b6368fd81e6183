"""The table's items as the stores build and read them: the key builders and the
(de)serialization between Python values and DynamoDB's typed form, part of the table core.

Pure functions and no client, so that a store, the stream reader, the benchmarks' bulk loader
and the tests all build and read items one way, and none of them needs a ``Table`` for it.
Every key of tenant data starts with the organization (``org_pk``): a request scoped to one
organization cannot address another's items (docs/data-model.md)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from scim_provisioning.timestamps import parse_timestamp

# The stores key names with it; it lives beside the text rules so that scim/ can limit names too.
from scim_provisioning.unicode_text import case_insensitive_key as case_insensitive_key

Item = dict[str, Any]
"""An item in Python values (``{"PK": "ORG#…", "version": 3}``), as stores build and read them."""
Operation = dict[str, Any]
"""One element of a TransactWriteItems request (``{"Put": …}``, ``{"Delete": …}``, …)."""

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# ----------------------------------------------------------------------------- keys
def org_pk(organization_uuid: str) -> str:
    return f"ORG#{organization_uuid}"


# DynamoDB refuses a key whose partition key value exceeds 2,048 bytes or whose sort key value
# exceeds 1,024 (moto does not). Reads by a key that cannot exist (a client's id or name of
# thousands of characters) find nothing instead of failing with a ValidationException.
MAX_PARTITION_KEY_BYTES = 2048
MAX_SORT_KEY_BYTES = 1024


def key_fits(pk: str, sk: str = "") -> bool:
    """Whether DynamoDB could hold an item with this key."""
    return len(pk.encode("utf-8")) <= MAX_PARTITION_KEY_BYTES and len(sk.encode("utf-8")) <= MAX_SORT_KEY_BYTES


def key(pk: str, sk: str) -> dict[str, dict[str, str]]:
    return {"PK": {"S": pk}, "SK": {"S": sk}}


def lookup_digest(value: str) -> str:
    """Index keys for externalId and emails: fixed length whatever the value, no '#' ambiguity."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]


def epoch(moment: datetime) -> int:
    """A TTL attribute's value."""
    return int(moment.timestamp())


# -------------------------------------------------------------------- (de)serialization
def serialize(item: Item) -> dict[str, Any]:
    """DynamoDB's typed form; None values are left out (DynamoDB stores no nulls here)."""
    return {name: _serializer.serialize(value) for name, value in item.items() if value is not None}


def deserialize(item: dict[str, Any]) -> Item:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def optional_time(item: Item, name: str) -> datetime | None:
    value = item.get(name)
    return None if value is None else parse_timestamp(value)
