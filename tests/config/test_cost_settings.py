"""[tracing] and [archive]: defaults, per-environment tracing, every bad field named."""
from __future__ import annotations

import tomllib

import pytest

from config import Archive, ConfigError, Tracing, load, parse


def committed(project_root) -> dict:
    return tomllib.loads((project_root / "webhookctl.toml").read_text())


def test_committed_settings(project_root):
    config = load(project_root / "webhookctl.toml")
    assert config.tracing == Tracing(sample_rate=0.01, reservoir_per_second=0, trace_process=False)
    assert config.archive == Archive(transition_days=30, transition_min_bytes=262_144, storage_class="GLACIER",
                                     noncurrent_days=7, eventbridge_archive_days=None)
    assert all(env.tracing == config.tracing for env in config.environments.values())


def test_a_file_without_the_sections_gets_the_defaults(project_root):
    raw = committed(project_root)
    del raw["tracing"], raw["archive"]
    config = parse(raw)
    assert (config.tracing, config.archive) == (Tracing(), Archive())


def test_an_environment_overrides_tracing_field_by_field(project_root):
    raw = committed(project_root)
    raw["environments"]["dev"]["tracing"] = {"sample_rate": 0.5}
    config = parse(raw)
    assert config.environment("dev").tracing == Tracing(sample_rate=0.5, reservoir_per_second=0, trace_process=False)
    assert config.environment("prod").tracing == config.tracing


def test_every_bad_field_is_named(project_root):
    raw = committed(project_root)
    raw["tracing"] = {"sample_rate": 5, "reservoir_per_second": -1, "trace_process": "yes", "colour": 1}
    raw["archive"] = {"transition_days": 0, "storage_class": "STANDARD", "noncurrent_days": True, "x": 1}
    raw["environments"]["dev"]["tracing"] = "all"
    with pytest.raises(ConfigError) as err:
        parse(raw)
    assert err.value.problems == [
        "tracing.colour: unknown field (expected one of: reservoir_per_second, sample_rate, trace_process)",
        "tracing.sample_rate: must be a fraction from 0 to 1 (0.01 traces 1% of requests)",
        "tracing.reservoir_per_second: must be a whole number from 0 to 10000 (traces per second before the rate applies)",
        "tracing.trace_process: must be true or false",
        "environments.dev.tracing: must be a table: { sample_rate = 0.01, reservoir_per_second = 0, trace_process = false }",
        "archive.x: unknown field (expected one of: eventbridge_archive_days, noncurrent_days, storage_class, "
        "transition_days, transition_min_bytes)",
        "archive.transition_days: must be a whole number from 1 to 36500",
        "archive.noncurrent_days: must be a whole number from 1 to 36500",
        "archive.storage_class: must be one of: GLACIER_IR, GLACIER, DEEP_ARCHIVE",
    ]


def test_expiry_before_the_storage_classes_minimum_duration_is_refused(project_root):
    # Glacier bills 90 days (Deep Archive 180) whatever happens sooner: expiring at 100 days an object
    # moved there at 30 would pay for days it no longer exists.
    raw = committed(project_root)
    raw["environments"]["prod"]["archive_expiration_days"] = 100
    with pytest.raises(ConfigError) as err:
        parse(raw)
    assert err.value.problems == [
        "environments.prod.archive_expiration_days: 100 deletes objects moved to GLACIER after 30 days before its "
        "90-day minimum (billed all the same): at least 120, or a later [archive] transition_days"]
    raw["archive"]["storage_class"] = "DEEP_ARCHIVE"
    raw["environments"]["prod"]["archive_expiration_days"] = 210
    assert parse(raw).environment("prod").archive_expiration_days == 210
    raw["archive"].pop("transition_days")
    raw["archive"]["transition_days"] = 31
    with pytest.raises(ConfigError):
        parse(raw)
