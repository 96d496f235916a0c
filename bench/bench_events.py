"""`webhookctl events list`: what one page costs through the records index, against a Scan of the table.

The same table (moto, in-process) holds N records over 30 providers and 3 UTC days. The index way is
`cli.events` itself: per provider, Query the day newest first, read each page's records whole with one
BatchGetItem, merge. The baseline is what a listing without the index would do: Scan the whole table
(paged), keep the window, sort, cut a page. Counted per page: API calls, items DynamoDB reads (each
Query's ScannedCount, each BatchGetItem's keys, each Scan's ScannedCount: what read capacity is billed
on) and wall time, for the first page, a selective `--status failed` page (1 record in 100), and a
third page through the cursor.

Usage: .venv/bin/python bench/bench_events.py [--records 2000 10000] [--limit 50]
Prints a Markdown table (paste it into bench/README.md).
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # records_table: the records table as the stack makes it
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

PROVIDERS = tuple(f"provider{n:02d}" for n in range(30))
TABLE = "bench-records"


class Meter:
    """API calls and items read, from botocore's after-call event."""

    def __init__(self, client):
        self.calls, self.items = 0, 0
        client.meta.events.register("after-call.dynamodb.*", self._count)

    def _count(self, http_response, parsed, model, **kwargs):
        self.calls += 1
        if model.name in ("Query", "Scan"):
            self.items += parsed.get("ScannedCount", 0)
        elif model.name == "BatchGetItem":
            self.items += sum(len(v) for v in parsed.get("Responses", {}).values())

    def reset(self):
        self.calls = self.items = 0


def create_table(ddb) -> None:
    """The records table and its index, as the stack makes them (constructs_lib/table.py)."""
    from records_table import create_records_table

    create_records_table(ddb, TABLE)


def fill(ddb, count: int, now: dt.datetime) -> None:
    from handlers.contract import Pointer, archive_key, iso_timestamp, record_attributes, webhook_id

    create_table(ddb)
    span = dt.timedelta(days=3).total_seconds()
    items = []
    for n in range(count):
        provider = PROVIDERS[n % len(PROVIDERS)]
        moment = now - dt.timedelta(seconds=span * n / count)
        wid = webhook_id(provider, f"d{n}")
        pointer = Pointer(webhook_id=wid, provider=provider, s3_key=archive_key(provider, moment, wid),
                          delivery_id=f"d{n}", event_type="charge.succeeded", received_at=iso_timestamp(moment),
                          size=900, expires_at=int(moment.timestamp()) + 86400 * 90)
        status = "failed" if n % 100 == 7 else "processed"
        items.append({**record_attributes(pointer), "status": {"S": status}, "attempts": {"N": "1"}})
    for start in range(0, len(items), 25):
        ddb.batch_write_item(RequestItems={TABLE: [{"PutRequest": {"Item": i}} for i in items[start:start + 25]]})


def index_page(ddb, query, limit: int, cursor_positions=None):
    from cli.events import ProviderStream, first_page_size, page_of, positions_of

    size = first_page_size(limit, len(query.providers))
    streams = [ProviderStream.open(ddb, TABLE, p, query, (cursor_positions or {}).get(p), page_size=size)
               for p in query.providers]
    rows, more = page_of(streams, query, limit)
    return rows, positions_of(streams) if more else None


def scan_page(ddb, query, limit: int, skip: int = 0):
    """The listing without the index: every item read, the window and filters applied here."""
    found, args = [], {"TableName": TABLE}
    while True:
        page = ddb.scan(**args)
        for item in page.get("Items", []):
            received = item["received_at"]["S"]
            if query.since <= received <= query.until and (query.status is None or item["status"]["S"] == query.status):
                found.append(item)
        if "LastEvaluatedKey" not in page:
            break
        args["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    found.sort(key=lambda i: i["received_at"]["S"], reverse=True)
    return found[skip:skip + limit]


def measure(meter, fn):
    meter.reset()
    started = time.perf_counter()
    result = fn()
    return result, meter.calls, meter.items, (time.perf_counter() - started) * 1000


def run(records: int, limit: int) -> list[tuple]:
    import boto3
    from moto import mock_aws

    from cli.events import Query
    from cli.replay import parse_time

    now = dt.datetime.now(dt.timezone.utc)
    rows = []
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        fill(ddb, records, now)
        meter = Meter(ddb)
        window = (parse_time(None, now - dt.timedelta(days=3)), parse_time(None, now))
        for label, status, pages in (("first page", None, 1), ("`--status failed` page", "failed", 1),
                                     ("third page (cursor)", None, 3)):
            query = Query(PROVIDERS, *window, status=status)

            def by_index():
                positions = None
                for _ in range(pages):
                    got, positions = index_page(ddb, query, limit, positions)
                return got

            ours, calls, items, ms = measure(meter, by_index)
            theirs, base_calls, base_items, base_ms = measure(meter, lambda: scan_page(ddb, query, limit,
                                                                                     limit * (pages - 1)))
            assert [r["webhook_id"] for r in ours] == [i["webhook_id"]["S"] for i in theirs], label
            rows.append((records, label, calls, items, ms, base_calls, base_items, base_ms))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    print(f"| records | page (limit {args.limit}, 30 providers, 3 days) | index: calls | items read | ms "
          "| Scan: calls | items read | ms | items ratio | time ratio |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for records in args.records:
        for n, label, calls, items, ms, bcalls, bitems, bms in run(records, args.limit):
            print(f"| {n} | {label} | {calls} | {items} | {ms:.0f} | {bcalls} | {bitems} | {bms:.0f} "
                  f"| {items / bitems:.3f} | {ms / bms:.2f} |")


if __name__ == "__main__":
    main()
