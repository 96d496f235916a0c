"""CloudWatch log groups with the project's retention and accepted checkov findings."""
from __future__ import annotations

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from constructs import Construct

from .defaults import LOG_RETENTION_IN_DAYS, checkov_skip

LOG_GROUP_SKIPS = {
    "CKV_AWS_158": "CloudWatch Logs encrypts at rest by default; a customer KMS key is a per-deployment choice",
    "CKV_AWS_338": "short retention by design: raw payloads live in S3 and the event archive, logs are for operations",
}


def log_group(scope: Construct, id: str, name: str, retention_in_days: int = LOG_RETENTION_IN_DAYS) -> CloudwatchLogGroup:
    if not 1 <= retention_in_days <= 3653:
        raise ValueError(f"{id}: retention_in_days {retention_in_days} must be from 1 to 3653")
    group = CloudwatchLogGroup(scope, id, name=name, retention_in_days=retention_in_days)
    checkov_skip(group, LOG_GROUP_SKIPS)
    return group
