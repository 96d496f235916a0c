"""`webhookctl replay`'s storage side: records found through the records index (one Query
per provider per UTC day, each page read whole with one consistent BatchGetItem), and the
events packed into PutEvents requests by the processor's own size rule."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from types import SimpleNamespace

import boto3

from cli import replay
from handler_harness import REGION
from handlers.contract import AWS_LIMITS, put_events_entry_bytes


def at(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, 0, 0, tzinfo=timezone.utc)


class Calls:
    """A fresh client of its own (the harness's clients are shared by every test) that counts its calls."""

    def __init__(self, service: str):
        self.client = boto3.client(service, region_name=REGION)
        self.names: list[str] = []
        self.client.meta.events.register("before-call", lambda model, **_: self.names.append(model.name))


def wid(record: dict) -> str:
    return json.loads(record["body"])["webhook_id"]


def test_records_of_the_window_by_provider_and_day_oldest_first(pipeline):
    # GIVEN deliveries of two providers over three days, one of them already processed
    r = {
        "s28": pipeline.archived(b"{}", delivery_id="s28", provider="stripe", received=at(28, 23)),
        "a29": pipeline.archived(b"{}", delivery_id="a29", provider="acme", received=at(29, 1)),
        "s29": pipeline.archived(b"{}", delivery_id="s29", provider="stripe", received=at(29, 2), status="processed"),
        "s30": pipeline.archived(b"{}", delivery_id="s30", provider="stripe", received=at(30, 5)),
        "g29": pipeline.archived(b"{}", delivery_id="g29", provider="github", received=at(29, 3)),
    }
    calls = Calls("dynamodb")
    since, until = "2026-11-29T00:00:00.000Z", "2026-11-30T23:59:59.999Z"
    # WHEN the window is two days, for stripe and acme
    found = replay.find_records(calls.client, pipeline.table, ["stripe", "acme"], since, until, None, 100)
    # THEN the records of those days and providers, oldest first, read whole
    assert [f["webhook_id"] for f in found] == [wid(r["a29"]), wid(r["s29"]), wid(r["s30"])]
    assert found[1]["status"] == "processed" and found[0]["s3_key"].startswith("acme/2026/11/29/")
    assert found[0]["size"] == "2"
    # one Query per provider per day; one BatchGetItem per page that held anything
    assert calls.names.count("Query") == 4 and calls.names.count("BatchGetItem") == 3
    # AND the status filter reads the status from the table, not the index
    queued = replay.find_records(pipeline.ddb, pipeline.table, ["stripe", "acme"], since, until, "queued", 100)
    assert [f["webhook_id"] for f in queued] == [wid(r["a29"]), wid(r["s30"])]
    # AND the limit keeps the oldest
    [oldest] = replay.find_records(pipeline.ddb, pipeline.table, ["stripe", "acme", "github"], since, until, None, 1)
    assert oldest["webhook_id"] == wid(r["a29"])


def test_pages_of_the_index_are_read_with_one_batch_get_each(pipeline, monkeypatch):
    monkeypatch.setattr(replay, "PAGE", 3)
    made = [pipeline.archived(b"{}", delivery_id=f"p{i}", provider="acme", received=at(29, i)) for i in range(7)]
    calls = Calls("dynamodb")
    found = replay.find_records(calls.client, pipeline.table, ["acme"], "2026-11-29", "2026-11-29T23:59:59.999Z",
                                None, 100)
    assert [f["webhook_id"] for f in found] == [wid(m) for m in made]
    assert calls.names.count("Query") == calls.names.count("BatchGetItem") == 3


def test_days_of_a_window():
    assert replay.days("2026-11-29T23:00:00.000Z", "2026-12-01T00:00:00.000Z") == [
        "2026-11-29", "2026-11-30", "2026-12-01"]
    assert replay.days("2026-11-29T01:00:00.000Z", "2026-11-29T02:00:00.000Z") == ["2026-11-29"]


def test_replayed_events_are_packed_by_size_and_all_published(pipeline):
    # GIVEN ten archived deliveries of 60 KB each: inline one by one, over the request limit together
    made = [pipeline.archived(json.dumps({"pad": "x" * 60_000}).encode(), delivery_id=f"big{i}", provider="acme",
                              received=at(29, i)) for i in range(10)]
    records = replay.find_records(pipeline.ddb, pipeline.table, ["acme"], "2026-11-29", "2026-11-30", None, 100)
    outputs = SimpleNamespace(bucket_name=pipeline.bucket, event_bus_name=pipeline.bus)
    entries = replay.replay_entries(pipeline.s3, outputs, records, 262_144, AWS_LIMITS.put_events_request_bytes,
                                    "2026-12-01T00:00:00.000Z")
    events = Calls("events")
    sent = []
    events.client.meta.events.register(
        "provide-client-params.events.PutEvents", lambda params, **_: sent.append(params["Entries"]))
    # WHEN published
    published, failed = replay.publish(events.client, entries, AWS_LIMITS.put_events_request_bytes)
    # THEN in several requests under the limit, every one accepted, payloads inline, marked as replays
    assert (published, failed) == (10, [])
    assert len(sent) == 3
    assert all(sum(put_events_entry_bytes(e) for e in request) < AWS_LIMITS.put_events_request_bytes
               for request in sent)
    details = [e["detail"] for e in pipeline.published()]
    assert sorted(d["webhook_id"] for d in details) == sorted(wid(m) for m in made)
    assert all(d["replayed"] is True and d["payload"] == {"pad": "x" * 60_000} for d in details)
