"""Does the emulator hold what the local Terraform state says? (the check concern)

After the emulator restores itself from its journal (`local_runtime.restore`)
`webhookctl dev` asks `state_mismatches`: every managed resource of the state
must exist in the emulator under the same id. When one does not, dev resets
the emulator (keeping its data aside: `reset_keeping_data`), forgets the
state and applies from nothing, so state and emulator never disagree.

Each resource type has one probe in `PROBES`: the read that proves it exists,
and, where the id is drawn by AWS (a queue URL, a secret ARN), a comparison.
Types without a probe pass (nothing to check cheaply).

Traps found in moto 5.2.1:
- `/moto-api/data.json` answers 500 once a Lambda event source mapping
  exists, so "is the emulator fresh" asks the services directly (`is_fresh`).
- IAM role ids (`unique_id` in state) change on every replay; no Terraform id
  holds them and a refresh updates them silently, so they are not compared.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from handlers.contract import EMULATOR_CREDENTIALS
from local_runtime.emulator_server import RESET_PATH, RESTORE_PENDING_PATH


class StateCheckError(RuntimeError):
    pass


def client(service: str, endpoint: str, region: str):  # type: ignore[no-untyped-def]
    import boto3
    from botocore.config import Config

    return boto3.client(
        service, endpoint_url=endpoint, region_name=region,
        aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=EMULATOR_CREDENTIALS["AWS_SESSION_TOKEN"],
        config=Config(connect_timeout=2, read_timeout=15, retries={"max_attempts": 1}),
    )


def is_fresh(endpoint: str, region: str = "us-east-1") -> bool:
    """True when the emulator holds none of the resources the stack creates."""
    checks = [
        ("sqs", lambda c: c.list_queues().get("QueueUrls")),
        ("dynamodb", lambda c: c.list_tables().get("TableNames")),
        ("s3", lambda c: c.list_buckets().get("Buckets")),
        ("lambda", lambda c: c.list_functions().get("Functions")),
        ("apigateway", lambda c: c.get_rest_apis().get("items")),
        ("secretsmanager", lambda c: c.list_secrets().get("SecretList")),
        ("events", lambda c: [b for b in c.list_event_buses().get("EventBuses", []) if b["Name"] != "default"]),
    ]
    return not any(probe(client(service, endpoint, region)) for service, probe in checks)


def state_resources(state_path: str | Path) -> list[dict[str, Any]]:
    """(type, address, attributes) of every managed resource instance in a v4 state file."""
    try:
        state = json.loads(Path(state_path).read_text())
    except FileNotFoundError:
        return []
    out = []
    for res in state.get("resources", []):
        if res.get("mode") != "managed":
            continue
        address = ".".join(p for p in (res.get("module"), res["type"], res["name"]) if p)
        for inst in res.get("instances", []):
            key = inst.get("index_key")
            out.append({"type": res["type"],
                        "address": address + (f"[{json.dumps(key)}]" if key is not None else ""),
                        "attributes": inst.get("attributes") or {}})
    return out


# --------------------------------------------------------------------------- probes

Client = Callable[[str], Any]  # service name -> boto3 client


@dataclass(frozen=True)
class Probe:
    """How to tell one resource type exists: a read (raises when it does not), then an optional check."""

    service: str
    read: Callable[[Any, dict[str, Any]], Any]
    check: Callable[[Any, dict[str, Any]], str | None] = lambda got, a: None


def _same_path(got: Any, a: dict[str, Any]) -> str | None:
    url = got["QueueUrl"]
    return None if urlsplit(url).path == urlsplit(a["url"]).path else f"queue url {url} != {a['url']}"


def _same_arn(got: Any, a: dict[str, Any]) -> str | None:
    return None if got["ARN"] == a["arn"] else f"secret ARN {got['ARN']} != {a['arn']}"


def _has_target(got: Any, a: dict[str, Any]) -> str | None:
    ids = {t["Id"] for t in got.get("Targets", [])}
    return None if a["target_id"] in ids else f"target {a['target_id']} missing on rule {a['rule']}"


def _has_log_group(got: Any, a: dict[str, Any]) -> str | None:
    names = {g["logGroupName"] for g in got.get("logGroups", [])}
    return None if a["name"] in names else f"log group {a['name']} missing"


def _bus(a: dict[str, Any]) -> str:
    return a.get("event_bus_name") or "default"


PROBES: dict[str, Probe] = {
    "aws_sqs_queue": Probe("sqs", lambda c, a: c.get_queue_url(QueueName=a["name"]), _same_path),
    "aws_dynamodb_table": Probe("dynamodb", lambda c, a: c.describe_table(TableName=a["name"])),
    "aws_s3_bucket": Probe("s3", lambda c, a: c.head_bucket(Bucket=a["bucket"])),
    "aws_s3_object": Probe("s3", lambda c, a: c.head_object(Bucket=a["bucket"], Key=a["key"])),
    "aws_cloudwatch_event_bus": Probe("events", lambda c, a: c.describe_event_bus(Name=a["name"])),
    "aws_cloudwatch_event_rule": Probe(
        "events", lambda c, a: c.describe_rule(Name=a["name"], EventBusName=_bus(a))),
    "aws_cloudwatch_event_target": Probe(
        "events", lambda c, a: c.list_targets_by_rule(Rule=a["rule"], EventBusName=_bus(a)), _has_target),
    "aws_secretsmanager_secret": Probe("secretsmanager", lambda c, a: c.describe_secret(SecretId=a["name"]),
                                       _same_arn),
    "aws_lambda_function": Probe("lambda", lambda c, a: c.get_function(FunctionName=a["function_name"])),
    "aws_lambda_event_source_mapping": Probe(
        "lambda", lambda c, a: c.get_event_source_mapping(UUID=a.get("uuid") or a["id"])),
    "aws_iam_role": Probe("iam", lambda c, a: c.get_role(RoleName=a["name"])),
    "aws_api_gateway_rest_api": Probe("apigateway", lambda c, a: c.get_rest_api(restApiId=a["id"])),
    "aws_api_gateway_resource": Probe(
        "apigateway", lambda c, a: c.get_resource(restApiId=a["rest_api_id"], resourceId=a["id"])),
    "aws_api_gateway_deployment": Probe(
        "apigateway", lambda c, a: c.get_deployment(restApiId=a["rest_api_id"], deploymentId=a["id"])),
    "aws_api_gateway_stage": Probe(
        "apigateway", lambda c, a: c.get_stage(restApiId=a["rest_api_id"], stageName=a["stage_name"])),
    "aws_cloudwatch_log_group": Probe(
        "logs", lambda c, a: c.describe_log_groups(logGroupNamePrefix=a["name"]), _has_log_group),
}


def check_resource(endpoint: str, rtype: str, attributes: dict[str, Any], region: str) -> str | None:
    """None when the resource exists as the state says; else why not. Types without a probe pass."""
    probe = PROBES.get(rtype)
    if probe is None:
        return None
    aws = client(probe.service, endpoint, region)
    return probe.check(probe.read(aws, attributes), attributes)


def state_mismatches(endpoint: str, state_path: str | Path, region: str = "us-east-1") -> list[str]:
    """Resources of the state that the emulator lacks or holds under another id."""
    from botocore.exceptions import BotoCoreError, ClientError

    problems = []
    for res in state_resources(state_path):
        attrs = res["attributes"]
        try:
            why = check_resource(endpoint, res["type"], attrs, attrs.get("region") or region)
        except (ClientError, BotoCoreError, KeyError) as exc:
            why = f"{type(exc).__name__}: {exc}"
        if why:
            problems.append(f"{res['address']}: {why}")
    return problems


# --------------------------------------------------------------------------- the way back


def _post(endpoint: str, path: str, timeout: float = 60.0) -> dict[str, Any]:
    request = urllib.request.Request(f"{endpoint}{path}", data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StateCheckError(f"the emulator at {endpoint} did not take {path}: {exc}") from exc


def reset_keeping_data(endpoint: str, state_path: str | Path) -> dict[str, Any]:
    """Wipe the emulator's resources (its data waits aside) and forget the local state.

    The apply that follows starts from nothing; `restore_pending` then puts
    every message, item, object and secret back into the new resources.
    """
    report = _post(endpoint, RESET_PATH)
    for path in (Path(state_path), Path(str(state_path) + ".backup")):
        path.unlink(missing_ok=True)
    return report


def restore_pending(endpoint: str) -> dict[str, Any]:
    """Put data kept aside by a reset back (what still has no resource stays aside)."""
    return _post(endpoint, RESTORE_PENDING_PATH)
