"""Reading moto's in-memory DynamoDB tables directly, for the code that has to (the dev server's
snapshot, ``devserver.moto_partitions``): what a table stores, without the side effects of
moto's own accessors (``Table.get_item`` adds an empty partition to the table for a missing key,
``Table.all_items`` sorts the whole table)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table


def moto_table(table_arn: str) -> Table:
    """moto's table behind an ARN (``arn:aws:dynamodb:<region>:<account>:table/<name>``)."""
    _, _, _, region, account, resource = table_arn.split(":", 5)
    return dynamodb_backends[account][region].get_table(resource.removeprefix("table/"))


def stored_item(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    partition: Any = table.items.get(hash_key)  # an Item when the table has no range key
    if table.range_key_attr is None or partition is None:
        return partition
    return partition.get(range_key)


def stored_items(table: Table) -> Iterator[Item]:
    """Every item, in no particular order."""
    partition: Any
    for partition in table.items.values():
        if table.range_key_attr is None:
            yield partition
        else:
            yield from partition.values()
