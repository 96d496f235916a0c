"""Secure defaults for every construct, in one place.

Each construct computes its resource arguments as
``merge(DEFAULTS, caller_overrides, required)``: the defaults are what a
careful engineer would pick, the caller may change them, and what the
construct needs to stay correct and secure (encryption on, FIFO pairing,
TLS-only policies) is applied last and cannot be overridden.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

DAY = 86_400

# SQS (terraform-aws-modules/sqs names): a 4-day queue, a 14-day DLQ.
QUEUE_DEFAULTS: Mapping[str, Any] = {
    "message_retention_seconds": 4 * DAY,
    "max_message_size": 262_144,  # provider 5.100.0 rejects more
    "receive_wait_time_seconds": 20,  # long polling
    "delay_seconds": 0,
    "sqs_managed_sse_enabled": True,
}
DLQ_DEFAULTS: Mapping[str, Any] = {
    **QUEUE_DEFAULTS,
    "message_retention_seconds": 14 * DAY,
}
# Consumers need this much headroom: AWS recommends 6x the function timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
SQS_MAX_MESSAGE_SIZE = 262_144

TABLE_DEFAULTS: Mapping[str, Any] = {
    "billing_mode": "PAY_PER_REQUEST",
    "point_in_time_recovery": {"enabled": True},
    # DynamoDB always encrypts at rest. enabled = false selects the AWS owned key (no charge);
    # enabled = true selects the AWS managed key aws/dynamodb, billed per KMS request, or with
    # kms_key_arn a customer managed key. Provider docs for server_side_encryption.enabled:
    # https://registry.terraform.io/providers/hashicorp/aws/5.100.0/docs/resources/dynamodb_table
    # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html
    "server_side_encryption": {"enabled": False},
}

BUCKET_GLACIER_AFTER_DAYS = 30
BUCKET_ABORT_MULTIPART_DAYS = 7

LOG_RETENTION_IN_DAYS = 7

FUNCTION_DEFAULTS: Mapping[str, Any] = {
    "memory_size": 256,
    "timeout": 30,
    "runtime": "python3.13",  # Amazon Linux 2023; python3.11 runs on Amazon Linux 2, past its end of life
    "architectures": ["arm64"],
}

# The stage throttle where none is configured: the `dev` row of docs/capacity.md, far below the
# account's 10,000/s and 5,000 burst default (which protects nothing).
API_THROTTLE_BURST_LIMIT = 100
API_THROTTLE_RATE_LIMIT = 50.0

EVENT_ARCHIVE_RETENTION_DAYS = 30


class ValidationError(ValueError):
    """A construct's inputs are invalid; `problems` lists every one of them."""

    def __init__(self, construct: str, problems: list[str]):
        self.problems = problems
        listing = "; ".join(problems)
        super().__init__(f"{construct}: {listing}")


def raise_if(construct: str, problems: list[str]) -> None:
    if problems:
        raise ValidationError(construct, problems)


def repeated(names: Iterable[str]) -> list[str]:
    """Names that occur more than once, sorted."""
    seen: list[str] = list(names)
    return sorted({n for n in seen if seen.count(n) > 1})


def merge(defaults: Mapping[str, Any], caller: Mapping[str, Any] | None, required: Mapping[str, Any]) -> dict[str, Any]:
    """defaults < caller < required (one level deep for nested blocks given as dicts)."""
    merged: dict[str, Any] = {}
    for layer in (defaults, caller or {}, required):
        for key, value in layer.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = {**merged[key], **value}
            else:
                merged[key] = value
    return merged


def checkov_skip(resource: Any, skips: Mapping[str, str]) -> None:
    """Record accepted checkov findings on the resource, each with its reason.

    checkov's Terraform JSON runner ignores inline skip comments, so the
    reasons live in the resource's `//` comment block (Terraform ignores it)
    and tests/infra/test_checkov.py accepts a failed check only if it is
    listed there with a non-empty reason.
    """
    for check, reason in skips.items():
        if not reason.strip():
            raise ValueError(f"checkov skip {check} needs a written reason")
        resource.add_override(f"//.checkov_skip.{check}", reason)


def emulator_lifecycle(aws: Any, *attributes: str, create_before_destroy: bool | None = None) -> dict[str, Any]:
    """`lifecycle.ignore_changes` for attributes moto does not round-trip, on the emulator only.

    Without it every plan against moto shows a diff; on AWS nothing is ignored.
    `create_before_destroy` goes into the same lifecycle block, everywhere.
    """
    from cdktf import TerraformResourceLifecycle

    ignored = {"ignore_changes": list(attributes)} if aws is not None and aws.is_emulated else {}
    if create_before_destroy is None and not ignored:
        return {}
    kept = {} if create_before_destroy is None else {"create_before_destroy": create_before_destroy}
    return {"lifecycle": TerraformResourceLifecycle(**kept, **ignored)}
