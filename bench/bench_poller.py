"""The local SQS poller: send → handler latency and stop time, against a bare long poll.

    .venv/bin/python bench/bench_poller.py [--messages 20] [--wait 2]

Moved here from tests/local_runtime/test_local_sqs_poller.py (issue 10: no test asserts a
duration). A moto server on a free loopback port, one FIFO queue per side. Each message is sent
while the receiver sits inside a long poll of `--wait` seconds; latency is `perf_counter` from
the send to the moment the receiver has it. The two sides alternate message by message, so a
busy machine slows both alike:

- ours: `local_runtime.sqs_poller.SqsPoller` (background thread) handing the batch to a stub;
- baseline: a bare boto3 `receive_message(WaitTimeSeconds=wait)` loop in a thread.

Stop time is `SqsPoller.stop()` called while the poller is inside a long poll (its documented
bound: one long poll + 5 s). Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class BareLongPoll:
    """The baseline: receive, note the time, delete; nothing else."""

    def __init__(self, sqs, url: str, wait: int):
        self.sqs, self.url, self.wait = sqs, url, wait
        self.got = threading.Event()
        self.stopping = False
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stopping:
            msgs = self.sqs.receive_message(QueueUrl=self.url, WaitTimeSeconds=self.wait).get("Messages", [])
            if msgs:
                self.got.set()
            for m in msgs:
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])


def fifo(sqs, name: str) -> str:
    return sqs.create_queue(QueueName=f"{name}.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true"})["QueueUrl"]


def one_latency(sqs, url: str, got: threading.Event, n: int) -> float:
    got.clear()
    started = time.perf_counter()
    sqs.send_message(QueueUrl=url, MessageBody=f"m{n}", MessageGroupId=f"g{n}")
    if not got.wait(30):
        raise SystemExit(f"message {n} never reached the receiver on {url}")
    return time.perf_counter() - started


def measure(messages: int, wait: int) -> dict[str, list[float]]:
    import boto3

    from local_runtime.emulator import Emulator, free_port
    from local_runtime.sqs_poller import SqsPoller

    with Emulator(port=free_port()) as emu:
        sqs = boto3.client("sqs", endpoint_url=emu.endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing")
        ours_got = threading.Event()
        poller = SqsPoller(fifo(sqs, "ours"), lambda event, context: ours_got.set(),
                           endpoint_url=emu.endpoint, wait_time_seconds=wait).start()
        bare = BareLongPoll(sqs, fifo(sqs, "bare"), wait)
        bare.thread.start()
        time.sleep(0.5)  # both inside a long poll
        samples: dict[str, list[float]] = {"ours": [], "bare": [], "stop": []}
        for n in range(messages):
            samples["ours"].append(one_latency(sqs, poller.queue_url, ours_got, n))
            samples["bare"].append(one_latency(sqs, bare.url, bare.got, n))
        time.sleep(0.5)
        started = time.perf_counter()
        stopped = poller.stop()
        samples["stop"].append(time.perf_counter() - started)
        bare.stopping = True
        if not stopped:
            raise SystemExit("the poller did not stop within one long poll + 5 s")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--wait", type=int, default=2, help="long poll seconds (WaitTimeSeconds)")
    args = parser.parse_args()
    s = measure(args.messages, args.wait)
    ours, bare = statistics.median(s["ours"]), statistics.median(s["bare"])
    print(f"| measure ({args.messages} messages, {args.wait} s long poll) | ours | bare long poll | ours / bare |")
    print("|---|---:|---:|---:|")
    print(f"| send → handler, median | {ours * 1000:.0f} ms | {bare * 1000:.0f} ms | {ours / bare:.2f} |")
    print(f"| send → handler, max | {max(s['ours']) * 1000:.0f} ms | {max(s['bare']) * 1000:.0f} ms | "
          f"{max(s['ours']) / max(s['bare']):.2f} |")
    print(f"| stop() inside a long poll | {s['stop'][0]:.2f} s | | (bound: {args.wait} + 5 s) |")


if __name__ == "__main__":
    main()
