"""webhookctl.toml: the committed example loads; every bad field is named, all at once."""
from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from config import SCHEMES, ConfigError, load, parse

ROOT_CONFIG = "webhookctl.toml"


def committed(project_root):
    return tomllib.loads((project_root / ROOT_CONFIG).read_text())


def test_committed_config_has_one_provider_per_scheme(project_root):
    config = load(project_root / ROOT_CONFIG)
    assert sorted(p.scheme for p in config.providers.values()) == sorted(SCHEMES)
    assert config.providers["acme"].scheme == "hmac-sha256"
    assert {"local", "dev", "prod"} <= set(config.environments)


def test_local_is_emulated_with_local_state_and_others_use_s3(project_root):
    config = load(project_root / ROOT_CONFIG)
    assert config.environments["local"].is_emulated
    assert config.environments["local"].backend.type == "local"
    prod = config.environments["prod"]
    assert not prod.is_emulated and prod.protect
    assert (prod.backend.type, prod.backend.use_lockfile) == ("s3", True)
    # Each environment keeps its own state object.
    keys = {(e.backend.bucket, e.backend.key) for e in config.environments.values() if e.backend.type == "s3"}
    assert len(keys) == 2


def test_routes_only_match_published_events(project_root):
    config = load(project_root / ROOT_CONFIG)
    assert all(r.pattern["source"] == ["webhook.processor"] for r in config.routes)


def test_one_bad_field_is_named(project_root):
    raw = committed(project_root)
    raw["providers"]["stripe"]["scheme"] = "strype"
    with pytest.raises(ConfigError) as err:
        parse(raw, "webhookctl.toml")
    assert str(err.value).startswith("webhookctl.toml: providers.stripe.scheme: must be one of: stripe, github")


def test_all_problems_are_reported_together(project_root):
    raw = committed(project_root)
    raw["project"] = "Bad Name"
    raw["environments"]["prod"]["backend"]["bucket"] = "NO"
    raw["limits"]["batch_size"] = 50
    raw["providers"]["acme"].pop("header")
    raw["routes"][0]["target"] = "lambda"
    with pytest.raises(ConfigError) as err:
        parse(raw, "webhookctl.toml")
    problems = err.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "project", "limits.batch_size", "providers.acme.header", "routes[0].target",
        "environments.prod.backend.bucket",
    ]
    assert str(err.value).startswith("webhookctl.toml: 5 problems:\n  - project: required;")


def test_unknown_fields_are_rejected_not_ignored(project_root):
    raw = committed(project_root)
    raw["providers"]["github"]["secret"] = "oops"
    with pytest.raises(ConfigError, match=r"providers\.github\.secret: unknown field"):
        parse(raw)


def test_local_environment_is_required(project_root):
    raw = committed(project_root)
    del raw["environments"]["local"]
    with pytest.raises(ConfigError, match=r"environments\.local: required"):
        parse(raw)


def test_emulator_endpoint_must_be_loopback(project_root):
    raw = committed(project_root)
    raw["environments"]["local"]["emulator_endpoint"] = "http://10.0.0.5:4566"
    with pytest.raises(ConfigError, match=r"environments\.local\.emulator_endpoint: must be a loopback URL"):
        parse(raw)


def test_missing_and_unparsable_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        load(tmp_path / "webhookctl.toml")
    bad = tmp_path / "webhookctl.toml"
    bad.write_text("project = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(bad)


def test_unknown_environment_lists_the_known_ones(project_root):
    config = load(project_root / ROOT_CONFIG)
    with pytest.raises(ConfigError, match=r"^unknown environment 'qa' \(known: dev, local, prod\)$"):
        config.environment("qa")


def test_loading_config_never_imports_cdktf(project_root):
    code = "import config, sys; config.load('webhookctl.toml'); print(any(m.startswith(('cdktf', 'jsii')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=project_root, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
