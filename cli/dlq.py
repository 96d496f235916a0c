"""`webhookctl dlq list` and `dlq redrive`: inspect the FIFO dead-letter queue and move messages back.

A DLQ message is a pointer (docs/design.md) whose record is `failed`. Redrive
sends it back to the ingest queue in its message group, sets the record back
to `queued`, and only then deletes it from the DLQ: a crash in between leaves
a copy in both queues, and the processor never publishes a processed record
twice, so nothing is lost and nothing is doubled.
"""
from __future__ import annotations

import json
from typing import Callable

from .workspace import Workspace

Log = Callable[[str], None]

# While listing, received messages are hidden so the next receive returns the
# following ones; `_release` shows them again at once (listing changes nothing).
PEEK_VISIBILITY_SECONDS = 30


def _queues(ws: Workspace, log: Log) -> tuple[object, str, str, str]:
    from .operations import env_client
    from .stack_ops import known_outputs

    outputs = known_outputs(ws, log)
    sqs = env_client(ws, "sqs")
    return sqs, outputs.queue_url, outputs.dlq_url, outputs.table_name


def _receive_all(sqs, dlq_url: str, limit: int) -> list[dict]:
    messages: list[dict] = []
    seen: set[str] = set()
    while len(messages) < limit:
        batch = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=min(10, limit - len(messages)), WaitTimeSeconds=0,
            VisibilityTimeout=PEEK_VISIBILITY_SECONDS, AttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update(m["MessageId"] for m in fresh)
        messages += fresh
    return messages


def _release(sqs, dlq_url: str, messages: list[dict]) -> None:
    for start in range(0, len(messages), 10):
        sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start:start + 10])])


def _describe(message: dict) -> dict:
    try:
        pointer = json.loads(message["Body"])
    except ValueError:
        pointer = {}
    attributes = message.get("Attributes", {})
    return {
        "message_id": message["MessageId"],
        "webhook_id": pointer.get("webhook_id"),
        "provider": pointer.get("provider"),
        "event_type": pointer.get("event_type"),
        "received_at": pointer.get("received_at"),
        "message_group": attributes.get("MessageGroupId"),
        "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
    }


def dlq_list(ws: Workspace, *, limit: int, log: Log) -> list[dict]:
    sqs, _, dlq_url, _ = _queues(ws, log)
    messages = _receive_all(sqs, dlq_url, limit)
    _release(sqs, dlq_url, messages)
    return [_describe(m) for m in messages]


def dlq_redrive(ws: Workspace, *, limit: int, dry_run: bool, log: Log) -> list[dict]:
    from .operations import env_client

    sqs, queue_url, dlq_url, table = _queues(ws, log)
    ddb = env_client(ws, "dynamodb")
    moved, kept = [], []
    for message in _receive_all(sqs, dlq_url, limit):
        info = _describe(message)
        if dry_run:
            moved.append({**info, "redriven": False})
            kept.append(message)
            continue
        if not info["webhook_id"] or not info["message_group"]:
            log(f"dlq: {info['message_id']} is not a webhookctl pointer; left in the DLQ")
            kept.append(message)
            continue
        # A fresh deduplication id: the original one may still be inside SQS's 5-minute window.
        dedup = f"{info['webhook_id']}-redrive-{message['Attributes'].get('SentTimestamp', '0')}"
        sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"], MessageGroupId=info["message_group"],
                         MessageDeduplicationId=dedup[:128])
        try:
            ddb.update_item(
                TableName=table, Key={"webhook_id": {"S": info["webhook_id"]}},
                UpdateExpression="SET #s = :queued",
                ConditionExpression="attribute_exists(webhook_id) AND #s <> :done",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":queued": {"S": "queued"}, ":done": {"S": "processed"}},
            )
        except ddb.exceptions.ConditionalCheckFailedException:
            pass  # no record, or already processed: the processor acknowledges it without publishing
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
        moved.append({**info, "redriven": True})
    _release(sqs, dlq_url, kept)
    verb = "would move" if dry_run else "moved"
    log(f"dlq: {verb} {len(moved)} message(s) back to the ingest queue")
    return moved
