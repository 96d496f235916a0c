"""S3 archive bucket: versioned, encrypted, private, TLS-only, aging to Glacier."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf_cdktf_provider_aws.s3_bucket import S3Bucket
from cdktf_cdktf_provider_aws.s3_bucket_lifecycle_configuration import (
    S3BucketLifecycleConfiguration,
    S3BucketLifecycleConfigurationRule,
    S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload,
    S3BucketLifecycleConfigurationRuleExpiration,
    S3BucketLifecycleConfigurationRuleFilter,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration,
    S3BucketLifecycleConfigurationRuleNoncurrentVersionTransition,
    S3BucketLifecycleConfigurationRuleTransition,
)
from cdktf_cdktf_provider_aws.s3_bucket_policy import S3BucketPolicy
from cdktf_cdktf_provider_aws.s3_bucket_public_access_block import S3BucketPublicAccessBlock
from cdktf_cdktf_provider_aws.s3_bucket_server_side_encryption_configuration import (
    S3BucketServerSideEncryptionConfigurationA,
    S3BucketServerSideEncryptionConfigurationRuleA,
)
from cdktf_cdktf_provider_aws.s3_bucket_versioning import S3BucketVersioningA
from constructs import Construct

from .defaults import BUCKET_ABORT_MULTIPART_DAYS, BUCKET_GLACIER_AFTER_DAYS, checkov_skip, raise_if
from .iam import AwsContext, Grantee, deny_insecure_transport, document, sid, statement

_TOKEN = re.compile(r"\$\{[^}]*\}")
_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


@dataclass(frozen=True)
class BucketProps:
    name: str  # may contain a token (the account id); checked with it replaced
    protect: bool = False
    glacier_after_days: int = BUCKET_GLACIER_AFTER_DAYS
    expiration_days: int | None = None
    # Deny plain-http access. Off only for the emulator: it speaks plain http on
    # loopback and moto enforces bucket policies, so the deny would lock out everyone.
    enforce_tls: bool = True


def validate_bucket_props(props: BucketProps) -> list[str]:
    problems: list[str] = []
    sample = _TOKEN.sub("123456789012", props.name or "")
    if not _NAME.match(sample):
        problems.append(f"name '{props.name}' is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')")
    if props.glacier_after_days < 1:
        problems.append("glacier_after_days must be at least 1")
    if props.expiration_days is not None and props.expiration_days <= props.glacier_after_days:
        problems.append(
            f"expiration_days {props.expiration_days} must be later than the Glacier transition ({props.glacier_after_days} days)"
        )
    return problems


class Bucket(Construct):
    """`bucket` and its configuration resources; `name` and `arn` are built strings."""

    def __init__(self, scope: Construct, id: str, *, props: BucketProps, aws: AwsContext):
        raise_if(f"Bucket '{id}'", validate_bucket_props(props))
        super().__init__(scope, id)
        self.name = props.name
        self.arn = f"arn:{aws.partition}:s3:::{props.name}"
        self.bucket = S3Bucket(self, "bucket", bucket=props.name, force_destroy=not props.protect)
        bucket_id = self.bucket.id
        self.versioning = S3BucketVersioningA(
            self, "versioning", bucket=bucket_id, versioning_configuration={"status": "Enabled"}
        )
        self.encryption = S3BucketServerSideEncryptionConfigurationA(
            self,
            "encryption",
            bucket=bucket_id,
            rule=[
                S3BucketServerSideEncryptionConfigurationRuleA(
                    apply_server_side_encryption_by_default={"sse_algorithm": "AES256"}, bucket_key_enabled=True
                )
            ],
        )
        self.public_access_block = S3BucketPublicAccessBlock(
            self,
            "public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
        )
        self.policy = (
            S3BucketPolicy(
                self,
                "policy",
                bucket=bucket_id,
                policy=document(deny_insecure_transport("s3:*", [self.arn, f"{self.arn}/*"])),
                depends_on=[self.public_access_block],
            )
            if props.enforce_tls
            else None
        )
        days = props.glacier_after_days
        expiry = props.expiration_days
        rule = S3BucketLifecycleConfigurationRule(
            id="archive",
            status="Enabled",
            filter=[S3BucketLifecycleConfigurationRuleFilter(prefix="")],
            transition=[S3BucketLifecycleConfigurationRuleTransition(days=days, storage_class="GLACIER")],
            noncurrent_version_transition=[
                S3BucketLifecycleConfigurationRuleNoncurrentVersionTransition(noncurrent_days=days, storage_class="GLACIER")
            ],
            abort_incomplete_multipart_upload=[
                S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=BUCKET_ABORT_MULTIPART_DAYS)
            ],
            expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=expiry)] if expiry else None,
            noncurrent_version_expiration=(
                [S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=expiry)] if expiry else None
            ),
        )
        # The provider waits ~55 s here whatever the endpoint: keep it off everything else's path.
        self.lifecycle = S3BucketLifecycleConfiguration(self, "lifecycle", bucket=bucket_id, rule=[rule])
        checkov_skip(
            self.bucket,
            {
                "CKV_AWS_18": "raw-payload archive written only by the ingest function; CloudTrail data events cover access auditing",
                "CKV_AWS_144": "single-region service; the archive is re-creatable from providers' redelivery, replication is a per-deployment choice",
                "CKV_AWS_145": "SSE-S3 (AES256) with bucket keys; a customer KMS key is a per-deployment choice",
                "CKV2_AWS_62": "no consumer of object-created events: processing is driven by the SQS pointer",
            },
        )

    def grant_put(self, grantee: Grantee) -> Any:
        return grantee.add_to_policy(sid("put", self.node.id), [statement(["s3:PutObject"], [f"{self.arn}/*"])])

    def grant_read(self, grantee: Grantee) -> Any:
        return grantee.add_to_policy(sid("read", self.node.id), [statement(["s3:GetObject"], [f"{self.arn}/*"])])
