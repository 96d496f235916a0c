"""Embedded default benchmarks: `webhookctl dev` ready time, and webhooks per second on loopback.

  - ready time: fresh (no state: a full apply to the emulator) and restart
    (state + snapshot: replay instead of apply); targets 90 s and 20 s;
  - end-to-end throughput for 1 and 16 concurrent senders: signed Stripe
    webhooks POSTed to the local API until each event arrives at a consumer
    queue on the bus; p50/p99 ingest latency (target p99 < 100 ms at 1 sender);
  - the profile that says who is the bottleneck: CPU seconds per webhook
    spent in the `webhookctl dev` process (our handlers, API, poller) and in
    the emulator process (moto), read from /proc.

Usage: .venv/bin/python bench/bench_dev.py [--webhooks N]
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
    started = time.monotonic()
    proc = subprocess.Popen([WEBHOOKCTL, "dev", "--port", str(port), "--no-self-test"], cwd=project,
                            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    offset = log.tell()
    while True:
        log.flush()
        text = (project / "dev.log").read_text()[offset:]
        if "is ready in" in text:
            return proc, time.monotonic() - started, text
        if proc.poll() is not None or time.monotonic() - started > 400:
            proc.kill()
            raise SystemExit(f"dev did not start:\n{text[-3000:]}")
        time.sleep(0.2)


def stop_dev(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    proc.wait(60)


def emulator_pid(port: int) -> int:
    out = subprocess.run(["pgrep", "-f", "--", f"-p {port}"], capture_output=True, text=True).stdout.split()
    return int(out[0])


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


def load(port: int, senders: int, count: int) -> tuple[list[float], list[str], float]:
    from handlers.signatures import sign

    latencies: list[float] = []
    ids: list[str] = []
    lock = threading.Lock()
    per_sender = count // senders

    def sender(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(per_sender):
            body = json.dumps({"id": f"evt_bench_{senders}_{n}_{i}_{time.time_ns()}", "type": "charge.succeeded",
                               "data": {"object": {"customer": f"cus_{n}"}}}).encode()
            headers = {"Content-Type": "application/json", **sign("stripe", body, SECRET)}
            t0 = time.perf_counter()
            conn.request("POST", "/local/webhooks/stripe", body=body, headers=headers)
            resp = conn.getresponse()
            doc = json.loads(resp.read())
            elapsed = time.perf_counter() - t0
            assert resp.status == 202, doc
            with lock:
                latencies.append(elapsed)
                ids.append(doc["webhook_id"])
        conn.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, ids, started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webhooks", type=int, default=320)
    args = parser.parse_args()
    from local_runtime.emulator import free_port

    project = Path(tempfile.mkdtemp(prefix="webhookctl-bench-dev-"))
    emu_port, port = free_port(), free_port()
    text = (ROOT / "webhookctl.toml").read_text().replace("127.0.0.1:4566", f"127.0.0.1:{emu_port}")
    (project / "webhookctl.toml").write_text(text)
    rows = []
    proc = None
    try:
        proc, fresh, _ = start_dev(project, port)
        stop_dev(proc)
        proc, restart, log = start_dev(project, port)
        rows.append(("ready, fresh machine state (full apply)", f"{fresh:.1f} s", "<= 90 s", fresh <= 90))
        rows.append(("ready, restart (snapshot replay)", f"{restart:.1f} s", "<= 20 s", restart <= 20))
        subprocess.run([WEBHOOKCTL, "secrets", "set", "stripe"], cwd=project, input=SECRET, text=True, check=True,
                       capture_output=True)
        outputs = json.loads((project / ".webhookctl" / "outputs-local.json").read_text())
        drain = consumer(f"http://127.0.0.1:{emu_port}", outputs["event_bus_name"])
        dev_pid, moto_pid = proc.pid, emulator_pid(emu_port)
        load(port, 1, 20)  # warm the containers: secrets cached, clients created
        drain(set(), 2)
        table = []
        for senders in (1, 16):
            count = args.webhooks if senders > 1 else args.webhooks // 2
            cpu0 = (cpu_seconds(dev_pid), cpu_seconds(moto_pid))
            latencies, ids, started = load(port, senders, count)
            ingest_done = time.perf_counter() - started
            seen = drain(set(ids), 120)
            e2e = time.perf_counter() - started
            cpu1 = (cpu_seconds(dev_pid), cpu_seconds(moto_pid))
            n = len(ids)
            table.append((senders, n, n / ingest_done, len(seen & set(ids)) / e2e, pct(latencies, 0.5) * 1000,
                          pct(latencies, 0.99) * 1000, (cpu1[0] - cpu0[0]) / n * 1000, (cpu1[1] - cpu0[1]) / n * 1000,
                          len(seen & set(ids))))
    finally:
        if proc is not None and proc.poll() is None:
            stop_dev(proc)
        shutil.rmtree(project, ignore_errors=True)

    print("| measurement | result | target | met |")
    print("|---|---:|---|---|")
    for name, value, target, met in rows:
        print(f"| {name} | {value} | {target} | {'yes' if met else 'no'} |")
    print()
    print("| senders | webhooks | ingest/s | end-to-end/s | p50 ms | p99 ms | dev CPU ms/webhook | emulator CPU ms/webhook | delivered |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s, n, ing, e2e, p50, p99, dev_cpu, moto_cpu, delivered in table:
        print(f"| {s} | {n} | {ing:.0f} | {e2e:.0f} | {p50:.1f} | {p99:.1f} | {dev_cpu:.1f} | {moto_cpu:.1f} | {delivered}/{n} |")


if __name__ == "__main__":
    main()
