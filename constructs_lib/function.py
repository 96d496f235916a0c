"""Lambda function from the handlers zip: own role, own log group, X-Ray, JSON logs.

Tracing (`FunctionProps.tracing_mode`): Lambda's own sampling cannot be configured (1 request
per second and 5% of the rest, in `Active` mode), which at webhook rates traces nearly every
invocation. `PassThrough` (the default here) traces an invocation only when its caller sampled
it: ingest follows API Gateway, whose sampling rule does (constructs_lib.api); process, fed by
an SQS event source that samples nothing, is traced only in `Active` mode (config `trace_process`).
https://docs.aws.amazon.com/lambda/latest/dg/API_TracingConfig.html
https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf import AssetType, TerraformAsset
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy import IamRolePolicy
from cdktf_cdktf_provider_aws.lambda_event_source_mapping import LambdaEventSourceMapping
from cdktf_cdktf_provider_aws.lambda_function import LambdaFunction
from constructs import Construct

from handlers.contract import AWS_LIMITS, lambda_environment_bytes

from .defaults import FUNCTION_DEFAULTS, LOG_RETENTION_IN_DAYS, checkov_skip, emulator_lifecycle, merge, raise_if
from .logs import log_group
from .iam import AwsContext, document, service_principal, sid, statement
from .packaging import Package


@dataclass(frozen=True)
class FunctionCode:
    """A zip in the stack's assets: its path relative to the stack folder and its base64 SHA-256."""

    path: str
    sha256_base64: str


def handlers_code(scope: Construct, id: str, package: Package) -> FunctionCode:
    """One TerraformAsset for the handlers zip, shared by every function of the stack."""
    asset = TerraformAsset(scope, id, path=str(package.path), type=AssetType.FILE)
    return FunctionCode(path=asset.path, sha256_base64=package.sha256_base64)

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,59}$")  # Lambda allows 64; the role adds "-role"
_HANDLER = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z_][A-Za-z0-9_]*$")
# python3.12 and newer: Amazon Linux 2023 (python3.11 runs on Amazon Linux 2, past its end of life).
_RUNTIMES = re.compile(r"^python3\.(1[2-9]|[2-9]\d)$")

TRACING_MODES = ("Active", "PassThrough")

UNRESERVED_SKIP = {
    "CKV_AWS_115": "reserved concurrency is set per environment (functions.<name>.reserved_concurrency); "
                   "unset, the function shares the account pool, as a new account with a small quota must",
}
CHECKOV_SKIPS = {
    "CKV_AWS_116": "failed deliveries are kept by the SQS redrive policy (FIFO DLQ), not a Lambda DLQ",
    "CKV_AWS_117": "talks only to AWS public endpoints; a VPC adds NAT cost and cold-start latency without a private resource to reach",
    "CKV_AWS_173": "environment variables hold names and settings only, never secrets (those are in Secrets Manager)",
    "CKV_AWS_272": "code is built and deployed from this repository by Terraform; code signing is a per-organisation choice",
}


@dataclass(frozen=True)
class FunctionProps:
    name: str
    handler: str  # e.g. handlers.ingest.handler
    code: FunctionCode
    environment: Mapping[str, str] = field(default_factory=dict)
    memory_size: int = FUNCTION_DEFAULTS["memory_size"]
    timeout: int = FUNCTION_DEFAULTS["timeout"]
    runtime: str = FUNCTION_DEFAULTS["runtime"]
    log_retention_in_days: int = LOG_RETENTION_IN_DAYS
    reserved_concurrency: int | None = None  # None: the account's unreserved pool
    tracing_mode: str = "PassThrough"  # or "Active": see the module docstring
    # Lambda's own log lines: WARN drops the "start" and "report" lines sent for every invocation at
    # INFO (about 0.5 KB each: a third of the function logs' bill, docs/cost.md); their duration and
    # errors are Lambda's free metrics anyway. INFO brings them back (max memory used, init time).
    # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html
    system_log_level: str = "WARN"
    overrides: Mapping[str, Any] = field(default_factory=dict)


def environment_bytes(environment: Mapping[str, str]) -> int:
    """The size Lambda measures against its 4 KB (contract.lambda_environment_bytes). An unresolved
    value (a token standing for the account id) counts as written: longer than what it stands for,
    so the check errs safe."""
    return lambda_environment_bytes(environment)


