"""`webhookctl logs [ingest|process] [ID]`: what the functions logged, on AWS and on `local`.

The handlers log one JSON line per request and per batch to stdout (handlers/observability.py):
ids, provider, outcome, timings, never bodies or secrets. On AWS each line is a CloudWatch Logs
event of the function's log group (`/aws/lambda/<function>`; a line written with `print`-style
stdout reaches CloudWatch as the text itself:
https://docs.aws.amazon.com/lambda/latest/dg/python-logging.html), read with FilterLogEvents.
On `local`, `webhookctl dev` runs the handlers in its own process; `FunctionLogs` (set up by
dev next to `for_function`) copies what each invocation writes into one file per function,
`.webhookctl/logs/<env>/<function>.log`, the same lines CloudWatch would hold.

Reading picks lines by time (`--since`), by text (`--grep`) and by delivery: an id argument
matches a line that names it, a webhook id or the provider's delivery id (ingest logs both; the
processor logs webhook ids, so a delivery id also matches as `webhook_id(provider, id)`).
Lines print as JSON (one object a line, `function` and `time` added) or one line per record.
"""
from __future__ import annotations

import contextvars
import datetime as dt
import io
import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

from .errors import WebhookctlError
from .workspace import Workspace

FUNCTIONS = ("ingest", "process")
DEFAULT_SINCE = "1h"
MAX_FILE_BYTES = 10 * 1024 * 1024  # then the file becomes <function>.log.1 (one generation kept)
FOLLOW_POLL_SECONDS = {"local": 0.3, "aws": 2.0}

# --------------------------------------------------------------------------- where local logs live


def local_logs_dir(ws: Workspace) -> Path:
    return ws.work_dir / "logs" / ws.env.name


def log_file(folder: Path, function: str) -> Path:
    return folder / f"{function}.log"


# --------------------------------------------------------------------------- writing them (webhookctl dev)

# The function whose invocation runs in this thread (or task): set by FunctionLogs.wrap.
_FUNCTION: contextvars.ContextVar[str | None] = contextvars.ContextVar("webhookctl_log_function", default=None)


class _Tee(io.TextIOBase):
    """sys.stdout as it was, plus a copy of what an invocation writes into its function's file."""

    def __init__(self, stream: Any, sink: "FunctionLogs"):
        self._stream, self._sink = stream, sink

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        function = _FUNCTION.get()
        if function is not None:
            self._sink.append(function, text)
        return written

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno, ... of the real stream
        return getattr(self._stream, name)


