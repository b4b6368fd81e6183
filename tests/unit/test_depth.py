"""The depth calculation of ``make bench`` (benchmarks/depth.py): a chain counts requests that
each start after the previous one ended; requests side by side add one link, not many."""

from __future__ import annotations

import json

from benchmarks.depth import is_bookkeeping_write, sequential_depth
from devserver.dynamodb_proxy import Exchange


def test_requests_one_after_another_are_each_a_link() -> None:
    """Given three requests each starting when the previous ended, then the depth is 3."""
    assert sequential_depth([(0.0, 1.0), (1.0, 2.0), (2.5, 3.0)]) == 3


def test_requests_side_by_side_are_one_link() -> None:
    """Given an auth read, then ten reads at once, then a write, then the depth is 3."""
    fan_out = [(1.0 + index / 100, 2.0 + index / 100) for index in range(10)]

    assert sequential_depth([(0.0, 1.0), *fan_out, (2.2, 3.0)]) == 3


def test_a_worker_pool_chains_its_own_tasks() -> None:
    """Given two workers each serving three reads one after the other, overlapping each other,
    then the depth is three: the longest chain is one worker's."""
    worker_a = [(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]
    worker_b = [(0.5, 1.5), (1.5, 2.5), (2.5, 3.5)]

    assert sequential_depth(worker_a + worker_b) == 3


def test_nothing_is_depth_zero() -> None:
    assert sequential_depth([]) == 0


def _exchange(operation: str, request: dict[str, object]) -> Exchange:
    return Exchange(operation, 0.0, 1.0, 200, None, False, json.dumps(request).encode())


def test_bookkeeping_writes_are_recognised_by_their_partition_or_lastusedat() -> None:
    """Given writes of an activity entry (alone or batched), a token's hour and a lastUsedAt
    stamp, then each is bookkeeping; a person's write, a group's version bump and a read are not."""
    activity = {"PK": {"S": "ORG#o#ACTIVITY"}, "SK": {"S": "2026"}}
    person = {"PK": {"S": "ORG#o"}, "SK": {"S": "USER#u"}}
    hour = {"PK": {"S": "ORG#o#HEALTH"}, "SK": {"S": "TOKEN#t#HOUR#2026-11-28T12"}}
    token = {"PK": {"S": "ORG#o"}, "SK": {"S": "SCIM_TOKEN#t"}}
    group = {"PK": {"S": "ORG#o"}, "SK": {"S": "GROUP#g"}}

    assert is_bookkeeping_write(_exchange("PutItem", {"Item": activity}))
    assert is_bookkeeping_write(
        _exchange("BatchWriteItem", {"RequestItems": {"t": [{"PutRequest": {"Item": activity}}]}})
    )
    assert is_bookkeeping_write(_exchange("UpdateItem", {"Key": hour, "UpdateExpression": "ADD #requests :r"}))
    assert is_bookkeeping_write(_exchange("UpdateItem", {"Key": token, "UpdateExpression": "SET lastUsedAt = :now"}))
    assert not is_bookkeeping_write(_exchange("PutItem", {"Item": person}))
    assert not is_bookkeeping_write(_exchange("UpdateItem", {"Key": group, "UpdateExpression": "SET version = :v"}))
    assert not is_bookkeeping_write(_exchange("Query", {"KeyConditionExpression": "PK = :p"}))
