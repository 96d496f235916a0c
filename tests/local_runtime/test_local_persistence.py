"""The emulator comes back after a crash: journal (recording), restore (replay), state check."""
from __future__ import annotations

import io
import json
import os
import re
import signal
import stat
import zipfile

import boto3
import pytest
from botocore.config import Config

from local_runtime import journal, state_check
from local_runtime.emulator import EMULATOR_ACCOUNT_ID, Emulator, EmulatorError, free_port, pid_alive

pytestmark = pytest.mark.emulator
REGION = "us-east-1"
SECRET = "wh-local/providers/stripe"


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
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})})["QueueUrl"]
    ddb.create_table(TableName="wh-table", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "webhook_id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "webhook_id", "AttributeType": "S"}])
    s3.create_bucket(Bucket="wh-archive")
    events.create_event_bus(Name="wh-bus")
    events.put_rule(Name="wh-all", EventBusName="wh-bus", EventPattern=json.dumps({"source": ["webhook.processor"]}))
    events.put_targets(Rule="wh-all", EventBusName="wh-bus", Targets=[
        {"Id": "consumer", "Arn": dlq_arn, "SqsParameters": {"MessageGroupId": "g"}}])
    secret = sm.create_secret(Name=SECRET)["ARN"]
    role = iam.create_role(RoleName="wh-process", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]["Arn"]
    fn = lam.create_function(FunctionName="wh-process", Runtime="python3.12", Role=role,
                             Handler="handlers.process.handler", Code={"ZipFile": zip_bytes()},
                             Environment={"Variables": {"TABLE_NAME": "wh-table"}})["FunctionArn"]
    esm = lam.create_event_source_mapping(FunctionName="wh-process", BatchSize=10, Enabled=False,
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


def accept_webhooks(ep: str, ids: dict, n: int = 5) -> list[str]:
    """What ingest does per webhook: item, archive object, pointer; returns the message ids in order."""
    ddb, s3, sqs = client("dynamodb", ep), client("s3", ep), client("sqs", ep)
    sent = []
    for i in range(n):
        wid = f"w{i}"
        ddb.put_item(TableName="wh-table", Item={"webhook_id": {"S": wid}, "status": {"S": "received"},
                                                 "raw": {"B": bytes([i, 0, 255])}})
        s3.put_object(Bucket="wh-archive", Key=f"stripe/2026/12/01/{wid}", Body=f"payload \x00{i}".encode("latin-1"),
                      ContentType="application/x-www-form-urlencoded", Metadata={"stripe-signature": f"t=1,v1={i}"})
        sent.append(sqs.send_message(QueueUrl=ids["queue"], MessageBody=json.dumps({"webhook_id": wid}),
                                     MessageGroupId="stripe", MessageDeduplicationId=wid)["MessageId"])
        ddb.update_item(TableName="wh-table", Key={"webhook_id": {"S": wid}}, UpdateExpression="SET #s = :q",
                        ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":q": {"S": "queued"}})
    sm = client("secretsmanager", ep)
    sm.put_secret_value(SecretId=SECRET, SecretString='{"secrets": ["old"]}')
    sm.put_secret_value(SecretId=SECRET, SecretString='{"secrets": ["new", "old"]}')
    return sent


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
        res("aws_cloudwatch_event_bus", "bus", id="wh-bus", name="wh-bus"),
        res("aws_cloudwatch_event_rule", "r", id="wh-bus/wh-all", name="wh-all", event_bus_name="wh-bus"),
        res("aws_cloudwatch_event_target", "t", id="x", rule="wh-all", event_bus_name="wh-bus", target_id="consumer"),
        res("aws_secretsmanager_secret", "s", id=ids["secret"], arn=ids["secret"], name=SECRET),
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


def crash(emu: Emulator) -> None:
    """kill -9 of the emulator's whole process group: nothing gets to clean up."""
    pid = emu.pid
    os.killpg(pid, signal.SIGKILL)
    emu.process.wait(5)
    assert not pid_alive(pid)


@pytest.fixture(scope="module")
def crashed(tmp_path_factory):
    """Deploy, accept webhooks, kill -9 the emulator; then a new emulator on the same journal."""
    folder = tmp_path_factory.mktemp("persist")
    persist, state = folder / "journal", folder / "terraform.tfstate"
    port = free_port()
    emu = Emulator(port=port, deterministic_ids=True, persist_dir=persist).start()
    ids = deploy(emu.endpoint)
    sent = accept_webhooks(emu.endpoint, ids)
    sqs = client("sqs", emu.endpoint)
    first = sqs.receive_message(QueueUrl=ids["queue"], MaxNumberOfMessages=1)["Messages"][0]
    sqs.delete_message(QueueUrl=ids["queue"], ReceiptHandle=first["ReceiptHandle"])  # w0 was processed
    sqs.receive_message(QueueUrl=ids["queue"], MaxNumberOfMessages=1)  # w1 in flight at the crash
    client("secretsmanager", emu.endpoint).create_secret(Name="user/created", SecretString="kept")
    crash(emu)
    state_file(state, ids)
    back = Emulator(port=port, deterministic_ids=True, persist_dir=persist).start()
    yield back, ids, sent, state, persist
    back.stop()


def test_resources_come_back_under_the_ids_the_state_holds(crashed):
    emu, ids, _, state, _ = crashed
    assert state_check.state_mismatches(emu.endpoint, state) == []
    report = emu.identity()["restore"]
    assert report["control_errors"] == [] and report["control_calls"] == 19  # deploy()'s 18 + one CreateSecret
    apigw = client("apigateway", emu.endpoint)
    paths = {r["path"]: r["id"] for r in apigw.get_resources(restApiId=ids["api"])["items"]}
    assert paths == {"/": ids["root"], "/webhooks": ids["hooks"], "/webhooks/{provider}": ids["prov"]}
    lam = client("lambda", emu.endpoint)
    assert [m["UUID"] for m in lam.list_event_source_mappings()["EventSourceMappings"]] == [ids["esm"]]
    assert lam.get_function_configuration(FunctionName="wh-process")["Environment"]["Variables"] == {
        "TABLE_NAME": "wh-table"}


def test_accepted_messages_come_back_in_order_with_their_ids(crashed):
    emu, ids, sent, _, _ = crashed
    sqs = client("sqs", emu.endpoint)
    got = []
    while batch := sqs.receive_message(QueueUrl=ids["queue"], MaxNumberOfMessages=10,
                                       VisibilityTimeout=0).get("Messages", []):
        got += batch
        for m in batch:
            sqs.delete_message(QueueUrl=ids["queue"], ReceiptHandle=m["ReceiptHandle"])
    # w0 was deleted before the crash; w1 was in flight: it comes back visible
    assert [m["MessageId"] for m in got] == sent[1:]
    assert [json.loads(m["Body"])["webhook_id"] for m in got] == ["w1", "w2", "w3", "w4"]


def test_records_and_archive_objects_come_back_exactly(crashed):
    emu, _, _, _, _ = crashed
    ddb, s3 = client("dynamodb", emu.endpoint), client("s3", emu.endpoint)
    item = ddb.get_item(TableName="wh-table", Key={"webhook_id": {"S": "w3"}})["Item"]
    assert item == {"webhook_id": {"S": "w3"}, "status": {"S": "queued"}, "raw": {"B": bytes([3, 0, 255])}}
    assert ddb.scan(TableName="wh-table")["Count"] == 5
    obj = s3.get_object(Bucket="wh-archive", Key="stripe/2026/12/01/w4")
    assert obj["Body"].read() == "payload \x004".encode("latin-1")
    assert obj["Metadata"] == {"stripe-signature": "t=1,v1=4"}
    assert obj["ContentType"] == "application/x-www-form-urlencoded"


def test_secret_values_come_back_with_their_versions_and_the_arn_keeps_its_form(crashed):
    emu, ids, _, _, persist = crashed
    sm = client("secretsmanager", emu.endpoint)
    assert sm.get_secret_value(SecretId=SECRET)["SecretString"] == '{"secrets": ["new", "old"]}'
    assert sm.get_secret_value(SecretId=SECRET, VersionStage="AWSPREVIOUS")["SecretString"] == '{"secrets": ["old"]}'
    assert sm.get_secret_value(SecretId="user/created")["SecretString"] == "kept"
    # One six-letter suffix, not a nested ARN (the id patch used to return a whole ARN there).
    assert re.fullmatch(rf"arn:aws:secretsmanager:{REGION}:{EMULATOR_ACCOUNT_ID}:secret:{SECRET}-[A-Za-z]{{6}}",
                        ids["secret"])
    assert sm.describe_secret(SecretId=SECRET)["ARN"] == ids["secret"]


def test_secret_values_stay_out_of_the_control_journal_and_the_journal_is_private(crashed):
    _, _, _, _, persist = crashed
    control = (persist / "control.jsonl").read_text()
    assert "CreateSecret" in control and "kept" not in control and "new" not in control
    assert stat.S_IMODE(persist.stat().st_mode) == 0o700
    files = [p for p in persist.rglob("*") if p.is_file()]
    assert files and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files)