class FunctionLogs:
    """One log file per in-process function; `wrap` marks an invocation's writes as its function's."""

    def __init__(self, folder: Path, max_bytes: int = MAX_FILE_BYTES):
        self.folder, self.max_bytes = folder, max_bytes
        self._files: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._tee: _Tee | None = None
        self._previous: Any = None

    def start(self) -> "FunctionLogs":
        self.folder.mkdir(parents=True, exist_ok=True)
        self._previous = sys.stdout
        self._tee = _Tee(sys.stdout, self)
        sys.stdout = self._tee
        return self

    def wrap(self, function: str, invoke: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
        def logged(event: Any, context: Any) -> Any:
            token = _FUNCTION.set(function)
            try:
                return invoke(event, context)
            finally:
                _FUNCTION.reset(token)

        logged.__wrapped__ = invoke  # type: ignore[attr-defined]
        return logged

    def append(self, function: str, text: str) -> None:
        with self._lock:
            handle = self._files.get(function) or self._open(function)
            handle.write(text)
            handle.flush()
            if handle.tell() >= self.max_bytes:
                handle.close()
                path = log_file(self.folder, function)
                os.replace(path, path.with_name(path.name + ".1"))
                del self._files[function]

    def _open(self, function: str):
        fd = os.open(log_file(self.folder, function), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        handle = self._files[function] = os.fdopen(fd, "a", encoding="utf-8")
        return handle

    def stop(self) -> None:
        if sys.stdout is self._tee:  # someone else replaced it since: leave theirs alone
            sys.stdout = self._previous
        with self._lock:
            for handle in self._files.values():
                handle.close()
            self._files.clear()


# --------------------------------------------------------------------------- one line


@dataclass(frozen=True)
class LogLine:
    function: str
    millis: int  # when it was logged, epoch ms
    text: str  # the line as logged
    record: dict | None  # parsed, when it is JSON

    @property
    def time(self) -> str:
        moment = dt.datetime.fromtimestamp(self.millis / 1000, dt.timezone.utc)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def as_dict(self) -> dict[str, Any]:
        base = self.record if self.record is not None else {"message": self.text}
        return {"function": self.function, "time": self.time, **base}


def parse_line(function: str, text: str, millis: int | None = None) -> LogLine | None:
    """A logged line; its time from CloudWatch (`millis`), else from the record itself."""
    text = text.rstrip("\n")
    if not text.strip():
        return None
    try:
        record = json.loads(text)
    except ValueError:
        record = None
    if not isinstance(record, dict):
        record = None
    if millis is None:
        millis = _record_millis(record)
    return LogLine(function, millis or 0, text, record)


def _record_millis(record: dict | None) -> int | None:
    if not record:
        return None
    emf = (record.get("_aws") or {}).get("Timestamp")
    if isinstance(emf, int):
        return emf
    stamp = record.get("timestamp")
    try:
        return int(dt.datetime.fromisoformat(str(stamp)).timestamp() * 1000)
    except ValueError:
        return None


@dataclass(frozen=True)
class Matcher:
    """Which lines to show: since when, containing which text, naming which delivery."""

    since_millis: int
    grep: str | None = None
    ids: tuple[str, ...] = ()  # any of these (a webhook id, a delivery id and its webhook ids)

    def __call__(self, line: LogLine) -> bool:
        if line.millis < self.since_millis:
            return False
        if self.grep is not None and self.grep not in line.text:
            return False
        return not self.ids or any(i in line.text for i in self.ids)

    def filter_pattern(self) -> str | None:
        """A CloudWatch Logs filter pattern that lets through at least these lines (quoted terms; `?` for any):
        https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html"""
        terms = list(self.ids) if self.ids else ([self.grep] if self.grep else [])
        if not terms or any('"' in t or "\\" in t for t in terms):
            return None
        return " ".join(f'?"{t}"' for t in terms) if len(terms) > 1 else f'"{terms[0]}"'


def delivery_terms(ws: Workspace, ident: str) -> tuple[str, ...]:
    """An id as it may appear in the lines: itself, and the webhook id it is for each provider."""
    from handlers.contract import is_webhook_id, webhook_id

    if is_webhook_id(ident):
        return (ident,)
    return (ident, *sorted(webhook_id(p, ident) for p in ws.config.providers))


# --------------------------------------------------------------------------- reading local files


def _local_lines(folder: Path, function: str) -> Iterator[LogLine]:
    for path in (log_file(folder, function).with_name(f"{function}.log.1"), log_file(folder, function)):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                for text in handle:
                    line = parse_line(function, text)
                    if line is not None:
                        yield line
        except FileNotFoundError:
            continue


def read_local(ws: Workspace, functions: Sequence[str], match: Matcher) -> list[LogLine]:
    folder = local_logs_dir(ws)
    if not any(log_file(folder, f).exists() for f in functions):
        raise WebhookctlError(f"no local logs yet in {folder}: `webhookctl dev` writes them there while it runs")
    lines = [line for f in functions for line in _local_lines(folder, f) if match(line)]
    return sorted(lines, key=lambda line: line.millis)


def follow_local(ws: Workspace, functions: Sequence[str], match: Matcher, stop: threading.Event) -> Iterator[LogLine]:
    """New lines as dev writes them, until `stop` (a file that rotates is reopened)."""
    folder = local_logs_dir(ws)
    tails = {f: _Tail(log_file(folder, f)) for f in functions}
    while not stop.is_set():
        fresh = [line for f, tail in tails.items() for text in tail.read() if (line := parse_line(f, text))]
        for line in sorted(fresh, key=lambda line: line.millis):
            if match(line):
                yield line
        stop.wait(FOLLOW_POLL_SECONDS["local"])


class _Tail:
    """The lines appended to a file since the last read (from its end at first)."""

    def __init__(self, path: Path):
        self.path, self.inode, self.offset = path, None, 0
        if path.exists():
            stat = path.stat()
            self.inode, self.offset = stat.st_ino, stat.st_size

    def read(self) -> list[str]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return []
        if stat.st_ino != self.inode or stat.st_size < self.offset:  # rotated: the new file from its start
            self.inode, self.offset = stat.st_ino, 0
        with open(self.path, encoding="utf-8", errors="replace") as handle:
            handle.seek(self.offset)
            text = handle.read()
        complete, _, _ = text.rpartition("\n")  # a line still being written waits for the next read
        self.offset += len((complete + "\n").encode("utf-8")) if complete else 0
        return complete.split("\n") if complete else []


# --------------------------------------------------------------------------- reading CloudWatch Logs


def log_group(function_name: str) -> str:
    """Lambda's log group for a function (the stack creates it with this name: constructs_lib/function.py)."""
    return f"/aws/lambda/{function_name}"


def read_cloudwatch(logs_client, groups: dict[str, str], match: Matcher, *, start_millis: int | None = None,
                    seen: set[str] | None = None) -> list[LogLine]:
    """FilterLogEvents over each function's group since `start_millis` (default: match.since), merged by time."""
    lines: list[LogLine] = []
    for function, group in groups.items():
        for event in _filter_events(logs_client, group, start_millis or match.since_millis, match.filter_pattern()):
            if seen is not None:
                if event["eventId"] in seen:
                    continue
                seen.add(event["eventId"])
            line = parse_line(function, event.get("message", ""), event.get("timestamp"))
            if line is not None and match(line):
                lines.append(line)
    return sorted(lines, key=lambda line: line.millis)


def _filter_events(logs_client, group: str, start: int, pattern: str | None) -> Iterable[dict]:
    args: dict[str, Any] = {"logGroupName": group, "startTime": start}
    if pattern:
        args["filterPattern"] = pattern
    while True:
        try:
            page = logs_client.filter_log_events(**args)
        except logs_client.exceptions.ResourceNotFoundException:
            return  # no group yet: the function has not logged since it was created
        yield from page.get("events", [])
        token = page.get("nextToken")
        if not token or token == args.get("nextToken"):
            return
        args["nextToken"] = token


def follow_cloudwatch(logs_client, groups: dict[str, str], match: Matcher, stop: threading.Event,
                      seen: set[str]) -> Iterator[LogLine]:
    start = int(time.time() * 1000) - 5000
    while not stop.wait(FOLLOW_POLL_SECONDS["aws"]):
        for line in read_cloudwatch(logs_client, groups, match, start_millis=start, seen=seen):
            start = max(start, line.millis - 5000)  # events arrive a little late: look back, seen dedupes
            yield line


# --------------------------------------------------------------------------- the command's library call


def select_functions(args: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """`logs [ingest|process] [ID...]`: (functions, ids) from the positional arguments."""
    functions = tuple(dict.fromkeys(a for a in args if a in FUNCTIONS)) or FUNCTIONS
    ids = tuple(a for a in args if a not in FUNCTIONS)
    return functions, ids


def matcher(ws: Workspace, *, since: str | None, grep: str | None, ids: Sequence[str],
            now: dt.datetime | None = None) -> Matcher:
    from .events import parse_when

    now = now or dt.datetime.now(dt.timezone.utc)
    start = parse_when(since or DEFAULT_SINCE, now)
    millis = int(dt.datetime.fromisoformat(start).timestamp() * 1000)
    terms = tuple(t for ident in ids for t in delivery_terms(ws, ident))
    return Matcher(since_millis=millis, grep=grep, ids=terms)


def read_logs(ws: Workspace, functions: Sequence[str] = FUNCTIONS, *, since: str | None = None,
              grep: str | None = None, ids: Sequence[str] = (), logs_client=None) -> list[dict[str, Any]]:
    """The matching lines, oldest first, as plain data (what `logs --json` prints, one a line)."""
    return [line.as_dict() for line in lines(ws, functions, matcher(ws, since=since, grep=grep, ids=ids),
                                              logs_client=logs_client)]


def lines(ws: Workspace, functions: Sequence[str], match: Matcher, *, logs_client=None) -> list[LogLine]:
    if ws.env.is_emulated:
        return read_local(ws, functions, match)
    return read_cloudwatch(logs_client or _logs_client(ws), _groups(ws, functions), match)


def follow(ws: Workspace, functions: Sequence[str], match: Matcher, stop: threading.Event, *,
           logs_client=None) -> Iterator[LogLine]:
    if ws.env.is_emulated:
        yield from follow_local(ws, functions, match, stop)
    else:
        yield from follow_cloudwatch(logs_client or _logs_client(ws), _groups(ws, functions), match, stop, set())


def _groups(ws: Workspace, functions: Sequence[str]) -> dict[str, str]:
    from .stack_ops import known_outputs

    outputs = known_outputs(ws)
    names = {"ingest": outputs.ingest_function_name, "process": outputs.process_function_name}
    return {f: log_group(names[f]) for f in functions}


def _logs_client(ws: Workspace):
    from .operations import env_client

    return env_client(ws, "logs")


# --------------------------------------------------------------------------- for people

_QUIET = frozenset({"level", "message", "service", "timestamp", "_aws"})


def human(line: LogLine) -> str | None:
    """One line per record: time, function, level, message, then the fields; None for metrics-only lines."""
    record = line.record
    if record is None:
        return f"{line.time}  {line.function:<7}  {line.text}"
    if "message" not in record:
        return None  # an EMF document alone: numbers for CloudWatch metrics, not a log line
    fields = " ".join(f"{k}={_compact(v)}" for k, v in record.items() if k not in _QUIET)
    return f"{line.time}  {line.function:<7}  {record.get('level', ''):<7}  {record['message']}  {fields}".rstrip()


def _compact(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)