def validate_function_props(props: FunctionProps) -> list[str]:
    problems: list[str] = []
    if not _NAME.match(props.name or ""):
        problems.append(f"name '{props.name}' must be 1-59 letters, digits, '-' or '_' (its role is <name>-role)")
    if not _HANDLER.match(props.handler or ""):
        problems.append(f"handler '{props.handler}' must look like package.module.function")
    if not 128 <= props.memory_size <= 10_240:
        problems.append(f"memory_size {props.memory_size} must be from 128 to 10240 MB")
    if not 1 <= props.timeout <= 900:
        problems.append(f"timeout {props.timeout} must be from 1 to 900 s")
    if not _RUNTIMES.match(props.runtime or ""):
        problems.append(f"runtime '{props.runtime}' must be python3.12 or newer (Amazon Linux 2023)")
    bad_env = sorted(k for k in props.environment if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", k))
    if bad_env:
        problems.append(f"environment variable names are invalid: {', '.join(bad_env)}")
    size, limit = environment_bytes(props.environment), AWS_LIMITS.lambda_environment_bytes
    if size > limit:
        problems.append(f"environment variables take {size} bytes, over Lambda's {limit} for all of them together")
    if props.reserved_concurrency is not None and props.reserved_concurrency < 1:
        problems.append("reserved_concurrency must be 1 or more (0 would stop the function)")
    if props.tracing_mode not in TRACING_MODES:
        problems.append(f"tracing_mode must be one of: {', '.join(TRACING_MODES)}")
    if "tracing_config" in props.overrides:
        problems.append("tracing_config is set by tracing_mode")
    if props.system_log_level not in ("DEBUG", "INFO", "WARN"):
        problems.append("system_log_level must be one of: DEBUG, INFO, WARN")
    return problems


class Function(Construct):
    """`function`, `role`, `log_group`; `name`, `arn` and `log_group_name` are built strings.

    It is a Grantee: constructs' grant_* methods add inline policies to its role.
    """

    def __init__(self, scope: Construct, id: str, *, props: FunctionProps, aws: AwsContext):
        raise_if(f"Function '{id}'", validate_function_props(props))
        super().__init__(scope, id)
        self.props = props
        self.name = props.name
        self.arn = aws.arn("lambda", f"function:{props.name}")
        self.log_group_name = f"/aws/lambda/{props.name}"
        log_group_arn = aws.arn("logs", f"log-group:{self.log_group_name}")
        self.policies: dict[str, IamRolePolicy] = {}

        # Created before the function, so the function never auto-creates a never-expiring one.
        self.log_group = log_group(self, "log-group", self.log_group_name, props.log_retention_in_days)
        self.role = IamRole(
            self,
            "role",
            name=f"{props.name}-role",
            assume_role_policy=document(
                {"Effect": "Allow", "Principal": service_principal("lambda"), "Action": "sts:AssumeRole"}
            ),
        )
        self.add_to_policy(
            sid("write-logs", id), [statement(["logs:CreateLogStream", "logs:PutLogEvents"], [f"{log_group_arn}:*"])]
        )
        self.add_to_policy(
            # X-Ray has no resource-level permissions: "*" is the only valid resource.
            sid("trace", id), [statement(["xray:PutTraceSegments", "xray:PutTelemetryRecords"], ["*"])]
        )
        reserved = {} if props.reserved_concurrency is None else {
            "reserved_concurrent_executions": props.reserved_concurrency}
        self.function = LambdaFunction(
            self,
            "function",
            **merge(
                FUNCTION_DEFAULTS,
                props.overrides,
                {
                    "function_name": props.name,
                    "role": self.role.arn,
                    "handler": props.handler,
                    "filename": props.code.path,
                    "source_code_hash": props.code.sha256_base64,
                    "memory_size": props.memory_size,
                    "timeout": props.timeout,
                    "runtime": props.runtime,
                    **reserved,
                    "tracing_config": {"mode": props.tracing_mode},
                    "logging_config": {"log_format": "JSON", "log_group": self.log_group_name,
                                       "system_log_level": props.system_log_level},
                    **({"environment": {"variables": dict(props.environment)}} if props.environment else {}),
                    "depends_on": [self.log_group],
                    # moto 5.2 does not store LoggingConfig.
                    **emulator_lifecycle(aws, "logging_config"),
                },
            ),
        )
        checkov_skip(self.function, {**CHECKOV_SKIPS, **(UNRESERVED_SKIP if not reserved else {})})

    def add_to_policy(self, sid: str, statements: Sequence[dict[str, Any]]) -> IamRolePolicy:
        """One inline role policy per grant (Grantee protocol)."""
        if sid in self.policies:
            raise ValueError(f"{self.node.id}: a policy named {sid} already exists")
        policy = IamRolePolicy(self, f"policy-{sid}", name=sid, role=self.role.id, policy=document(*statements))
        self.policies[sid] = policy
        return policy

    def add_sqs_event_source(self, queue: Any, *, batch_size: int, enabled: bool = True) -> LambdaEventSourceMapping:
        """Consume `queue` (a Queue construct): grants consume and reports partial batch failures.

        enabled=False keeps the mapping (and its permissions) but stops Lambda polling: on the
        emulator, where moto would otherwise try to run the function itself on every SendMessage.
        With reserved concurrency, the mapping's maximum concurrency equals it: Lambda then never
        polls more batches than the function may run, so no batch is throttled back to the queue
        (each throttle burns a receive toward the DLQ).
        https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
        """
        reserved = self.props.reserved_concurrency
        if reserved is not None and reserved < 2:
            raise_if(f"Function '{self.node.id}'", [
                f"reserved_concurrency {reserved} is under 2, the least maximum concurrency of an SQS event source"])
        grant = queue.grant_consume_messages(self)
        return LambdaEventSourceMapping(
            self,
            "event-source",
            function_name=self.function.arn,
            # The one place that needs the queue itself: the mapping waits for it.
            event_source_arn=queue.queue.arn,
            batch_size=batch_size,
            enabled=enabled,
            function_response_types=["ReportBatchItemFailures"],
            **({"scaling_config": {"maximum_concurrency": reserved}} if reserved else {}),
            depends_on=[grant],  # AWS checks the role can receive when the mapping is created
        )
