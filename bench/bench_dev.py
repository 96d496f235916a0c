"""Embedded default benchmarks: `webhookctl dev` ready times, throughput and latency under load, on loopback.

  - ready time: fresh (no state: a full apply), restart after Ctrl-C (the
    emulator restores its journal, Terraform finds nothing to change), after
    `kill -9` of dev (re-attach to the surviving emulator) and after `kill -9`
    of everything (journal restore); each crash restart as a ratio of the
    clean restart measured in the same run;
  - end-to-end throughput: signed Stripe webhooks POSTed to the local API
    until each event arrives at a consumer queue on the bus, for 1 sender
    (the baseline), 16 senders, and the issue's load: 8 senders sending 500
    webhooks while a burst of 100 new connections lands at once; p50/p99
    ingest latency, how many answers were 429 (saturation) and how many got
    no answer at all (resets: the target is 0);
  - the profile that says who is the bottleneck: CPU seconds per webhook
    spent in the `webhookctl dev` process and in the emulator process, read
    from /proc;
  - what the crash journal costs: the four calls ingest makes per webhook
    (PutItem, PutObject, SendMessage, UpdateItem) against two emulators side
    by side, one journaling and one not, interleaved call by call.

Usage: .venv/bin/python bench/bench_dev.py [--webhooks N] [--journal-only]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
WEBHOOKCTL = str(Path(sys.executable).parent / "webhookctl")
SECRET = "whsec_bench_only_not_a_real_secret"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def start_dev(project: Path, port: int) -> tuple[subprocess.Popen, float, str]:
    log = open(project / "dev.log", "a+")
    offset = log.seek(0, os.SEEK_END)
    started = time.monotonic()
    proc = subprocess.Popen([WEBHOOKCTL, "dev", "--port", str(port), "--no-self-test"], cwd=project,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            start_new_session=True)
    while True:
        text = (project / "dev.log").read_text()[offset:]
        if "is ready in" in text:
            return proc, time.monotonic() - started, text
        if proc.poll() is not None or time.monotonic() - started > 400:
            proc.kill()
            raise SystemExit(f"dev did not start:\n{text[-3000:]}")
        time.sleep(0.1)


def stop_dev(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(60)


def emulator_pid(project: Path) -> int:
    return int(json.loads((project / ".webhookctl" / "emulator-local.json").read_text())["pid"])


def consumer(endpoint: str, bus: str):
    import boto3

    kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
              aws_secret_access_key="testing")
    sqs, events = boto3.client("sqs", **kw), boto3.client("events", **kw)
    url = sqs.create_queue(QueueName="bench-consumer")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="bench-consumer", EventBusName=bus, EventPattern=json.dumps({"source": ["webhook.processor"]}))
    events.put_targets(Rule="bench-consumer", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    def drain(expected: set[str], timeout: float) -> set[str]:
        seen: set[str] = set()
        deadline = time.monotonic() + timeout
        while not expected <= seen and time.monotonic() < deadline:
            for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
                seen.add(json.loads(m["Body"])["detail"]["webhook_id"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        return seen

    return drain


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    throttled: int = 0
    no_answer: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def post_one(conn: http.client.HTTPConnection | None, port: int, body: bytes, headers: dict, result: Result
             ) -> http.client.HTTPConnection | None:
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    t0 = time.perf_counter()
    try:
        conn.request("POST", "/local/webhooks/stripe", body=body, headers=headers)
        resp = conn.getresponse()
        doc = json.loads(resp.read() or b"{}")
    except (OSError, http.client.HTTPException):
        conn.close()
        with result.lock:
            result.no_answer += 1
        return None
    with result.lock:
        if resp.status == 202:
            result.latencies.append(time.perf_counter() - t0)
            result.ids.append(doc["webhook_id"])
        elif resp.status == 429:
            result.throttled += 1
        else:
            raise SystemExit(f"unexpected {resp.status}: {doc}")
    if resp.getheader("Connection", "").lower() == "close":
        conn.close()
        return None
    return conn


def signed(tag: str, sender: int, n: int) -> tuple[bytes, dict]:
    from handlers.signatures import sign

    body = json.dumps({"id": f"evt_bench_{tag}_{sender}_{n}_{time.time_ns()}", "type": "charge.succeeded",
                       "data": {"object": {"customer": f"cus_{tag}_{sender}"}}}).encode()
    return body, {"Content-Type": "application/json", **sign("stripe", body, SECRET)}


def load(port: int, senders: int, count: int, tag: str, burst: int = 0) -> tuple[Result, float]:
    result = Result()

    def sender(s: int) -> None:
        conn = None
        for n in range(count // senders + (1 if s < count % senders else 0)):
            conn = post_one(conn, port, *signed(tag, s, n), result)

    def burst_one(i: int, gate: threading.Barrier) -> None:
        body, headers = signed(f"{tag}-burst", i, 0)
        gate.wait()
        post_one(None, port, body, headers, result)

    started = time.perf_counter()
    threads = [threading.Thread(target=sender, args=(s,)) for s in range(senders)]
    for t in threads:
        t.start()
    if burst:
        while len(result.ids) < count // 5:
            time.sleep(0.01)
        gate = threading.Barrier(burst)
        bursters = [threading.Thread(target=burst_one, args=(i, gate)) for i in range(burst)]
        for t in bursters:
            t.start()
        threads += bursters
    for t in threads:
        t.join()
    return result, started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def ready_times(project: Path, port: int) -> tuple[list[tuple], subprocess.Popen]:
    proc, fresh, _ = start_dev(project, port)
    stop_dev(proc)
    proc, clean, _ = start_dev(project, port)
    os.killpg(proc.pid, signal.SIGKILL)  # dev only: the emulator survives
    proc.wait()
    proc, reattach, text = start_dev(project, port)
    assert "re-attached" in text, text[-2000:]
    os.killpg(emulator_pid(project), signal.SIGKILL)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    proc, journal, text = start_dev(project, port)
    assert "restored from its journal" in text, text[-2000:]
    rows = [("ready, fresh machine state (full apply)", fresh, None, "<= 90 s", fresh <= 90),
            ("ready, restart after Ctrl-C (journal restore, no-op plan)", clean, None, "<= 20 s", clean <= 20),
            ("ready, restart after kill -9 of dev (re-attach)", reattach, reattach / clean, "<= 1.2x clean",
             reattach <= 1.2 * clean),
            ("ready, restart after kill -9 of everything (journal restore)", journal, journal / clean,
             "<= 1.2x clean", journal <= 1.2 * clean)]
    return rows, proc


def journal_overhead(rounds: int = 300) -> list[tuple]:
    """p50/p99 ms of ingest's four calls per webhook, with and without the journal, interleaved."""
    import boto3

    from local_runtime.emulator import Emulator, free_port

    folder = Path(tempfile.mkdtemp(prefix="webhookctl-bench-journal-"))
    emulators = {"without journal": Emulator(port=free_port(), deterministic_ids=True),
                 "with journal": Emulator(port=free_port(), deterministic_ids=True, persist_dir=folder / "j")}
    clients, times = {}, {name: [] for name in emulators}
    try:
        for name, emu in emulators.items():
            emu.start()
            kw = dict(endpoint_url=emu.endpoint, region_name="us-east-1", aws_access_key_id="testing",
                      aws_secret_access_key="testing")
            ddb, s3, sqs = boto3.client("dynamodb", **kw), boto3.client("s3", **kw), boto3.client("sqs", **kw)
            ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
            s3.create_bucket(Bucket="archive")
            url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            clients[name] = (ddb, s3, sqs, url)
        body = b"x" * 2048
        for i in range(rounds):
            for name, (ddb, s3, sqs, url) in clients.items():
                t0 = time.perf_counter()
                ddb.put_item(TableName="t", Item={"k": {"S": str(i)}, "status": {"S": "received"}})
                s3.put_object(Bucket="archive", Key=f"p/{i}", Body=body, Metadata={"sig": "v1=abc"})
                sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"k": i}), MessageGroupId="g",
                                 MessageDeduplicationId=str(i))
                ddb.update_item(TableName="t", Key={"k": {"S": str(i)}}, UpdateExpression="SET #s = :q",
                                ExpressionAttributeNames={"#s": "status"},
                                ExpressionAttributeValues={":q": {"S": "queued"}})
                times[name].append(time.perf_counter() - t0)
    finally:
        for emu in emulators.values():
            emu.stop()
        shutil.rmtree(folder, ignore_errors=True)
    base = times["without journal"]
    return [(name, pct(t, 0.5) * 1000, pct(t, 0.99) * 1000, pct(t, 0.5) / pct(base, 0.5),
             pct(t, 0.99) / pct(base, 0.99)) for name, t in times.items()]


