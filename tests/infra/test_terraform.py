"""The synthesized JSON against the real Terraform: validate every environment; the session's
`local` stack applied to its emulator (tests/applied_stack.py, shared with
tests/cli/test_terraform_e2e.py), planned again (no changes), destroyed last (nothing left)."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

ENVIRONMENTS = ("local", "dev", "prod")
pytestmark = pytest.mark.xdist_group("applied-local-stack")  # shares the session's applied stack


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


@pytest.fixture
def applied(applied_local_stack):
    """The session's `local` stack (tests/applied_stack.py): deployed once, destroyed by the last test."""
    return applied_local_stack


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_apply_creates_every_resource(applied, tf):
    assert applied.deploy.exit_code == 0, applied.deploy.output[-3000:]
    addresses = applied.addresses()
    assert f"Apply complete! Resources: {len(addresses)} added, 0 changed, 0 destroyed." in applied.deploy.stderr
    state = _ok(tf(["state", "list"], applied.stack_dir)).split()
    assert {a for a in state if not a.startswith("data.")} == addresses
    # The state lives in the project, where the relative backend path points.
    assert applied.state_file.is_file()


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_built_names_and_urls_match_what_the_emulator_answers(applied, tf):
    emulator = applied.emulator
    outputs = {k: v["value"] for k, v in json.loads(_ok(tf(["output", "-json"], applied.stack_dir))).items()}
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
def test_second_plan_shows_no_changes(applied, tf):
    proc = tf(["plan", "-detailed-exitcode", "-input=false", "-no-color"], applied.stack_dir)
    assert proc.returncode == 0, f"plan is not clean (exit {proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}"


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_alarms_reach_the_subscribers(applied):
    emulator = applied.emulator
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    sns = session.client("sns", endpoint_url=emulator.endpoint)
    [topic] = [t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith(":webhooks-local-alarms")]
    subscribed = sorted((s["Protocol"], s["Endpoint"]) for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"])
    assert subscribed == [("email", "oncall@example.com"), ("https", "https://hooks.example.com/alarms")]
    alarms = session.client("cloudwatch", endpoint_url=emulator.endpoint).describe_alarms(AlarmNamePrefix="webhooks-local-")
    built = {a["alarm_name"] for a in applied.resources()["aws_cloudwatch_metric_alarm"].values()}
    assert {a["AlarmName"] for a in alarms["MetricAlarms"]} == built
    assert all(a["AlarmActions"] == [topic] == a["OKActions"] for a in alarms["MetricAlarms"])


@pytest.mark.terraform
@pytest.mark.emulator
@pytest.mark.slow
def test_changing_an_integration_setting_changes_the_redeployment_trigger(applied, tf):
    """The trigger hashes resolved settings: Terraform itself sees the change and redeploys."""
    local_stack_dir = applied.stack_dir
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
@pytest.mark.destroys_stack
def test_destroy_removes_everything(applied, tf):
    """Last of the group (tests/conftest.py orders `destroys_stack` after every other slow test)."""
    gone = applied.cli("destroy", "--auto-approve")
    assert gone.exit_code == 0, gone.output[-3000:]
    assert json.loads(applied.cli("state", "list", "--json").stdout) == []
    assert _ok(tf(["state", "list"], applied.stack_dir)).split() == []