def test_a_message_moved_to_its_dlq_stays_there_after_a_crash(tmp_path):
    persist = tmp_path / "journal"
    port = free_port()
    emu = Emulator(port=port, deterministic_ids=True, persist_dir=persist).start()
    ids = deploy(emu.endpoint)
    sqs = client("sqs", emu.endpoint)
    sqs.send_message(QueueUrl=ids["queue"], MessageBody="poison", MessageGroupId="g", MessageDeduplicationId="p")
    for _ in range(3):  # maxReceiveCount 2: the third receive moves it to the DLQ
        sqs.receive_message(QueueUrl=ids["queue"], MaxNumberOfMessages=1, VisibilityTimeout=0)
    crash(emu)
    with Emulator(port=port, deterministic_ids=True, persist_dir=persist) as back:
        sqs = client("sqs", back.endpoint)
        assert sqs.receive_message(QueueUrl=ids["queue"], MaxNumberOfMessages=10).get("Messages", []) == []
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=ids["dlq"], MaxNumberOfMessages=10)["Messages"]] \
            == ["poison"]


def test_reset_keeps_the_data_aside_until_the_resources_exist_again(tmp_path):
    persist, state = tmp_path / "journal", tmp_path / "terraform.tfstate"
    with Emulator(port=free_port(), deterministic_ids=True, persist_dir=persist) as emu:
        ids = deploy(emu.endpoint)
        accept_webhooks(emu.endpoint, ids, n=2)
        state_file(state, ids)
        report = state_check.reset_keeping_data(emu.endpoint, state)
        assert report["pending"] == {"messages": 2, "items": 2, "objects": 2, "secrets": 1}
        assert not state.exists() and state_check.is_fresh(emu.endpoint)
        # Nothing to put it back into yet: it waits.
        early = state_check.restore_pending(emu.endpoint)
        assert early["restored"] == {} and len(early["missing"]) == 7
        deploy(emu.endpoint)  # the apply from nothing
        back = state_check.restore_pending(emu.endpoint)
        assert back["restored"] == {"messages": 2, "items": 2, "objects": 2, "secrets": 1} and back["missing"] == []
        assert client("dynamodb", emu.endpoint).scan(TableName="wh-table")["Count"] == 2
        assert state_check.restore_pending(emu.endpoint)["restored"] == {}  # idempotent: nothing twice


