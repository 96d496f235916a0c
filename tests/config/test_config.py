"""webhookctl.toml: the committed example loads; every bad field is named, all at once."""
from __future__ import annotations

import subprocess
import sys
import tomllib

import pytest

from config import SCHEMES, AlarmSubscriptions, ConfigError, FunctionSettings, load, parse

ROOT_CONFIG = "webhookctl.toml"


def committed(project_root):
    return tomllib.loads((project_root / ROOT_CONFIG).read_text())


def test_committed_config_has_one_provider_per_scheme(project_root):
    # one active provider per scheme of the first nine; every other scheme a commented example
    from test_scheme_examples import ACTIVE, commented_examples

    config = load(project_root / ROOT_CONFIG)
    assert sorted(p.scheme for p in config.providers.values()) == sorted(ACTIVE)
    assert ACTIVE | {p["scheme"] for p in commented_examples().values()} == set(SCHEMES)
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


# ---------------------------------------------------------------- limits, functions, throttle, alarms


def problems_of(raw) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse(raw)
    return err.value.problems


def test_committed_capacity_settings(project_root):
    config = load(project_root / ROOT_CONFIG)
    assert config.limits.max_receive_count == 5
    dev, prod = config.environments["dev"], config.environments["prod"]
    assert (prod.throttle_rate_limit, prod.throttle_burst_limit) == (500, 1000)
    assert dev.throttle_rate_limit * 10 == prod.throttle_rate_limit  # dev stays well below prod
    assert (prod.functions["ingest"].reserved_concurrency, prod.functions["process"].reserved_concurrency) == (100, 25)
    assert dev.functions["ingest"].reserved_concurrency is None
    assert prod.functions["ingest"].timeout_seconds == 10 and prod.functions["process"].timeout_seconds == 30
    assert {f.runtime for e in config.environments.values() for f in e.functions.values()} == {"python3.13"}


def test_defaults_without_any_capacity_settings(project_root):
    raw = committed(project_root)
    raw.pop("functions")
    raw["limits"] = {}
    del raw["environments"]["prod"]["throttle_rate_limit"], raw["environments"]["prod"]["throttle_burst_limit"]
    prod = parse(raw).environments["prod"]
    assert (prod.throttle_rate_limit, prod.throttle_burst_limit) == (50, 100)  # the capacity model's dev row
    assert prod.functions["ingest"] == FunctionSettings(timeout_seconds=10, memory_mb=256, runtime="python3.13",
                                                        reserved_concurrency=100)
    assert parse(raw).limits.max_receive_count == 5


def test_an_environment_overrides_one_function_setting_and_keeps_the_rest(project_root):
    raw = committed(project_root)
    raw["functions"]["ingest"]["memory_mb"] = 512
    raw["environments"]["dev"]["functions"] = {"ingest": {"timeout_seconds": 5}}
    config = parse(raw)
    assert config.environments["dev"].functions["ingest"] == FunctionSettings(5, 512, "python3.13", None)
    assert config.environments["local"].functions["ingest"].timeout_seconds == 10


def test_ingest_timeout_must_be_under_api_gateways_limit(project_root):
    raw = committed(project_root)
    raw["functions"]["ingest"]["timeout_seconds"] = 29
    assert problems_of(raw) == [
        "functions.ingest.timeout_seconds: must be a whole number from 1 to 28 "
        "(under API Gateway's 29 s integration timeout)"]
    raw["functions"]["ingest"]["timeout_seconds"] = 28
    raw["functions"]["process"]["timeout_seconds"] = 29  # process answers no one: any Lambda timeout
    assert parse(raw).environments["local"].functions["process"].timeout_seconds == 29


def test_function_settings_are_checked(project_root):
    raw = committed(project_root)
    raw["functions"]["process"].update(runtime="python3.11", memory_mb=64)
    raw["environments"]["prod"]["functions"]["process"]["reserved_concurrency"] = 1
    raw["environments"]["prod"]["functions"]["lambda"] = {}
    assert problems_of(raw) == [
        "functions.process.memory_mb: must be a whole number from 128 to 10240",
        "functions.process.runtime: must be a Lambda Python runtime on Amazon Linux 2023: python3.12 or newer "
        "(default python3.13; python3.11 runs on Amazon Linux 2, past its end of life)",
        "environments.prod.functions.lambda: unknown field (expected one of: ingest, process)",
        "environments.prod.functions.process.reserved_concurrency: must be a whole number from 2 to 1000",
    ]


