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
