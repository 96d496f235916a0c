"""`webhookctl cost`: the model's arithmetic pinned by hand for two configs, the command's
errors and JSON, `--measured` against CloudWatch (moto), the log line sizes the model assumes."""
from __future__ import annotations

import json
import textwrap

import pytest

from cli import cost
from cli.errors import WebhookctlError
from cli.prices import US_EAST_1
from config import parse

GiB = 1024 ** 3
S = 30.4375 * 86400  # seconds in the model's month
LOG = 26  # CloudWatch Logs' bytes per event


def load(text: str):
    import tomllib

    return parse(tomllib.loads(textwrap.dedent(text)), "test.toml")


CONFIG_A = """
    project = "costa"
    [providers.a]
    scheme = "stripe"
    [tracing]
    sample_rate = 0.1
    [environments.local]
    region = "us-east-1"
    backend = { type = "local" }
"""

CONFIG_B = """
    project = "costb"
    [providers.a]
    scheme = "stripe"
    [providers.b]
    scheme = "github"
    [[routes]]
    name = "all"
    pattern = { detail-type = ["Webhook Processed"] }
    target = "logs"
    [[routes]]
    name = "only-a"
    pattern = { detail = { provider = ["a"] } }
    target = "sqs"
    [[routes]]
    name = "ext"
    pattern = { detail = { provider = ["b", "not-configured"] } }
    target = "arn:aws:logs:us-east-1:111122223333:log-group:theirs"
    [tracing]
    sample_rate = 0.05
    reservoir_per_second = 1
    trace_process = true
    [archive]
    transition_days = 30
    transition_min_bytes = 102400
    storage_class = "GLACIER"
    [functions.process]
    memory_mb = 512
    [environments.local]
    region = "us-east-1"
    backend = { type = "local" }
    [environments.prod]
    region = "us-east-1"
    archive_expiration_days = 400
    backend = { type = "s3", bucket = "state-bucket", key = "k", region = "us-east-1" }
"""


def test_config_a_two_million_10_kb_payloads_batches_of_five():
    config = load(CONFIG_A)
    est = cost.estimate(config, config.environment("local"), cost.usage_from_config(config, 2_000_000, 10_240, 5),
                        US_EAST_1)
    n, batches = 2_000_000, 400_000
    usage = (
        n * 3.50 / 1e6                                  # API Gateway REST
        + n * 0.20 / 1e6                                # ingest requests
        + n * 0.060 * 0.25 * 0.0000133334               # ingest: 60 ms at 256 MB, arm64
        + batches * 0.20 / 1e6                          # process requests
        + batches * (0.040 + 5 * 0.002) * 0.25 * 0.0000133334  # process: 40 ms a batch + 2 ms a record
        + n * 0.005 / 1000                              # S3 PUT (the payload rides in the message: no GET)
        + n * 3 * 0.625 / 1e6                           # DynamoDB: PutItem, UpdateItem, the index
        + n * 0.125 / 1e6                               # DynamoDB: consistent BatchGetItem reads
        + (n + batches + batches) * 0.50 / 1e6          # SQS FIFO: 10.3 KB messages are one chunk each
        + n * 1.00 / 1e6                                # EventBridge: 10.6 KB events, one chunk each
        + (n * (620 + LOG) + n * 40 + batches * (390 + LOG)) / GiB * 0.50  # function logs
        + n * (380 + LOG) / GiB * 0.50                  # API access log
        + 0.1 * n * 5.00 / 1e6                          # X-Ray: 10% of requests, no reservoir
    )
    storage = (
        n * 10_240 / GiB * 12 * 0.023                   # kept forever: priced after 12 months
        + n * (300 + 150 + 200) / GiB * (90 / 30.4375) * (0.25 + 0.20)  # records + index, TTL 90 days, PITR
        + ((n * (620 + LOG) + n * 40 + batches * (390 + LOG)) + n * (380 + LOG)) / GiB * (7 / 30.4375) * 0.03
    )
    fixed = 0.40 + S / 300 / 10_000 * 0.05 + 8 * 0.10 + 3.00 + 2 * 2 * 0.30 + 5 * 3 * 60 * 24 * 30.4375 * 0.50 / 1e6
    assert est.total("usage") == pytest.approx(usage, rel=1e-9)
    assert est.total("storage") == pytest.approx(storage, rel=1e-9)
    assert est.total("fixed") == pytest.approx(fixed, rel=1e-9)
    assert est.per_million == pytest.approx(usage / 2, rel=1e-9)
    assert est.warnings == ["'local' runs on the local emulator: this is what the same stack would cost on AWS"]


