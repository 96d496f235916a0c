"""AWS list prices for `webhookctl cost`: one dated table, for one region, overridable.

Prices change and differ by region: `--prices FILE` takes a JSON object with any of the
`Prices` fields (and `region`, `date`) and replaces those, e.g. eu-west-1's from the pricing
pages below. Free tiers are not counted: they are per account, shared with everything else
in it, and a cost model for one pipeline prices what it adds.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from .errors import WebhookctlError

MILLION = 1_000_000
GB = 1024 ** 3
KB = 1024


@dataclass(frozen=True)
class Prices:
    region: str = "us-east-1"
    date: str = "2026-12-01"
    # https://aws.amazon.com/api-gateway/pricing/ (REST, first 333 million a month)
    api_rest_per_million: float = 3.50
    # https://aws.amazon.com/lambda/pricing/ (arm64, first 7.5 billion GB-s)
    lambda_request_per_million: float = 0.20
    lambda_arm64_gb_second: float = 0.0000133334
    lambda_x86_gb_second: float = 0.0000166667
    # https://aws.amazon.com/s3/pricing/ (Standard, first 50 TB; lifecycle transitions per 1,000)
    s3_put_per_thousand: float = 0.005
    s3_get_per_thousand: float = 0.0004
    s3_standard_gb_month: float = 0.023
    s3_glacier_ir_gb_month: float = 0.004
    s3_glacier_gb_month: float = 0.0036
    s3_deep_archive_gb_month: float = 0.00099
    s3_transition_glacier_ir_per_thousand: float = 0.02
    s3_transition_glacier_per_thousand: float = 0.03
    s3_transition_deep_archive_per_thousand: float = 0.05
    # https://aws.amazon.com/dynamodb/pricing/on-demand/ (a strongly consistent read of up to 4 KB
    # is one read request unit; a write of up to 1 KB one write request unit)
    dynamodb_write_per_million: float = 0.625
    dynamodb_read_per_million: float = 0.125
    dynamodb_storage_gb_month: float = 0.25
    dynamodb_pitr_gb_month: float = 0.20
    # https://aws.amazon.com/sqs/pricing/ (each 64 KB chunk of a request is one request)
    sqs_fifo_per_million: float = 0.50
    sqs_standard_per_million: float = 0.40
    # https://aws.amazon.com/eventbridge/pricing/ (each 64 KB chunk of an event is one event)
    eventbridge_event_per_million: float = 1.00
    eventbridge_archive_gb: float = 0.10
    eventbridge_archive_gb_month: float = 0.023
    eventbridge_api_destination_per_million: float = 0.20
    # https://aws.amazon.com/cloudwatch/pricing/ (Standard log class; first 10,000 metrics)
    logs_ingest_gb: float = 0.50
    logs_storage_gb_month: float = 0.03
    metric_month: float = 0.30
    alarm_month: float = 0.10
    dashboard_month: float = 3.00
    # https://aws.amazon.com/xray/pricing/
    xray_trace_per_million: float = 5.00
    # https://aws.amazon.com/secrets-manager/pricing/
    secret_month: float = 0.40
    secrets_api_per_10k: float = 0.05


US_EAST_1 = Prices()

# AWS's always-free monthly allowances (not the 12-month ones), per account: what an account that
# runs nothing else does not pay (`--free-tier`). https://aws.amazon.com/free/ (Always free)
ALWAYS_FREE = {
    ("Lambda", "requests"): 1_000_000,
    ("Lambda", "GB-s"): 400_000,
    ("SQS", "requests"): 1_000_000,
    ("CloudWatch Logs", "GB"): 5,
    ("X-Ray", "traces"): 100_000,
    ("CloudWatch", "metrics"): 10,
    ("CloudWatch", "alarms"): 10,
    ("CloudWatch", "dashboard"): 3,
}


def load_prices(path: str | None) -> Prices:
    """The default table, with a JSON file's values over it; one `Error:` line for a bad file."""
    if path is None:
        return US_EAST_1
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise WebhookctlError(f"cannot read prices file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise WebhookctlError(f"prices file {path} is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise WebhookctlError(f"prices file {path} must hold a JSON object of price names to numbers")
    known = {f.name: f.type for f in dataclasses.fields(Prices)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise WebhookctlError(f"prices file {path}: unknown price(s) {', '.join(unknown)}")
    bad = sorted(k for k, v in raw.items() if k not in ("region", "date") and (
        isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0))
    if bad or not all(isinstance(raw.get(k, ""), str) for k in ("region", "date")):
        raise WebhookctlError(f"prices file {path}: prices must be numbers of 0 or more, region and date text"
                              + (f" ({', '.join(bad)})" if bad else ""))
    return dataclasses.replace(US_EAST_1, **raw)
