"""secrets set and status against the emulator (containers created here, as the stack would)."""
from __future__ import annotations

import json

import boto3
import pytest

from handlers.contract import StackOutputs

pytestmark = pytest.mark.emulator


@pytest.fixture
def local(project, emulator):
    """The project's `local` environment pointed at the session emulator."""
    path = project / "webhookctl.toml"
    path.write_text(path.read_text().replace("http://127.0.0.1:4566", emulator.endpoint))
    return emulator


def aws(emulator, service):
    return boto3.client(service, endpoint_url=emulator.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


@pytest.fixture
def container(local, request):
    """An empty secret container, as the stack creates it (no value)."""
    sm = aws(local, "secretsmanager")
    name = "webhooks-local/providers/github"
    try:
        sm.create_secret(Name=name)
    except sm.exceptions.ResourceExistsException:
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        sm.create_secret(Name=name)
    return sm, name


def stored(sm, name):
    return json.loads(sm.get_secret_value(SecretId=name)["SecretString"])["secrets"]


def test_secret_from_stdin_then_rotation_keeps_exactly_the_previous_one(run_cli, container):
    sm, name = container
    result = run_cli("secrets", "set", "github", input="first-secret\n")
    assert result.exit_code == 0, result.output
    assert stored(sm, name) == ["first-secret"]
    assert "first-secret" not in result.output  # never echoed

    assert run_cli("secrets", "set", "github", "--keep-previous", input="second").exit_code == 0
    assert stored(sm, name) == ["second", "first-secret"]
    assert run_cli("secrets", "set", "github", "--keep-previous", input="third").exit_code == 0
    assert stored(sm, name) == ["third", "second"]
    assert run_cli("secrets", "set", "github", input="fourth").exit_code == 0
    assert stored(sm, name) == ["fourth"]


def test_secret_errors(run_cli, container):
    result = run_cli("secrets", "set", "gitlab", input="x")
    assert result.stderr.splitlines()[-1].startswith("Error: unknown provider 'gitlab' (configured: acme, github,")
    result = run_cli("secrets", "set", "github", input="")
    assert result.exit_code == 1 and "no secret on stdin" in result.stderr
    result = run_cli("secrets", "set", "svix", input="not-a-whsec")
    assert result.stderr.splitlines()[-1] == (
        "Error: Standard Webhooks secrets look like whsec_<base64>: copy the whole value"
    )


def test_secret_before_deploy_says_deploy_first(run_cli, local, project):
    path = project / "webhookctl.toml"
    path.write_text(path.read_text().replace('project = "webhooks"', 'project = "never-deployed"'))
    result = run_cli("secrets", "set", "paddle", input="abc")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: no secret container never-deployed-local/providers/paddle in environment 'local': "
        "deploy it first (`webhookctl deploy --env local`)"
    )


def test_status_prints_the_record(run_cli, local, project):
    ddb = aws(local, "dynamodb")
    table = "status-test-table"
    ddb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "webhook_id", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "webhook_id", "KeyType": "HASH"}])
    ddb.put_item(TableName=table, Item={"webhook_id": {"S": "abc123"}, "status": {"S": "processed"},
                                        "attempts": {"N": "1"}, "provider": {"S": "github"}})
    (project / ".webhookctl").mkdir(exist_ok=True)
    outputs = StackOutputs(api_url="http://unused", table_name=table, bucket_name="b", queue_url="q", dlq_url="d",
                           event_bus_name="bus", event_bus_arn="arn", ingest_function_name="i",
                           process_function_name="p")
    # The outputs file as deploy writes it: the original design's names (aliases) included.
    (project / ".webhookctl" / "outputs-local.json").write_text(json.dumps(outputs.to_dict()))
    result = run_cli("status", "abc123", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"attempts": 1, "provider": "github", "status": "processed", "webhook_id": "abc123"}
    result = run_cli("status", "nope")
    assert result.stderr.splitlines()[-1] == "Error: no delivery nope in environment 'local'"
