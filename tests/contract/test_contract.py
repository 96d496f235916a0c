"""The contract module: settings, the queue pointer and the stack outputs round-trip exactly."""
from __future__ import annotations

import dataclasses

import pytest

from handlers.contract import (
    INGEST_SETTINGS, PROCESS_SETTINGS, Pointer, Settings, StackOutputs, archive_key, iso_timestamp, secret_name,
)


def test_settings_round_trip_through_the_environment():
    settings = Settings(environment="prod", table_name="t", queue_url="https://q", max_body_bytes=5,
                        secret_refresh_seconds=2.5, event_bus_name="bus", inline_payload_limit=7)
    assert Settings.from_env(settings.to_env()) == settings


def test_settings_follow_the_environment_while_parsed_once_per_set_of_values(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "first")
    first = Settings.from_env()
    assert first.table_name == "first" and Settings.from_env() is first  # same values: the parsed object
    monkeypatch.setenv("TABLE_NAME", "second")
    assert Settings.from_env().table_name == "second"  # a changed variable is read, never a stale copy
    monkeypatch.delenv("TABLE_NAME")
    assert Settings.from_env().table_name == ""


def test_each_function_gets_only_its_variables():
    env = Settings().to_env(INGEST_SETTINGS)
    assert "QUEUE_URL" in env and "EVENT_BUS_NAME" not in env
    assert "PROVIDERS" not in env  # the provider table ships in the zip (PROVIDERS_FILE_NAME)
    env = Settings().to_env(PROCESS_SETTINGS)
    assert "EVENT_BUS_NAME" in env and "MAX_RECEIVE_COUNT" in env and "QUEUE_URL" not in env
    assert set(INGEST_SETTINGS) | set(PROCESS_SETTINGS) <= {f.name for f in dataclasses.fields(Settings)}


def test_a_value_that_does_not_parse_keeps_its_default():
    assert Settings.from_env({"MAX_BODY_BYTES": "ten", "RECORD_TTL_DAYS": "7"}) == Settings(record_ttl_days=7)
    assert Settings.variable("max_body_bytes") == "MAX_BODY_BYTES"


def test_pointer_round_trip_and_rejections():
    pointer = Pointer(webhook_id="w", provider="p", s3_key="p/2026/12/01/w", delivery_id="d", size=3)
    assert Pointer.from_json(pointer.to_json()) == pointer
    for body in ("", "[]", "{}", '{"webhook_id": "w", "provider": "p"}', '{"webhook_id": 1, "provider": "p", "s3_key": "k"}',
                 "[" * 100_000):
        assert Pointer.from_json(body) is None, body
    odd = Pointer.from_json('{"webhook_id": "w", "provider": "p", "s3_key": "k", "size": true, "event_type": 5}')
    assert odd == Pointer(webhook_id="w", provider="p", s3_key="k")


def test_pointer_carries_what_the_record_holds():
    full = Pointer(webhook_id="w", provider="p", s3_key="k", delivery_id="d", received_at="2026-12-01T00:00:00.000Z",
                   size=3, expires_at=1_800_000_000, verify_headers={"stripe-signature": "t=1,v1=é"})
    assert Pointer.from_json(full.to_json()) == full and full.creates_record
    # absent rather than null, so a pointer without them stays what it was
    assert "expires_at" not in Pointer(webhook_id="w", provider="p", s3_key="k").to_json()
    assert not Pointer(webhook_id="w", provider="p", s3_key="k", delivery_id="d", received_at="r").creates_record
    bad = Pointer.from_json('{"webhook_id": "w", "provider": "p", "s3_key": "k", "expires_at": -1, '
                            '"verify_headers": {"a": 1}}')
    assert (bad.expires_at, bad.verify_headers) == (None, None)


def test_the_largest_pointer_leaves_room_under_its_bound():
    from handlers.contract import AWS_LIMITS, POINTER_FIELD_MAX_CHARS, POINTER_MAX_BYTES, pointer_max_bytes

    longest = "\U0010ffff" * POINTER_FIELD_MAX_CHARS
    fields_at_their_bound = Pointer(
        webhook_id="f" * 32, provider="p" * 31, s3_key="k" * 128, delivery_id=longest, event_type=longest,
        received_at="2000-01-01T00:00:00.000Z", size=10 ** 12, expires_at=10 ** 12)
    # 10 KB of headers (all API Gateway passes) escaped at their worst (6 bytes per byte) still fit
    assert len(fields_at_their_bound.to_json()) + 6 * 10 * 1024 < POINTER_MAX_BYTES
    # and the queue must take the whole message ingest may fill: pointer plus carried payload
    assert pointer_max_bytes() == AWS_LIMITS.sqs_message_bytes


def test_stack_outputs_accept_the_original_names():
    canonical = StackOutputs(api_url="a", table_name="t", bucket_name="b", queue_url="q", dlq_url="d",
                             event_bus_name="e", event_bus_arn="arn", ingest_function_name="i",
                             process_function_name="p")
    seed = {"api_endpoint": "a", "dynamodb_table_name": "t", "s3_bucket_name": "b", "sqs_queue_url": "q",
            "eventbridge_bus_arn": "arn", "ingestion_function_name": "i", "processing_function_name": "p",
            "dlq_url": "d", "event_bus_name": "e"}
    assert StackOutputs.from_dict(seed) == canonical
    assert seed.items() <= canonical.to_dict().items()
    assert StackOutputs.from_dict(canonical.to_dict(aliases=False)) == canonical
    with pytest.raises(KeyError, match="table_name"):
        StackOutputs.from_dict({k: v for k, v in seed.items() if k != "dynamodb_table_name"})


def test_names_and_formats():
    from datetime import datetime, timezone

    moment = datetime(2026, 12, 1, 8, 5, 9, 123456, tzinfo=timezone.utc)
    assert iso_timestamp(moment) == "2026-12-01T08:05:09.123Z"
    assert archive_key("stripe", moment, "abc") == "stripe/2026/12/01/abc"
    assert secret_name("webhooks-prod", "stripe") == "webhooks-prod/providers/stripe"
