"""Handler test harness: the pipeline's AWS resources under moto, event builders, fault injection.

GIVEN a moto account with the table (and its records index), bucket, FIFO queue
(+ FIFO DLQ), bus, a consumer rule (SQS target) and one Secrets Manager secret per
provider of the committed `webhookctl.toml`; the handlers' environment is what the
stack sets (docs/design.md), and the provider table is a file, as in the Lambda zip
(`config.Provider.runtime_config` per provider, found through `PROVIDERS_FILE`).
"""
from __future__ import annotations

import copy
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

import boto3

from config import load
from handlers import aws, ingest, process, signatures
from handlers.contract import PROVIDERS_FILE_NAME, REPLY_HEADER
from handlers.schemes.url_signed import TWIML_EMPTY
from records_table import create_records_table

ROOT = Path(__file__).resolve().parents[2]
EVENTS = Path(__file__).parent / "events"
STACK = "webhooks-test"
HOST = "abc123.execute-api.us-east-1.amazonaws.com"
REGION = "us-east-1"

# One active secret per provider of webhookctl.toml (several are SDK test-vector secrets).
SECRETS = {
    "stripe": "whsec_test_secret",
    "github": "It's a Secret to Everybody",
    "shopify": "shopify-app-secret",
    "slack": "8f742231b10e8888abcd99yyyzzz85a5",
    "svix": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "twilio": "12345",
    "paddle": "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh",
    "square": "Ibxx_5AKakO-3qeNVR61Dw",
    "acme": "acme-secret",
}


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def provider_configs() -> dict[str, dict[str, Any]]:
    config = load(ROOT / "webhookctl.toml")
    return {
        name: p.runtime_config(f"{STACK}/providers/{name}") for name, p in config.providers.items()
    }


def url_for(provider: str, query: str = "") -> str:
    return f"https://{HOST}/prod/webhooks/{provider}" + (f"?{query}" if query else "")


def api_event(provider: str, body: bytes | str, headers: dict[str, str] | None = None,
              *, query: dict[str, str] | None = None, base64_body: bool = False) -> dict[str, Any]:
    """An API Gateway REST proxy event for POST /webhooks/{provider}."""
    import base64

    event = load_event("webhooks_provider.json")
    event["path"] = f"/webhooks/{provider}"
    event["pathParameters"] = {"provider": provider}
    event["requestContext"]["path"] = f"/prod/webhooks/{provider}"
    for name, value in (headers or {}).items():
        event["headers"][name] = value
        event["multiValueHeaders"][name] = [value]
    if query:
        event["queryStringParameters"] = dict(query)
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    data = body.encode() if isinstance(body, str) else body
    if base64_body:
        event["body"], event["isBase64Encoded"] = base64.b64encode(data).decode(), True
    else:
        event["body"] = data.decode()
    return event


def signed_event(provider: str, body: bytes | str, *, secret: str | None = None, now: float | None = None,
                 delivery_id: str | None = None, event_type: str | None = None,
                 query: dict[str, str] | None = None) -> dict[str, Any]:
    config = provider_configs()[provider]
    from urllib.parse import urlencode

    url = url_for(provider, urlencode(query) if query else "")
    headers = signatures.sign(config["scheme"], body, secret or SECRETS[provider], config, url=url, now=now,
                              delivery_id=delivery_id, event_type=event_type)
    return api_event(provider, body, headers, query=query)


def reply(response: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    if response["headers"]["Content-Type"] == "text/xml":  # Twilio's TwiML: the JSON rides in a header
        assert response["body"] == TWIML_EMPTY
        return response["statusCode"], json.loads(response["headers"][REPLY_HEADER])
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], json.loads(response["body"])


_clients: dict[str, Any] = {}


def _client(service: str):
    """The test's own clients (no fault hooks), reused across tests: moto patches botocore globally."""
    if service not in _clients:
        _clients[service] = boto3.client(service, region_name=REGION)
    return _clients[service]


_files = itertools.count()