def test_config_b_routes_glacier_tracing_process_200_kb_payloads_one_record_per_batch():
    config = load(CONFIG_B)
    est = cost.estimate(config, config.environment("prod"), cost.usage_from_config(config, 100_000, 204_800, 1),
                        US_EAST_1)
    n = 100_000
    usage = (
        n * 3.50 / 1e6 + n * 0.20 / 1e6 + n * 0.060 * 0.25 * 0.0000133334
        + n * 0.20 / 1e6 + n * (0.040 + 0.002) * 0.5 * 0.0000133334  # process at 512 MB, one record a batch
        + n * 0.005 / 1000
        + n * 3 * 0.625 / 1e6 + n * 0.125 / 1e6
        + (n * 4 + n * 4 + n) * 0.50 / 1e6              # SQS: a 205,093-byte message is 4 chunks, sent and received
        + n * 4 * 1.00 / 1e6                            # EventBridge: a 205,120-byte event is 4 events
        + n * (310 + LOG) / GiB * 0.50                  # route all: every event logged
        + n / 2 * 4 * 0.40 / 1e6                        # route only-a: provider a of 2, to a standard queue
        + n / 2 * (310 + LOG) / GiB * 0.50              # route ext: provider b of 2 (the other is not configured)
        + (n * (620 + LOG) + n * 40 + n * (390 + LOG)) / GiB * 0.50
        + n * (380 + LOG) / GiB * 0.50
        + (n + n) * 5.00 / 1e6                          # X-Ray: the 1/s reservoirs cover all (API, and process)
        + n * 0.03 / 1000                               # lifecycle transitions: 200 KiB >= 100 KiB
    )
    before, after = 30 / 30.4375, (400 - 30) / 30.4375
    logs_gb = (n * (620 + LOG) + n * 40 + n * (390 + LOG) + n * (380 + LOG) + 1.5 * n * (310 + LOG)) / GiB
    storage = (
        n * 204_800 / GiB * before * 0.023
        + n * ((204_800 + 32 * 1024) * 0.0036 + 8 * 1024 * 0.023) / GiB * after  # Glacier and its overhead
        + n * 650 / GiB * (90 / 30.4375) * (0.25 + 0.20)
        + logs_gb * (7 / 30.4375) * 0.03
    )
    fixed = 2 * 0.40 + 2 * S / 300 / 10_000 * 0.05 + (8 + 3 * 3) * 0.10 + 3.00 + 2 * 3 * 0.30 + 5 * 3 * 60 * 24 * 30.4375 * 0.5 / 1e6
    assert est.total("usage") == pytest.approx(usage, rel=1e-9)
    assert est.total("storage") == pytest.approx(storage, rel=1e-9)
    assert est.total("fixed") == pytest.approx(fixed, rel=1e-9)
    assert est.warnings == []


def test_free_tier_credits_are_capped_by_use():
    config = load(CONFIG_A)
    usage = cost.usage_from_config(config, 2_000_000, 10_240, 5)
    paid = cost.estimate(config, config.environment("local"), usage, US_EAST_1)
    free = cost.estimate(config, config.environment("local"), usage, US_EAST_1, free_tier=True)
    credits = {(i.service, i.unit): i.monthly for i in free.items if i.monthly < 0}
    assert credits[("Lambda", "requests")] == pytest.approx(-1_000_000 * 0.20 / 1e6)
    assert credits[("X-Ray", "traces")] == pytest.approx(-100_000 * 5.00 / 1e6)
    assert credits[("CloudWatch", "dashboard")] == pytest.approx(-3.00)  # 1 dashboard of the 3 free
    assert free.total("usage") < paid.total("usage")


