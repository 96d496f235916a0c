"""Bring a restarted emulator back to what the local Terraform state describes.

moto keeps everything in memory; the `local` environment's Terraform state is
a file. After a restart of `webhookctl dev` the two disagree, and a fresh
apply costs ~50 s of the AWS provider's fixed waits. moto's recorder can log
every API call it serves; replaying the log on a fresh server recreates the
resources in a second or two.

The flow `webhookctl dev` should use:

    emu = Emulator(port=..., deterministic_ids=True)      # see below
    outcome = reconcile(emu.endpoint, recording, state)   # after emu.start()
    if outcome != "restored":                              # "fresh" or "reset"
        start_recording(emu.endpoint, recording)
        <terraform apply>
        save(emu.endpoint, recording)                      # also stops recording

`reconcile` replays the recording only when the state file lists resources,
then checks every resource of the state against the emulator; when anything
is missing or different it resets both sides (emulator wiped, state file and
recording deleted) so the apply that follows starts from nothing. State and
emulator never disagree.

Traps found in moto 5.2.1 (and what this module does about them):

- Ids drawn at random differ on replay: the API Gateway REST API, its
  resources and deployments, the Secrets Manager ARN suffix, event source
  mapping UUIDs. Later recorded calls that name the old API id then fail
  (404), and Terraform state no longer matches. Seeding moto's RNG
  (`/moto-api/seed`) is not enough: Terraform creates resources in parallel
  and every response draws from the same RNG (request ids), so the draw order
  is not reproducible. Fix: `Emulator(deterministic_ids=True)` derives those
  ids from resource names (`local_runtime.emulator.install_deterministic_ids`).
  IAM role ids (`unique_id` in state) still change; they are not part of any
  Terraform resource id and a refresh updates them silently.
- The recording holds every call, reads and data-plane ones included:
  SendMessage, PutItem, PutEvents, ReceiveMessage (which bumps receive counts)
  and `/moto-api/*` calls such as reset. `save` keeps only control-plane
  writes (see `classify`); record only around a deploy, never during `dev`.
- Secret values (PutSecretValue) are dropped too: they never go to disk, as
  they never go to Terraform state; `webhookctl secrets set` again after a
  restart (or keep them elsewhere).
- The recorder stores a request body by Content-Length: a chunked request is
  stored with an empty body. Such entries make `save` refuse the recording
  (kept but marked unusable) rather than replay a wrong call.
- Concurrent requests append to one file from several threads; a large entry
  (a Lambda zip) can be split by another thread's line. `load_entries` parses
  with a streaming JSON decoder, so adjacent or split-line objects still load.
- Recorded URLs and Host headers carry the old port; the replay rewrites
  both to the new endpoint (moto builds queue URLs from Host).
- moto's own `/moto-api/recorder/replay-recording` replays server-side with
  no timeout, no error reporting and no filtering, and `upload-recording`
  reads the body through Flask's `request.data`, which is empty for a
  form-encoded POST. We replay from the client instead.
- `/moto-api/data.json` answers 500 once a Lambda event source mapping
  exists, so "is the emulator fresh" asks the services directly.
- Timestamps in recorded requests (X-Amz-Date) are not checked by moto;
  creation times become the replay time.
"""
from __future__ import annotations

import base64
import json
import logging
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from local_runtime.emulator import EMULATOR_CREDENTIALS

log = logging.getLogger("webhookctl.snapshot")

FORMAT = "webhookctl-moto-recording/1"
SEED = 20240601  # moto's RNG is seeded before recording and before a replay

# Operations (X-Amz-Target / query Action) that touch data, not resources.
DATA_PLANE = frozenset({
    # SQS messages
    "SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch",
    "ChangeMessageVisibility", "ChangeMessageVisibilityBatch", "PurgeQueue", "StartMessageMoveTask",
    # DynamoDB items
    "PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "ExecuteStatement",
    "BatchExecuteStatement", "ExecuteTransaction",
    # events, logs, metrics, secrets values
    "PutEvents", "PutLogEvents", "PutMetricData", "PutSecretValue", "UpdateSecretVersionStage",
    "RestoreSecret", "RotateSecret", "Invoke", "InvokeAsync",
})
READ_PREFIXES = ("Get", "List", "Describe", "Head", "BatchGet", "Query", "Scan", "Lookup", "Search",
                 "Validate", "Test", "Simulate", "Check", "Estimate", "Preview", "Filter", "Select",
                 "Poll", "Receive")


