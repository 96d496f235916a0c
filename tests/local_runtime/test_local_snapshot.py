"""Restoring a restarted emulator from a moto recording, and the safe fallback."""
from __future__ import annotations

import io
import json
import time
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local_runtime import snapshot
from local_runtime.emulator import EMULATOR_ACCOUNT_ID, Emulator, free_port

pytestmark = pytest.mark.emulator
REGION = "us-east-1"


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=Config(connect_timeout=2, read_timeout=20, retries={"max_attempts": 1}))


def zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("handlers/process.py", "def handler(event, context):\n    return None\n")
    return buf.getvalue()


def deploy(ep: str) -> dict:
    """What the stack creates (a small version), as Terraform would, one call at a time."""
    sqs, ddb, s3, events = client("sqs", ep), client("dynamodb", ep), client("s3", ep), client("events", ep)
    sm, iam, lam, apigw = client("secretsmanager", ep), client("iam", ep), client("lambda", ep), client("apigateway", ep)
    dlq = sqs.create_queue(QueueName="wh-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    dlq_arn = f"arn:aws:sqs:{REGION}:{EMULATOR_ACCOUNT_ID}:wh-dlq.fifo"
    queue = sqs.create_queue(QueueName="wh-queue.fifo", Attributes={
        "FifoQueue": "true", "VisibilityTimeout": "180",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3})})["QueueUrl"]
    ddb.create_table(TableName="wh-table", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "webhook_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "webhook_id", "AttributeType": "S"}])
    s3.create_bucket(Bucket="wh-archive")
    s3.put_object(Bucket="wh-archive", Key="seed/readme.txt", Body=b"exact \x00 bytes")
    events.create_event_bus(Name="wh-bus")
    events.put_rule(Name="wh-all", EventBusName="wh-bus", EventPattern=json.dumps({"source": ["webhook.processor"]}))
    events.put_targets(Rule="wh-all", EventBusName="wh-bus", Targets=[
        {"Id": "consumer", "Arn": f"arn:aws:sqs:{REGION}:{EMULATOR_ACCOUNT_ID}:wh-queue.fifo",
         "SqsParameters": {"MessageGroupId": "g"}}])
    secret = sm.create_secret(Name="wh-local/providers/stripe")["ARN"]
    role = iam.create_role(RoleName="wh-process", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    fn = lam.create_function(FunctionName="wh-process", Runtime="python3.12", Role=role,
                             Handler="handlers.process.handler", Code={"ZipFile": zip_bytes()},
                             Environment={"Variables": {"TABLE_NAME": "wh-table"}})["FunctionArn"]
    esm = lam.create_event_source_mapping(FunctionName="wh-process", BatchSize=10,
                                          EventSourceArn=f"arn:aws:sqs:{REGION}:{EMULATOR_ACCOUNT_ID}:wh-queue.fifo",
                                          FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]
    api = apigw.create_rest_api(name="wh-api")["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api)["items"] if r["path"] == "/")
    hooks = apigw.create_resource(restApiId=api, parentId=root, pathPart="webhooks")["id"]
    prov = apigw.create_resource(restApiId=api, parentId=hooks, pathPart="{provider}")["id"]
    apigw.put_method(restApiId=api, resourceId=prov, httpMethod="POST", authorizationType="NONE")
    apigw.put_integration(restApiId=api, resourceId=prov, httpMethod="POST", type="AWS_PROXY",
                          integrationHttpMethod="POST",
                          uri=f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{fn}/invocations")
    deployment = apigw.create_deployment(restApiId=api)["id"]
    apigw.create_stage(restApiId=api, stageName="local", deploymentId=deployment)
    return {"queue": queue, "dlq": dlq, "secret": secret, "esm": esm, "api": api, "root": root,
            "hooks": hooks, "prov": prov, "deployment": deployment}


def data_plane(ep: str, ids: dict) -> None:
    """What `dev` does after a deploy: none of it may come back after a restart."""
    client("sqs", ep).send_message(QueueUrl=ids["queue"], MessageBody="m", MessageGroupId="g",
                                   MessageDeduplicationId="d")
    client("dynamodb", ep).put_item(TableName="wh-table", Item={"webhook_id": {"S": "w1"}})
    client("events", ep).put_events(Entries=[{"EventBusName": "wh-bus", "Source": "webhook.processor",
                                              "DetailType": "Webhook Processed", "Detail": "{}"}])
    client("secretsmanager", ep).put_secret_value(SecretId="wh-local/providers/stripe",
                                                  SecretString='{"secrets": ["whsec_x"]}')


def state_file(path, ids) -> None:
    """A Terraform v4 state listing what deploy() created, as the provider records it."""
    def res(rtype, label, **attrs):
        return {"mode": "managed", "type": rtype, "name": label, "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                "instances": [{"schema_version": 0, "attributes": attrs}]}
    state = {"version": 4, "terraform_version": "1.11.4", "serial": 7, "lineage": "x", "outputs": {}, "resources": [
        res("aws_sqs_queue", "dlq", id=ids["dlq"], url=ids["dlq"], name="wh-dlq.fifo"),
        res("aws_sqs_queue", "queue", id=ids["queue"], url=ids["queue"], name="wh-queue.fifo"),
        res("aws_dynamodb_table", "t", id="wh-table", name="wh-table"),
        res("aws_s3_bucket", "b", id="wh-archive", bucket="wh-archive"),
        res("aws_s3_object", "o", id="seed/readme.txt", bucket="wh-archive", key="seed/readme.txt"),
        res("aws_cloudwatch_event_bus", "bus", id="wh-bus", name="wh-bus"),
        res("aws_cloudwatch_event_rule", "r", id="wh-bus/wh-all", name="wh-all", event_bus_name="wh-bus"),
        res("aws_cloudwatch_event_target", "t", id="x", rule="wh-all", event_bus_name="wh-bus", target_id="consumer"),
        res("aws_secretsmanager_secret", "s", id=ids["secret"], arn=ids["secret"], name="wh-local/providers/stripe"),
        res("aws_iam_role", "r", id="wh-process", name="wh-process"),
        res("aws_lambda_function", "f", id="wh-process", function_name="wh-process"),
        res("aws_lambda_event_source_mapping", "m", id=ids["esm"], uuid=ids["esm"]),
        res("aws_api_gateway_rest_api", "a", id=ids["api"], root_resource_id=ids["root"]),
        res("aws_api_gateway_resource", "hooks", id=ids["hooks"], rest_api_id=ids["api"]),
        res("aws_api_gateway_resource", "prov", id=ids["prov"], rest_api_id=ids["api"]),
        res("aws_api_gateway_deployment", "d", id=ids["deployment"], rest_api_id=ids["api"]),
        res("aws_api_gateway_stage", "s", id="x", rest_api_id=ids["api"], stage_name="local"),
    ]}
    path.write_text(json.dumps(state))


@pytest.fixture
def recorded(tmp_path):
    """Deploy on one emulator while recording, then use it after deploy; the emulator is gone after."""
    recording, state = tmp_path / "recording.json", tmp_path / "terraform.tfstate"
    with Emulator(port=free_port(), deterministic_ids=True, recording_path=tmp_path / "moto.jsonl") as emu:
        snapshot.start_recording(emu.endpoint, recording)
        ids = deploy(emu.endpoint)
        data_plane(emu.endpoint, ids)  # still recording: save() must drop these
        report = snapshot.save(emu.endpoint, recording)
        data_plane(emu.endpoint, ids)  # after save: not recorded at all
    state_file(state, ids)
    return recording, state, ids, report


def test_recorded_resources_come_back_after_a_restart(recorded, tmp_path):
    recording, state, ids, report = recorded
    assert report.usable and report.kept == 19
    assert report.dropped["data-plane"] == 4 and report.dropped["read"] >= 1
    # GIVEN a new emulator on another port, WHEN reconciled with the recording and the state
    with Emulator(port=free_port(), deterministic_ids=True, recording_path=tmp_path / "moto2.jsonl") as emu:
        ep = emu.endpoint
        started = time.monotonic()
        assert snapshot.reconcile(ep, recording, state) == "restored"
        print(f"\nreconcile (replay {report.kept} calls + state check): {time.monotonic() - started:.2f} s")
        # THEN everything the state lists is there, with the same ids
        assert snapshot.state_mismatches(ep, state) == []
        sqs = client("sqs", ep)
        attrs = sqs.get_queue_attributes(QueueUrl=f"{ep}/{EMULATOR_ACCOUNT_ID}/wh-queue.fifo",
                                         AttributeNames=["All"])["Attributes"]
        assert attrs["FifoQueue"] == "true" and attrs["VisibilityTimeout"] == "180"
        assert json.loads(attrs["RedrivePolicy"])["deadLetterTargetArn"].endswith(":wh-dlq.fifo")
        assert attrs["ApproximateNumberOfMessages"] == "0"  # SendMessage was not replayed
        assert client("dynamodb", ep).scan(TableName="wh-table")["Count"] == 0  # nor PutItem
        body = client("s3", ep).get_object(Bucket="wh-archive", Key="seed/readme.txt")["Body"].read()
        assert body == b"exact \x00 bytes"
        ev = client("events", ep)
        assert [r["Name"] for r in ev.list_rules(EventBusName="wh-bus")["Rules"]] == ["wh-all"]
        assert ev.list_targets_by_rule(Rule="wh-all", EventBusName="wh-bus")["Targets"][0]["Id"] == "consumer"
        sm = client("secretsmanager", ep)
        assert sm.describe_secret(SecretId="wh-local/providers/stripe")["ARN"] == ids["secret"]
        with pytest.raises(ClientError):  # the value was not written to disk, so not replayed
            sm.get_secret_value(SecretId="wh-local/providers/stripe")
        apigw = client("apigateway", ep)
        assert [a["id"] for a in apigw.get_rest_apis()["items"]] == [ids["api"]]
        paths = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=ids["api"])["items"]}
        assert paths == {"/": ids["root"], "/webhooks": ids["hooks"], "/webhooks/{provider}": ids["prov"]}
        lam = client("lambda", ep)
        assert [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]] == [ids["esm"]]
        env = lam.get_function_configuration(FunctionName="wh-process")["Environment"]["Variables"]
        assert env == {"TABLE_NAME": "wh-table"}


def test_without_deterministic_ids_the_replay_is_detected_as_wrong_and_reset(tmp_path):
    recording, state = tmp_path / "recording.json", tmp_path / "terraform.tfstate"
    with Emulator(port=free_port(), recording_path=tmp_path / "moto.jsonl") as emu:  # moto's random ids
        snapshot.start_recording(emu.endpoint, recording)
        ids = deploy(emu.endpoint)
        snapshot.save(emu.endpoint, recording)
    state_file(state, ids)
    with Emulator(port=free_port()) as emu:
        # The replay itself fails: later calls name the old API id (404).
        assert snapshot.restore(emu.endpoint, recording, state) is False
        assert snapshot.is_fresh(emu.endpoint) is False
        # reconcile on a fresh emulator: the safe fallback wipes both sides.
        client("s3", emu.endpoint).list_buckets()
    with Emulator(port=free_port()) as emu:
        assert snapshot.reconcile(emu.endpoint, recording, state) == "reset"
        assert not state.exists() and not recording.exists()
        assert snapshot.is_fresh(emu.endpoint)


def test_fallback_when_the_recording_is_missing_or_unusable(tmp_path):
    state = tmp_path / "terraform.tfstate"
    state_file(state, {"dlq": "u1", "queue": "u2", "secret": "arn", "esm": "e", "api": "a", "root": "r",
                       "hooks": "h", "prov": "p", "deployment": "d"})
    with Emulator(port=free_port()) as emu:
        assert snapshot.restore(emu.endpoint, tmp_path / "none.json", state) is False
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps({"format": snapshot.FORMAT, "usable": False, "entries": []}))
        assert snapshot.restore(emu.endpoint, bad, state) is False
        assert snapshot.reconcile(emu.endpoint, tmp_path / "none.json", state) == "reset"
        assert not state.exists()
        assert snapshot.reconcile(emu.endpoint, tmp_path / "none.json", state) == "fresh"  # no state: nothing to do


def test_replay_time_for_a_hundred_calls(tmp_path):
    recording = tmp_path / "recording.json"
    with Emulator(port=free_port(), deterministic_ids=True, recording_path=tmp_path / "moto.jsonl") as emu:
        snapshot.start_recording(emu.endpoint, recording)
        sqs, ddb, sm = client("sqs", emu.endpoint), client("dynamodb", emu.endpoint), client("secretsmanager", emu.endpoint)
        for i in range(40):
            sqs.create_queue(QueueName=f"q{i}.fifo", Attributes={"FifoQueue": "true"})
        for i in range(30):
            ddb.create_table(TableName=f"t{i}", BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
        for i in range(30):
            sm.create_secret(Name=f"s/{i}")
        report = snapshot.save(emu.endpoint, recording)
    assert report.kept == 100
    with Emulator(port=free_port(), deterministic_ids=True) as emu:
        result = snapshot.replay(emu.endpoint, snapshot.read_recording(recording)["entries"])
        assert result.errors == [] and result.calls == 100
        assert len(client("sqs", emu.endpoint).list_queues()["QueueUrls"]) == 40
    print(f"\nreplay of 100 calls: {result.seconds:.2f} s")
    assert result.seconds < 10


def test_load_entries_survives_lines_joined_by_concurrent_writers():
    a, b = {"method": "POST", "url": "http://h/a"}, {"method": "PUT", "url": "http://h/b"}
    text = json.dumps(a) + json.dumps(b) + "\n\n" + json.dumps(a) + "\n"
    assert snapshot.load_entries(text) == [a, b, a]
    with pytest.raises(snapshot.SnapshotError):
        snapshot.load_entries('{"method": "POST"')


@pytest.mark.parametrize("entry,verdict", [
    ({"method": "POST", "url": "http://h/", "headers": {"X-Amz-Target": "AmazonSQS.SendMessage"}}, "data-plane"),
    ({"method": "POST", "url": "http://h/", "headers": {"X-Amz-Target": "AmazonSQS.CreateQueue"}}, "keep"),
    ({"method": "POST", "url": "http://h/", "headers": {"X-Amz-Target": "DynamoDB_20120810.DescribeTable"}}, "read"),
    ({"method": "POST", "url": "http://h/", "headers": {"X-Amz-Target": "secretsmanager.PutSecretValue"}}, "data-plane"),
    ({"method": "POST", "url": "http://h/", "headers": {"Content-Type": "application/x-www-form-urlencoded"},
      "body": "Action=CreateRole&RoleName=x"}, "keep"),
    ({"method": "POST", "url": "http://h/", "headers": {"Content-Type": "application/x-www-form-urlencoded"},
      "body": "Action=GetRole&RoleName=x"}, "read"),
    ({"method": "GET", "url": "http://h/restapis/abc"}, "read"),
    ({"method": "PUT", "url": "http://h/bucket/key"}, "keep"),
    ({"method": "POST", "url": "http://h/2015-03-31/functions/f/invocations"}, "data-plane"),
    ({"method": "POST", "url": "http://h/moto-api/reset"}, "moto-api"),
])
def test_classify(entry, verdict):
    assert snapshot.classify(entry) == verdict