def test_without_deterministic_ids_the_mismatch_is_detected(tmp_path):
    persist, state = tmp_path / "journal", tmp_path / "terraform.tfstate"
    port = free_port()
    emu = Emulator(port=port, persist_dir=persist).start()  # moto's random ids
    state_file(state, deploy(emu.endpoint))
    crash(emu)
    with Emulator(port=port, persist_dir=persist) as back:
        mismatches = state_check.state_mismatches(back.endpoint, state)
    assert any("aws_api_gateway_rest_api" in m for m in mismatches)
    assert any("aws_secretsmanager_secret" in m for m in mismatches)


def test_an_emulator_that_dies_at_start_says_why(tmp_path):
    persist = tmp_path / "journal"
    persist.mkdir()
    (persist / "FORMAT").write_text("something-else/9")
    with pytest.raises(EmulatorError) as failure:
        Emulator(port=free_port(), persist_dir=persist, log_path=tmp_path / "emu.log").start()
    message = str(failure.value)
    assert message.startswith("the emulator exited at start (code 1): ")
    assert "holds a journal of another format ('something-else/9')" in message and str(tmp_path / "emu.log") in message


def test_the_port_of_something_else_is_refused_naming_it(tmp_path):
    with Emulator(port=free_port()) as other:  # not this project's: no runtime file, other token
        runtime = tmp_path / "emulator-local.json"
        assert Emulator.attach(runtime) is None
        with pytest.raises(EmulatorError, match=rf"port {other.port} on 127.0.0.1 is held by pid {other.pid} "
                                                r"\(.*local_runtime.emulator_server"):
            Emulator(port=other.port, runtime_file=runtime).start()


