"""What people and tools see while Terraform works: progress, events, and why a resource is slow.

Terraform runs with `-json`, its machine-readable UI: one JSON message per line (`version`,
`planned_change`, `change_summary`, `refresh_complete`, `apply_start`, `apply_progress`,
`apply_complete`, `apply_errored`, `diagnostic`, ...):
https://developer.hashicorp.com/terraform/internals/machine-readable-ui. `Tracker` folds
those messages into events (a resource started, done, failed; the summary) for a view:

- `TerminalView`: one line rewritten in place (stderr is a terminal): done/total, elapsed
  time, what runs now and, for a resource the AWS provider holds on purpose, for how long
  and why;
- `LineView`: plain lines with counts (stderr is a CI log or a pipe);
- `JsonView`: the events, one JSON object per line on stdout (`--json`);
- `RawView`: every line Terraform prints, unfiltered (`--verbose`).

No progress-bar library: the one line needs `\\r`, a clip to the terminal's width and a
ticking clock, which a library would add a dependency for and still not know why a
resource waits. The line is rewritten with `\\r` and spaces only (no terminal escape codes),
so NO_COLOR output holds none at all.
"""
from __future__ import annotations

import json
import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, TextIO

from .output import paint, terminal_width

Event = dict[str, Any]


# --------------------------------------------------------------------------- the provider's fixed waits

@dataclass(frozen=True)
class Wait:
    """How long the AWS provider holds a resource on purpose, whatever the endpoint, and why."""

    label: str
    seconds: int
    why: str

    def sentence(self) -> str:
        return f"{self.label}: the AWS provider waits {self.seconds} s, whatever the endpoint ({self.why})"


# The AWS provider 5.100.0's waits (hashicorp/terraform-provider-aws, measured against moto and AWS alike):
# - internal/service/sqs: waitQueueAttributesPropagated wants 6 matching reads, MinTimeout 5 s;
#   the queue policy resource uses the same waiter on create and on delete;
# - internal/service/s3/bucket_lifecycle_configuration.go: waitLifecycleConfigEquals, Delay 10 s,
#   then 10 matching reads with PollInterval 5 s;
# - internal/service/lambda/function.go: waitFunctionCreated, Delay 5 s before the first State read.
PROVIDER_WAITS: dict[tuple[str, str], Wait] = {
    ("aws_sqs_queue", "create"): Wait(
        "SQS queue", 25, "six reads of the new queue's attributes, 5 s apart, must agree"),
    ("aws_sqs_queue_policy", "create"): Wait(
        "SQS queue policy", 25, "six reads of the queue's policy, 5 s apart, must agree"),
    ("aws_sqs_queue_policy", "delete"): Wait(
        "SQS queue policy", 25, "six reads, 5 s apart, must find the policy gone"),
    ("aws_s3_bucket_lifecycle_configuration", "create"): Wait(
        "S3 lifecycle configuration", 55, "10 s, then ten reads of the rules, 5 s apart, must agree"),
    ("aws_lambda_function", "create"): Wait(
        "Lambda function (zip)", 5, "5 s before its first check that the function is Active"),
}


def provider_wait(resource_type: str, action: str) -> Wait | None:
    return PROVIDER_WAITS.get((resource_type, action))


# --------------------------------------------------------------------------- Terraform's messages -> events

COUNTED = {"create": 1, "update": 1, "delete": 1, "replace": 2}  # a replacement is a delete and a create
VERBS = {"create": "creating", "update": "updating", "delete": "destroying"}


def parse(line: str) -> dict[str, Any] | None:
    """A machine-readable UI message, or None for any other line (human output, a crash)."""
    if not line.startswith("{"):
        return None
    try:
        message = json.loads(line)
    except ValueError:
        return None
    return message if isinstance(message, dict) and "type" in message else None


def _message(text: str) -> str:
    """Terraform's own words without the trailing `[id=...]` (a queue URL, an ARN: long and noisy)."""
    return text.split(" [id=", 1)[0]


