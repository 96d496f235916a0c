"""The original design's two handlers, written here only as the baseline of bench_handlers.py.

Never used by the product. What the original design did per webhook, and nothing more:

- ingest verifies the signature (with the product's own verifier, so the comparison measures
  the storage path, not the schemes), then writes S3 (the body and the headers that re-verify
  it, as the public contract's records say), DynamoDB (the contract's record, with its index
  key: the original had an index too; a conditional put: a redelivery is a duplicate) and SQS
  (a pointer): 3 AWS calls, no record of the message being sent, no time budget, one log line.
- process publishes one event per record, the pointer as its detail: 1 AWS call per record,
  no redelivery guard, no payload, no status update.
"""
from __future__ import annotations

import base64
import json
from datetime import datetime, timezone
from typing import Any

from handlers import aws, ingest, signatures
from handlers.contract import EVENT_DETAIL_TYPE, EVENT_SOURCE, archive_key, iso_timestamp, provider_day


def ingest_handler(event: dict[str, Any], queue_url: str, table: str, bucket: str) -> dict[str, Any]:
    name = event["pathParameters"]["provider"]
    provider = ingest.providers()[name]
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    try:
        verified = signatures.verify(provider["scheme"], body, headers, ingest._secrets(provider, name),
                                     {**provider, "tolerance_seconds": 300})
    except signatures.SignatureError:
        return {"statusCode": 401, "body": json.dumps({"error": "invalid_signature"})}
    now = datetime.now(timezone.utc)
    wid = signatures.webhook_id(name, verified.delivery_id)
    key = archive_key(name, now, wid)
    aws.client("s3").put_object(Bucket=bucket, Key=key, Body=body, Metadata=dict(verified.signed_headers),
                                ContentType=headers.get("content-type", "application/octet-stream"))
    try:
        aws.client("dynamodb").put_item(TableName=table, ConditionExpression="attribute_not_exists(webhook_id)", Item={
            "webhook_id": {"S": wid}, "provider": {"S": name}, "delivery_id": {"S": verified.delivery_id},
            "event_type": {"S": verified.event_type or ""}, "received_at": {"S": iso_timestamp(now)},
            "provider_day": {"S": provider_day(name, now)}, "s3_key": {"S": key}, "status": {"S": "queued"},
            "attempts": {"N": "0"}, "expires_at": {"N": str(int(now.timestamp()) + 90 * 86400)}})
    except aws.client("dynamodb").exceptions.ConditionalCheckFailedException:
        return {"statusCode": 200, "body": json.dumps({"webhook_id": wid, "duplicate": True})}
    group = ingest.message_group_id(name, provider.get("ordering_key") or "provider", wid, verified.event_type, body)
    pointer = {"webhook_id": wid, "provider": name, "delivery_id": verified.delivery_id,
               "event_type": verified.event_type, "received_at": iso_timestamp(now), "s3_key": key}
    aws.client("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(pointer), MessageGroupId=group,
                                   MessageDeduplicationId=wid)
    print(json.dumps({"level": "INFO", "message": "webhook accepted", "webhook_id": wid, "provider": name}))
    return {"statusCode": 202, "body": json.dumps({"webhook_id": wid, "status": "queued"})}


def process_handler(event: dict[str, Any], bus: str) -> dict[str, Any]:
    failures = []
    for record in event.get("Records") or []:
        detail = {**json.loads(record["body"]), "processed_at": iso_timestamp(datetime.now(timezone.utc))}
        result = aws.client("events").put_events(Entries=[{
            "Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": json.dumps(detail), "EventBusName": bus}])
        if result.get("FailedEntryCount"):
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
