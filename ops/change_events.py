"""Publish again the change events of the stream batches ChangeEventsFunction gave up on.

When EventBridge kept refusing a batch's events through Lambda's retries (docs/operations.md,
"Change events"), Lambda put a record of the batch in the stack's ``ChangeEventsFailures`` queue:
the stream, its shard and the batch's first and last sequence numbers, not the records. The
records stay on the table's stream for 24 hours after they were written. ``replay`` reads each
queued batch back from the stream, publishes its events with the function's own publisher on the
stack's bus (under the same deduplication keys: a consumer that got some already drops them) and
deletes the message once every event went out. A batch the stream no longer holds, or whose
events are refused again, is reported and left in the queue.

  python -m ops.change_events replay --stage prod [--region eu-west-1]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ops.table import deploy_settings
from scim_provisioning.repository.messaging import event_bus
from scim_provisioning.repository.protocols import EventBus
from scim_provisioning.repository.stream import item_changes, lambda_record
from scim_provisioning.services.change_events import ChangeEventPublisher, change_events

# Pages of a shard read without reaching the batch's last record before giving up on it (an
# open shard answers empty pages past its newest record).
_EMPTY_PAGES = 10


@dataclass
class Replay:
    """What a replay did: batches replayed and deleted from the queue, events published, and
    the batches left in the queue with the reason."""

    replayed: int = 0
    events: int = 0
    left: list[str] = field(default_factory=list)


def batch_records(streams: Any, batch: dict[str, Any]) -> list[dict[str, Any]]:
    """The records of a failed batch (Lambda's ``DDBStreamBatchInfo``), in Lambda's shape."""
    end = int(batch["endSequenceNumber"])
    iterator = streams.get_shard_iterator(
        StreamArn=batch["streamArn"],
        ShardId=batch["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=batch["startSequenceNumber"],
    )["ShardIterator"]
    records: list[dict[str, Any]] = []
    empty = 0
    while iterator and empty < _EMPTY_PAGES:
        answer = streams.get_records(ShardIterator=iterator)
        empty = 0 if answer["Records"] else empty + 1
        for record in answer["Records"]:
            if int(record["dynamodb"]["SequenceNumber"]) > end:
                return records
            records.append(lambda_record(record, batch["streamArn"]))
            if int(record["dynamodb"]["SequenceNumber"]) == end:
                return records
        iterator = answer.get("NextShardIterator")
    return records


def replay(sqs: Any, streams: Any, queue_url: str, bus: EventBus) -> Replay:
    """Replay every batch waiting in the failure queue ``queue_url`` onto ``bus``."""
    publisher = ChangeEventPublisher(bus)
    done = Replay()
    seen: set[str] = set()
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=300
        ).get("Messages", [])
        fresh = [message for message in messages if message["MessageId"] not in seen]
        if not fresh:
            return done
        for message in fresh:
            seen.add(message["MessageId"])
            batch = json.loads(message["Body"]).get("DDBStreamBatchInfo")
            if batch is None:
                done.left.append(f"{message['MessageId']}: not a record of a stream batch")
                continue
            where = f"{batch['shardId']} {batch['startSequenceNumber']}..{batch['endSequenceNumber']}"
            try:
                records = batch_records(streams, batch)
            except ClientError as error:  # TrimmedDataAccessException: older than the stream's 24 h
                done.left.append(f"{where}: {error.response['Error']['Code']}")
                continue
            changes = item_changes({"Records": records})
            if publisher.publish(changes) is not None:
                done.left.append(f"{where}: EventBridge refused its events again")
                continue
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            done.replayed += 1
            done.events += sum(len(change_events(change)) for change in changes)


def _stack_resource(cloudformation: Any, stack_name: str, logical_id: str) -> str:
    detail = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    return str(detail["StackResourceDetail"]["PhysicalResourceId"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.change_events", description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--region", help="the stack's region (default: AWS_REGION or your AWS config)")
    commands = parser.add_subparsers(dest="command", required=True)
    replay_command = commands.add_parser("replay", help="publish the batches waiting in ChangeEventsFailures")
    replay_command.add_argument("--stage", required=True)
    arguments = parser.parse_args(argv)

    session = boto3.session.Session(region_name=arguments.region)
    cloudformation = session.client("cloudformation")
    stack_name, _ = deploy_settings(arguments.stage)
    queue_url = _stack_resource(cloudformation, stack_name, "ChangeEventsFailures")
    bus = event_bus(_stack_resource(cloudformation, stack_name, "ServiceEventBus"), session.region_name)
    done = replay(session.client("sqs"), session.client("dynamodbstreams"), queue_url, bus)
    print(json.dumps({"batchesReplayed": done.replayed, "eventsPublished": done.events, "left": done.left}))
    return 1 if done.left else 0


if __name__ == "__main__":
    sys.exit(main())
