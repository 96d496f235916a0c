"""`[tracing]` and `[archive]`: the settings that decide what X-Ray and the archive cost.

Kept apart from the loader's other sections; `loader.parse` calls these and reports
their problems with every other one (docs/cost.md says how to choose the values).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from .schema import ARCHIVE_STORAGE_CLASSES, Archive, Environment, Tracing

TRACING_KEYS = {"sample_rate", "reservoir_per_second", "trace_process"}
ARCHIVE_KEYS = {"transition_days", "transition_min_bytes", "storage_class", "noncurrent_days",
                "eventbridge_archive_days"}


def parse_tracing(p: Any, where: str, raw: Any, base: Tracing) -> Tracing:
    """A `[tracing]` table (or an environment's `tracing = {...}`) over `base`."""
    if not isinstance(raw, dict):
        p.add(where, "must be a table: { sample_rate = 0.01, reservoir_per_second = 0, trace_process = false }")
        return base
    p_unknown(p, where, raw, TRACING_KEYS)
    values: dict[str, Any] = {}
    rate = raw.get("sample_rate", base.sample_rate)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate <= 1:
        p.add(f"{where}.sample_rate", "must be a fraction from 0 to 1 (0.01 traces 1% of requests)")
    else:
        values["sample_rate"] = float(rate)
    reservoir = raw.get("reservoir_per_second", base.reservoir_per_second)
    if isinstance(reservoir, bool) or not isinstance(reservoir, int) or not 0 <= reservoir <= 10_000:
        p.add(f"{where}.reservoir_per_second", "must be a whole number from 0 to 10000 (traces per second before the rate applies)")
    else:
        values["reservoir_per_second"] = reservoir
    process = raw.get("trace_process", base.trace_process)
    if not isinstance(process, bool):
        p.add(f"{where}.trace_process", "must be true or false")
    else:
        values["trace_process"] = process
    return dataclasses.replace(base, **values)


def with_environment_tracing(p: Any, raw_environments: Any, environments: Mapping[str, Environment],
                             tracing: Tracing) -> dict[str, Environment]:
    """Each environment with `[tracing]` and its own `tracing = {...}` over it."""
    raw_environments = raw_environments if isinstance(raw_environments, dict) else {}
    resolved = {}
    for name, env in environments.items():
        table = raw_environments.get(name) or {}
        own = table.get("tracing", {}) if isinstance(table, dict) else {}
        resolved[name] = dataclasses.replace(
            env, tracing=parse_tracing(p, f"environments.{name}.tracing", own, tracing))
    return resolved


def parse_archive(p: Any, raw: Any, environments: Mapping[str, Environment]) -> Archive:
    """`[archive]`, checked against each environment's `archive_expiration_days`."""
    if not isinstance(raw, dict):
        p.add("archive", "must be a table")
        return Archive()
    p_unknown(p, "archive", raw, ARCHIVE_KEYS)
    values: dict[str, Any] = {}
    for key, low, high in (("transition_days", 1, 36_500), ("transition_min_bytes", 0, 5 * 1024 ** 4),
                           ("noncurrent_days", 1, 36_500), ("eventbridge_archive_days", 0, 36_500)):
        if key in raw:
            value = raw[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                p.add(f"archive.{key}", f"must be a whole number from {low} to {high}")
            else:
                values[key] = value
    if "storage_class" in raw:
        if raw["storage_class"] in ARCHIVE_STORAGE_CLASSES:
            values["storage_class"] = raw["storage_class"]
        else:
            p.add("archive.storage_class", f"must be one of: {', '.join(ARCHIVE_STORAGE_CLASSES)}")
    archive = Archive(**values)
    for name, env in environments.items():
        _check_expiry(p, f"environments.{name}.archive_expiration_days", env.archive_expiration_days, archive)
    return archive


def _check_expiry(p: Any, where: str, expiry: int | None, archive: Archive) -> None:
    """An object must stay its storage class's minimum duration, or it is billed for it all the same."""
    if expiry is None or archive.transition_days is None:
        return
    least = archive.transition_days + ARCHIVE_STORAGE_CLASSES[archive.storage_class]
    if expiry < least:
        p.add(where, f"{expiry} deletes objects moved to {archive.storage_class} after "
              f"{archive.transition_days} days before its {ARCHIVE_STORAGE_CLASSES[archive.storage_class]}-day "
              f"minimum (billed all the same): at least {least}, or a later [archive] transition_days")


def p_unknown(p: Any, where: str, table: Mapping[str, Any], allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            p.add(f"{where}.{key}", f"unknown field (expected one of: {', '.join(sorted(allowed))})")
