"""Terraform's machine-readable UI folded into progress: events, plain lines, the line in place, JSON."""
from __future__ import annotations

import io
import json
import re

import pytest
import tf_ui as ui

from cli.progress import PROVIDER_WAITS, JsonView, LineView, TerminalView, Tracker, for_command, parse

LIFECYCLE = "aws_s3_bucket_lifecycle_configuration.archive_lifecycle_3634E18A"
QUEUE = "aws_sqs_queue.ingest-queue_CE7EB37C"
ROLE = "aws_iam_role.ingest_role_AE5F9FE2"
LOGS = "aws_cloudwatch_log_group.events_logs-audit-log_11C05552"
DASHBOARD = "aws_cloudwatch_dashboard.monitoring_dashboard_4CE328EF"
CALLER = "data.aws_caller_identity.caller"


def failing_apply() -> list[dict]:
    """Create two slow resources, update one, replace one (delete, create), fail to delete one."""
    caller = {**ui.start(CALLER, "read")}
    caller["hook"]["resource"]["resource_type"] = "aws_caller_identity"
    return [
        ui.version(),
        ui.planned(LIFECYCLE, "create"), ui.planned(QUEUE, "create"), ui.planned(ROLE, "update"),
        ui.planned(LOGS, "replace", "cannot_update"), ui.planned(DASHBOARD, "delete", "delete_because_no_resource_config"),
        caller, ui.complete(CALLER, "read"),  # a data source read is no step of the apply
        ui.start(LIFECYCLE), ui.start(QUEUE), ui.start(ROLE, "update"), ui.complete(ROLE, "update"),
        ui.start(LOGS, "delete"), ui.complete(LOGS, "delete"), ui.start(LOGS), ui.complete(LOGS),
        ui.start(DASHBOARD, "delete"), ui.errored(DASHBOARD, "delete"),
        ui.complete(QUEUE, seconds=25, id_value="http://127.0.0.1:4566/123456789012/webhooks-local-ingest.fifo"),
        ui.complete(LIFECYCLE, seconds=55),
        ui.diagnostic("deleting CloudWatch Dashboard (webhooks-local): AccessDenied", address=DASHBOARD),
        ui.summary(1, 1, 1, "apply"),
    ]


def feed(messages, operation="apply", **kwargs) -> tuple[Tracker, list[dict]]:
    events: list[dict] = []
    tracker = Tracker(events.append, operation, **kwargs)
    for line in ui.lines(*messages).splitlines():
        tracker(line)
    return tracker, events


def test_each_step_is_counted_once_and_a_replacement_twice():
    tracker, events = feed(failing_apply())
    tracker.finish("failed")
    assert tracker.total == 6  # create, create, update, replace (delete + create), delete
    assert [(e["event"], e.get("address"), e.get("done")) for e in events] == [
        ("start", LIFECYCLE, 0), ("start", QUEUE, 0), ("start", ROLE, 0), ("done", ROLE, 1),
        ("start", LOGS, 1), ("done", LOGS, 2), ("start", LOGS, 2), ("done", LOGS, 3),
        ("start", DASHBOARD, 3), ("done", QUEUE, 4), ("done", LIFECYCLE, 5),
        ("failed", DASHBOARD, 5),  # once Terraform says why
        ("summary", None, 5),
    ]
    assert events[-2]["error"] == "deleting CloudWatch Dashboard (webhooks-local): AccessDenied"
    assert events[-1] == {"event": "summary", "operation": "apply", "ok": False, "interrupted": False, "done": 5,
                          "total": 6, "planned": 6, "failed": 1, "add": 1, "change": 1, "destroy": 1,
                          "seconds": events[-1]["seconds"]}


def test_planned_updates_that_turn_out_to_need_nothing_leave_the_total():
    """Targets naming a replaced log group's ARN plan an update ("known after apply"); once the new ARN is
    known it equals the old one, and Terraform skips them: the total is what Terraform did."""
    messages = [ui.planned(LOGS, "replace"), ui.planned(ROLE, "update"), ui.start(LOGS, "delete"),
                ui.complete(LOGS, "delete"), ui.start(LOGS), ui.complete(LOGS), ui.summary(1, 0, 1, "apply")]
    tracker, events = feed(messages)
    tracker.finish("ok")
    assert (events[-1]["done"], events[-1]["total"], events[-1]["planned"]) == (2, 2, 3)
    out = io.StringIO()
    run_view(LineView(out), messages)
    assert re.fullmatch(r"apply: 2/2 resources done in \d+\.\d s \(1 planned update needed no change once the "
                        r"new values were known\)", out.getvalue().splitlines()[-1])