class Pipeline:
    """The moto resources plus helpers that play API Gateway and the SQS event source mapping."""

    def __init__(self, workdir: Path | None = None) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="webhookctl-handlers-"))
        self.ddb = _client("dynamodb")
        self.s3 = _client("s3")
        self.sqs = _client("sqs")
        self.events = _client("events")
        self.sm = _client("secretsmanager")
        self.table = f"{STACK}-webhooks"
        self.bucket = f"{STACK}-archive"
        self.bus = f"{STACK}-bus"
        create_records_table(self.ddb, self.table)
        self.s3.create_bucket(Bucket=self.bucket)
        dlq = self.sqs.create_queue(QueueName=f"{STACK}-dlq.fifo", Attributes={"FifoQueue": "true"})
        dlq_arn = self.sqs.get_queue_attributes(QueueUrl=dlq["QueueUrl"], AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.dlq_url = dlq["QueueUrl"]
        self.queue_url = self.sqs.create_queue(
            QueueName=f"{STACK}-queue.fifo",
            Attributes={
                "FifoQueue": "true",
                "VisibilityTimeout": "30",
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "3"}),
            },
        )["QueueUrl"]
        self.events.create_event_bus(Name=self.bus)
        self.consumer_url = self.sqs.create_queue(QueueName=f"{STACK}-consumer")["QueueUrl"]
        consumer_arn = self.sqs.get_queue_attributes(QueueUrl=self.consumer_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.events.put_rule(Name="all-webhooks", EventBusName=self.bus,
                             EventPattern=json.dumps({"source": ["webhook.processor"]}))
        self.events.put_targets(Rule="all-webhooks", EventBusName=self.bus,
                                Targets=[{"Id": "consumer", "Arn": consumer_arn}])
        self.providers = provider_configs()
        self.providers_file = self.write_providers(self.providers)
        for name, config in self.providers.items():
            self.sm.create_secret(Name=config["secret_id"])
            self.set_secret(name, [SECRETS[name]])

    def write_providers(self, table: dict[str, Any]) -> Path:
        """The provider table as the stack ships it (a file); a new path each time, as ingest caches per path."""
        path = self.workdir / f"{next(_files)}-{PROVIDERS_FILE_NAME}"
        path.write_text(json.dumps(table, sort_keys=True))
        return path

    def set_secret(self, provider: str, values: list[str]) -> None:
        self.sm.put_secret_value(SecretId=self.providers[provider]["secret_id"],
                                 SecretString=json.dumps({"secrets": values}))

    def env(self) -> dict[str, str]:
        return {
            "WEBHOOKCTL_ENV": "test",
            "TABLE_NAME": self.table,
            "BUCKET_NAME": self.bucket,
            "QUEUE_URL": self.queue_url,
            "EVENT_BUS_NAME": self.bus,
            "PROVIDERS_FILE": str(self.providers_file),
            "MAX_BODY_BYTES": "1048576",
            "RECORD_TTL_DAYS": "90",
            "SECRET_REFRESH_SECONDS": "5",
            "INLINE_PAYLOAD_LIMIT": "262144",
            "MAX_RECEIVE_COUNT": "3",
            "POWERTOOLS_SERVICE_NAME": "webhookctl",
            "METRICS_NAMESPACE": f"Webhookctl/{STACK}",
        }

    # ---- provider side
    def post(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return reply(ingest.handler(copy.deepcopy(event), None))

    # ---- SQS event source mapping
    def receive(self, max_messages: int = 10) -> list[dict[str, Any]]:
        """One receive as Lambda's SQS poller does it, as Lambda event records (message attributes
        in Lambda's shape, by the local runtime's builder: one home for that shape)."""
        from local_runtime.sqs_poller import lambda_message_attributes

        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=max_messages, AttributeNames=["All"],
            MessageAttributeNames=["All"], VisibilityTimeout=30,
        )
        records = []
        for m in response.get("Messages", []):
            records.append({
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": lambda_message_attributes(m.get("MessageAttributes")),
                "eventSource": "aws:sqs",
            })
        return records

    def settle(self, records: list[dict[str, Any]], result: dict[str, Any]) -> None:
        """Delete what succeeded; make what failed visible again (the next receive retries it)."""
        failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
        for r in records:
            if r["messageId"] in failed:
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=r["receiptHandle"],
                                                   VisibilityTimeout=0)
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=r["receiptHandle"])

    def process_once(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        records = self.receive()
        result = process.handler({"Records": records}, None) if records else {"batchItemFailures": []}
        self.settle(records, result)
        return records, result

    def drain(self, rounds: int = 10) -> None:
        for _ in range(rounds):
            records, _ = self.process_once()
            if not records:
                return

    def published(self) -> list[dict[str, Any]]:
        """Every event the consumer queue received so far (consumed)."""
        out = []
        while True:
            response = self.sqs.receive_message(QueueUrl=self.consumer_url, MaxNumberOfMessages=10)
            messages = response.get("Messages", [])
            if not messages:
                return out
            for m in messages:
                out.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.consumer_url, ReceiptHandle=m["ReceiptHandle"])

    def item(self, webhook_id: str) -> dict[str, Any] | None:
        found = self.ddb.get_item(TableName=self.table, Key={"webhook_id": {"S": webhook_id}},
                                  ConsistentRead=True).get("Item")
        if found is None:
            return None
        return {k: next(iter(v.values())) for k, v in found.items()}

    def queue_depth(self) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def archived(self, body: bytes, *, delivery_id: str, provider: str = "acme", group: str = "g",
                 receive_count: int = 1, status: str = "queued", received=None) -> dict[str, Any]:
        """A delivery as ingest leaves it (object + record at `status`), and its SQS record for process.

        Written directly, so process can be given payloads that no signature scheme would parse.
        """
        from datetime import datetime, timezone

        from handlers.contract import Pointer, archive_key, iso_timestamp, provider_day

        now = received or datetime.now(timezone.utc)
        wid = signatures.webhook_id(provider, delivery_id)
        pointer = Pointer(webhook_id=wid, provider=provider, s3_key=archive_key(provider, now, wid),
                          delivery_id=delivery_id, event_type="t", received_at=iso_timestamp(now), size=len(body))
        self.s3.put_object(Bucket=self.bucket, Key=pointer.s3_key, Body=body)
        self.ddb.put_item(TableName=self.table, Item={
            "webhook_id": {"S": wid}, "provider": {"S": provider}, "delivery_id": {"S": delivery_id},
            "received_at": {"S": pointer.received_at}, "s3_key": {"S": pointer.s3_key}, "status": {"S": status},
            "provider_day": {"S": provider_day(provider, now)}, "size": {"N": str(len(body))},
            "attempts": {"N": "0"}, "event_type": {"S": "t"}})
        return sqs_record(pointer.to_json(), message_id=f"m-{wid}", group=group, receive_count=receive_count)

    def objects(self) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])]