class Tracker:
    """Terraform's lines in (as `on_line`); events out to `emit`; counts and errors kept for the caller."""

    def __init__(self, emit: Callable[[Event], None], operation: str, *, raw: Callable[[str], None] | None = None,
                 plan_events: bool = False, clock: Callable[[], float] = time.monotonic):
        """plan_events: also tell the plan Terraform makes in this run (destroy plans and applies in one)."""
        self.emit, self.operation, self.raw, self.clock = emit, operation, raw, clock
        self.plan_events = plan_events
        self.started = clock()
        self.total = self.done = self.refreshed = self.replacements = 0
        self.failed: list[str] = []
        self.errors: list[dict[str, Any]] = []  # error diagnostics, in order
        self.stray: list[str] = []  # lines that are not UI messages (a crash, a usage error)
        self.changes: dict[str, int] = {}  # the last change_summary
        self._waiting_for_reason: dict[str, Event] = {}  # a failed step, until its diagnostic names why

    def __call__(self, line: str) -> None:
        if self.raw is not None:
            self.raw(line)
        message = parse(line)
        if message is None:
            if line.strip():
                self.stray.append(line)
            return
        handler = getattr(self, f"_on_{message['type']}", None)
        if handler is not None:
            handler(message)

    def _on_version(self, message: dict[str, Any]) -> None:
        # "Reject any input which reports an unsupported major version" (the UI reference above).
        if str(message.get("ui", "1")).split(".")[0] != "1":
            self.emit({"event": "diagnostic", "severity": "warning",
                       "summary": f"Terraform's machine-readable UI is version {message.get('ui')}; webhookctl reads "
                                  "1.x, so progress may be incomplete"})

    def _on_planned_change(self, message: dict[str, Any]) -> None:
        change = message.get("change") or {}
        self.total += COUNTED.get(change.get("action"), 0)
        self.replacements += change.get("action") == "replace"
        if self.plan_events and change.get("action") in COUNTED:
            resource = change.get("resource") or {}
            event = {"event": "planned", "address": resource.get("addr", "?"),
                     "resource_type": resource.get("resource_type", "?"), "action": change["action"]}
            if change.get("reason"):
                event["reason"] = change["reason"]
            self.emit(event)

    def _on_change_summary(self, message: dict[str, Any]) -> None:
        self.changes = dict(message.get("changes") or {})
        if self.plan_events and self.changes.get("operation") == "plan":
            add, change, remove = (self.changes.get(k, 0) for k in ("add", "change", "remove"))
            self.emit({"event": "plan", "add": add, "change": change, "destroy": remove,
                       "replace": self.replacements, "changes": bool(add or change or remove),
                       "operations": add + change + remove})

    def _on_refresh_complete(self, message: dict[str, Any]) -> None:
        self.refreshed += 1
        self.emit({"event": "refreshed", "count": self.refreshed})

    def _step(self, message: dict[str, Any]) -> Event | None:
        hook = message.get("hook") or {}
        action = hook.get("action")
        if action not in VERBS:
            return None  # a data source read, a no-op
        resource = hook.get("resource") or {}
        return {"address": resource.get("addr", "?"), "resource_type": resource.get("resource_type", "?"),
                "action": action, "message": _message(message.get("@message", ""))}

    def _on_apply_start(self, message: dict[str, Any]) -> None:
        step = self._step(message)
        if step is None:
            return
        wait = provider_wait(step["resource_type"], step["action"])
        event = {"event": "start", **step, "done": self.done, "total": self.total}
        if wait is not None:
            event["wait"] = {"seconds": wait.seconds, "why": wait.sentence()}
        self.emit(event)

    def _on_apply_complete(self, message: dict[str, Any]) -> None:
        step = self._step(message)
        if step is None:
            return
        self.done += 1
        self.emit({"event": "done", **step, "seconds": (message.get("hook") or {}).get("elapsed_seconds"),
                   "done": self.done, "total": self.total})

    def _on_apply_errored(self, message: dict[str, Any]) -> None:
        step = self._step(message)
        if step is None:
            return
        self.failed.append(step["address"])
        self._waiting_for_reason[step["address"]] = {"event": "failed", **step, "error": None,
                                                     "done": self.done, "total": self.total}

    def _on_diagnostic(self, message: dict[str, Any]) -> None:
        diag = message.get("diagnostic") or {}
        if diag.get("severity") == "error":
            self.errors.append(diag)
        failed = self._waiting_for_reason.pop(diag.get("address") or "", None)
        if failed is not None and diag.get("severity") == "error":
            self.emit({**failed, "error": diag.get("summary"), "done": self.done, "total": self.total})
            return
        event = {"event": "diagnostic", "severity": diag.get("severity", "error"), "summary": diag.get("summary", "")}
        if diag.get("detail"):
            event["detail"] = diag["detail"]
        if diag.get("address"):
            event["address"] = diag["address"]
        self.emit(event)

    def finish(self, outcome: str) -> None:
        """The failures still waiting for a reason, then (apply and destroy) the summary event."""
        for failed in self._waiting_for_reason.values():
            self.emit({**failed, "done": self.done, "total": self.total})
        self._waiting_for_reason.clear()
        if self.operation == "plan":
            return
        total = self.total
        if outcome == "ok" and self.changes.get("operation") in ("apply", "destroy"):
            # What Terraform did: a planned update whose values, once known, equal the old ones is skipped.
            total = sum(self.changes.get(k, 0) for k in ("add", "change", "remove"))
        self.emit({"event": "summary", "operation": self.operation, "ok": outcome == "ok",
                   "interrupted": outcome == "interrupted", "done": self.done, "total": total, "planned": self.total,
                   "failed": len(self.failed), "add": self.changes.get("add", 0),
                   "change": self.changes.get("change", 0), "destroy": self.changes.get("remove", 0),
                   "seconds": round(self.clock() - self.started, 1)})

    def error_text(self) -> str:
        """Terraform's errors as it would print them (`Error: summary` then the detail), then stray lines."""
        parts = [f"Error: {d.get('summary', '')}\n{d.get('detail', '')}" for d in self.errors]
        return "\n".join(parts + self.stray)