def test_a_slow_resource_says_how_long_the_provider_waits_and_why():
    _, events = feed(failing_apply())
    lifecycle = next(e for e in events if e["event"] == "start" and e["address"] == LIFECYCLE)
    assert lifecycle["wait"] == {"seconds": 55, "why": (
        "S3 lifecycle configuration: the AWS provider waits 55 s, whatever the endpoint "
        "(10 s, then ten reads of the rules, 5 s apart, must agree)")}
    queue = next(e for e in events if e["event"] == "start" and e["address"] == QUEUE)
    assert queue["wait"]["seconds"] == 25
    role = next(e for e in events if e["event"] == "start" and e["address"] == ROLE)
    assert "wait" not in role


def test_the_provider_waits_table_holds_the_documented_facts():
    waits = {key: wait.seconds for key, wait in PROVIDER_WAITS.items()}
    assert waits == {("aws_sqs_queue", "create"): 25, ("aws_sqs_queue_policy", "create"): 25,
                     ("aws_sqs_queue_policy", "delete"): 25, ("aws_s3_bucket_lifecycle_configuration", "create"): 55,
                     ("aws_lambda_function", "create"): 5}
    assert all(wait.why and wait.label for wait in PROVIDER_WAITS.values())


def test_lines_that_are_not_ui_messages_are_kept_for_the_error_and_passed_on_raw():
    raw: list[str] = []
    tracker, events = feed([ui.version()], raw=raw.append)
    for line in ("", "panic: runtime error", '{"not": "a message"}'):
        tracker(line)
    assert parse('{"type": "version"}') == {"type": "version"} and parse("Plan: 1 to add") is None
    assert tracker.stray == ["panic: runtime error", '{"not": "a message"}']
    assert len(raw) == 4 and events == []


def test_an_error_without_an_address_is_a_diagnostic_event_and_in_the_error_text():
    tracker, events = feed([ui.diagnostic("Error acquiring the state lock", "Lock Info:\n  ID:  8d1c-22")])
    assert events == [{"event": "diagnostic", "severity": "error", "summary": "Error acquiring the state lock",
                       "detail": "Lock Info:\n  ID:  8d1c-22"}]
    assert tracker.error_text() == "Error: Error acquiring the state lock\nLock Info:\n  ID:  8d1c-22"


def test_a_destroy_tells_the_plan_it_makes_in_the_same_run():
    _, events = feed([ui.planned(QUEUE, "delete"), ui.planned(ROLE, "delete"), ui.summary(0, 0, 2, "plan")],
                     operation="destroy", plan_events=True)
    assert [e["event"] for e in events] == ["planned", "planned", "plan"]
    assert events[-1] == {"event": "plan", "add": 0, "change": 0, "destroy": 2, "replace": 0, "changes": True,
                          "operations": 2}


# --------------------------------------------------------------------------- views

def run_view(view, messages, outcome="ok", operation="apply"):
    view.begin(operation)
    tracker = Tracker(view.event, operation, raw=view.raw)
    for line in ui.lines(*messages).splitlines():
        tracker(line)
    tracker.finish(outcome)
    view.end(outcome)


def test_plain_lines_carry_counts_terraforms_words_and_the_reason_for_a_wait():
    out = io.StringIO()
    run_view(LineView(out), failing_apply(), outcome="failed")
    lines = out.getvalue().splitlines()
    assert lines[:-1] == [
        f"[0/6] {LIFECYCLE}: Creating... S3 lifecycle configuration: the AWS provider waits 55 s, whatever the "
        "endpoint (10 s, then ten reads of the rules, 5 s apart, must agree)",
        f"[0/6] {QUEUE}: Creating... SQS queue: the AWS provider waits 25 s, whatever the endpoint (six reads of "
        "the new queue's attributes, 5 s apart, must agree)",
        f"[1/6] {ROLE}: Modifications complete after 0s",
        f"[2/6] {LOGS}: Destruction complete after 0s",
        f"[3/6] {LOGS}: Creation complete after 0s",
        f"[4/6] {QUEUE}: Creation complete after 25s",  # no [id=...]: a queue URL is noise here
        f"[5/6] {LIFECYCLE}: Creation complete after 55s",
        f"[5/6] {DASHBOARD}: Destruction errored after 0s: deleting CloudWatch Dashboard (webhooks-local): "
        "AccessDenied",
    ]
    assert re.fullmatch(r"apply: 5/6 resources FAILED in \d+\.\d s, 1 failed", lines[-1])
    assert "\r" not in out.getvalue() and "\x1b" not in out.getvalue()


