"""Structured JSON logs and CloudWatch EMF metrics, written to stdout.

Logs carry ids, provider, outcome, reason and timings, never request bodies,
signature header values or secrets: callers pass only those fields, and
`log()` drops any key in `_FORBIDDEN` as a second line of defence.

Metrics use the Embedded Metric Format: one JSON document per flush, which
CloudWatch Logs turns into metrics in `METRICS_NAMESPACE`, dimension
`provider` (and `provider, reason` for rejections and failures).
"""
from __future__ import annotations

import json
import sys
import time
from collections import defaultdict
from typing import Any

from .contract import Settings

_FORBIDDEN = frozenset({"body", "payload", "headers", "signature", "secret", "secrets", "detail"})


def _service() -> str:
    return Settings.from_env().service_name


def log(level: str, message: str, **fields: Any) -> None:
    record = {
        "level": level,
        "message": message,
        "service": _service(),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
    }
    record.update({k: v for k, v in fields.items() if v is not None and k not in _FORBIDDEN})
    sys.stdout.write(json.dumps(record, default=str, separators=(",", ":")) + "\n")


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
    """Counters per (provider[, reason]) for one invocation; `flush()` writes EMF."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str | None], float] = defaultdict(float)

    def add(self, name: str, provider: str, reason: str | None = None, value: float = 1) -> None:
        self._counts[(name, provider, reason)] += value

    def flush(self) -> None:
        if not self._counts:
            return
        namespace = Settings.from_env().metrics_namespace
        timestamp = int(time.time() * 1000)
        grouped: dict[tuple[str, str | None], dict[str, float]] = defaultdict(dict)
        for (name, provider, reason), value in self._counts.items():
            grouped[(provider, reason)][name] = value
        for (provider, reason), values in grouped.items():
            dimensions = ["provider", "reason"] if reason else ["provider"]
            doc: dict[str, Any] = {
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": namespace,
                            "Dimensions": [dimensions],
                            "Metrics": [{"Name": n, "Unit": "Count"} for n in values],
                        }
                    ],
                },
                "service": _service(),
                "provider": provider,
                **values,
            }
            if reason:
                doc["reason"] = reason
            sys.stdout.write(json.dumps(doc, separators=(",", ":")) + "\n")
        self._counts.clear()
