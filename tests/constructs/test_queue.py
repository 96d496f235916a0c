"""Queue: FIFO + FIFO DLQ, redrive, visibility, retention, SSE, inline TLS-only policy; validation; grants."""
from __future__ import annotations

import json

import pytest

from constructs_lib.defaults import ValidationError
from constructs_lib.queue import Queue, QueueProps


def test_defaults_in_the_stack(local):
    queue = local.one("aws_sqs_queue", name="webhooks-local-ingest.fifo")
    dlq = local.one("aws_sqs_queue", name="webhooks-local-ingest-dlq.fifo")
    assert queue["name"] == "webhooks-local-ingest.fifo" and queue["fifo_queue"] is True
    assert dlq["name"] == "webhooks-local-ingest-dlq.fifo" and dlq["fifo_queue"] is True
    assert queue["message_retention_seconds"] == 4 * 86400
    assert dlq["message_retention_seconds"] == 14 * 86400
    assert queue["sqs_managed_sse_enabled"] is True and dlq["sqs_managed_sse_enabled"] is True
    assert queue["visibility_timeout_seconds"] == 6 * 30  # 6x process's timeout
    assert queue["max_message_size"] == 262144
    redrive = json.loads(queue["redrive_policy"])
    assert redrive["maxReceiveCount"] == 5  # Lambda throttling burns receives
    assert redrive["deadLetterTargetArn"].startswith("${aws_sqs_queue.ingest-queue_dlq_")  # a reference: DLQ first


def test_prod_queue_is_high_throughput_fifo(prod):
    queue = prod.one("aws_sqs_queue", name="webhooks-prod-ingest.fifo")
    assert (queue["fifo_queue"], queue["content_based_deduplication"]) == (True, False)
    assert (queue["deduplication_scope"], queue["fifo_throughput_limit"]) == ("messageGroup", "perMessageGroupId")
    assert json.loads(queue["redrive_policy"])["maxReceiveCount"] == 5


def test_visibility_timeout_follows_process_timeout(cdktf_testing, config, synthesize, project_root):
    import dataclasses

    from constructs_lib.stack import WebhookStack

    env = config.environment("prod")
    env = dataclasses.replace(env, functions={**env.functions, "process": dataclasses.replace(
        env.functions["process"], timeout_seconds=45)})
    stack = synthesize(WebhookStack(cdktf_testing.app(), "webhooks-prod", config=config, environment=env,
                                    project_root=project_root))
    assert stack.one("aws_sqs_queue", name="webhooks-prod-ingest.fifo")["visibility_timeout_seconds"] == 270


def test_a_queue_too_small_for_the_largest_pointer_fails_at_synth(scratch, aws):
    """SQS as configured must hold the largest message ingest sends (moto enforces no size)."""
    from handlers.contract import pointer_max_bytes

    props = QueueProps(name="q", largest_message_bytes=pointer_max_bytes(), queue_overrides={"max_message_size": 4096})
    with pytest.raises(ValidationError) as err:
        Queue(scratch, "q", props=props, aws=aws)
    assert err.value.problems == [
        f"the queue's max_message_size 4096 is under the largest message producers send "
        f"({pointer_max_bytes()} bytes): SQS would refuse it",
    ]


def test_tls_only_policy_is_inline_not_a_separate_resource(local):
    assert local.resources("aws_sqs_queue_policy") == {}
    for queue in local.resources("aws_sqs_queue").values():
        deny = [s for s in json.loads(queue["policy"])["Statement"] if s["Effect"] == "Deny"]
        assert deny == [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": deny[0]["Resource"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        assert deny[0]["Resource"] == [f"arn:aws:sqs:us-east-1:${{data.aws_caller_identity.caller.account_id}}:{queue['name']}"]


def test_emulator_ignores_the_redrive_whitespace_diff_only_there(local, prod):
    assert local.one("aws_sqs_queue", name="webhooks-local-ingest.fifo")["lifecycle"] == {"ignore_changes": ["redrive_policy"]}
    assert "lifecycle" not in prod.one("aws_sqs_queue", name="webhooks-prod-ingest.fifo")


def test_overrides_honoured_but_required_settings_win(scratch, synthesize, aws):
    Queue(
        scratch, "q",
        props=QueueProps(
            name="orders", consumer_timeout_seconds=10, visibility_timeout_seconds=120, max_receive_count=7,
            queue_overrides={"message_retention_seconds": 3600, "fifo_queue": False, "policy": "{}"},
        ),
        aws=aws,
    )
    queue = synthesize(scratch).one("aws_sqs_queue", name="orders.fifo")
    assert queue["message_retention_seconds"] == 3600
    assert queue["visibility_timeout_seconds"] == 120
    assert queue["deduplication_scope"] == "messageGroup"
    assert queue["fifo_throughput_limit"] == "perMessageGroupId"
    assert queue["fifo_queue"] is True  # required: cannot be overridden
    assert "DenyInsecureTransport" in queue["policy"]
    assert json.loads(queue["redrive_policy"])["maxReceiveCount"] == 7


def test_standard_queues_and_opted_out_fifo_queues_have_no_throughput_settings(scratch, synthesize, aws):
    Queue(scratch, "std", props=QueueProps(name="std", fifo=False), aws=aws)
    Queue(scratch, "plain", props=QueueProps(name="plain", high_throughput=False), aws=aws)
    synth = synthesize(scratch)
    for name in ("std", "plain.fifo"):
        assert "deduplication_scope" not in synth.one("aws_sqs_queue", name=name)


def test_invalid_inputs_rejected_all_at_once_before_any_resource(scratch):
    props = QueueProps(
        name="orders.fifo", fifo=True, dlq_fifo=False, consumer_timeout_seconds=30, visibility_timeout_seconds=60,
        queue_overrides={"max_message_size": 1048576},
    )
    with pytest.raises(ValidationError) as err:
        Queue(scratch, "q", props=props, aws=None)
    problems = err.value.problems
    assert len(problems) == 4, problems
    assert "name 'orders.fifo' must be 1-75 letters, digits, '-' or '_' (no .fifo suffix)" in problems
    assert any("FIFO queue needs a FIFO dead-letter queue" in p for p in problems)
    assert any("visibility_timeout_seconds 60 must be at least 6x the consumer's timeout (30 s), i.e. >= 180" in p for p in problems)
    assert any("max_message_size 1048576 must be from 1024 to 262144" in p for p in problems)
    assert str(err.value).startswith("Queue 'q': ")
    assert scratch.node.children == []  # nothing was created


def test_high_throughput_needs_fifo(scratch):
    with pytest.raises(ValidationError, match="high_throughput applies to FIFO queues only"):
        Queue(scratch, "q", props=QueueProps(name="std", fifo=False, high_throughput=True), aws=None)


def test_grants_scoped_to_the_queue_arn(local):
    expected = ["arn:aws:sqs:us-east-1:${data.aws_caller_identity.caller.account_id}:webhooks-local-ingest.fifo"]
    send = [s for s in local.policies_of("ingest") if "sqs:SendMessage" in s["Action"]]
    assert send and all(s["Resource"] == expected for s in send)
    consume = [s for s in local.policies_of("process") if "sqs:ReceiveMessage" in s["Action"]]
    assert consume and consume[0]["Resource"] == expected
    assert {"sqs:DeleteMessage", "sqs:ChangeMessageVisibility"} <= set(consume[0]["Action"])
    assert not any("sqs:ReceiveMessage" in s["Action"] for s in local.policies_of("ingest"))
