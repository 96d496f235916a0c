"""The CLI with the real Terraform against the emulator: per-environment state, end to end.

`local` keeps its state file in the project; `staging` (emulated too, for the
test) has an S3 backend whose bucket `bootstrap` creates on the emulator.
"""
from __future__ import annotations

import json

import boto3
import pytest

pytestmark = [pytest.mark.terraform, pytest.mark.emulator, pytest.mark.slow]

SEED_OUTPUTS = {
    "api_endpoint", "dynamodb_table_name", "s3_bucket_name", "sqs_queue_url", "eventbridge_bus_arn",
    "ingestion_function_name", "processing_function_name",
}
STAGING = """
[environments.staging]
region = "us-east-1"
emulator_endpoint = "{endpoint}"
backend = {{ type = "s3", bucket = "webhooks-tfstate-staging", key = "webhookctl/staging.tfstate", region = "us-east-1" }}
"""


@pytest.fixture(scope="module")
def e2e_project(tmp_path_factory, project_root, own_emulator):
    folder = tmp_path_factory.mktemp("e2e-project")
    text = (project_root / "webhookctl.toml").read_text().replace("http://127.0.0.1:4566", own_emulator.endpoint)
    (folder / "webhookctl.toml").write_text(text + STAGING.format(endpoint=own_emulator.endpoint))
    return folder


@pytest.fixture
def project(e2e_project):
    """conftest's `run_cli` runs in this module's project (its own emulator, its staging environment)."""
    return e2e_project


def s3(own_emulator):
    return boto3.client("s3", endpoint_url=own_emulator.endpoint, region_name="us-east-1")


@pytest.mark.xdist_group("applied-local-stack")  # with tests/infra/test_terraform.py: one applied stack for both
def test_local_deploy_outputs_and_state(applied_local_stack):
    """The session's `local` stack, deployed by `webhookctl deploy --auto-approve` (tests/applied_stack.py);
    tests/infra/test_terraform.py::test_destroy_removes_everything destroys it after this module."""
    stack = applied_local_stack
    assert stack.deploy.exit_code == 0, stack.deploy.output[-3000:]
    assert stack.state_file.exists()

    outputs = json.loads(stack.cli("outputs", "--json").stdout)
    assert SEED_OUTPUTS | {"dlq_url", "event_bus_name", "emulator_endpoint"} <= set(outputs)
    assert outputs["sqs_queue_url"].endswith(".fifo") and outputs["dlq_url"].endswith(".fifo")

    addresses = json.loads(stack.cli("state", "list", "--json").stdout)
    assert {a for a in addresses if not a.startswith("data.")} == stack.addresses()
    queue = next(a for a in addresses if a.startswith("aws_sqs_queue.ingest-queue_") and "_dlq_" not in a)
    shown = json.loads(stack.cli("state", "show", queue, "--json").stdout)
    assert shown["values"]["fifo_queue"] is True

    again = stack.cli("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output[-3000:]  # no drift after apply


def test_s3_backend_on_the_emulator(run_cli, own_emulator):
    first = run_cli("bootstrap", "--env", "staging", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["created"] is True
    second = run_cli("bootstrap", "--env", "staging", "--json")
    assert json.loads(second.stdout)["created"] is False  # safe to run twice
    bucket = s3(own_emulator)
    assert bucket.get_bucket_versioning(Bucket="webhooks-tfstate-staging")["Status"] == "Enabled"
    block = bucket.get_public_access_block(Bucket="webhooks-tfstate-staging")["PublicAccessBlockConfiguration"]
    assert all(block.values())

    deployed = run_cli("deploy", "--env", "staging", "-y")
    assert deployed.exit_code == 0, deployed.output[-3000:]
    keys = [o["Key"] for o in bucket.list_objects_v2(Bucket="webhooks-tfstate-staging").get("Contents", [])]
    assert keys == ["webhookctl/staging.tfstate"]  # its own state object, and no leftover lock
    state = json.loads(bucket.get_object(Bucket="webhooks-tfstate-staging", Key=keys[0])["Body"].read())
    assert any(r["type"] == "aws_sqs_queue" for r in state["resources"])

    noop = run_cli("deploy", "--env", "staging", "-y")
    assert noop.exit_code == 0
    assert "webhooks-staging is up to date, nothing to apply" in noop.stderr

    lock = {"ID": "1b2c3d4e-lock", "Operation": "OperationTypeApply", "Info": "", "Who": "ci@runner",
            "Version": "1.11.4", "Created": "2026-11-29T08:00:00Z", "Path": "webhooks-tfstate-staging/webhookctl/staging.tfstate"}
    bucket.put_object(Bucket="webhooks-tfstate-staging", Key="webhookctl/staging.tfstate.tflock", Body=json.dumps(lock))
    locked = run_cli("plan", "--env", "staging")
    assert locked.exit_code == 1
    last = locked.stderr.splitlines()[-1]
    assert last.startswith("Error: terraform plan failed for environment 'staging': the state is locked by another run")
    assert "1b2c3d4e-lock" in last and "ci@runner" in last
    bucket.delete_object(Bucket="webhooks-tfstate-staging", Key="webhookctl/staging.tfstate.tflock")

    gone = run_cli("destroy", "--env", "staging", "-y")
    assert gone.exit_code == 0, gone.output[-3000:]