def test_function_settings_moved_out_of_limits_say_where_to(project_root):
    raw = committed(project_root)
    raw["limits"]["function_timeout_seconds"] = 30
    assert problems_of(raw) == [
        "limits.function_timeout_seconds: moved: set functions.<name>.timeout_seconds (per function, see [functions.ingest])"]


def test_max_body_bytes_within_api_gateways_payload_limit(project_root):
    raw = committed(project_root)
    raw["limits"]["max_body_bytes"] = 11 * 1024 * 1024
    assert problems_of(raw) == ["limits.max_body_bytes: must be a whole number from 1 to 10485760 (API Gateway's payload limit)"]


def test_max_body_bytes_must_fit_lambdas_request_payload_base64_encoded(project_root):
    raw = committed(project_root)
    raw["limits"]["max_body_bytes"] = 5 * 1024 * 1024
    [problem] = problems_of(raw)
    assert problem.startswith("limits.max_body_bytes: 5242880 bytes reach the ingest function base64-encoded, "
                              "a 7056044-byte event over Lambda's 6291456-byte request payload: at most ")
    most = int(problem.rsplit(" ", 1)[1])
    raw["limits"]["max_body_bytes"] = most
    assert parse(raw).limits.max_body_bytes == most


def test_inline_payload_must_leave_room_in_the_put_events_entry(project_root):
    raw = committed(project_root)
    raw["limits"]["inline_payload_limit"] = 262144
    assert problems_of(raw) == [
        "limits.inline_payload_limit: 262144 leaves the published event's other fields no room under "
        "put_events_max_bytes (262144): at most 245760"]
    raw["limits"]["put_events_max_bytes"] = 1048576  # where AWS raised the limit
    assert parse(raw).limits.inline_payload_limit == 262144


def test_throttle_within_the_account_quota(project_root):
    raw = committed(project_root)
    raw["environments"]["prod"].update(throttle_rate_limit=10001, throttle_burst_limit=5001)
    assert problems_of(raw) == [
        "environments.prod.throttle_burst_limit: must be a whole number from 1 to 5000 "
        "(API Gateway's default account burst, shared by every API in the region)",
        "environments.prod.throttle_rate_limit: must be a positive number of requests per second, at most 10000 "
        "(API Gateway's default account rate, shared by every API in the region)",
    ]


def test_alarm_subscriptions_are_checked(project_root):
    raw = committed(project_root)
    raw["environments"]["prod"]["alarms"] = {
        "email": ["not-an-address"], "https": ["http://plain.example.com"],
        "topic_arns": ["arn:aws:sns:us-east-1:111122223333:elsewhere"], "pager": [],
    }
    assert problems_of(raw) == [
        "environments.prod.alarms.pager: unknown field (expected one of: email, https, topic_arns)",
        "environments.prod.alarms.email: must be a list of email addresses",
        "environments.prod.alarms.https: must be a list of https:// URLs",
        "environments.prod.alarms.topic_arns: arn:aws:sns:us-east-1:111122223333:elsewhere is not in the "
        "environment's region eu-west-1: alarms notify topics in their own region",
    ]
    raw["environments"]["prod"]["alarms"] = {"topic_arns": [f"arn:aws:sns:eu-west-1:111122223333:t{i}" for i in range(5)]}
    assert problems_of(raw) == [
        "environments.prod.alarms.topic_arns: at most 4: an alarm has 5 actions and the environment's own topic is one"]


def test_alarm_subscriptions_parse(project_root):
    raw = committed(project_root)
    raw["environments"]["prod"]["alarms"] = {
        "email": ["a@example.com"], "https": ["https://events.example.com/x"],
        "topic_arns": ["arn:aws:sns:eu-west-1:111122223333:ops"]}
    assert parse(raw).environments["prod"].alarms == AlarmSubscriptions(
        ("a@example.com",), ("https://events.example.com/x",), ("arn:aws:sns:eu-west-1:111122223333:ops",))


def test_route_target_arns_of_every_partition(project_root):
    raw = committed(project_root)
    raw["routes"].append({"name": "gov", "pattern": {"detail-type": ["x"]},
                          "target": "arn:aws-us-gov:sqs:us-gov-west-1:111122223333:q", "queue_policy": "granted"})
    assert parse(raw).routes[-1].target.startswith("arn:aws-us-gov:")
    raw["routes"][-1]["target"] = "arn:awsfake:sqs:us-east-1:111122223333:q"
    assert problems_of(raw) == [f"routes[{len(raw['routes']) - 1}].target: must be logs, sqs, http, or the ARN of an SQS "
                                "queue or log group"]