class Tty(io.StringIO):
    def isatty(self):
        return True


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        self.now += 0.25  # every look at the clock moves it: each event redraws
        return self.now


def frames(text: str) -> list[str]:
    return [f for f in re.split(r"[\r\n]", text) if f.strip()]


def successful_apply() -> list[dict]:
    return [ui.planned(LIFECYCLE, "create"), ui.planned(QUEUE, "create"), ui.planned(ROLE, "update"),
            ui.start(LIFECYCLE), ui.start(QUEUE), ui.start(ROLE, "update"), ui.complete(ROLE, "update"),
            ui.complete(QUEUE, seconds=25), ui.complete(LIFECYCLE, seconds=55), ui.summary(2, 1, 0, "apply")]


@pytest.fixture
def colour(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.setenv("COLUMNS", "160")


def test_on_a_terminal_one_line_is_rewritten_in_place_until_n_of_n(colour):
    out = Tty()
    run_view(TerminalView(out, clock=Clock(), interval=3600), successful_apply())
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line, rewritten with \r
    shown = frames(text)
    plain = [re.sub(r"\x1b\[[0-9;]*m", "", f) for f in shown]
    assert any(f.startswith("apply 0/3 · ") and " · S3 lifecycle configuration archive_lifecycle: " in f
               and " of 55 s, the AWS provider's fixed wait whatever the endpoint (10 s, then ten reads" in f
               for f in plain)
    assert any(f.startswith("apply 1/3 ·") and " · 2 running · " in f for f in plain)
    assert re.fullmatch(r"apply: 3/3 resources done in \d+\.\d s\s*", plain[-1])
    assert all(len(f.rstrip()) <= 159 for f in plain) and any(f.endswith("…") for f in plain)  # clipped, never wrapped
    assert "\x1b[32m\x1b[1m0/3\x1b[0m" in text  # colour on a terminal


def test_no_color_gives_no_escape_codes_at_all(monkeypatch):
    monkeypatch.setenv("NO_COLOR", "1")
    out = Tty()
    run_view(TerminalView(out, clock=Clock(), interval=3600), failing_apply(), outcome="failed")
    text = out.getvalue()
    assert "\x1b" not in text
    assert "\r" in text  # still rewritten in place: \r and spaces only
    # A failure stays on screen as its own line; the progress line goes on below it.
    assert f"{DASHBOARD}: Destruction errored after 0s: deleting CloudWatch Dashboard" in text.split("\n")[0]


def test_the_line_ticks_while_nothing_happens(colour):
    out = Tty()
    view = TerminalView(out, interval=0.01)
    view.begin("apply")
    for line in ui.lines(ui.planned(LIFECYCLE, "create"), ui.start(LIFECYCLE)).splitlines():
        Tracker(view.event, "apply")(line)
    import time

    time.sleep(0.2)
    view.end("interrupted")
    assert len(frames(out.getvalue())) > 5  # redrawn by the clock, not only by events
    assert re.search(r"apply: 0/0 resources interrupted in", out.getvalue())


def test_json_events_are_one_object_a_line_and_only_the_documented_kinds():
    out = io.StringIO()
    run_view(JsonView(out), [ui.refreshed(ROLE), *failing_apply()], outcome="failed")
    events = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {e["event"] for e in events} == {"start", "done", "failed", "summary"}
    assert [e["event"] for e in events].count("done") == 5


def test_a_command_gets_a_line_in_place_on_a_terminal_lines_elsewhere_and_json_beside_them():
    assert isinstance(for_command(err=Tty()), TerminalView)
    assert isinstance(for_command(err=io.StringIO()), LineView)
    both = for_command(as_json=True, err=io.StringIO(), out=io.StringIO())
    assert [type(v) for v in both.views] == [JsonView, LineView] and both.machine_ui
    assert not for_command(verbose=True, err=io.StringIO()).machine_ui  # Terraform's own lines
    assert for_command(verbose=True, as_json=True, err=io.StringIO(), out=io.StringIO()).machine_ui