class SnapshotError(RuntimeError):
    pass


# -- talking to moto's API ----------------------------------------------------
def _moto_api(endpoint: str, path: str, data: bytes | None = b"", timeout: float = 30.0) -> bytes:
    req = urllib.request.Request(
        f"{endpoint}/moto-api/{path}", data=data, method="GET" if data is None else "POST",
        headers={"Content-Type": "application/octet-stream"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise SnapshotError(f"moto API {path} at {endpoint} failed: {exc}") from exc


def start_recording(endpoint: str, path: str | Path | None = None) -> None:
    """Forget any earlier recording, seed moto's RNG and start recording.

    `path` is where `save` will write; it is removed now, so a crash between
    start and save never leaves an old recording next to a new state.
    """
    if path is not None:
        Path(path).unlink(missing_ok=True)
    _moto_api(endpoint, "recorder/stop-recording")
    _moto_api(endpoint, "recorder/reset-recording")
    _moto_api(endpoint, f"seed?a={SEED}")
    _moto_api(endpoint, "recorder/start-recording")


def stop_recording(endpoint: str) -> None:
    _moto_api(endpoint, "recorder/stop-recording")


def download(endpoint: str) -> str:
    return _moto_api(endpoint, "recorder/download-recording", data=None).decode("utf-8")


# -- parsing and filtering -------------------------------------------------
def load_entries(text: str) -> list[dict[str, Any]]:
    """The recorder's entries, robust to lines split or joined by concurrent writers."""
    decoder = json.JSONDecoder()
    entries, i, n = [], 0, len(text)
    while True:
        while i < n and text[i] in " \t\r\n":
            i += 1
        if i >= n:
            return entries
        try:
            obj, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            raise SnapshotError(f"unreadable recording at character {i}: {exc.msg}") from None
        entries.append(obj)


def _header(entry: dict[str, Any], name: str) -> str:
    for key, value in (entry.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def _body_bytes(entry: dict[str, Any]) -> bytes:
    body = entry.get("body") or ""
    return base64.b64decode(body) if entry.get("body_encoded") else body.encode("utf-8")


def operation(entry: dict[str, Any]) -> str:
    """The API operation: X-Amz-Target, a query Action, or METHOD /path for REST services."""
    target = _header(entry, "X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    split = urlsplit(entry.get("url", ""))
    action = parse_qs(split.query).get("Action")
    if not action and "x-www-form-urlencoded" in _header(entry, "Content-Type"):
        action = parse_qs(_body_bytes(entry).decode("utf-8", "replace")).get("Action")
    if action:
        return action[0]
    return f"{entry.get('method', 'GET').upper()} {split.path}"


def classify(entry: dict[str, Any]) -> str:
    """'keep', or why an entry is not replayed: 'read', 'data-plane', 'moto-api'."""
    path = urlsplit(entry.get("url", "")).path
    if path.startswith("/moto-api/"):
        return "moto-api"
    method = entry.get("method", "GET").upper()
    if method in ("GET", "HEAD", "OPTIONS"):
        return "read"
    op = operation(entry)
    if op in DATA_PLANE:
        return "data-plane"
    if " " not in op and op.startswith(READ_PREFIXES):
        return "read"
    if re.fullmatch(r"POST /\d{4}-\d{2}-\d{2}/functions/[^/]+/invocations", op):
        return "data-plane"  # Lambda Invoke (REST)
    return "keep"


def _suspect(entry: dict[str, Any]) -> bool:
    """A body the recorder could not capture (chunked request without Content-Length)."""
    chunked = "chunked" in _header(entry, "Transfer-Encoding").lower()
    return chunked and not entry.get("body")


@dataclass
class SaveReport:
    path: Path
    kept: int
    dropped: Counter = field(default_factory=Counter)
    suspect: int = 0

    @property
    def usable(self) -> bool:
        return self.suspect == 0


def save(endpoint: str, path: str | Path, *, stop: bool = True) -> SaveReport:
    """Stop recording, keep the control-plane writes, write them to `path`.

    The file is JSON: {"format", "saved_at", "usable", "entries": [...]},
    written atomically. An unusable recording (a body the recorder could not
    capture) is still written, for inspection, but `restore` refuses it.
    """
    if stop:
        stop_recording(endpoint)
    entries = load_entries(download(endpoint))
    kept, dropped, suspect = [], Counter(), 0
    for entry in entries:
        verdict = classify(entry)
        if verdict != "keep":
            dropped[verdict] += 1
            continue
        if _suspect(entry):
            suspect += 1
        kept.append(entry)
    report = SaveReport(Path(path), len(kept), dropped, suspect)
    doc = {"format": FORMAT, "saved_at": time.time(), "usable": report.usable,
           "dropped": dict(dropped), "entries": kept}
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(doc))
    tmp.replace(target)
    if suspect:
        log.warning("recording %s has %d request(s) with an uncaptured body: it will not be replayed",
                    target, suspect)
    return report


# -- replay ------------------------------------------------------------------
@dataclass
class ReplayReport:
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def replay(endpoint: str, entries: list[dict[str, Any]], timeout: float = 30.0) -> ReplayReport:
    """Send each recorded request to `endpoint`, in order; collect the failures."""
    import requests  # moto[server] depends on it

    new = urlsplit(endpoint)
    report = ReplayReport()
    started = time.monotonic()
    _moto_api(endpoint, f"seed?a={SEED}")
    with requests.Session() as session:
        session.trust_env = False  # no proxies for loopback
        for entry in entries:
            old = urlsplit(entry["url"])
            url = f"{new.scheme}://{new.netloc}{old.path}" + (f"?{old.query}" if old.query else "")
            headers = {k: v for k, v in (entry.get("headers") or {}).items()
                       if k.lower() not in ("host", "transfer-encoding", "content-length", "expect")}
            headers["Host"] = new.netloc
            try:
                resp = session.request(entry["method"], url, headers=headers, data=_body_bytes(entry),
                                       timeout=timeout)
            except requests.RequestException as exc:
                report.errors.append(f"{operation(entry)}: {exc}")
                break
            report.calls += 1
            if resp.status_code >= 400:
                report.errors.append(f"{operation(entry)} {old.path}: HTTP {resp.status_code} {resp.text[:200]}")
    report.seconds = time.monotonic() - started
    return report


def read_recording(path: str | Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("entries"), list):
        return None
    return doc


def restore(endpoint: str, path: str | Path, state_path: str | Path | None = None, *,
            strict: bool = True) -> bool:
    """Replay the recording at `path` onto a fresh emulator; True when it is back.

    With `state_path`, "back" means every resource of that Terraform state
    exists in the emulator with the same id (see `state_mismatches`). False
    when there is no usable recording, the emulator is not fresh, a replayed
    call fails, or the state does not match: the caller must then `reset`.
    strict=False tolerates failed replayed calls (a call Terraform retried, or
    one that failed when recorded too) and lets the state check decide.
    """
    doc = read_recording(path)
    if doc is None or not doc.get("usable"):
        return False
    if not is_fresh(endpoint):
        log.warning("not replaying %s: the emulator already has resources", path)
        return False
    report = replay(endpoint, doc["entries"])
    log.info("replayed %d calls in %.2f s (%d errors)", report.calls, report.seconds, len(report.errors))
    if report.errors:
        for error in report.errors[:10]:
            log.warning("replay: %s", error)
        if strict or state_path is None:
            return False
    if state_path is not None:
        mismatches = state_mismatches(endpoint, state_path)
        for mismatch in mismatches[:20]:
            log.warning("after replay: %s", mismatch)
        return not mismatches
    return True


# -- the emulator and the state ----------------------------------------------
def _client(service: str, endpoint: str, region: str):
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
    for service, probe in checks:
        if probe(_client(service, endpoint, region)):
            return False
    return True


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


def _check(endpoint: str, rtype: str, a: dict[str, Any], region: str) -> str | None:
    """None when the resource exists as the state says; else why not. Unknown types pass."""
    c = lambda service: _client(service, endpoint, region)  # noqa: E731
    if rtype == "aws_sqs_queue":
        got = c("sqs").get_queue_url(QueueName=a["name"])["QueueUrl"]
        return None if urlsplit(got).path == urlsplit(a["url"]).path else f"queue url {got} != {a['url']}"
    if rtype == "aws_dynamodb_table":
        c("dynamodb").describe_table(TableName=a["name"])
    elif rtype == "aws_s3_bucket":
        c("s3").head_bucket(Bucket=a["bucket"])
    elif rtype == "aws_s3_object":
        c("s3").head_object(Bucket=a["bucket"], Key=a["key"])
    elif rtype == "aws_cloudwatch_event_bus":
        c("events").describe_event_bus(Name=a["name"])
    elif rtype == "aws_cloudwatch_event_rule":
        c("events").describe_rule(Name=a["name"], EventBusName=a.get("event_bus_name") or "default")
    elif rtype == "aws_cloudwatch_event_target":
        targets = c("events").list_targets_by_rule(Rule=a["rule"], EventBusName=a.get("event_bus_name") or "default")
        if a["target_id"] not in {t["Id"] for t in targets.get("Targets", [])}:
            return f"target {a['target_id']} missing on rule {a['rule']}"
    elif rtype == "aws_secretsmanager_secret":
        got = c("secretsmanager").describe_secret(SecretId=a["name"])["ARN"]
        return None if got == a["arn"] else f"secret ARN {got} != {a['arn']}"
    elif rtype == "aws_lambda_function":
        c("lambda").get_function(FunctionName=a["function_name"])
    elif rtype == "aws_lambda_event_source_mapping":
        c("lambda").get_event_source_mapping(UUID=a["uuid"] if a.get("uuid") else a["id"])
    elif rtype == "aws_iam_role":
        c("iam").get_role(RoleName=a["name"])
    elif rtype == "aws_api_gateway_rest_api":
        c("apigateway").get_rest_api(restApiId=a["id"])
    elif rtype == "aws_api_gateway_resource":
        c("apigateway").get_resource(restApiId=a["rest_api_id"], resourceId=a["id"])
    elif rtype == "aws_api_gateway_deployment":
        c("apigateway").get_deployment(restApiId=a["rest_api_id"], deploymentId=a["id"])
    elif rtype == "aws_api_gateway_stage":
        c("apigateway").get_stage(restApiId=a["rest_api_id"], stageName=a["stage_name"])
    elif rtype == "aws_cloudwatch_log_group":
        groups = c("logs").describe_log_groups(logGroupNamePrefix=a["name"]).get("logGroups", [])
        if a["name"] not in {g["logGroupName"] for g in groups}:
            return f"log group {a['name']} missing"
    return None


def state_mismatches(endpoint: str, state_path: str | Path, region: str = "us-east-1") -> list[str]:
    """Resources of the state that the emulator lacks or holds under another id."""
    from botocore.exceptions import BotoCoreError, ClientError

    problems = []
    for res in state_resources(state_path):
        attrs = res["attributes"]
        try:
            why = _check(endpoint, res["type"], attrs, attrs.get("region") or region)
        except (ClientError, BotoCoreError, KeyError) as exc:
            why = f"{type(exc).__name__}: {exc}"
        if why:
            problems.append(f"{res['address']}: {why}")
    return problems


def reset(endpoint: str, state_path: str | Path, recording_path: str | Path | None = None) -> None:
    """Wipe the emulator and forget the local state (and recording): the next apply starts clean."""
    _moto_api(endpoint, "reset")
    for p in (state_path, Path(str(state_path) + ".backup"), recording_path):
        if p is not None:
            Path(p).unlink(missing_ok=True)


def reconcile(endpoint: str, recording_path: str | Path, state_path: str | Path) -> str:
    """Make a just-started emulator and the local state agree.

    "fresh": the state lists no resource (nothing to restore); "restored": the
    recording was replayed and matches the state; "reset": it could not be
    restored, so the emulator was wiped and the state file (and recording)
    deleted. After "fresh" or "reset", run a full apply (recording it).
    """
    if not state_resources(state_path):
        return "fresh"
    if restore(endpoint, recording_path, state_path):
        return "restored"
    reset(endpoint, state_path, recording_path)
    return "reset"
