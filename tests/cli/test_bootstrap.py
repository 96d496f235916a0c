"""bootstrap for a real-AWS environment (moto in-process stands in for AWS)."""
from __future__ import annotations

import json

import boto3
from moto import mock_aws


@mock_aws
def test_bootstrap_creates_a_private_versioned_encrypted_tls_only_bucket(run_cli):
    first = run_cli("bootstrap", "--env", "dev", "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout) == {"environment": "dev", "backend": "s3", "bucket": "webhooks-tfstate-dev",
                                        "region": "eu-west-1", "created": True}
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


def test_bootstrap_of_a_local_backend_has_nothing_to_do(run_cli):
    result = run_cli("bootstrap", "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"environment": "local", "backend": "local", "created": False}