# --------------------------------------------------------------------------- views

class View:
    """Shows one command's Terraform work. `begin`/`end` bracket each Terraform run (a phase)."""

    machine_ui = True  # Terraform runs with -json for this view

    def __init__(self, stream: TextIO | None = None, *, plan_stream: TextIO | None = None, markdown: bool = False):
        self.stream = stream if stream is not None else sys.stderr
        self.plan_stream, self.markdown = plan_stream, markdown

    def begin(self, operation: str) -> None:
        pass

    def event(self, event: Event) -> None:
        pass

    def raw(self, line: str) -> None:
        pass

    def end(self, outcome: str) -> None:
        """outcome: "ok", "failed" or "interrupted" (Ctrl-C, SIGTERM)."""

    def plan(self, summary) -> None:  # a cli.plan_summary.PlanSummary
        """The plan summary as a table, where this view puts it (stdout for `plan`, stderr for `deploy`)."""
        if self.plan_stream is None:
            return
        from .plan_summary import render

        self.plan_stream.write(render(summary, markdown=self.markdown, stream=self.plan_stream) + "\n")
        self.plan_stream.flush()

    def _write(self, text: str) -> None:
        self.stream.write(text)
        self.stream.flush()


def _seconds(value: float) -> str:
    return f"{value:.0f} s" if value >= 10 else f"{value:.1f} s"


def _final(operation: str, outcome: str, done: int, total: int, failed: int, refreshed: int, elapsed: float,
           planned: int | None = None) -> str:
    word = {"ok": "done", "failed": "FAILED", "interrupted": "interrupted"}[outcome]
    if operation == "plan":
        return f"plan: {word} in {_seconds(elapsed)}" + (f" ({refreshed} resources read)" if refreshed else "")
    skipped = (planned or total) - total
    return (f"{operation}: {done}/{total} resources {word} in {_seconds(elapsed)}"
            + (f", {failed} failed" if failed else "")
            + (f" ({skipped} planned update{'s' if skipped > 1 else ''} needed no change once the new values were "
               "known)" if skipped > 0 else ""))


