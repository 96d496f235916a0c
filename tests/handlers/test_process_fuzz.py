"""Fuzz of process (hypothesis): any SQS records, mixed with valid ones.

GIVEN a pool of valid deliveries (archived payload present, record `queued`; payloads of
every kind: JSON, text, not UTF-8, nested 100,000 deep, NaN, over the inline limit) and
records with any body and any attributes, shuffled into one batch,
THEN the batch's failures are exactly the invalid records plus the later records of their
message groups (in batch order), every other valid record is published exactly once, and a
redelivery of the whole batch's valid records publishes each blocked one once more, so every
valid delivery reaches the bus exactly once in all.
"""
from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz_budget import examples
from handler_harness import sqs_record
from handlers import aws, process

POOL_BODIES = [
    b'{"id": 1, "type": "a"}',
    b"plain text, not json",
    b"\xff\xfe not utf-8",
    b"[" * 100_000 + b"]" * 100_000,
    b'{"n": NaN}',
    b'{"big": "' + b"x" * 300_000 + b'"}',  # over the inline limit: a claim check without reading S3
    b'{"s": "\\ud800"}',
    b"[]",
]
GROUPS = st.sampled_from(["A", "B", "C"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
pointer_like = st.fixed_dictionaries(
    {"webhook_id": st.text(max_size=40), "provider": st.text(max_size=10), "s3_key": st.text(max_size=20)},
    optional={"size": st.integers(-5, 10_000_000) | st.text(max_size=5), "delivery_id": json_values},
).map(json.dumps)
ours_in_form = st.fixed_dictionaries(  # the form of a webhook_id, but no such record
    {"webhook_id": st.text("0123456789abcdef", min_size=32, max_size=32), "provider": st.text(min_size=1),
     "s3_key": st.text(min_size=1)},
    optional={"size": st.integers(0, 10_000_000)},
).map(json.dumps)
invalid_bodies = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    pointer_like,
    ours_in_form,
    st.sampled_from(["x" * 3000, "\\ud800" * 16]).map(
        lambda key: '{"webhook_id": "%s", "provider": "p", "s3_key": "k"}' % key),
    st.integers(1, 200_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 200_000).map(lambda n: '{"webhook_id": ' * n),
)
attribute_values = st.one_of(st.text(max_size=10), st.integers(), st.none(), GROUPS)
invalid_attributes = st.dictionaries(
    st.sampled_from(["MessageGroupId", "ApproximateReceiveCount", "SentTimestamp"]) | st.text(max_size=5),
    attribute_values, max_size=3)


class Bus:
    """PutEvents intercepted: every webhook_id published, in order (EventBridge accepts all)."""

    def __init__(self) -> None:
        self.published: list[str] = []

    def __call__(self, model, params, **_):
        if model.name != "PutEvents":
            return None
        entries = json.loads(params["body"])["Entries"]
        self.published += [json.loads(e["Detail"])["webhook_id"] for e in entries]

        class Http:
            status_code = 200
            headers: dict = {}
        return Http(), {"FailedEntryCount": 0, "Entries": [{"EventId": f"e{i}"} for i in range(len(entries))]}


@st.composite
def batches(draw, pool_size: int):
    """(records as (kind, pool index or body, attributes)), in batch order."""
    valid = draw(st.permutations(range(pool_size)))[:draw(st.integers(0, pool_size))]
    items = [("valid", i, {"MessageGroupId": draw(GROUPS),
                           "ApproximateReceiveCount": draw(st.sampled_from(["1", "2", "3", "x"]))}) for i in valid]
    items += [("invalid", draw(invalid_bodies), draw(invalid_attributes))
              for _ in range(draw(st.integers(0, 10 - len(items))))]
    return draw(st.permutations(items))


def expected_failures(records: list[dict], invalid: set[str]) -> list[str]:
    failed_groups: set[str] = set()
    out = []
    for r in records:
        group = str(r["attributes"].get("MessageGroupId") or "")
        if r["messageId"] in invalid or group in failed_groups:
            failed_groups.add(group)
            out.append(r["messageId"])
    return out


@settings(max_examples=examples(80), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_process_fails_exactly_the_invalid_records_and_their_followers(pipeline, data):
    pool = getattr(pipeline, "fuzz_pool", None)
    if pool is None:
        pool = pipeline.fuzz_pool = [pipeline.archived(body, delivery_id=f"pool-{i}")
                                     for i, body in enumerate(POOL_BODIES)]
        pipeline.bus = Bus()
        aws.client("events").meta.events.register_first("before-call.eventbridge.PutEvents", pipeline.bus)
    for record in pool:  # every example starts from `queued` records
        pipeline.ddb.update_item(TableName=pipeline.table, Key={"webhook_id": {"S": json.loads(record["body"])[
            "webhook_id"]}}, UpdateExpression="SET #s = :q", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":q": {"S": "queued"}})
    pipeline.bus.published.clear()

    # GIVEN a shuffled batch of valid and invalid records
    records, invalid, valid_ids = [], set(), {}
    for n, (kind, what, attributes) in enumerate(data.draw(batches(len(pool)))):
        if kind == "valid":
            raw = dict(pool[what], messageId=f"m{n}", attributes=attributes)
            valid_ids[raw["messageId"]] = json.loads(raw["body"])["webhook_id"]
        else:
            raw = sqs_record(what, message_id=f"m{n}")
            raw["attributes"] = attributes
            invalid.add(raw["messageId"])
        records.append(raw)

    # WHEN processed
    failures = [f["itemIdentifier"] for f in process.handler({"Records": records}, None)["batchItemFailures"]]

    # THEN exactly the invalid records and their groups' later records fail, in batch order
    assert failures == expected_failures(records, invalid)
    # AND every other valid record is published exactly once, in batch order
    assert pipeline.bus.published == [valid_ids[r["messageId"]] for r in records
                                      if r["messageId"] in valid_ids and r["messageId"] not in failures]
    # AND once the invalid records are gone (to the DLQ), the redelivery publishes the blocked ones once
    first_run = list(pipeline.bus.published)
    redelivery = [dict(r, attributes={**r["attributes"], "ApproximateReceiveCount": "1"}) for r in records
                  if r["messageId"] in valid_ids]
    assert process.handler({"Records": redelivery}, None)["batchItemFailures"] == []
    assert sorted(pipeline.bus.published) == sorted(valid_ids.values())
    assert len(pipeline.bus.published) - len(first_run) == len(set(valid_ids) & set(failures))
