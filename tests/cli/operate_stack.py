"""The stack's storage on the emulator, as `events`, `stats`, `logs` and `listen` read it, without Terraform.

A fresh project name per test: the records table with its records index (`contract.RECORDS_INDEX`),
the archive bucket, the queues, the bus, one secret per configured provider, and the outputs a deploy
would have cached (`.webhookctl/outputs-local.json`). Deliveries are written the way ingest writes
them: the exact bytes in S3 with the re-verification headers as metadata, the record with
`contract.record_attributes`.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from handlers.contract import (
    Pointer, archive_key, bus_name, iso_timestamp, record_attributes, secret_name, targets_dlq_name, webhook_id,
)
from records_table import create_records_table

_names = itertools.count()


@dataclass
class Stack:
    endpoint: str
    project: Path
    stack: str
    table: str
    bucket: str
    queue_url: str
    dlq_url: str
    bus: str

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def put_delivery(self, provider: str, delivery_id: str, received: dt.datetime, *, body: bytes = b"{}",
                     event_type: str | None = "test.event", status: str = "processed",
                     headers: dict[str, str] | None = None, content_type: str = "application/json",
                     headers_in_record: bool = False) -> str:
        """One delivery as ingest stores it (and process marks it); returns its webhook_id."""
        wid = webhook_id(provider, delivery_id)
        key = archive_key(provider, received, wid)
        stored = {**(headers or {}), "content-type": content_type}
        metadata = {"webhookctl-verify-headers": "record"} if headers_in_record else stored
        self.client("s3").put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                                     Metadata=metadata)
        pointer = Pointer(webhook_id=wid, provider=provider, s3_key=key, delivery_id=delivery_id,
                          event_type=event_type, received_at=iso_timestamp(received), size=len(body),
                          expires_at=int(received.timestamp()) + 86400 * 90,
                          verify_headers=stored if headers_in_record else None)
        item = {**record_attributes(pointer), "status": {"S": status}, "attempts": {"N": "1"}}
        if status == "processed":
            item["processed_at"] = {"S": iso_timestamp(received + dt.timedelta(milliseconds=40))}
        self.client("dynamodb").put_item(TableName=self.table, Item=item)
        return wid

    def set_secrets(self, provider: str, values: list[str]) -> None:
        self.client("secretsmanager").put_secret_value(SecretId=secret_name(self.stack, provider),
                                                       SecretString=json.dumps({"secrets": values}))


@pytest.fixture(autouse=True)
def fresh_now(request):
    """The CLI reads the clock when a test runs, which in a full run (slow modules first, on xdist) can
    be many minutes after a module was imported: a module that imports this gets its NOW per test."""
    if hasattr(request.module, "NOW"):
        request.module.NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture
def stack(project, emulator) -> Stack:
    """This test's storage on the session's emulator (import it into a test module to use it)."""
    return deploy_storage(emulator.endpoint, project)


@pytest.fixture
def ws(stack, project):
    from cli.workspace import Workspace

    return Workspace.open(project / "webhookctl.toml", "local")


def deploy_storage(endpoint: str, project: Path) -> Stack:
    """Point the project's config at the emulator under a fresh project name and create its storage."""
    name = f"operate-{next(_names)}"
    path = project / "webhookctl.toml"
    text = path.read_text().replace("http://127.0.0.1:4566", endpoint).replace('project = "webhooks"',
                                                                              f'project = "{name}"')
    path.write_text(text)
    stack = f"{name}-local"
    s = Stack(endpoint=endpoint, project=project, stack=stack, table=f"{stack}-records", bucket=f"{stack}-archive",
              queue_url="", dlq_url="", bus=bus_name(stack))
    create_records_table(s.client("dynamodb"), s.table)
    s.client("s3").create_bucket(Bucket=s.bucket)
    sqs = s.client("sqs")
    s.dlq_url = sqs.create_queue(QueueName=f"{stack}-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    s.queue_url = sqs.create_queue(QueueName=f"{stack}-queue.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    sqs.create_queue(QueueName=targets_dlq_name(s.bus))
    s.client("events").create_event_bus(Name=s.bus)
    _create_secrets(s, project)
    _write_outputs(s, project)
    return s


def _create_secrets(s: Stack, project: Path) -> None:
    from config import load

    sm = s.client("secretsmanager")
    for provider in load(project / "webhookctl.toml").providers:
        sm.create_secret(Name=secret_name(s.stack, provider))


def _write_outputs(s: Stack, project: Path) -> None:
    outputs = {"api_url": "http://127.0.0.1:9/local", "table_name": s.table, "bucket_name": s.bucket,
               "queue_url": s.queue_url, "dlq_url": s.dlq_url, "event_bus_name": s.bus,
               "event_bus_arn": f"arn:aws:events:us-east-1:123456789012:event-bus/{s.bus}",
               "ingest_function_name": f"{s.stack}-ingest", "process_function_name": f"{s.stack}-process"}
    (project / ".webhookctl").mkdir(exist_ok=True)
    (project / ".webhookctl" / "outputs-local.json").write_text(json.dumps(outputs))


class CallCounter:
    """Counts the API operations a boto3 client makes (botocore's before-call event)."""

    def __init__(self, client: Any):
        self.client, self.calls = client, []
        client.meta.events.register("before-call.*.*", self._count)

    def _count(self, model, **kwargs) -> None:
        self.calls.append(model.name)

    def count(self, operation: str) -> int:
        return self.calls.count(operation)
