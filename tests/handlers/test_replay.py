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
    entries, frozen = replay.replay_entries(pipeline.s3, outputs, records, 262_144,
                                            AWS_LIMITS.put_events_request_bytes, "2026-12-01T00:00:00.000Z")
    assert frozen == []
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


# --------------------------------------------------------------------------- payloads in Glacier


def test_a_payload_in_glacier_is_left_out_and_named_with_its_restore_command(pipeline):
    # GIVEN three archived deliveries, the lifecycle having moved the second one's payload to Glacier
    made = [pipeline.archived(b'{"n": %d}' % i, delivery_id=f"g{i}", provider="acme", received=at(29, i))
            for i in range(3)]
    frozen_key = json.loads(made[1]["body"])["s3_key"]
    pipeline.s3.copy_object(Bucket=pipeline.bucket, Key=frozen_key, StorageClass="GLACIER",
                            CopySource={"Bucket": pipeline.bucket, "Key": frozen_key})
    records = replay.find_records(pipeline.ddb, pipeline.table, ["acme"], "2026-11-29", "2026-11-30", None, 100)
    outputs = SimpleNamespace(bucket_name=pipeline.bucket, event_bus_name=pipeline.bus)
    # WHEN the replay's events are built
    entries, frozen = replay.replay_entries(pipeline.s3, outputs, records, 262_144,
                                            AWS_LIMITS.put_events_request_bytes, "2026-12-01T00:00:00.000Z")
    # THEN the other two are replayed, and the frozen one is named with how to restore it
    assert [w for w, _ in entries] == [wid(made[0]), wid(made[2])]
    [(frozen_id, archived)] = frozen
    assert frozen_id == wid(made[1]) and (archived.key, archived.storage_class) == (frozen_key, "GLACIER")
    assert archived.explain() == (
        f"s3://{pipeline.bucket}/{frozen_key} is in GLACIER: restore it first with `aws s3api restore-object "
        f"--bucket {pipeline.bucket} --key {frozen_key} --restore-request "
        "'{\"Days\":7,\"GlacierJobParameters\":{\"Tier\":\"Standard\"}}'` "
        "(Expedited 1-5 minutes, Standard 3-5 hours, Bulk 5-12 hours), then try again")
    # AND once restored (moto restores at once), it replays like the others
    pipeline.s3.restore_object(Bucket=pipeline.bucket, Key=frozen_key, RestoreRequest={"Days": 7})
    entries, frozen = replay.replay_entries(pipeline.s3, outputs, records, 262_144,
                                            AWS_LIMITS.put_events_request_bytes, "2026-12-01T00:00:00.000Z")
    assert len(entries) == 3 and frozen == []


def test_a_restore_under_way_says_so():
    from cli.archive import ArchivedObject, archived_object

    class Head:
        def head_object(self, Bucket, Key):
            return {"StorageClass": "DEEP_ARCHIVE", "Restore": 'ongoing-request="true"'}

    archived = archived_object(Head(), "b", "k")
    assert archived == ArchivedObject("b", "k", "DEEP_ARCHIVE", restoring=True)
    assert archived.explain() == ("s3://b/k is in DEEP_ARCHIVE; its restore is under way "
                                  "(Standard within 12 hours, Bulk within 48 hours): try again later")


def test_other_read_errors_are_not_mistaken_for_glacier(pipeline):
    import pytest
    from botocore.exceptions import ClientError

    from cli.archive import read_archived

    with pytest.raises(ClientError) as err:
        read_archived(pipeline.s3, pipeline.bucket, "no/such/key")
    assert err.value.response["Error"]["Code"] == "NoSuchKey"


def test_replay_publishes_the_rest_and_ends_with_one_error_line(pipeline, monkeypatch, tmp_path):
    import shutil

    import pytest

    from cli import operations, stack_ops
    from cli.errors import WebhookctlError
    from cli.workspace import Workspace
    from handler_harness import ROOT

    made = [pipeline.archived(b'{"n": %d}' % i, delivery_id=f"r{i}", provider="acme", received=at(29, i))
            for i in range(2)]
    frozen_key = json.loads(made[0]["body"])["s3_key"]
    pipeline.s3.copy_object(Bucket=pipeline.bucket, Key=frozen_key, StorageClass="DEEP_ARCHIVE",
                            CopySource={"Bucket": pipeline.bucket, "Key": frozen_key})
    shutil.copy(ROOT / "webhookctl.toml", tmp_path / "webhookctl.toml")
    ws = Workspace.open(str(tmp_path / "webhookctl.toml"), "local")
    outputs = SimpleNamespace(table_name=pipeline.table, bucket_name=pipeline.bucket, event_bus_name=pipeline.bus)
    monkeypatch.setattr(stack_ops, "known_outputs", lambda ws, log: outputs)
    clients = {"dynamodb": pipeline.ddb, "s3": pipeline.s3, "events": pipeline.events}
    monkeypatch.setattr(operations, "env_client", lambda ws, service: clients[service])
    lines: list[str] = []
    with pytest.raises(WebhookctlError) as err:
        replay.replay(ws, providers=("acme",), since="2026-11-29", until="2026-11-30", status=None, limit=100,
                      dry_run=False, log=lines.append)
    assert str(err.value) == ("1 of 2 deliveries are archived in Glacier and were not replayed: "
                              "restore them as shown above, then run the same replay again")
    assert any(line.startswith(f"replay: {wid(made[0])} not replayed: s3://{pipeline.bucket}/{frozen_key} "
                               "is in DEEP_ARCHIVE: restore it first") for line in lines)
    assert [e["detail"]["webhook_id"] for e in pipeline.published()] == [wid(made[1])]