class LineView(View):
    """Plain lines with counts: one per finished resource, one when a slow one starts, and the total."""

    def __init__(self, stream: TextIO | None = None, *, plan_stream: TextIO | None = None, markdown: bool = False):
        super().__init__(stream, plan_stream=plan_stream, markdown=markdown)
        self.begin("plan")

    def begin(self, operation: str) -> None:
        self.operation, self.started, self.failed, self.done, self.total, self.refreshed = (
            operation, time.monotonic(), 0, 0, 0, 0)
        self.planned: int | None = None

    def event(self, event: Event) -> None:
        kind = event["event"]
        if kind == "refreshed":
            self.refreshed = event["count"]
            return
        if kind in ("start", "done", "failed", "summary"):
            self.done, self.total = event["done"], event["total"]
            self.planned = event.get("planned", self.planned)
        count = f"[{event.get('done', 0):>{len(str(event.get('total', 0)))}}/{event.get('total', 0)}]"
        if kind == "start" and "wait" in event:
            self._write(f"{count} {event['message']} {event['wait']['why']}\n")
        elif kind == "done":
            self._write(f"{count} {event['message']}\n")
        elif kind == "failed":
            self.failed += 1
            self._write(f"{count} {event['message']}: {event.get('error') or 'failed'}\n")
        elif kind == "diagnostic" and event["severity"] == "warning":
            self._write(f"Warning: {event['summary']}\n")

    def end(self, outcome: str) -> None:
        self._write(_final(self.operation, outcome, self.done, self.total, self.failed, self.refreshed,
                           time.monotonic() - self.started, self.planned) + "\n")


