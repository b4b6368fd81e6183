"""The dev server's snapshot (devserver/embedded_dynamodb.py) keeps every item exactly, and still
reads the files earlier releases wrote."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from devserver.embedded_dynamodb import EmbeddedDynamoDB, TableSnapshot
from devserver.template import create_table


@pytest.fixture(scope="module")
def database() -> Iterator[EmbeddedDynamoDB]:
    embedded = EmbeddedDynamoDB("127.0.0.1", 0).start()
    yield embedded
    embedded.stop()


@pytest.fixture
def client(database: EmbeddedDynamoDB) -> Any:
    return boto3.client("dynamodb", endpoint_url=database.endpoint_url, region_name="us-east-1")


@pytest.fixture
def table_name(client: Any) -> Iterator[str]:
    name = f"snapshot-{uuid.uuid4().hex[:8]}"
    create_table(client, name)
    yield name
    client.delete_table(TableName=name)


ODD_ITEM = {
    "PK": {"S": "ORG#1"},
    "SK": {"S": "ODD"},
    "binary": {"B": b"\x00\xffraw"},
    "binaries": {"BS": [b"a", b"\x01"]},
    "nested": {"M": {"inner": {"B": b"\x02"}, "list": {"L": [{"B": b"\x03"}, {"N": "1.50"}]}}},
    "numbers": {"NS": ["1", "2.5"]},
    "strings": {"SS": ["x", "y"]},
    "flag": {"BOOL": False},
    "nothing": {"NULL": True},
    "text": {"S": "ü ✓"},
}


def _all_items(client: Any, table_name: str) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=table_name)["Items"], key=lambda item: (item["PK"]["S"], item["SK"]["S"]))


def _recreated(client: Any, table_name: str) -> None:
    client.delete_table(TableName=table_name)
    create_table(client, table_name)


def test_every_attribute_type_survives_a_save_and_restore(
    database: EmbeddedDynamoDB, client: Any, table_name: str, tmp_path: Path
) -> None:
    """Given items with every DynamoDB type (binary ones nested in maps and lists too) and an
    index key, when the table is saved, emptied and restored, then Scan and the index return
    the same items as before."""
    client.put_item(TableName=table_name, Item=ODD_ITEM)
    member = {"PK": {"S": "ORG#1#GROUP#g"}, "SK": {"S": "MEMBER#u"}, "GSI1PK": {"S": "U"}, "GSI1SK": {"S": "G"}}
    client.put_item(TableName=table_name, Item=member)
    before = _all_items(client, table_name)
    snapshot = TableSnapshot(database, client, table_name, tmp_path / "table.json")

    assert snapshot.save() == 2
    _recreated(client, table_name)
    restored = TableSnapshot(database, client, table_name, tmp_path / "table.json").restore()

    assert restored == 2
    assert _all_items(client, table_name) == before
    by_index = client.query(
        TableName=table_name,
        IndexName="GSI1",
        KeyConditionExpression="GSI1PK = :u",
        ExpressionAttributeValues={":u": {"S": "U"}},
    )["Items"]
    assert by_index == [member]


def test_a_snapshot_of_the_first_format_is_restored(
    database: EmbeddedDynamoDB, client: Any, table_name: str, tmp_path: Path
) -> None:
    """Given a file in format 1 (boto3's items, binary values as {"__base64__": …}), when it is
    restored, then its binary values are the bytes it encoded."""
    path = tmp_path / "table.json"
    item = {"PK": {"S": "ORG#1"}, "SK": {"S": "B"}, "binary": {"B": {"__base64__": "AP8="}}}
    path.write_text(json.dumps({"format": 1, "table": table_name, "items": [item]}))

    TableSnapshot(database, client, table_name, path).restore()

    assert _all_items(client, table_name)[0]["binary"] == {"B": b"\x00\xff"}
