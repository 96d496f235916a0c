"""`webhookctl console`: what serving costs over calling the CLI's library functions directly.

Two questions, each against a baseline measured side by side in the same run:

1. Start-up (what `webhookctl dev` pays to serve the console): `cli.console.server.start` (bind on
   127.0.0.1, a serving thread) against a bare `ThreadingHTTPServer` bound and served the same way.
2. Each read endpoint, over HTTP with the token, against the library call the CLI command makes
   (`events list`, `events show --verify`, `stats --since 1h`, `dlq list`), on the emulator's
   storage holding N deliveries received over the last hour. The overview also draws the chart
   (a second pass over the hour's records) and reads the alarms: its ratio shows what that costs.

Usage: .venv/bin/python bench/bench_console.py [--records 300] [--runs 15]
Prints Markdown tables (paste them into bench/README.md).
"""
from __future__ import annotations

import argparse
import datetime as dt
import http.client
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # records_table: the records table as the stack makes it
sys.path.insert(0, str(ROOT / "tests" / "cli"))  # operate_stack: the stack's storage without Terraform
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def median_ms(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def start_ms(start, stop, runs: int) -> float:
    """Median time to be serving (stopping is not counted: dev pays it at Ctrl-C)."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        running = start()
        times.append(time.perf_counter() - started)
        stop(running)
    return statistics.median(times) * 1000


def bare_start() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server


def bare_stop(server: ThreadingHTTPServer) -> None:
    server.shutdown()
    server.server_close()


def fill(stack, records: int) -> str:
    now = dt.datetime.now(dt.timezone.utc)
    providers = ("stripe", "github", "shopify")
    last = ""
    for n in range(records):
        last = stack.put_delivery(providers[n % 3], f"bench_{n}", now - dt.timedelta(seconds=3500 * n / records))
    return last


def get(port: int, token: str, path: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"X-Webhookctl-Token": token})
    response = conn.getresponse()
    response.read()
    assert response.status == 200, (path, response.status)
    conn.close()


def endpoints(ws, webhook_id: str):
    """(endpoint, the same read through the library, as the CLI command does it)."""
    from cli.dlq import dlq_list, target_dlq_list
    from cli.errors import WebhookctlError
    from cli.events import list_events, show_event, verify_event
    from cli.stats import stats

    def show() -> None:  # as `events show --verify` does: one set of clients for both
        clients: dict = {}
        show_event(ws, webhook_id, clients=clients)
        try:
            verify_event(ws, webhook_id, clients=clients)
        except WebhookctlError:
            pass

    def dlqs() -> None:  # `dlq list`, then `dlq list --target R` for each route
        dlq_list(ws, limit=100, log=quiet)
        for route in ws.config.routes:
            try:
                target_dlq_list(ws, route.name, limit=100, log=quiet)
            except WebhookctlError:
                pass

    quiet = lambda line: None  # noqa: E731
    return [
        ("/api/deliveries", "events list (50)", lambda: list_events(ws, log=quiet)),
        (f"/api/deliveries/{webhook_id}", "events show --verify", show),
        ("/api/overview", "stats --since 1h", lambda: stats(ws, since="60m", log=quiet)),
        ("/api/dlq", "dlq list, and --target per route", dlqs),
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()

    from cli.console.server import start
    from cli.workspace import Workspace
    from local_runtime.emulator import Emulator, free_port
    from operate_stack import deploy_storage

    folder = Path(tempfile.mkdtemp(prefix="bench-console-"))
    shutil.copy(ROOT / "webhookctl.toml", folder / "webhookctl.toml")
    with Emulator(port=free_port()) as emulator:
        stack = deploy_storage(emulator.endpoint, folder)
        ws = Workspace.open(folder / "webhookctl.toml", "local")
        webhook_id = fill(stack, args.records)
        bare = start_ms(bare_start, bare_stop, 50)
        ours = start_ms(lambda: start(ws, port=0), lambda console: console.stop(), 50)
        print("| start-up, until serving (median of 50) | ms |\n|---|---:|")
        print(f"| bare ThreadingHTTPServer: bind + serving thread | {bare:.2f} |")
        print(f"| `cli.console.server.start` | {ours:.2f} ({ours / bare:.1f}x) |\n")
        console = start(ws, port=0)
        port, token = console.server.port, console.server.token
        print(f"| endpoint ({args.records} deliveries in the hour; median of {args.runs}) | library call | "
              "library ms | console ms | ratio |\n|---|---|---:|---:|---:|")
        for path, name, direct in endpoints(ws, webhook_id):
            base = median_ms(direct, args.runs)
            served = median_ms(lambda: get(port, token, path), args.runs)
            print(f"| `GET {path.split('/')[2] if path.count('/') == 2 else 'deliveries/ID'}` | {name} | "
                  f"{base:.0f} | {served:.0f} | {served / base:.2f} |")
        console.stop()
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