def test_the_committed_prod_config_itemizes_every_service():
    from config import load as load_file

    config = load_file("webhookctl.toml")
    est = cost.estimate(config, config.environment("prod"), cost.usage_from_config(config, 1_000_000, 5 * 1024, 10),
                        US_EAST_1)
    assert {i.service for i in est.items} == {
        "API Gateway", "Lambda", "S3", "DynamoDB", "SQS", "EventBridge", "CloudWatch Logs", "X-Ray",
        "Secrets Manager", "CloudWatch"}
    assert not any("GET" in i.item and i.monthly for i in est.items)  # 5 KB payloads ride in the message
    assert not any("transition" in i.item for i in est.items)  # 5 KB objects stay in S3 Standard


def test_a_throttle_that_cannot_admit_the_month_is_a_warning():
    config = load(CONFIG_A)
    est = cost.estimate(config, config.environment("local"), cost.usage_from_config(config, 10 ** 9, 1024, 10), US_EAST_1)
    assert est.warnings[0].startswith("1,000,000,000 a month is over what the stage throttle admits (50/s")


# --------------------------------------------------------------------------- the command


def test_cost_json_is_one_document(run_cli):
    result = run_cli("cost", "--env", "prod", "--per-month", "1000000", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["environment"] == "prod" and doc["region_priced"] == "us-east-1"
    assert doc["totals"]["usage_per_million_webhooks"] == pytest.approx(doc["totals"]["usage"])
    assert {i["kind"] for i in doc["items"]} == {"usage", "storage", "fixed"}


def test_cost_text_names_the_assumptions(run_cli):
    result = run_cli("cost", "--env", "prod", "--records-per-batch", "1", "--payload-kb", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("prod: 1,000,000 webhooks a month, 2 KB payloads, 1 records per batch; us-east-1")
    assert "per million webhooks (usage): $" in result.stdout


@pytest.mark.parametrize("args,message", [
    (["--payload-kb", "2048"], "Error: --payload-kb 2048 is over the body limit (1048576 bytes, [limits] max_body_bytes)"),
    (["--prices", "missing.json"], "Error: cannot read prices file missing.json"),
])
def test_expected_failures_are_one_error_line(run_cli, args, message):
    result = run_cli("cost", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and len(result.stderr.strip().splitlines()) == 1


def test_prices_file_overrides_and_is_checked(run_cli, project):
    (project / "eu.json").write_text(json.dumps({"region": "eu-west-1", "api_rest_per_million": 3.70}))
    doc = json.loads(run_cli("cost", "--prices", "eu.json", "--json").stdout)
    api = next(i for i in doc["items"] if i["item"] == "REST requests")
    assert doc["region_priced"] == "eu-west-1" and api["monthly"] == pytest.approx(3.70)
    (project / "bad.json").write_text(json.dumps({"api_rest_per_million": "cheap", "bogus": 1}))
    result = run_cli("cost", "--prices", "bad.json")
    assert result.exit_code == 1 and result.stderr.strip() == "Error: prices file bad.json: unknown price(s) bogus"


def test_usage_errors_exit_2(run_cli):
    assert run_cli("cost", "--records-per-batch", "0").exit_code == 2
    assert run_cli("cost", "--per-month", "-5").exit_code == 2


# --------------------------------------------------------------------------- --measured


def test_measured_reads_last_months_metrics(project, monkeypatch):
    import datetime as dt

    import boto3
    from moto import mock_aws

    from cli import stack_ops
    from cli.workspace import Workspace
    from handlers.contract import StackOutputs

    ws = Workspace.open(str(project / "webhookctl.toml"), "prod")
    outputs = StackOutputs(api_url="u", table_name="t", bucket_name="b", queue_url="q", dlq_url="d",
                           event_bus_name="webhooks-prod-bus", event_bus_arn="a",
                           ingest_function_name="webhooks-prod-ingest", process_function_name="webhooks-prod-process")
    monkeypatch.setattr(stack_ops, "known_outputs", lambda ws, log: outputs)
    now = dt.datetime(2026, 12, 15, tzinfo=dt.timezone.utc)
    when = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
    with mock_aws():
        cw = boto3.client("cloudwatch", region_name="eu-west-1")

        def put(ns, name, dims, value):
            cw.put_metric_data(Namespace=ns, MetricData=[{"MetricName": name, "Value": value, "Timestamp": when,
                                                         "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()]}])

        put("AWS/ApiGateway", "Count", {"ApiName": "webhooks-prod-api", "Stage": "prod"}, 1200)
        put("AWS/Lambda", "Invocations", {"FunctionName": "webhooks-prod-ingest"}, 1200)
        put("AWS/Lambda", "Duration", {"FunctionName": "webhooks-prod-ingest"}, 1200 * 45.0)
        put("AWS/Lambda", "Invocations", {"FunctionName": "webhooks-prod-process"}, 250)
        put("AWS/Lambda", "Duration", {"FunctionName": "webhooks-prod-process"}, 250 * 80.0)
        put("Webhookctl/webhooks-prod", "published", {"service": "webhookctl"}, 1000)
        put("AWS/Events", "MatchedEvents", {"EventBusName": "webhooks-prod-bus", "RuleName": "webhooks-prod-bus-payments"}, 300)
        usage = cost.measured_usage(ws, 5 * 1024, print, cloudwatch=cw, now=now)
        assert (usage.webhooks, usage.requests, usage.records_per_batch) == (1000, 1200, 4)
        assert (usage.ingest_ms, usage.process_batch_ms) == (45.0, 80.0)
        assert usage.route_matches == {"audit-log": 0, "payments": 300, "orders": 0} and usage.measured
        with pytest.raises(WebhookctlError) as err:
            cost.measured_usage(ws, 5 * 1024, print, cloudwatch=cw, now=dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc))
        assert str(err.value) == ("no webhooks recorded for webhooks-prod from 2027-02-01 to 2027-03-01: "
                                  "nothing to measure (estimate with --per-month N instead)")


def test_last_month_is_the_previous_calendar_month():
    import datetime as dt

    start, end = cost.last_month(dt.datetime(2026, 3, 1, 0, 0, 5, tzinfo=dt.timezone.utc))
    assert (start.isoformat(), end.isoformat()) == ("2026-02-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00")


# --------------------------------------------------------------------------- what the model assumes of the stack


def test_access_and_route_log_lines_fit_the_models_sizes():
    from constructs_lib.api import ACCESS_LOG_FORMAT
    from constructs_lib.bus import AUDIT_INPUT_TEMPLATE

    line = ACCESS_LOG_FORMAT
    for key, value in {"requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", "identity.sourceIp": "54.187.174.169",
                       "identity.userAgent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                       "requestTime": "01/Dec/2026:10:00:00 +0000", "httpMethod": "POST",
                       "path": "/prod/webhooks/stripe", "status": "202", "responseLength": "66",
                       "integration.status": "200", "integration.latency": "61", "integration.error": "-",
                       "xrayTraceId": "-"}.items():  # sampled requests (1%) carry a 35-character id
        line = line.replace(f"$context.{key}", value)
    assert "$context" not in line and len(line) <= cost.DESIGN.access_log_bytes
    message = json.loads(AUDIT_INPUT_TEMPLATE.replace("<time>", '"2026-12-01T10:00:00Z"'))["message"]
    for field_name, value in {"webhook_id": "d3efff155a7e6201f915c0a3bcd18fd2", "provider": "stripe",
                              "event_type": "invoice.payment_succeeded", "delivery_id": "evt_1NvCfT2eZvKYlo2CAbCdEfGh",
                              "received_at": "2026-12-01T10:00:00.123Z", "processed_at": "2026-12-01T10:00:00.456Z",
                              "s3_key": "stripe/2026/12/01/d3efff155a7e6201f915c0a3bcd18fd2"}.items():
        message = message.replace(f"<{field_name}>", value)
    assert len(message) <= cost.DESIGN.audit_log_bytes
