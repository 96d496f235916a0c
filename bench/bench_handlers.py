"""Handlers: cold import time vs a bare `import boto3`, and AWS calls per webhook.

    .venv/bin/python bench/bench_handlers.py [--reps 40] [--webhooks 100]

1. Cold import: each measurement is a fresh interpreter that times only the
   import statement (`perf_counter` around it), so interpreter start-up is
   left out. The three subjects (`import boto3`, `import handlers.ingest`,
   `import handlers.process`) are interleaved round-robin so a busy machine
   slows them alike; the table shows medians and the ratio to boto3's median.
2. AWS API calls, counted with botocore `before-call` hooks on the handlers'
   own clients under moto (in-process): ingest per accepted webhook (the first
   request also reads the provider's secret; later ones hit the warm cache),
   and process per record for batches of 10.
3. PutEvents sizing: batches of 10 records whose payloads are each under the
   inline limit but together over EventBridge's request limit. The requests
   process sends (entries, total size as EventBridge counts it) against the
   baseline of the previous chunking (10 entries per request, size unbounded),
   computed from the same entries.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUBJECTS = {"import boto3": "boto3", "import handlers.ingest": "handlers.ingest",
            "import handlers.process": "handlers.process"}
TARGET_IMPORT_RATIO = 1.3


def time_import(module: str) -> float:
    code = (
        "import time, sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "t = time.perf_counter()\n"
        f"import {module}\n"
        "print(time.perf_counter() - t)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env,
                         cwd=ROOT)
    return float(out.stdout.strip())


def bench_imports(reps: int) -> list[tuple[str, float, float]]:
    samples: dict[str, list[float]] = {label: [] for label in SUBJECTS}
    for label, module in SUBJECTS.items():  # warm the OS file cache once
        time_import(module)
    for _ in range(reps):
        for label, module in SUBJECTS.items():
            samples[label].append(time_import(module))
    base = statistics.median(samples["import boto3"])
    return [(label, statistics.median(s) * 1000, statistics.median(s) / base) for label, s in samples.items()]


def bench_calls(n: int) -> dict[str, object]:
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests" / "handlers"))
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    import handler_harness as h
    from handlers import aws, ingest, process, secrets

    calls: list[str] = []

    def count(model, **_):
        calls.append(model.name)

    with mock_aws():
        aws.reset()
        secrets.reset()
        pipeline = h.Pipeline()
        os.environ.update(pipeline.env())
        for service in ("dynamodb", "s3", "sqs", "events", "secretsmanager"):
            aws.client(service).meta.events.register("before-call", count)

        # ingest: n accepted webhooks, spread over FIFO groups like real traffic
        first = None
        for i in range(n):
            body = json.dumps({"id": f"evt_{i}", "type": "invoice.paid",
                               "data": {"object": {"customer": f"cus_{i % 7}"}}})
            status, _ = h.reply(ingest.handler(h.signed_event("stripe", body), None))
            assert status == 202, status
            if first is None:
                first = Counter(calls)
        ingest_calls = Counter(calls)
        calls.clear()

        # process: receive as Lambda's poller does (batches of up to 10), until empty
        records_seen = 0
        batches = 0
        for _ in range(10 * n):
            records = pipeline.receive(10)
            if not records:
                break
            result = process.handler({"Records": records}, None)
            assert result["batchItemFailures"] == [], result
            pipeline.settle(records, result)
            records_seen += len(records)
            batches += 1
        process_calls = Counter(calls)
        published = len(pipeline.published())
        assert published == n == records_seen, (published, n, records_seen)
    steady = {k: v - (first or Counter()).get(k, 0) for k, v in ingest_calls.items()}
    steady_total = sum(steady.values()) / max(n - 1, 1)
    per_record = {k: v for k, v in process_calls.items() if k in ("GetObject", "UpdateItem")}
    per_batch = {k: v for k, v in process_calls.items() if k not in per_record}
    return {
        "n": n,
        "first_request": dict(first or {}),
        "ingest": dict(ingest_calls),
        "ingest_steady_per_webhook": steady_total,
        "ingest_amortized_per_webhook": sum(ingest_calls.values()) / n,
        "process": dict(process_calls),
        "process_batches": batches,
        "process_per_record": sum(per_record.values()) / records_seen,
        "process_batch_calls": per_batch,
        "process_total_per_record": sum(process_calls.values()) / records_seen,
    }


def bench_sizing(batches: int, payload_bytes: int) -> dict[str, object]:
    """Process `batches` batches of 10 mid-size payloads; the PutEvents requests it sends."""
    from moto import mock_aws

    import handler_harness as h
    from handlers import aws, process, secrets
    from handlers.contract import AWS_LIMITS, put_events_entry_bytes

    requests: list[list[dict]] = []

    def record(model, params, **_):
        if model.name == "PutEvents":
            requests.append(params["Entries"])

    with mock_aws():
        aws.reset()
        secrets.reset()
        pipeline = h.Pipeline()
        os.environ.update(pipeline.env())
        aws.client("events").meta.events.register("provide-client-params.events.PutEvents", record)
        failed = 0
        for b in range(batches):
            body = json.dumps({"pad": "x" * payload_bytes}).encode()
            batch = [pipeline.archived(body, delivery_id=f"size-{b}-{i}", group=f"g{b}") for i in range(10)]
            failed += len(process.handler({"Records": batch}, None)["batchItemFailures"])
    totals = [sum(put_events_entry_bytes(e) for e in r) for r in requests]
    entries = [e for r in requests for e in r]
    old = [sum(put_events_entry_bytes(e) for e in entries[i:i + 10]) for i in range(0, len(entries), 10)]
    limit = AWS_LIMITS.put_events_request_bytes
    return {"batches": batches, "payload_bytes": payload_bytes, "records": len(entries), "failed": failed,
            "requests": len(requests), "max_request": max(totals), "limit": limit,
            "old_requests": len(old), "old_max_request": max(old), "old_over_limit": sum(t >= limit for t in old)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=40, help="fresh interpreters per subject")
    parser.add_argument("--webhooks", type=int, default=100, help="accepted webhooks for the call counts")
    args = parser.parse_args()

    imports = bench_imports(args.reps)
    calls = bench_calls(args.webhooks)
    sizing = bench_sizing(10, 60_000)

    print(f"Cold import, median of {args.reps} fresh interpreters each (interleaved):\n")
    print("| subject | median ms | ratio to `import boto3` | target |")
    print("|---|---:|---:|---|")
    for label, ms, ratio in imports:
        target = "baseline" if label == "import boto3" else (
            f"≤ {TARGET_IMPORT_RATIO}x: {'met' if ratio <= TARGET_IMPORT_RATIO else 'NOT met'}")
        print(f"| `{label}` | {ms:.1f} | {ratio:.3f} | {target} |")

    n = calls["n"]
    ops = lambda d: ", ".join(f"{k} {v}" for k, v in sorted(d.items()))  # noqa: E731
    print(f"\nAWS API calls under moto, counted with botocore `before-call` hooks ({n} accepted webhooks):\n")
    print("| handler | calls | per webhook / record | target |")
    print("|---|---|---:|---|")
    print(f"| ingest, first request (cold secret cache) | {ops(calls['first_request'])} | "
          f"{sum(calls['first_request'].values())} | |")
    steady = calls["ingest_steady_per_webhook"]
    print(f"| ingest, warm (requests 2..{n}) | PutItem, PutObject, SendMessage, UpdateItem | {steady:.2f} | "
          f"≤ 4: {'met' if steady <= 4 else 'NOT met'} |")
    print(f"| ingest, all {n} | {ops(calls['ingest'])} | {calls['ingest_amortized_per_webhook']:.2f} | |")
    per_record = calls["process_per_record"]
    batch_calls = calls["process_batch_calls"]
    print(f"| process, {calls['process_batches']} batches | {ops(calls['process'])} | "
          f"{per_record:.2f} per record + one BatchGetItem and one PutEvents per batch ({ops(batch_calls)}) | "
          f"≤ 2 per record + 1 PutEvents per 10: "
          f"{'met' if per_record <= 2 and batch_calls.get('PutEvents', 0) <= calls['process_batches'] else 'NOT met'} |")
    print(f"\nprocess: {calls['process_total_per_record']:.2f} calls per record in total "
          f"({calls['process_batches']} receives for {n} records; FIFO groups limit batch sizes)")

    z = sizing
    print(f"\nPutEvents sizing: {z['batches']} batches of 10 records, payloads of {z['payload_bytes']:,} bytes each "
          f"(inline limit 262,144), request limit {z['limit']:,} bytes:\n")
    print("| chunking | PutEvents requests | largest request (bytes) | requests at or over the limit | records failed |")
    print("|---|---:|---:|---:|---:|")
    print(f"| baseline: 10 entries per request | {z['old_requests']} | {z['old_max_request']:,} | "
          f"{z['old_over_limit']} (AWS refuses each whole) | {z['records'] if z['old_over_limit'] else 0} on AWS |")
    print(f"| by size (`PutEventsRequest`) | {z['requests']} | {z['max_request']:,} | "
          f"{int(z['max_request'] >= z['limit'])} | {z['failed']} |")


if __name__ == "__main__":
    main()