class TerminalView(View):
    """One line rewritten in place with `\\r`, redrawn every `interval` so the elapsed time moves."""

    REDRAW = 0.1  # seconds between redraws caused by events

    def __init__(self, stream: TextIO | None = None, *, plan_stream: TextIO | None = None, markdown: bool = False,
                 clock: Callable[[], float] = time.monotonic, interval: float = 0.5):
        super().__init__(stream, plan_stream=plan_stream, markdown=markdown)
        self.clock, self.interval = clock, interval
        self.lock = threading.RLock()
        self.shown = 0  # visible width of the line on screen
        self.drawn = float("-inf")  # when the line was last drawn
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._reset("plan")

    def _reset(self, operation: str) -> None:
        self.operation, self.started = operation, self.clock()
        self.done = self.total = self.failed = self.refreshed = 0
        self.planned: int | None = None
        self.running: dict[str, tuple[Event, float]] = {}

    def begin(self, operation: str) -> None:
        with self.lock:
            self._reset(operation)
            self._stop = threading.Event()
            self._draw()
        self._ticker = threading.Thread(target=self._tick, name="webhookctl-progress", daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            with self.lock:
                self._draw()

    def event(self, event: Event) -> None:
        with self.lock:
            kind = event["event"]
            if kind == "refreshed":
                self.refreshed = event["count"]
            elif kind == "start":
                self.running[event["address"]] = (event, self.clock())
            elif kind in ("done", "failed"):
                self.running.pop(event["address"], None)
            if kind in ("start", "done", "failed", "summary"):
                self.done, self.total = event["done"], event["total"]
                self.planned = event.get("planned", self.planned)
            if kind == "failed":
                self.failed += 1
                self._above(f"{event['message']}: {event.get('error') or 'failed'}", fg="red")
            elif kind == "diagnostic" and event["severity"] == "warning":
                self._above(f"Warning: {event['summary']}", fg="yellow")
            # A burst of events is drawn by the ticker, but the line always shows reaching N/N.
            if self.clock() - self.drawn >= self.REDRAW or (self.total and self.done == self.total):
                self._draw()

    def end(self, outcome: str) -> None:
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(2)
        with self.lock:
            text = _final(self.operation, outcome, self.done, self.total, self.failed, self.refreshed,
                          self.clock() - self.started, self.planned)
            self._put(text, text if outcome == "ok" else paint(text, self.stream, fg="red"))
            self._write("\n")
            self.shown = 0

    def _above(self, text: str, **style: Any) -> None:
        """A line that stays (a failure, a warning), printed over the progress line, which is redrawn after."""
        self._put(text, paint(text, self.stream, **style))
        self._write("\n")
        self.shown, self.drawn = 0, float("-inf")

    def _draw(self) -> None:
        width = terminal_width(self.stream) - 1  # the last column would wrap on some terminals
        text = " · ".join(part for part in (self._head(), self._now()) if part)
        text = text if len(text) <= width else text[: max(0, width - 1)] + "…"
        count = f"{self.done}/{self.total}"
        painted = text.replace(count, paint(count, self.stream, fg="green", bold=True), 1) if self.total else text
        self._put(text, painted)

    def _put(self, plain: str, painted: str) -> None:
        pad = " " * max(0, self.shown - len(plain))
        self._write("\r" + painted + pad)
        self.shown = len(plain)
        self.drawn = self.clock()

    def _head(self) -> str:
        elapsed = _seconds(self.clock() - self.started)
        if self.total:
            running = f" · {len(self.running)} running" if len(self.running) > 1 else ""
            return f"{self.operation} {self.done}/{self.total} · {elapsed}{running}"
        if self.operation == "apply":  # Terraform loads the saved plan and starts the provider first
            return f"apply · {elapsed} · starting"
        return f"{self.operation} · {elapsed} · planning" + (
            f", {self.refreshed} resources read" if self.refreshed else "")

    def _now(self) -> str:
        """What runs now: the step the AWS provider holds longest (and why), else the latest started."""
        if not self.running:
            return ""
        now = self.clock()

        def remaining(item: tuple[Event, float]) -> float:
            event, started = item
            return event.get("wait", {}).get("seconds", 0) - (now - started)

        items = list(self.running.values())
        slow = [i for i in items if "wait" in i[0]]
        event, started = max(slow, key=remaining) if slow else max(items, key=lambda i: i[1])
        wait = provider_wait(event["resource_type"], event["action"])
        if wait is None:
            return f"{VERBS[event['action']]} {event['address']} ({_seconds(now - started)})"
        # The resource's name without cdktf's unique suffix (`archive_lifecycle_3634E18A` -> `archive_lifecycle`).
        name = re.sub(r"_[0-9A-F]{8}$", "", event["address"].split(".", 1)[-1])
        return (f"{wait.label} {name}: {_seconds(now - started)} of {wait.seconds} s, the AWS provider's fixed "
                f"wait whatever the endpoint ({wait.why})")


class JsonView(View):
    """The events, one JSON object per line on stdout, for CI and tools."""

    EXPORTED = {"planned", "plan", "start", "done", "failed", "diagnostic", "summary", "error"}

    def __init__(self, out: TextIO | None = None):
        super().__init__(out if out is not None else sys.stdout)

    def event(self, event: Event) -> None:
        if event["event"] in self.EXPORTED:
            self._write(json.dumps(event, sort_keys=True) + "\n")

    def plan(self, summary) -> None:
        for event in summary.as_events():
            self.event(event)


class RawView(View):
    """Every line Terraform prints, as it prints it (`--verbose`): its human output, or with --json its JSON."""

    def __init__(self, stream: TextIO | None = None, *, plan_stream: TextIO | None = None, markdown: bool = False,
                 machine_ui: bool = False):
        super().__init__(stream, plan_stream=plan_stream, markdown=markdown)
        self.machine_ui = machine_ui

    def raw(self, line: str) -> None:
        self._write(line + "\n")


class Tee(View):
    """Several views of the same run (the JSON events on stdout, progress for people on stderr)."""

    def __init__(self, views: Iterable[View]):
        self.views = list(views)
        self.machine_ui = all(v.machine_ui for v in self.views)

    def begin(self, operation: str) -> None:
        for v in self.views:
            v.begin(operation)

    def event(self, event: Event) -> None:
        for v in self.views:
            v.event(event)

    def raw(self, line: str) -> None:
        for v in self.views:
            v.raw(line)

    def end(self, outcome: str) -> None:
        for v in self.views:
            v.end(outcome)

    def plan(self, summary) -> None:
        for v in self.views:
            v.plan(summary)


def for_command(*, as_json: bool = False, verbose: bool = False, markdown: bool = False,
                plan_stream: TextIO | None = None, err: TextIO | None = None, out: TextIO | None = None) -> View:
    """The view a command shows: progress for people on stderr (a line in place on a terminal, plain
    lines elsewhere, Terraform's own lines with --verbose), plus the JSON events on stdout with --json."""
    err = err if err is not None else sys.stderr
    if verbose:
        human: View = RawView(err, plan_stream=plan_stream, markdown=markdown, machine_ui=as_json)
    elif _isatty(err):
        human = TerminalView(err, plan_stream=plan_stream, markdown=markdown)
    else:
        human = LineView(err, plan_stream=plan_stream, markdown=markdown)
    return Tee([JsonView(out), human]) if as_json else human


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
