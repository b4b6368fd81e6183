"""The table's stream, played locally: DynamoDB Streams and Lambda's event source mappings for
the stream consumers template.yaml declares (the membership janitor, and any other function
with an event of type DynamoDB).

In AWS, Lambda reads the stream's shards for each consumer, keeps the records one of the
consumer's FilterCriteria patterns matches, and invokes it with batches of up to its
BatchSize, retrying a failed batch (from the record its answer names, for a consumer with
``ReportBatchItemFailures``). Here ``LocalTableStream`` gives each consumer a background
thread that reads moto's stream of the embedded table every ``POLL_SECONDS`` (from the moment
it starts: what the table held before, a restored snapshot included, is not replayed), filters
the records with the template's patterns and invokes the same handler, loaded from the
template's CodeUri, with the event Lambda would send. A batch that still fails after
``ATTEMPTS`` is reported on stderr and skipped, as Lambda would hand it to the on-failure
destination."""

from __future__ import annotations

import sys
import threading
import traceback
from collections.abc import Callable
from typing import Any

import boto3

from devserver.dispatch import load_handler
from devserver.events import LambdaContext
from devserver.template import StreamConsumer, stream_consumers
from scim_provisioning.repository.stream import lambda_record

POLL_SECONDS = 0.2
ATTEMPTS = 3


def matches(pattern: Any, value: Any) -> bool:
    """An EventBridge-style filter pattern (what Lambda's FilterCriteria use) of the shape the
    template writes: nested objects whose leaves list the allowed values."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(key in value and matches(pattern[key], value[key]) for key in pattern)
    if isinstance(pattern, list):
        if any(isinstance(allowed, dict) for allowed in pattern):
            raise ValueError(f"unsupported filter rule in {pattern!r}: only lists of exact values")
        return value in pattern
    raise ValueError(f"unsupported filter pattern {pattern!r}")


class _Mapping:
    """One consumer's event source mapping: its own shard iterators and thread."""

    def __init__(self, consumer: StreamConsumer, streams: Any, stream_arn: str, stopping: threading.Event) -> None:
        self.consumer = consumer
        code = consumer.code
        self._invoke: Callable[[dict[str, Any], Any], Any] = load_handler(
            code.code_uri, code.handler, f"_local_lambda_stream_{code.logical_id}"
        )
        self._streams = streams
        self._stream_arn = stream_arn
        self._stopping = stopping
        shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        self._iterators = [
            streams.get_shard_iterator(StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="LATEST")[
                "ShardIterator"
            ]
            for shard in shards
        ]
        self.thread = threading.Thread(target=self._run, name=f"stream-{code.logical_id}", daemon=True)

    def _run(self) -> None:
        while not self._stopping.wait(POLL_SECONDS):
            for index, iterator in enumerate(self._iterators):
                answer = self._streams.get_records(ShardIterator=iterator)
                self._iterators[index] = answer["NextShardIterator"]
                records = [lambda_record(record, self._stream_arn) for record in answer.get("Records", [])]
                self._deliver(records)

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        kept = [record for record in records if any(matches(p, record) for p in self.consumer.patterns)]
        size = self.consumer.batch_size
        for start in range(0, len(kept), size):
            self._invoke_batch(kept[start : start + size])

    def _invoke_batch(self, batch: list[dict[str, Any]]) -> None:
        name = self.consumer.code.logical_id
        for attempt in range(1, ATTEMPTS + 1):
            try:
                answer = self._invoke({"Records": batch}, LambdaContext(name, self.consumer.timeout_seconds))
            except Exception:
                sys.stderr.write(f"{name} failed on a stream batch (attempt {attempt} of {ATTEMPTS}):\n")
                traceback.print_exc()
                continue
            failed = self._first_failed(batch, answer)
            if failed is None:
                return
            sys.stderr.write(
                f"{name} did not process record {failed + 1} of {len(batch)} (attempt {attempt} of {ATTEMPTS})\n"
            )
            batch = batch[failed:]
        sys.stderr.write(f"{name} gave up on {len(batch)} stream record(s)\n")

    def _first_failed(self, batch: list[dict[str, Any]], answer: Any) -> int | None:
        """Where a consumer with ReportBatchItemFailures asks the batch to be retried from (the
        first record it names; the whole batch when it names none of them), None when done."""
        if not self.consumer.reports_item_failures or not isinstance(answer, dict):
            return None
        named = {failure["itemIdentifier"] for failure in answer.get("batchItemFailures") or []}
        if not named:
            return None
        positions = [index for index, record in enumerate(batch) if record["dynamodb"]["SequenceNumber"] in named]
        return min(positions, default=0)


class LocalTableStream:
    """The template's stream consumers, fed from the embedded table's stream."""

    def __init__(self, endpoint_url: str, table_name: str, region: str) -> None:
        client = boto3.client("dynamodb", endpoint_url=endpoint_url, region_name=region)
        stream_arn = client.describe_table(TableName=table_name)["Table"].get("LatestStreamArn")
        streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url, region_name=region)
        self._stopping = threading.Event()
        # A table created before the template declared its stream has none: nothing to feed.
        consumers = stream_consumers() if stream_arn else []
        self._mappings = [_Mapping(consumer, streams, str(stream_arn), self._stopping) for consumer in consumers]

    def start(self) -> LocalTableStream:
        for mapping in self._mappings:
            mapping.thread.start()
        return self

    def stop(self, wait_seconds: float = 2.0) -> None:
        """Stop polling; a consumer still busy (the janitor may wait a minute for a change to
        turn stale) is left to finish on its daemon thread."""
        self._stopping.set()
        for mapping in self._mappings:
            mapping.thread.join(wait_seconds)