def print_journal(rows: list[tuple]) -> None:
    print("| ingest's 4 calls per webhook | p50 ms | p99 ms | p50 ratio | p99 ratio |")
    print("|---|---:|---:|---:|---:|")
    for name, p50, p99, r50, r99 in rows:
        print(f"| {name} | {p50:.1f} | {p99:.1f} | {r50:.2f} | {r99:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=320)
    parser.add_argument("--journal-only", action="store_true", help="only the journal's cost (~1 minute)")
    args = parser.parse_args()
    from local_runtime.emulator import free_port

    if args.journal_only:
        print_journal(journal_overhead())
        return

    project = Path(tempfile.mkdtemp(prefix="webhookctl-bench-dev-"))
    emu_port, port = free_port(), free_port()
    text = (ROOT / "webhookctl.toml").read_text().replace("127.0.0.1:4566", f"127.0.0.1:{emu_port}")
    (project / "webhookctl.toml").write_text(text)
    proc = None
    try:
        rows, proc = ready_times(project, port)
        subprocess.run([WEBHOOKCTL, "secrets", "set", "stripe"], cwd=project, input=SECRET, text=True, check=True,
                       capture_output=True)
        time.sleep(6)  # ingest re-reads a changed secret at most every 5 s
        outputs = json.loads((project / ".webhookctl" / "outputs-local.json").read_text())
        drain = consumer(f"http://127.0.0.1:{emu_port}", outputs["event_bus_name"])
        dev_pid, moto_pid = proc.pid, emulator_pid(project)
        load(port, 1, 20, "warm")  # warm the containers: secrets cached, clients created
        drain(set(), 2)
        table = []
        for name, senders, count, burst in (("1 sender (baseline)", 1, args.webhooks // 2, 0),
                                            ("16 senders", 16, args.webhooks, 0),
                                            ("8 senders + burst of 100 connections", 8, 500, 100)):
            cpu0 = (cpu_seconds(dev_pid), cpu_seconds(moto_pid))
            result, started = load(port, senders, count, name.split()[0], burst)
            ingest_done = time.perf_counter() - started
            ids = set(result.ids)
            seen = drain(ids, 300)
            e2e = time.perf_counter() - started
            cpu1 = (cpu_seconds(dev_pid), cpu_seconds(moto_pid))
            n = len(ids)
            table.append((name, n + result.throttled + result.no_answer, result.throttled, result.no_answer,
                          n / ingest_done, len(seen & ids) / e2e, pct(result.latencies, 0.5) * 1000,
                          pct(result.latencies, 0.99) * 1000, (cpu1[0] - cpu0[0]) / n * 1000,
                          (cpu1[1] - cpu0[1]) / n * 1000, f"{len(seen & ids)}/{n}"))
    finally:
        if proc is not None and proc.poll() is None:
            stop_dev(proc)
        shutil.rmtree(project, ignore_errors=True)

    print("| measurement | seconds | ratio to clean restart | target | met |")
    print("|---|---:|---:|---|---|")
    for name, seconds, ratio, target, met in rows:
        print(f"| {name} | {seconds:.1f} | {'-' if ratio is None else f'{ratio:.2f}'} | {target} | "
              f"{'yes' if met else 'no'} |")
    print()
    print("| load | requests | 429 | no answer | ingest/s | end-to-end/s | p50 ms | p99 ms | dev CPU ms/webhook "
          "| emulator CPU ms/webhook | delivered |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, req, thr, lost, ing, e2e, p50, p99, dev_cpu, moto_cpu, delivered in table:
        print(f"| {name} | {req} | {thr} | {lost} | {ing:.0f} | {e2e:.0f} | {p50:.1f} | {p99:.1f} | {dev_cpu:.1f} "
              f"| {moto_cpu:.1f} | {delivered} |")
    print()
    print_journal(journal_overhead())


if __name__ == "__main__":
    main()
