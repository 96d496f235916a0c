"""`webhookctl logs`: dev's per-function files (what each in-process invocation wrote, in its own
function's file, from any thread), read back by time, text and delivery id; CloudWatch Logs the same
way through FilterLogEvents; and the command's shapes (JSON lines, one line per record, errors)."""
from __future__ import annotations

import datetime as dt
import io
import json
import sys
import threading
import time

import pytest

from cli.logs import (
    FunctionLogs, Matcher, follow_local, human, local_logs_dir, log_file, matcher, parse_line,
    read_cloudwatch, read_logs,
)
from cli.workspace import Workspace
from handlers import observability as obs
from handlers.contract import webhook_id


@pytest.fixture
def ws(project):
    return Workspace.open(project / "webhookctl.toml", "local")


def _handler(message: str, **fields):
    def handle(event, context):
        obs.log("INFO", message, **fields, webhook_id=event.get("id"))
        return {"ok": True}
    return handle


def test_each_invocation_writes_its_function_s_file_from_any_thread(ws, monkeypatch):
    shown = io.StringIO()
    monkeypatch.setattr(sys, "stdout", shown)
    sinks = FunctionLogs(local_logs_dir(ws)).start()
    ingest = sinks.wrap("ingest", _handler("webhook accepted", provider="stripe"))
    process = sinks.wrap("process", _handler("webhooks processed"))
    threads = [threading.Thread(target=fn, args=({"id": f"{n:032x}"}, None))
               for n, fn in enumerate([ingest, process] * 20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("not an invocation: stays on stdout only")
    sinks.stop()
    assert sys.stdout is shown  # put back
    folder = local_logs_dir(ws)
    ingest_lines = [json.loads(line) for line in log_file(folder, "ingest").read_text().splitlines()]
    process_lines = [json.loads(line) for line in log_file(folder, "process").read_text().splitlines()]
    assert len(ingest_lines) == len(process_lines) == 20
    assert {r["message"] for r in ingest_lines} == {"webhook accepted"}
    assert {r["message"] for r in process_lines} == {"webhooks processed"}
    assert shown.getvalue().count("\n") == 41  # the terminal still shows every line
    assert oct(log_file(folder, "ingest").stat().st_mode & 0o777) == "0o600"


def test_a_full_file_rotates_and_both_generations_are_read(ws):
    sinks = FunctionLogs(local_logs_dir(ws), max_bytes=2000).start()
    try:
        invoke = sinks.wrap("ingest", _handler("webhook accepted"))
        for n in range(40):
            invoke({"id": f"{n:032x}"}, None)
    finally:
        sinks.stop()
    folder = local_logs_dir(ws)
    current = log_file(folder, "ingest")
    older = current.with_name("ingest.log.1")
    assert older.exists()
    kept = [line for f in (older, current) for line in f.read_text().splitlines() if line.strip()]
    got = read_logs(ws, ["ingest"], since="10m")
    # every line of both generations, oldest first; the oldest 40 - len(kept) were rotated out
    assert len(got) == len(kept) and 20 < len(kept) < 40
    assert [r["webhook_id"] for r in got] == [f"{n:032x}" for n in range(40 - len(got), 40)]


def _write(ws, function: str, *records: dict) -> None:
    folder = local_logs_dir(ws)
    folder.mkdir(parents=True, exist_ok=True)
    with open(log_file(folder, function), "a") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")


def _stamp(minutes_ago: float) -> str:
    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_delivery_id_finds_its_ingest_and_process_lines(ws):
    wid = webhook_id("stripe", "evt_42")
    _write(ws, "ingest",
           {"level": "INFO", "message": "webhook accepted", "timestamp": _stamp(3), "provider": "stripe",
            "delivery_id": "evt_42", "webhook_id": wid},
           {"level": "INFO", "message": "webhook accepted", "timestamp": _stamp(2), "delivery_id": "evt_43",
            "webhook_id": webhook_id("stripe", "evt_43")})
    _write(ws, "process", {"level": "INFO", "message": "webhooks processed", "timestamp": _stamp(1),
                           "webhook_ids": [wid, "f" * 32]})
    by_delivery = read_logs(ws, ids=["evt_42"])
    assert [(r["function"], r["message"]) for r in by_delivery] == [("ingest", "webhook accepted"),
                                                                    ("process", "webhooks processed")]
    assert read_logs(ws, ids=[wid]) == by_delivery
    assert [r["delivery_id"] for r in read_logs(ws, ["ingest"], grep="evt_43")] == ["evt_43"]
    assert read_logs(ws, since="90s", ids=["evt_42"])[0]["function"] == "process"


def test_metrics_only_lines_are_json_but_not_for_people():
    emf = parse_line("ingest", json.dumps({"_aws": {"Timestamp": 1700000000000}, "accepted": 1}))
    assert emf.millis == 1700000000000 and human(emf) is None
    line = parse_line("ingest", json.dumps({"level": "INFO", "message": "webhook accepted", "service": "webhookctl",
                                             "timestamp": "2026-01-02T03:04:05Z", "provider": "stripe",
                                             "timings": {"total_ms": 3.5}}))
    assert human(line) == ('2026-01-02T03:04:05.000Z  ingest   INFO     webhook accepted  provider=stripe '
                           'timings={"total_ms":3.5}')
    assert line.as_dict()["function"] == "ingest" and line.as_dict()["time"] == "2026-01-02T03:04:05.000Z"


def test_follow_prints_new_lines_as_they_come_and_survives_rotation(ws):
    _write(ws, "ingest", {"message": "old", "timestamp": _stamp(0)})
    stop, got = threading.Event(), []

    def run():
        for line in follow_local(ws, ["ingest"], Matcher(0), stop):
            got.append(line.record["message"])

    reader = threading.Thread(target=run)
    reader.start()
    time.sleep(0.5)
    _write(ws, "ingest", {"message": "one", "timestamp": _stamp(0)})
    time.sleep(0.6)
    path = log_file(local_logs_dir(ws), "ingest")
    path.rename(path.with_name("ingest.log.1"))
    _write(ws, "ingest", {"message": "two", "timestamp": _stamp(0)})
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and got != ["one", "two"]:
        time.sleep(0.05)
    stop.set()
    reader.join()
    assert got == ["one", "two"]


class FakeLogs:
    """FilterLogEvents of two groups, paged, recording each call's arguments."""

    class exceptions:
        class ResourceNotFoundException(Exception):
            pass

    def __init__(self, events: dict[str, list[dict]]):
        self.events, self.calls = events, []

    def filter_log_events(self, **args):
        self.calls.append(args)
        if args["logGroupName"] not in self.events:
            raise self.exceptions.ResourceNotFoundException()
        events = [e for e in self.events[args["logGroupName"]] if e["timestamp"] >= args["startTime"]]
        start = int(args.get("nextToken") or 0)
        page = {"events": events[start:start + 2]}
        if start + 2 < len(events):
            page["nextToken"] = str(start + 2)
        return page


def test_cloudwatch_is_read_with_filter_log_events_and_a_pattern_for_the_id():
    now = int(time.time() * 1000)
    wid = "a" * 32
    fake = FakeLogs({"/aws/lambda/ingest": [
        {"eventId": str(n), "timestamp": now - 1000 * (5 - n),
         "message": json.dumps({"message": "webhook accepted", "webhook_id": wid if n % 2 else "b" * 32})}
        for n in range(5)]})
    match = Matcher(now - 60_000, ids=(wid,))
    got = read_cloudwatch(fake, {"ingest": "/aws/lambda/ingest", "process": "/aws/lambda/process"}, match)
    assert [line.record["webhook_id"] for line in got] == [wid, wid]
    assert {c["filterPattern"] for c in fake.calls} == {f'"{wid}"'}
    assert fake.calls[0]["startTime"] == now - 60_000 and len(fake.calls) == 4  # 3 pages, and the missing group


def test_filter_pattern_ors_the_terms_of_a_delivery_id(ws):
    match = matcher(ws, since="1h", grep=None, ids=["evt_1"])
    terms = match.ids
    assert terms[0] == "evt_1" and webhook_id("stripe", "evt_1") in terms and len(terms) == 1 + 9
    assert match.filter_pattern() == " ".join(f'?"{t}"' for t in terms)
    assert Matcher(0, grep='say "hi"').filter_pattern() is None  # quotes: filtered here instead


def test_cli_logs(run_cli, ws):
    _write(ws, "ingest", {"level": "INFO", "message": "webhook accepted", "timestamp": _stamp(1),
                          "webhook_id": "c" * 32, "provider": "stripe"})
    _write(ws, "process", {"level": "INFO", "message": "webhooks processed", "timestamp": _stamp(1),
                           "webhook_ids": ["c" * 32]})
    result = run_cli("logs", "ingest", "c" * 32, "--json")
    assert result.exit_code == 0, result.output
    [doc] = [json.loads(line) for line in result.stdout.splitlines()]
    assert doc["function"] == "ingest" and doc["webhook_id"] == "c" * 32
    both = run_cli("logs", "c" * 32)
    assert [line.split()[1] for line in both.stdout.splitlines()] == ["ingest", "process"]


def test_cli_logs_errors(run_cli, ws):
    missing = run_cli("logs")
    assert missing.exit_code == 1
    assert missing.stderr.splitlines()[-1].startswith("Error: no local logs yet in ")
    _write(ws, "ingest", {"message": "x", "timestamp": _stamp(0)})
    bad = run_cli("logs", "--since", "soon")
    assert bad.exit_code == 1 and bad.stderr.splitlines()[-1].startswith("Error: 'soon' is not a time")
