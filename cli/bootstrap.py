"""`webhookctl bootstrap`: what an environment needs before its first deploy.

The S3 bucket that holds its Terraform state, and on AWS the account's API Gateway CloudWatch
role. `deploy` and `doctor` check the role (`check_apigateway_logging_role`).
"""
from __future__ import annotations

import json
import time
from typing import Callable

from constructs_lib.iam import partition_for

from .aws import client, require_credentials
from .errors import WebhookctlError
from .workspace import Workspace

APIGW_LOGS_ROLE = "webhookctl-apigateway-cloudwatch"
APIGW_LOGS_POLICY = "iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"  # after arn:<partition>:
# IAM is eventually consistent: API Gateway refuses a role created a moment ago ("does not have
# required permissions") until it has propagated. Seconds between attempts, ~1 minute in all.
# https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency
ROLE_PROPAGATION_DELAYS = (2, 4, 8, 16, 30)


def bootstrap(ws: Workspace, log: Callable[[str], None]) -> dict:
    """What an environment needs before its first deploy. Safe to run any number of times.

    - the S3 bucket of an `s3` state backend;
    - on AWS, the account's API Gateway CloudWatch role (one per account and
      region, so not in any stack): without it a stage with access logs fails.
    """
    result = state_bucket(ws, log)
    if not ws.env.is_emulated:
        result["apigateway_cloudwatch_role"] = apigateway_logging_role(ws, log)
    return result


def apigateway_logging_role(ws: Workspace, log: Callable[[str], None],
                            sleep: Callable[[float], None] = time.sleep) -> str:
    """Set the account's API Gateway CloudWatch role if none is set; never replace one."""
    require_credentials(ws)
    apigw = client(ws, "apigateway")
    current = apigw.get_account().get("cloudwatchRoleArn")
    if current:
        log(f"bootstrap: API Gateway already logs to CloudWatch with {current}")
        return current
    iam = client(ws, "iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                      "Principal": {"Service": "apigateway.amazonaws.com"}}]}
    try:
        arn = iam.create_role(RoleName=APIGW_LOGS_ROLE, AssumeRolePolicyDocument=json.dumps(trust),
                              Description="Lets API Gateway write access and execution logs (webhookctl)")["Role"]["Arn"]
    except iam.exceptions.EntityAlreadyExistsException:
        arn = iam.get_role(RoleName=APIGW_LOGS_ROLE)["Role"]["Arn"]
    iam.attach_role_policy(RoleName=APIGW_LOGS_ROLE, PolicyArn=f"arn:{partition_for(ws.env.region)}:{APIGW_LOGS_POLICY}")
    _set_account_role(ws, apigw, arn, log, sleep)
    log(f"bootstrap: API Gateway in {ws.env.region} now logs to CloudWatch with {arn}")
    return arn


def _set_account_role(ws: Workspace, apigw, arn: str, log: Callable[[str], None], sleep: Callable[[float], None]) -> None:
    """update_account, retried while IAM propagates the new role."""
    from botocore.exceptions import ClientError

    for delay in (*ROLE_PROPAGATION_DELAYS, None):
        try:
            apigw.update_account(patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": arn}])
            return
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BadRequestException":
                raise WebhookctlError(f"could not set API Gateway's CloudWatch role to {arn}: {exc}") from None
            if delay is None:
                raise WebhookctlError(
                    f"API Gateway still refuses {arn} after {sum(ROLE_PROPAGATION_DELAYS)} s (IAM propagation): "
                    f"run `webhookctl bootstrap --env {ws.env.name}` again in a minute"
                ) from None
            log(f"bootstrap: the new role is not usable yet (IAM propagation); retrying in {delay} s")
            sleep(delay)


def apigateway_logging_role_arn(ws: Workspace) -> str | None:
    """The account's API Gateway CloudWatch role in the environment's region, or None."""
    require_credentials(ws)
    return client(ws, "apigateway").get_account().get("cloudwatchRoleArn") or None


def check_apigateway_logging_role(ws: Workspace) -> None:
    """Before applying to AWS: a stage with access logs fails to deploy without the account's role."""
    if ws.env.is_emulated:
        return
    if apigateway_logging_role_arn(ws) is None:
        raise WebhookctlError(
            f"API Gateway in {ws.env.region} has no CloudWatch role for this account, so the stage's logs "
            f"would fail to deploy: run `webhookctl bootstrap --env {ws.env.name}` first"
        )


def state_bucket(ws: Workspace, log: Callable[[str], None]) -> dict:
    """Create (or bring up to standard) the state bucket of an s3 backend."""
    backend = ws.env.backend
    if backend.type != "s3":
        log(f"bootstrap: environment '{ws.env.name}' keeps its state in {ws.local_state_file}; no bucket to create")
        return {"environment": ws.env.name, "backend": "local", "created": False}
    if ws.env.is_emulated:
        from .stack_ops import check_reachable

        check_reachable(ws)
    require_credentials(ws)
    from botocore.exceptions import ClientError

    s3 = client(ws, "s3", region=backend.region)
    created = False
    # Ask first: in us-east-1 CreateBucket on a bucket you already own just answers 200.
    try:
        s3.head_bucket(Bucket=backend.bucket)
        log(f"bootstrap: s3://{backend.bucket} already exists (yours); checking its settings")
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code"))
        if code in ("403", "AccessDenied", "Forbidden"):
            raise WebhookctlError(
                f"the state bucket name '{backend.bucket}' is taken by another AWS account (or you may not read it): "
                f"choose another environments.{ws.env.name}.backend.bucket in {ws.config_path.name}"
            ) from None
        if code not in ("404", "NoSuchBucket", "NotFound"):
            raise WebhookctlError(f"could not check s3://{backend.bucket}: {exc}") from None
        kwargs = {"Bucket": backend.bucket}
        if backend.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": backend.region}
        try:
            s3.create_bucket(**kwargs)
        except ClientError as create_exc:
            raise WebhookctlError(f"could not create s3://{backend.bucket}: {create_exc}") from None
        created = True
        log(f"bootstrap: created s3://{backend.bucket} in {backend.region}")
    # Every setting is re-applied each run: idempotent, and it repairs drift.
    s3.put_bucket_versioning(Bucket=backend.bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(
        Bucket=backend.bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
        },
    )
    s3.put_public_access_block(
        Bucket=backend.bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True,
        },
    )
    if ws.env.is_emulated:
        # The emulator speaks plain http on loopback, and moto enforces bucket
        # policies: a TLS-only policy would lock Terraform out of its own state.
        log(f"bootstrap: s3://{backend.bucket} is versioned, encrypted and private (emulator: no TLS-only policy)")
    else:
        policy = tls_only_policy(backend.bucket, partition_for(backend.region))
        s3.put_bucket_policy(Bucket=backend.bucket, Policy=json.dumps(policy))
        log(f"bootstrap: s3://{backend.bucket} is versioned, encrypted, private and TLS-only")
    return {"environment": ws.env.name, "backend": "s3", "bucket": backend.bucket, "region": backend.region,
            "created": created}


def tls_only_policy(bucket: str, partition: str) -> dict:
    arn = f"arn:{partition}:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    }
