"""SQS queue with its dead-letter queue, a TLS-only policy and intent-named grants."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from constructs import Construct

from .defaults import (
    DLQ_DEFAULTS,
    QUEUE_DEFAULTS,
    SQS_MAX_MESSAGE_SIZE,
    VISIBILITY_TIMEOUT_FACTOR,
    checkov_skip,
    emulator_lifecycle,
    merge,
    raise_if,
)
from .iam import AwsContext, Grantee, deny_insecure_transport, document, sid, statement

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,75}$")  # 80 with ".fifo"

SEND_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl")
CONSUME_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
CHECKOV_SKIPS = {
    "CKV_AWS_27": "encrypted with SQS-managed SSE (sqs_managed_sse_enabled); a customer KMS key is not required for pointer messages",
}


@dataclass(frozen=True)
class QueueProps:
    name: str  # without ".fifo": the construct adds it
    consumer_timeout_seconds: int = 30
    fifo: bool = True
    dlq_fifo: bool | None = None  # None: same as fifo
    max_receive_count: int = 5  # Lambda throttling burns receives: AWS recommends at least 5
    visibility_timeout_seconds: int | None = None  # None: 6x the consumer's timeout
    # High-throughput FIFO (None: on for FIFO queues): the 300 messages/s quota applies per
    # message group, not per queue, and deduplication is per group too, so a producer must
    # always send one message in the same group (docs/capacity.md).
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/high-throughput-fifo.html
    high_throughput: bool | None = None
    # The largest message producers send: the queue (and its DLQ) must hold it.
    largest_message_bytes: int = 0
    queue_overrides: Mapping[str, Any] = field(default_factory=dict)
    dlq_overrides: Mapping[str, Any] = field(default_factory=dict)


def validate_queue_props(props: QueueProps) -> list[str]:
    problems: list[str] = []
    if not _NAME.match(props.name or ""):
        problems.append(f"name '{props.name}' must be 1-75 letters, digits, '-' or '_' (no .fifo suffix)")
    dlq_fifo = props.fifo if props.dlq_fifo is None else props.dlq_fifo
    if props.fifo != dlq_fifo:
        problems.append("a FIFO queue needs a FIFO dead-letter queue and a standard queue a standard one (dlq_fifo must equal fifo)")
    if props.high_throughput and not props.fifo:
        problems.append("high_throughput applies to FIFO queues only")
    if not 1 <= props.max_receive_count <= 1000:
        problems.append(f"max_receive_count {props.max_receive_count} must be from 1 to 1000")
    minimum = VISIBILITY_TIMEOUT_FACTOR * props.consumer_timeout_seconds
    visibility = props.visibility_timeout_seconds
    if visibility is not None and visibility < minimum:
        problems.append(
            f"visibility_timeout_seconds {visibility} must be at least {VISIBILITY_TIMEOUT_FACTOR}x "
            f"the consumer's timeout ({props.consumer_timeout_seconds} s), i.e. >= {minimum}"
        )
    if max(visibility or 0, minimum) > 43_200:
        problems.append("visibility timeout must be at most 43200 s (12 h)")
    for label, overrides in (("queue_overrides", props.queue_overrides), ("dlq_overrides", props.dlq_overrides)):
        size = overrides.get("max_message_size")
        if size is not None and not 1024 <= size <= SQS_MAX_MESSAGE_SIZE:
            problems.append(f"{label}.max_message_size {size} must be from 1024 to {SQS_MAX_MESSAGE_SIZE} (provider 5.100.0 limit)")
        size = overrides.get("max_message_size", QUEUE_DEFAULTS["max_message_size"])
        if size < props.largest_message_bytes:
            which = "queue" if label == "queue_overrides" else "dead-letter queue"
            problems.append(f"the {which}'s max_message_size {size} is under the largest message producers send "
                            f"({props.largest_message_bytes} bytes): SQS would refuse it")
        retention = overrides.get("message_retention_seconds")
        if retention is not None and not 60 <= retention <= 1_209_600:
            problems.append(f"{label}.message_retention_seconds {retention} must be from 60 to 1209600")
        if overrides.get("sqs_managed_sse_enabled") is False and not overrides.get("kms_master_key_id"):
            problems.append(f"{label}: encryption cannot be turned off (give kms_master_key_id to use a KMS key)")
    return problems


class Queue(Construct):
    """`queue` and `dead_letter_queue` resources; `arn`/`url` (and `dlq_*`) are built strings."""

    def __init__(self, scope: Construct, id: str, *, props: QueueProps, aws: AwsContext):
        raise_if(f"Queue '{id}'", validate_queue_props(props))
        super().__init__(scope, id)
        suffix = ".fifo" if props.fifo else ""
        self.props = props
        self.name = f"{props.name}{suffix}"
        self.dlq_name = f"{props.name}-dlq{suffix}"
        self.arn = aws.arn("sqs", self.name)
        self.url = aws.queue_url(self.name)
        self.dlq_arn = aws.arn("sqs", self.dlq_name)
        self.dlq_url = aws.queue_url(self.dlq_name)
        fifo_required: dict[str, Any] = {"fifo_queue": True, "content_based_deduplication": False} if props.fifo else {}

        self.dead_letter_queue = SqsQueue(
            self,
            "dlq",
            **merge(
                DLQ_DEFAULTS,
                props.dlq_overrides,
                {**fifo_required, "name": self.dlq_name, "policy": _tls_only(self.dlq_arn)},
            ),
        )
        throughput = (
            {"deduplication_scope": "messageGroup", "fifo_throughput_limit": "perMessageGroupId"}
            if props.fifo and props.high_throughput is not False
            else {}
        )
        redrive = json.dumps(
            {"deadLetterTargetArn": self.dead_letter_queue.arn, "maxReceiveCount": props.max_receive_count},
            separators=(",", ":"),
        )
        self.visibility_timeout_seconds = props.visibility_timeout_seconds or (
            VISIBILITY_TIMEOUT_FACTOR * props.consumer_timeout_seconds
        )
        self.queue = SqsQueue(
            self,
            "queue",
            **merge(
                QUEUE_DEFAULTS,
                {**throughput, **props.queue_overrides},
                {
                    **fifo_required,
                    "name": self.name,
                    "visibility_timeout_seconds": self.visibility_timeout_seconds,
                    "redrive_policy": redrive,
                    # Inline: an aws_sqs_queue_policy would cost 25 s on create and on delete.
                    "policy": _tls_only(self.arn),
                    # moto answers the redrive policy with spaces; the provider would show a
                    # whitespace diff on every plan.
                    **emulator_lifecycle(aws, "redrive_policy"),
                },
            ),
        )
        for resource in (self.queue, self.dead_letter_queue):
            checkov_skip(resource, CHECKOV_SKIPS)

    def grant_send_messages(self, grantee: Grantee) -> Any:
        return grantee.add_to_policy(sid("send-to", self.node.id), [statement(SEND_ACTIONS, [self.arn])])

    def grant_consume_messages(self, grantee: Grantee) -> Any:
        return grantee.add_to_policy(sid("consume-from", self.node.id), [statement(CONSUME_ACTIONS, [self.arn])])


def _tls_only(arn: str) -> str:
    return document(deny_insecure_transport("sqs:*", [arn]))

