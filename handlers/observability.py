"""Structured JSON logs and CloudWatch EMF metrics, written to stdout.

Logs carry ids, provider, outcome, reason and timings, never request bodies,
signature header values or secrets: callers pass only those fields, and
`log()` drops any key in `_FORBIDDEN` as a second line of defence.

Metrics use the Embedded Metric Format
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
one JSON document per (provider, reason) per flush, which CloudWatch Logs turns
into metrics named by `contract.Metric` in `METRICS_NAMESPACE`. Each document
declares the dimension sets `[service]`, `[service, provider]` and, where there
is a reason, `[service, provider, reason]`; CloudWatch records every value once
per set, so an alarm on `{service: <service_name>}` reads the total across
providers and reasons, and a dashboard can still split it.
"""
from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from typing import Any

from .contract import METRIC_DIMENSION_PROVIDER, METRIC_DIMENSION_REASON, METRIC_DIMENSION_SERVICE, Settings

_FORBIDDEN = frozenset({"body", "payload", "headers", "signature", "secret", "secrets", "detail"})


def _service() -> str:
    return Settings.from_env().service_name


def log(level: str, message: str, **fields: Any) -> None:
    _write(log_record(level, message, **fields))


def log_record(level: str, message: str, service: str | None = None, **fields: Any) -> dict[str, Any]:
    record = {
        "level": level,
        "message": message,
        "service": service or _service(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
    }
    record.update({k: v for k, v in fields.items() if v is not None and k not in _FORBIDDEN})
    return record


def _write(doc: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(doc, default=str, separators=(",", ":")) + "\n")


class Timer:
    """Millisecond timings for the `timings` log field."""

    def __init__(self) -> None:
        self._start = time.perf_counter()
        self._last = self._start
        self.timings: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.timings[name] = round((now - self._last) * 1000, 2)
        self._last = now

    def total(self) -> dict[str, float]:
        self.timings["total_ms"] = round((time.perf_counter() - self._start) * 1000, 2)
        return self.timings


class Metrics:
    """Counters per (metric, provider[, reason]) for one invocation; `flush()` writes EMF."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str | None], float] = defaultdict(float)
        self._record: tuple[str, str, dict[str, Any]] | None = None

    def log(self, level: str, message: str, **fields: Any) -> None:
        """The invocation's log line, written by `flush()` inside its EMF document when there is
        exactly one (EMF documents are log events too, and CloudWatch Logs bills each event:
        docs/cost.md), on its own line otherwise."""
        self._record = (level, message, fields)

    def add(self, name: str, provider: str, reason: str | None = None, value: float = 1) -> None:
        self._counts[(name, provider, reason)] += value

    def flush(self) -> None:
        pending, self._record = self._record, None
        if not self._counts and pending is None:
            return
        settings = Settings.from_env()
        record = None
        if pending is not None:
            level, message, fields = pending
            record = log_record(level, message, service=settings.service_name, **fields)
        if not self._counts:
            _write(record)
            return
        timestamp = int(time.time() * 1000)
        grouped: dict[tuple[str, str | None], dict[str, float]] = defaultdict(dict)
        for (name, provider, reason), value in self._counts.items():
            grouped[(provider, reason)][name] = value
        if record is not None and len(grouped) > 1:
            _write(record)
            record = None
        for (provider, reason), values in grouped.items():
            doc = emf_document(settings.metrics_namespace, settings.service_name, provider, reason, values, timestamp)
            _write({**record, **doc} if record is not None else doc)  # the metrics' own fields win
        self._counts.clear()


def emf_document(namespace: str, service: str, provider: str, reason: str | None, values: dict[str, float],
                 timestamp: int) -> dict[str, Any]:
    """One EMF document: the values under every dimension set the alarms and dashboards read."""
    dimensions = {METRIC_DIMENSION_SERVICE: service, METRIC_DIMENSION_PROVIDER: provider}
    sets = [[METRIC_DIMENSION_SERVICE], [METRIC_DIMENSION_SERVICE, METRIC_DIMENSION_PROVIDER]]
    if reason:
        dimensions[METRIC_DIMENSION_REASON] = reason
        sets.append([METRIC_DIMENSION_SERVICE, METRIC_DIMENSION_PROVIDER, METRIC_DIMENSION_REASON])
    directive = {"Namespace": namespace, "Dimensions": sets,
                 "Metrics": [{"Name": name, "Unit": "Count"} for name in values]}
    return {"_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [directive]}, **dimensions, **values}