def test_attach_finds_the_emulator_its_runtime_file_describes_and_nothing_else(tmp_path):
    runtime, persist = tmp_path / "emulator-local.json", tmp_path / "journal"
    emu = Emulator(port=free_port(), persist_dir=persist, runtime_file=runtime).start()
    try:
        found = Emulator.attach(runtime, persist)
        assert found is not None and (found.pid, found.port, found.token) == (emu.pid, emu.port, emu.token)
        assert Emulator.attach(runtime, tmp_path / "another-journal") is None
        doc = json.loads(runtime.read_text())
        runtime.write_text(json.dumps({**doc, "token": "forged"}))
        assert Emulator.attach(runtime, persist) is None
        runtime.write_text(json.dumps(doc))
        found.stop()  # stops it by pid, though another object started it
        assert not pid_alive(emu.pid) and not runtime.exists()
    finally:
        emu.stop()


def test_control_journal_drops_only_a_torn_last_line(tmp_path):
    control = journal.ControlJournal(tmp_path)
    control.append({"method": "POST", "path": "/a"})
    control.append({"method": "POST", "path": "/b"})
    with open(control.path, "a") as f:
        f.write('{"method": "PO')  # a crash in the middle of a write
    assert [e["path"] for e in control.entries()] == ["/a", "/b"]
    control.path.write_text('{"path": "/a"}\n{"pa\n{"path": "/c"}\n')
    with pytest.raises(journal.JournalError, match="unreadable line 2"):
        control.entries()


def signed(service: str) -> dict:
    return {"Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/{service}/aws4_request, "
                             "SignedHeaders=host, Signature=x"}


@pytest.mark.parametrize("entry,verdict", [
    ({"method": "POST", "path": "/", "headers": {"X-Amz-Target": "AmazonSQS.SendMessage"}}, "data-plane"),
    ({"method": "POST", "path": "/", "headers": {"X-Amz-Target": "AmazonSQS.CreateQueue"}}, "control"),
    ({"method": "POST", "path": "/", "headers": {"X-Amz-Target": "DynamoDB_20120810.DescribeTable"}}, "read"),
    ({"method": "POST", "path": "/", "headers": {"X-Amz-Target": "secretsmanager.PutSecretValue"}}, "data-plane"),
    ({"method": "POST", "path": "/", "headers": {"Content-Type": "application/x-www-form-urlencoded"},
      "body_b64": "QWN0aW9uPUNyZWF0ZVJvbGUmUm9sZU5hbWU9eA=="}, "control"),  # Action=CreateRole
    ({"method": "POST", "path": "/", "query": "Action=GetRole&RoleName=x"}, "read"),
    ({"method": "GET", "path": "/restapis/abc"}, "read"),
    ({"method": "PUT", "path": "/bucket", "headers": signed("s3")}, "control"),
    ({"method": "PUT", "path": "/bucket/key/with/slashes", "headers": signed("s3")}, "data-plane"),
    ({"method": "POST", "path": "/bucket", "query": "delete", "headers": signed("s3")}, "data-plane"),  # DeleteObjects
    ({"method": "PUT", "path": "/restapis/abc/resources/x", "headers": signed("apigateway")}, "control"),
    ({"method": "POST", "path": "/2015-03-31/functions/f/invocations"}, "data-plane"),
    ({"method": "POST", "path": "/moto-api/reset"}, "moto-api"),
])
def test_classify(entry, verdict):
    assert journal.classify(entry) == verdict


def test_restore_time_for_a_hundred_resources_and_a_thousand_records(tmp_path):
    """Everything journaled comes back (the time it takes is in the restore report, not asserted)."""
    persist = tmp_path / "journal"
    port = free_port()
    emu = Emulator(port=port, deterministic_ids=True, persist_dir=persist).start()
    sqs, ddb = client("sqs", emu.endpoint), client("dynamodb", emu.endpoint)
    for i in range(70):
        sqs.create_queue(QueueName=f"q{i}.fifo", Attributes={"FifoQueue": "true"})
    for i in range(30):
        ddb.create_table(TableName=f"t{i}", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
    for i in range(1000):
        ddb.put_item(TableName=f"t{i % 30}", Item={"k": {"S": str(i)}})
    crash(emu)
    with Emulator(port=port, deterministic_ids=True, persist_dir=persist) as back:
        report = back.identity()["restore"]
        assert report["control_calls"] == 100 and report["data"] == {"items": 1000}
        assert sum(client("dynamodb", back.endpoint).scan(TableName=f"t{i}")["Count"] for i in range(30)) == 1000
