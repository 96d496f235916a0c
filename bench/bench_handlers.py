"""Handlers: cold import time vs a bare `import boto3`; calls and time per webhook vs the original design.

    .venv/bin/python bench/bench_handlers.py [--reps 40] [--webhooks 200] [--skip-imports]

1. Cold import: each measurement is a fresh interpreter that times only the
   import statement (`perf_counter` around it), so interpreter start-up is
   left out. The three subjects (`import boto3`, `import handlers.ingest`,
   `import handlers.process`) are interleaved round-robin so a busy machine
   slows them alike; the table shows medians and the ratio to boto3's median.
2. Ours against the original design's handlers (bench/original_design.py: ingest
   verifies and writes S3, DynamoDB, SQS; process publishes one event per record),
   in the same moto harness (in-process), each side on its own FIFO queue, both
   publishing to the same bus with the same consumer behind a rule. Webhooks
   alternate ours / original, then batches alternate the same way, so a busy
   machine slows both alike. AWS calls are counted with botocore `before-call`
   hooks on the handlers' clients (after a warm-up request each: the secret
   cache is warm); time is `perf_counter` around each handler call, reported
   per webhook (ingest) and per record (process) as ours / original.
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


def _stripe_body(i: int) -> str:
    return json.dumps({"id": f"evt_{i:06d}", "type": "invoice.paid",
                       "data": {"object": {"customer": f"cus_{i % 7}", "amount": 4200, "pad": "x" * 4000}}})


class Counter_:
    """AWS calls per handler: botocore `before-call` hooks on the handlers' clients, into the current bucket."""

    def __init__(self) -> None:
        self.bucket: list[str] = []

    def __call__(self, model, **_) -> None:
        self.bucket.append(model.name)


def bench_versus_original(n: int) -> dict[str, object]:
    """Ours and the original design's handlers, interleaved webhook by webhook and batch by batch in the
    same moto harness, each on its own FIFO queue, both publishing to the same bus and consumer."""
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))  # records_table: the records table as the stack makes it
    sys.path.insert(0, str(ROOT / "tests" / "handlers"))
    sys.path.insert(0, str(ROOT / "bench"))
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import contextlib
    import io
    import time

    from moto import mock_aws

    import handler_harness as h
    import original_design as original
    from handlers import aws, ingest, process, secrets

    counter = Counter_()
    with mock_aws():
        aws.reset()
        secrets.reset()
        pipeline = h.Pipeline()
        os.environ.update(pipeline.env())
        original_queue = pipeline.sqs.create_queue(QueueName="original-design.fifo", Attributes={
            "FifoQueue": "true", "VisibilityTimeout": "30"})["QueueUrl"]
        for service in ("dynamodb", "s3", "sqs", "events", "secretsmanager"):
            aws.client(service).meta.events.register("before-call", counter)
        ours = {"ingest": [], "process": [], "ingest_calls": Counter(), "process_calls": Counter(), "records": 0}
        base = {"ingest": [], "process": [], "ingest_calls": Counter(), "process_calls": Counter(), "records": 0}

        def timed(fn, *args):
            counter.bucket = []
            with contextlib.redirect_stdout(io.StringIO()):  # both log; the bench measures, not prints
                start = time.perf_counter()
                result = fn(*args)
                elapsed = time.perf_counter() - start
            return result, elapsed, counter.bucket

        def run_ours_ingest(event):
            return ingest.handler(event, None)

        def run_base_ingest(event):
            return original.ingest_handler(event, original_queue, pipeline.table, pipeline.bucket)

        # warm both (secret cache, clients), then interleave: ours, original, ours, original, ...
        for i, runner in ((900_000, run_ours_ingest), (900_001, run_base_ingest)):
            assert runner(h.signed_event("stripe", _stripe_body(i)))["statusCode"] == 202
        pair = ((run_ours_ingest, ours, 0), (run_base_ingest, base, 400_000))
        for i in range(n):
            for runner, side, offset in (pair if i % 2 == 0 else pair[::-1]):  # who goes first alternates
                result, elapsed, calls = timed(runner, h.signed_event("stripe", _stripe_body(offset + i)))
                assert result["statusCode"] == 202, result
                side["ingest"].append(elapsed)
                side["ingest_calls"].update(calls)
        aws.client("events")  # created before the timed batches, whichever side runs first
        queues = ((pipeline.queue_url, ours, lambda r: process.handler({"Records": r}, None)),
                  (original_queue, base, lambda r: original.process_handler({"Records": r}, pipeline.bus)))
        for round_ in range(10 * n):
            done = 0
            for url, side, runner in (queues if round_ % 2 == 0 else queues[::-1]):
                records = _receive(pipeline, url)
                if not records:
                    continue
                result, elapsed, calls = timed(runner, records)
                assert result["batchItemFailures"] == [], result
                _settle(pipeline, url, records)
                side["process"].append((elapsed, len(records)))
                side["process_calls"].update(calls)
                side["records"] += len(records)
                done += len(records)
            if not done:
                break
        published = len(pipeline.published())
    # each side's warm-up webhook is processed with the others
    assert ours["records"] == base["records"] == n + 1 and published == 2 * n + 2, (ours["records"], base["records"], published)
    return {"n": n, "ours": ours, "original": base}