def sqs_record(body: Any, *, message_id: str, group: str = "g", receive_count: Any = 1) -> dict[str, Any]:
    """A Lambda SQS event record (the fixture's shape) with this body and these attributes."""
    raw = load_event("sqs_record.json")
    raw["messageId"] = message_id
    raw["body"] = body
    raw["attributes"]["MessageGroupId"] = group
    raw["attributes"]["ApproximateReceiveCount"] = str(receive_count)
    return raw


class Faults:
    """Make chosen AWS calls of the handlers fail, through botocore's `before-call` hook."""

    def __init__(self) -> None:
        self.plan: dict[str, list[BaseException]] = {}
        self.calls: list[str] = []

    def fail(self, operation: str, exc: BaseException, times: int = 1) -> None:
        self.plan.setdefault(operation, []).extend([exc] * times)

    def hook(self, model, **_: Any) -> None:
        self.calls.append(model.name)
        queued = self.plan.get(model.name)
        if queued:
            raise queued.pop(0)

    def attach(self, *services: str) -> None:
        for service in services:
            aws.client(service).meta.events.register("before-call", self.hook)


def client_error(operation: str, code: str = "InternalServerError", status: int = 500):
    from botocore.exceptions import ClientError

    return ClientError({"Error": {"Code": code, "Message": "injected"},
                        "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


def connection_error():
    from botocore.exceptions import EndpointConnectionError

    return EndpointConnectionError(endpoint_url="https://injected.invalid")


