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

from .errors import WebhookctlError
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


# --------------------------------------------------------------------------- a route target's DLQ
#
# Every route's target dead-letters into the bus's one standard queue (constructs_lib/bus.py);
# EventBridge writes the event as the body and the failed rule's ARN as the RULE_ARN attribute
# (contract.DLQ_ATTRIBUTES; https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
# `--target NAME` picks that route's messages: its rule's, and its redrive rule's when a redriven
# event failed again. Redrive puts each event back on the bus with source REDRIVE_SOURCE and the
# route's rule ARN as its only resource: only the route's redrive rule matches that, so only the
# failed target receives it again. A message is deleted only once PutEvents accepted its event (a
# crash in between sends it once more: consumers deduplicate on detail.webhook_id).

# A standard queue spreads messages over servers: long polling asks them all.
TARGET_DLQ_WAIT_SECONDS = 1


def _target_dlq(ws: Workspace, route: str, log: Log) -> dict:
    from botocore.exceptions import ClientError

    from .operations import env_client
    from .targets import names, require_route

    require_route(ws, route)
    found = names(ws, route)
    sqs, events = env_client(ws, "sqs"), env_client(ws, "events")
    try:
        url = sqs.get_queue_url(QueueName=found["dlq"])["QueueUrl"]
        rules = {events.describe_rule(Name=found[k], EventBusName=found["bus"])["Arn"]: k
                 for k in ("rule", "redrive_rule")}
    except ClientError as exc:
        raise WebhookctlError(f"route '{route}' is not deployed in environment '{ws.env.name}' "
                              f"({exc.response.get('Error', {}).get('Code')}): run `webhookctl deploy --env {ws.env.name}`") from None
    rule_arn = next(arn for arn, kind in rules.items() if kind == "rule")
    return {"sqs": sqs, "events": events, "url": url, "rules": rules, "rule_arn": rule_arn, "bus": found["bus"]}


def _receive_target_messages(target: dict, limit: int) -> tuple[list[dict], list[dict]]:
    """(this route's messages, every message received): the caller releases what it does not delete."""
    sqs, mine, received, seen = target["sqs"], [], [], set()
    while len(mine) < limit:
        batch = sqs.receive_message(
            QueueUrl=target["url"], MaxNumberOfMessages=10, WaitTimeSeconds=TARGET_DLQ_WAIT_SECONDS,
            VisibilityTimeout=PEEK_VISIBILITY_SECONDS, AttributeNames=["All"], MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in batch if m["MessageId"] not in seen]
        if not fresh:
            break
        seen.update(m["MessageId"] for m in fresh)
        received += fresh
        mine += [m for m in fresh if _attribute(m, "RULE_ARN") in target["rules"]][:limit - len(mine)]
    return mine, received


def _attribute(message: dict, name: str) -> str | None:
    return message.get("MessageAttributes", {}).get(name, {}).get("StringValue")


def _describe_event(message: dict, rules: dict) -> dict:
    try:
        event = json.loads(message["Body"])
    except ValueError:
        event = {}
    detail = event.get("detail") if isinstance(event, dict) and isinstance(event.get("detail"), dict) else {}
    return {
        "message_id": message["MessageId"],
        "event_id": event.get("id") if isinstance(event, dict) else None,
        "webhook_id": detail.get("webhook_id"),
        "provider": detail.get("provider"),
        "event_type": detail.get("event_type"),
        "rule": rules.get(_attribute(message, "RULE_ARN"), "unknown"),
        "error_code": _attribute(message, "ERROR_CODE"),
        "error_message": _attribute(message, "ERROR_MESSAGE"),
        "exhausted": _attribute(message, "EXHAUSTED_RETRY_CONDITION"),
        "retry_attempts": int(_attribute(message, "RETRY_ATTEMPTS") or 0),
    }


def target_dlq_list(ws: Workspace, route: str, *, limit: int, log: Log) -> list[dict]:
    """The events route `route`'s target never took (read-only: every message is released again)."""
    target = _target_dlq(ws, route, log)
    mine, received = _receive_target_messages(target, limit)
    _release(target["sqs"], target["url"], received)
    return [_describe_event(m, target["rules"]) for m in mine]


def target_dlq_redrive(ws: Workspace, route: str, *, limit: int, dry_run: bool, log: Log) -> list[dict]:
    """Put the route's dead-lettered events back on the bus, for that route's target only."""
    target = _target_dlq(ws, route, log)
    mine, received = _receive_target_messages(target, limit)
    done: list[dict] = []
    deleted: set[str] = set()
    for message in mine:
        info = _describe_event(message, target["rules"])
        if not dry_run and _put_back(target, message, log):
            target["sqs"].delete_message(QueueUrl=target["url"], ReceiptHandle=message["ReceiptHandle"])
            deleted.add(message["MessageId"])
        done.append({**info, "redriven": message["MessageId"] in deleted})
    _release(target["sqs"], target["url"], [m for m in received if m["MessageId"] not in deleted])
    verb = "would put back" if dry_run else "put back"
    log(f"dlq: {verb} {len(deleted) if not dry_run else len(done)} event(s) for route {route}'s target only")
    return done


def _put_back(target: dict, message: dict, log: Log) -> bool:
    from handlers.contract import REDRIVE_SOURCE

    try:
        event = json.loads(message["Body"])
        entry = {"Source": REDRIVE_SOURCE, "DetailType": event["detail-type"], "Detail": json.dumps(event["detail"]),
                 "Resources": [target["rule_arn"]], "EventBusName": target["bus"]}
    except (ValueError, KeyError, TypeError):
        log(f"dlq: {message['MessageId']} is not an EventBridge event; left in the DLQ")
        return False
    [result] = target["events"].put_events(Entries=[entry])["Entries"]
    if result.get("ErrorCode"):
        log(f"dlq: EventBridge refused {message['MessageId']} ({result['ErrorCode']}: {result.get('ErrorMessage')}); "
            "left in the DLQ")
        return False
    return True