def _receive(pipeline, url: str) -> list[dict]:
    from local_runtime.sqs_poller import lambda_message_attributes

    messages = pipeline.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                                            MessageAttributeNames=["All"], VisibilityTimeout=30).get("Messages", [])
    return [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
             "attributes": m.get("Attributes", {}), "eventSource": "aws:sqs",
             "messageAttributes": lambda_message_attributes(m.get("MessageAttributes"))} for m in messages]


def _settle(pipeline, url: str, records: list[dict]) -> None:
    for r in records:
        pipeline.sqs.delete_message(QueueUrl=url, ReceiptHandle=r["receiptHandle"])


def summarize(side: dict) -> dict[str, float]:
    batches = side["process"]
    records = sum(r for _, r in batches)
    return {
        "ingest_calls": sum(side["ingest_calls"].values()) / len(side["ingest"]),
        "process_calls": sum(side["process_calls"].values()) / records,
        "ingest_ms": statistics.median(side["ingest"]) * 1000,
        "ingest_mean_ms": statistics.mean(side["ingest"]) * 1000,
        "process_ms": statistics.median(t / r for t, r in batches) * 1000,
        "process_mean_ms": sum(t for t, _ in batches) / records * 1000,
        "batches": len(batches),
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
    parser.add_argument("--webhooks", type=int, default=200, help="webhooks per side for calls and time")
    parser.add_argument("--skip-imports", action="store_true", help="only the calls, times and sizing")
    args = parser.parse_args()

    if not args.skip_imports:
        imports = bench_imports(args.reps)
        print(f"Cold import, median of {args.reps} fresh interpreters each (interleaved):\n")
        print("| subject | median ms | ratio to `import boto3` | target |")
        print("|---|---:|---:|---|")
        for label, ms, ratio in imports:
            target = "baseline" if label == "import boto3" else (
                f"≤ {TARGET_IMPORT_RATIO}x: {'met' if ratio <= TARGET_IMPORT_RATIO else 'NOT met'}")
            print(f"| `{label}` | {ms:.1f} | {ratio:.3f} | {target} |")

    run = bench_versus_original(args.webhooks)
    ours, base = summarize(run["ours"]), summarize(run["original"])
    n = run["n"]
    ops = lambda c: ", ".join(f"{k} {v}" for k, v in sorted(c.items()))  # noqa: E731
    print(f"\nOurs against the original design, {n} webhooks each (4 KB Stripe events, 7 customers), "
          f"interleaved in one moto run, same bus and consumer:\n")
    print("| handler | calls (ours) | per webhook / record | calls (original) | per webhook / record | "
          "time ratio (ours / original) | target |")
    print("|---|---|---:|---|---:|---:|---|")
    ratio_i = ours["ingest_ms"] / base["ingest_ms"]
    ratio_p = ours["process_ms"] / base["process_ms"]
    print(f"| ingest | {ops(run['ours']['ingest_calls'])} | {ours['ingest_calls']:.2f} | "
          f"{ops(run['original']['ingest_calls'])} | {base['ingest_calls']:.2f} | "
          f"{ratio_i:.3f} ({ours['ingest_ms']:.2f} / {base['ingest_ms']:.2f} ms) | "
          f"≤ 3 calls, ≤ 1.0x: {'met' if ours['ingest_calls'] <= 3 and ratio_i <= 1.0 else 'NOT met'} |")
    print(f"| process | {ops(run['ours']['process_calls'])} in {ours['batches']} batches | {ours['process_calls']:.2f} | "
          f"{ops(run['original']['process_calls'])} in {base['batches']} batches | {base['process_calls']:.2f} | "
          f"{ratio_p:.3f} ({ours['process_ms']:.2f} / {base['process_ms']:.2f} ms) | "
          f"≤ 1.2 calls, ≤ 1.3x: {'met' if ours['process_calls'] <= 1.2 and ratio_p <= 1.3 else 'NOT met'} |")
    print(f"\nTimes are medians (per webhook; per record of each batch). Means, which moto's and the "
          f"machine's pauses skew: ingest {ours['ingest_mean_ms']:.2f} / {base['ingest_mean_ms']:.2f} ms "
          f"({ours['ingest_mean_ms'] / base['ingest_mean_ms']:.3f}x), process {ours['process_mean_ms']:.2f} / "
          f"{base['process_mean_ms']:.2f} ms per record ({ours['process_mean_ms'] / base['process_mean_ms']:.3f}x).")

    z = bench_sizing(10, 60_000)
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
