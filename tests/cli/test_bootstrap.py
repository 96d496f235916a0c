"""bootstrap for a real-AWS environment (moto in-process stands in for AWS)."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws


@pytest.fixture(autouse=True)
def aws_managed_policies(monkeypatch):
    # moto only knows AWS managed policies (AmazonAPIGatewayPushToCloudWatchLogs) when asked to.
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")


@mock_aws
def test_bootstrap_creates_a_private_versioned_encrypted_tls_only_bucket(run_cli):
    first = run_cli("bootstrap", "--env", "dev", "--json")
    assert first.exit_code == 0, first.output
    role = "arn:aws:iam::123456789012:role/webhookctl-apigateway-cloudwatch"
    assert json.loads(first.stdout) == {"environment": "dev", "backend": "s3", "bucket": "webhooks-tfstate-dev",
                                        "region": "eu-west-1", "created": True, "apigateway_cloudwatch_role": role}
    assert boto3.client("apigateway", region_name="eu-west-1").get_account()["cloudwatchRoleArn"] == role
    attached = boto3.client("iam").list_attached_role_policies(RoleName="webhookctl-apigateway-cloudwatch")
    assert [p["PolicyName"] for p in attached["AttachedPolicies"]] == ["AmazonAPIGatewayPushToCloudWatchLogs"]
    s3 = boto3.client("s3", region_name="eu-west-1")
    assert s3.get_bucket_location(Bucket="webhooks-tfstate-dev")["LocationConstraint"] == "eu-west-1"
    assert s3.get_bucket_versioning(Bucket="webhooks-tfstate-dev")["Status"] == "Enabled"
    rule = s3.get_bucket_encryption(Bucket="webhooks-tfstate-dev")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket="webhooks-tfstate-dev")["PublicAccessBlockConfiguration"].values())
    policy = json.loads(s3.get_bucket_policy(Bucket="webhooks-tfstate-dev")["Policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert policy["Statement"][0]["Effect"] == "Deny"

    second = run_cli("bootstrap", "--env", "dev", "--json")
    assert second.exit_code == 0 and json.loads(second.stdout)["created"] is False
    assert "already exists (yours)" in second.stderr
    assert f"API Gateway already logs to CloudWatch with {role}" in second.stderr


@mock_aws
def test_bootstrap_never_replaces_an_existing_api_gateway_role(run_cli):
    boto3.client("apigateway", region_name="eu-west-1").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::123456789012:role/theirs"}])
    result = run_cli("bootstrap", "--env", "dev", "--json")
    assert json.loads(result.stdout)["apigateway_cloudwatch_role"] == "arn:aws:iam::123456789012:role/theirs"


def test_bootstrap_of_a_local_backend_has_nothing_to_do(run_cli):
    result = run_cli("bootstrap", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"environment": "local", "backend": "local", "created": False}
    assert "no bucket to create" in result.stderr


# ---------------------------------------------------------------- the API Gateway role: propagation, partitions, checks


class FakeApiGateway:
    """update_account refuses the role `refusals` times (IAM propagation), then takes it."""

    def __init__(self, refusals: int, code: str = "BadRequestException"):
        self.refusals, self.code, self.updates = refusals, code, []

    def get_account(self):
        return {}

    def update_account(self, patchOperations):
        from botocore.exceptions import ClientError

        self.updates.append(patchOperations)
        if len(self.updates) <= self.refusals:
            raise ClientError({"Error": {"Code": self.code, "Message": "The role ARN does not have required "
                                         "permissions set to API Gateway"}}, "UpdateAccount")
        return {}


class FakeIam:
    class exceptions:
        EntityAlreadyExistsException = type("EntityAlreadyExistsException", (Exception,), {})

    def __init__(self):
        self.attached = []

    def create_role(self, RoleName, **kwargs):
        return {"Role": {"Arn": f"arn:aws-us-gov:iam::123456789012:role/{RoleName}"}}

    def attach_role_policy(self, RoleName, PolicyArn):
        self.attached.append(PolicyArn)


@pytest.fixture
def gov_workspace(project):
    import dataclasses

    from cli.workspace import Workspace

    ws = Workspace.open(project / "webhookctl.toml", "dev")
    return dataclasses.replace(ws, env=dataclasses.replace(ws.env, region="us-gov-west-1"))


def _bootstrap_role(monkeypatch, ws, apigw, iam=None):
    from cli import bootstrap

    iam = iam or FakeIam()
    monkeypatch.setattr(bootstrap, "require_credentials", lambda ws: None)
    monkeypatch.setattr(bootstrap, "client", lambda ws, service: {"apigateway": apigw, "iam": iam}[service])
    sleeps, lines = [], []
    arn = bootstrap.apigateway_logging_role(ws, lines.append, sleep=sleeps.append)
    return arn, sleeps, lines


def test_update_account_is_retried_while_iam_propagates_the_new_role(monkeypatch, gov_workspace):
    apigw = FakeApiGateway(refusals=2)
    arn, sleeps, lines = _bootstrap_role(monkeypatch, gov_workspace, apigw)
    assert arn == "arn:aws-us-gov:iam::123456789012:role/webhookctl-apigateway-cloudwatch"
    assert sleeps == [2, 4] and len(apigw.updates) == 3
    assert lines[0] == "bootstrap: the new role is not usable yet (IAM propagation); retrying in 2 s"


def test_gives_up_in_one_line_after_about_a_minute(monkeypatch, gov_workspace):
    from cli.bootstrap import ROLE_PROPAGATION_DELAYS
    from cli.errors import WebhookctlError

    with pytest.raises(WebhookctlError) as err:
        _bootstrap_role(monkeypatch, gov_workspace, FakeApiGateway(refusals=99))
    assert str(err.value) == (
        "API Gateway still refuses arn:aws-us-gov:iam::123456789012:role/webhookctl-apigateway-cloudwatch after "
        f"{sum(ROLE_PROPAGATION_DELAYS)} s (IAM propagation): run `webhookctl bootstrap --env dev` again in a minute")


def test_other_refusals_are_not_retried(monkeypatch, gov_workspace):
    from cli.errors import WebhookctlError

    apigw = FakeApiGateway(refusals=1, code="AccessDeniedException")
    with pytest.raises(WebhookctlError, match="^could not set API Gateway's CloudWatch role to arn:aws-us-gov:"):
        _bootstrap_role(monkeypatch, gov_workspace, apigw)
    assert len(apigw.updates) == 1


def test_arns_are_built_from_the_regions_partition(monkeypatch, gov_workspace):
    from cli.bootstrap import tls_only_policy

    iam = FakeIam()
    _bootstrap_role(monkeypatch, gov_workspace, FakeApiGateway(refusals=0), iam)
    assert iam.attached == ["arn:aws-us-gov:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"]
    assert tls_only_policy("state", "aws-cn")["Statement"][0]["Resource"] == ["arn:aws-cn:s3:::state", "arn:aws-cn:s3:::state/*"]


@mock_aws
def test_deploy_to_aws_without_the_apigateway_role_says_to_bootstrap(run_cli, fake_tf):
    result = run_cli("deploy", "--env", "dev", "-y")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: API Gateway in eu-west-1 has no CloudWatch role for this account, so the stage's logs would fail "
        "to deploy: run `webhookctl bootstrap --env dev` first")
    assert fake_tf.calls == []  # nothing planned, nothing applied


@mock_aws
def test_deploy_to_aws_with_the_apigateway_role_plans(run_cli, fake_tf):
    boto3.client("apigateway", region_name="eu-west-1").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::123456789012:role/r"}])
    fake_tf.answer("plan", returncode=0)
    result = run_cli("deploy", "--env", "dev", "-y")
    assert result.exit_code == 0, result.output
    assert [argv[0] for argv in fake_tf.argvs] == ["init", "plan"]


@mock_aws
def test_doctor_checks_the_apigateway_role_on_aws(run_cli, project, monkeypatch):
    from cli import doctor

    monkeypatch.setattr(doctor, "check_environment", lambda ws: doctor.Check("aws credentials", True, "arn:me"))
    doc = json.loads(run_cli("doctor", "--env", "dev", "--json").stdout)
    role = doc["checks"][-1]
    assert role == {"name": "apigateway logging role", "ok": False, "detail": "none set in eu-west-1",
                    "fix": "run `webhookctl bootstrap --env dev`"}
    boto3.client("apigateway", region_name="eu-west-1").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": "arn:aws:iam::123456789012:role/r"}])
    role = json.loads(run_cli("doctor", "--env", "dev", "--json").stdout)["checks"][-1]
    assert (role["ok"], role["detail"]) == (True, "arn:aws:iam::123456789012:role/r")


def test_doctor_on_the_emulator_does_not_ask_aws(run_cli, project):
    names = [c["name"] for c in json.loads(run_cli("doctor", "--json").stdout)["checks"]]
    assert "apigateway logging role" not in names


def test_doctor_wants_the_terraform_the_project_is_tested_on(monkeypatch):
    from cli import doctor

    monkeypatch.setattr(doctor.shutil, "which", lambda name: "/usr/bin/terraform")
    monkeypatch.setattr(doctor, "_version", lambda argv: "1.9.8")
    check = doctor.check_terraform()
    assert (check.ok, check.detail) == (False, "1.9.8")
    assert check.fix.startswith("Terraform 1.11+ is required (S3 state locking needs 1.10+)")
    monkeypatch.setattr(doctor, "_version", lambda argv: "1.11.4")
    assert doctor.check_terraform().ok
