"""S3 archive bucket: versioned, encrypted, private, TLS-only, with an honest lifecycle.

The lifecycle (config `[archive]`, docs/cost.md) has three rules:

- `expire`: every object expires after `expiration_days` (if set); on this versioned bucket
  that only puts a delete marker over it, so its data, now a noncurrent version, expires
  `noncurrent_days` later, as does any version replaced or deleted by hand. Retention is
  therefore what the config says. Incomplete multipart uploads are aborted.
- `transition`: objects of at least `transition_min_bytes` move to `transition_storage_class`
  after `transition_days`. The size is explicit: S3's default (`all_storage_classes_128K`)
  silently skips objects under 128 KB, most webhooks, and forcing them would cost more than it
  saves (Glacier bills 40 KB of overhead per object and a fee per transition).
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-transition-general-considerations.html
- `delete-markers`: removes delete markers left with no version behind them (S3 allows
  `ExpiredObjectDeleteMarker` only in a rule without expiration days).
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configuration-examples.html
"""
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


# The storage classes a transition may name, and their minimum storage duration in days.
TRANSITION_STORAGE_CLASSES = {"GLACIER_IR": 90, "GLACIER": 90, "DEEP_ARCHIVE": 180}
# Objects smaller than this stay in S3 Standard (docs/cost.md: a 256 KiB object pays its Glacier
# transition back in about 9 months; under ~150 KB it would not within a year).
TRANSITION_MIN_BYTES = 256 * 1024
NONCURRENT_DAYS = 7


@dataclass(frozen=True)
class BucketProps:
    name: str  # may contain a token (the account id); checked with it replaced
    protect: bool = False
    transition_days: int | None = BUCKET_GLACIER_AFTER_DAYS  # None: objects never leave S3 Standard
    transition_min_bytes: int = TRANSITION_MIN_BYTES
    transition_storage_class: str = "GLACIER"
    expiration_days: int | None = None
    noncurrent_days: int = NONCURRENT_DAYS
    # Deny plain-http access. Off only for the emulator: it speaks plain http on
    # loopback and moto enforces bucket policies, so the deny would lock out everyone.
    enforce_tls: bool = True


def validate_bucket_props(props: BucketProps) -> list[str]:
    problems: list[str] = []
    sample = _TOKEN.sub("123456789012", props.name or "")
    if not _NAME.match(sample):
        problems.append(f"name '{props.name}' is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')")
    days = props.transition_days
    if days is not None and days < 1:
        problems.append("transition_days must be at least 1")
    if props.transition_storage_class not in TRANSITION_STORAGE_CLASSES:
        problems.append(f"transition_storage_class must be one of: {', '.join(TRANSITION_STORAGE_CLASSES)}")
    if props.transition_min_bytes < 0:
        problems.append("transition_min_bytes must be 0 or more")
    if props.noncurrent_days < 1:
        problems.append("noncurrent_days must be at least 1")
    if props.expiration_days is not None and days is not None and props.expiration_days <= days:
        problems.append(f"expiration_days {props.expiration_days} must be later than the transition ({days} days)")
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
        # The provider waits ~55 s here whatever the endpoint: keep it off everything else's path.
        self.lifecycle = S3BucketLifecycleConfiguration(
            self, "lifecycle", bucket=bucket_id, rule=lifecycle_rules(props, emulated=aws.is_emulated),
            # Explicit, though the transition rule's own size filter takes precedence over it.
            transition_default_minimum_object_size="all_storage_classes_128K",
        )
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


def lifecycle_rules(props: BucketProps, emulated: bool = False) -> list[S3BucketLifecycleConfigurationRule]:
    """The archive's lifecycle: expire (and noncurrent versions), transition what is worth it, clean markers.

    moto 5.2.1 drops a rule's ObjectSizeGreaterThan (it would report a transition of every
    object, and the provider waits for the rule it put until it times out): the emulator's
    lifecycle has no transition rule. moto applies no lifecycle anyway.
    """
    everything = [S3BucketLifecycleConfigurationRuleFilter(prefix="")]
    expiry = props.expiration_days
    rules = [S3BucketLifecycleConfigurationRule(
        id="expire",
        status="Enabled",
        filter=everything,
        expiration=[S3BucketLifecycleConfigurationRuleExpiration(days=expiry)] if expiry else None,
        noncurrent_version_expiration=[
            S3BucketLifecycleConfigurationRuleNoncurrentVersionExpiration(noncurrent_days=props.noncurrent_days)],
        abort_incomplete_multipart_upload=[
            S3BucketLifecycleConfigurationRuleAbortIncompleteMultipartUpload(days_after_initiation=BUCKET_ABORT_MULTIPART_DAYS)],
    )]
    if props.transition_days is not None and not emulated:
        rules.append(S3BucketLifecycleConfigurationRule(
            id="transition",
            status="Enabled",
            # ObjectSizeGreaterThan is strict: "at least N bytes" is "greater than N - 1".
            filter=[S3BucketLifecycleConfigurationRuleFilter(object_size_greater_than=max(0, props.transition_min_bytes - 1))],
            transition=[S3BucketLifecycleConfigurationRuleTransition(
                days=props.transition_days, storage_class=props.transition_storage_class)],
        ))
    rules.append(S3BucketLifecycleConfigurationRule(
        id="delete-markers",
        status="Enabled",
        filter=everything,
        expiration=[S3BucketLifecycleConfigurationRuleExpiration(expired_object_delete_marker=True)],
    ))
    return rules
