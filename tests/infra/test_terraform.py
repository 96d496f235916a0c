"""The synthesized JSON against the real Terraform: validate every environment; apply `local`
to the emulator, plan again (no changes), destroy (nothing left)."""
from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest

ENVIRONMENTS = ("local", "dev", "prod")


def _ok(proc) -> str:
    assert proc.returncode == 0, f"terraform {' '.join(proc.args[1:3])} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


@pytest.mark.terraform
def test_every_environment_validates(synth_outdir, tf):
    stacks = {env: synth_outdir / "stacks" / f"webhooks-{env}" for env in ENVIRONMENTS}
    for stack in stacks.values():  # one at a time: Terraform's plugin cache is not safe for concurrent inits
        _ok(tf(["init", "-backend=false", "-input=false", "-no-color"], stack))

    def validate(env: str) -> dict:
        return json.loads(tf(["validate", "-json", "-no-color"], stacks[env]).stdout)

    with ThreadPoolExecutor(len(ENVIRONMENTS)) as pool:
        results = dict(zip(ENVIRONMENTS, pool.map(validate, ENVIRONMENTS)))
    for env, result in results.items():
        assert result["valid"] is True, (env, result["diagnostics"])
        assert result["warning_count"] == 0, (env, result["diagnostics"])


@pytest.fixture(scope="module")
def applied(local_stack_dir, tf, emulated_project):
    _ok(tf(["init", "-input=false", "-no-color"], local_stack_dir))
    started = time.monotonic()
    out = _ok(tf(["apply", "-auto-approve", "-input=false", "-no-color"], local_stack_dir))
    return {"seconds": time.monotonic() - started, "stdout": out}


def _resource_count(stack_dir: Path) -> int:
    doc = json.loads((stack_dir / "cdk.tf.json").read_text())
    return sum(len(v) for v in doc["resource"].values())


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_apply_creates_every_resource(applied, local_stack_dir, tf, emulated_project):
    count = _resource_count(local_stack_dir)
    assert f"Apply complete! Resources: {count} added, 0 changed, 0 destroyed." in applied["stdout"]
    state = _ok(tf(["state", "list"], local_stack_dir)).split()
    assert len([a for a in state if not a.startswith("data.")]) == count
    # The state lives in the project, where the relative backend path points.
    assert (emulated_project / ".webhookctl" / "state" / "webhooks-local.tfstate").is_file()


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_built_names_and_urls_match_what_the_emulator_answers(applied, local_stack_dir, tf, emulator):
    outputs = {k: v["value"] for k, v in json.loads(_ok(tf(["output", "-json"], local_stack_dir))).items()}
    assert outputs["emulator_endpoint"] == emulator.endpoint
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    lam = session.client("lambda", endpoint_url=emulator.endpoint)
    sqs = session.client("sqs", endpoint_url=emulator.endpoint)
    env = lam.get_function_configuration(FunctionName=outputs["ingestion_function_name"])["Environment"]["Variables"]
    assert env["QUEUE_URL"] == outputs["sqs_queue_url"] == sqs.get_queue_url(QueueName="webhooks-local-ingest.fifo")["QueueUrl"]
    assert env["BUCKET_NAME"] == outputs["s3_bucket_name"]
    assert env["TABLE_NAME"] == outputs["dynamodb_table_name"]
    attributes = sqs.get_queue_attributes(QueueUrl=outputs["sqs_queue_url"], AttributeNames=["All"])["Attributes"]
    assert attributes["FifoQueue"] == "true"
    assert (attributes["DeduplicationScope"], attributes["FifoThroughputLimit"]) == ("messageGroup", "perMessageGroupId")
    assert json.loads(attributes["RedrivePolicy"])["maxReceiveCount"] == 5
    assert attributes["VisibilityTimeout"] == "180"  # 6x process's 30 s
    process = lam.get_function_configuration(FunctionName=outputs["processing_function_name"])
    assert process["Environment"]["Variables"]["EVENT_BUS_NAME"] == outputs["event_bus_name"]
    assert (process["Handler"], process["Architectures"], process["TracingConfig"]["Mode"]) == (
        "handlers.process.handler", ["arm64"], "PassThrough")  # [tracing] trace_process = false
    [mapping] = [m for m in lam.list_event_source_mappings()["EventSourceMappings"]
                 if m["FunctionArn"].endswith(f":function:{outputs['processing_function_name']}")]
    assert mapping["State"] == "Disabled"  # moto must not consume: the local runtime does
    assert "PROVIDERS" not in env and env["PROVIDERS_FILE"] == "providers.json"
    sqs.send_message(QueueUrl=outputs["sqs_queue_url"], MessageBody="{}", MessageGroupId="g", MessageDeduplicationId="d")
    received = sqs.receive_message(QueueUrl=outputs["sqs_queue_url"], AttributeNames=["ApproximateReceiveCount"])
    assert received["Messages"][0]["Attributes"]["ApproximateReceiveCount"] == "1"


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_second_plan_shows_no_changes(applied, local_stack_dir, tf):
    proc = tf(["plan", "-detailed-exitcode", "-input=false", "-no-color"], local_stack_dir)
    assert proc.returncode == 0, f"plan is not clean (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_alarms_reach_the_subscribers(applied, local_stack_dir, tf, emulator):
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    sns = session.client("sns", endpoint_url=emulator.endpoint)
    [topic] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":webhooks-local-alarms")]
    subscribed = sorted((s["Protocol"], s["Endpoint"]) for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"])
    assert subscribed == [("email", "oncall@example.com"), ("https", "https://hooks.example.com/alarms")]
    alarms = session.client("cloudwatch", endpoint_url=emulator.endpoint).describe_alarms(AlarmNamePrefix="webhooks-local-")
    assert alarms["MetricAlarms"] and all(a["AlarmActions"] == [topic] == a["OKActions"] for a in alarms["MetricAlarms"])


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_changing_an_integration_setting_changes_the_redeployment_trigger(applied, local_stack_dir, tf):
    """The trigger hashes resolved settings: Terraform itself sees the change and redeploys."""
    stack_json = local_stack_dir / "cdk.tf.json"
    original = stack_json.read_text()
    doc = json.loads(original)
    integration = next(iter(doc["resource"]["aws_api_gateway_integration"].values()))
    # Another function's invocation URI: an in-place update of the integration.
    integration["uri"] = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                          "arn:aws:lambda:us-east-1:123456789012:function:other/invocations")
    plan = local_stack_dir / "trigger-check.tfplan"
    try:
        stack_json.write_text(json.dumps(doc))
        _ok(tf(["plan", "-refresh=false", "-lock=false", "-input=false", "-no-color", f"-out={plan.name}"], local_stack_dir))
        shown = json.loads(_ok(tf(["show", "-json", plan.name], local_stack_dir)))
    finally:
        stack_json.write_text(original)
        plan.unlink(missing_ok=True)
    [deployment] = [c["change"] for c in shown["resource_changes"] if c["type"] == "aws_api_gateway_deployment"]
    assert deployment["actions"] == ["create", "delete"] and deployment["replace_paths"] == [["triggers"]]
    before, after = (deployment[k]["triggers"]["redeployment"] for k in ("before", "after"))
    assert len(before) == len(after) == 40 and before != after  # both known: SHA-1s Terraform computed


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_destroy_removes_everything(applied, local_stack_dir, tf):
    _ok(tf(["destroy", "-auto-approve", "-input=false", "-no-color"], local_stack_dir))
    assert _ok(tf(["state", "list"], local_stack_dir)).split() == []
