"""What the emulator writes to disk so it can come back after a crash (the recording concern).

moto keeps everything in memory. The emulator process (`local_runtime.
emulator_server`) keeps two journals in its persist folder, both written
before moto's answer leaves the process, so nothing a client saw succeed is
missing from disk:

- `control.jsonl`, the **control plane**: every successful request that
  creates, changes or deletes a resource (CreateQueue, CreateTable, PutRule,
  CreateFunction, ...), as the HTTP request itself, appended in completion
  order. Replaying it on a fresh moto, with deterministic ids
  (`moto_patches`), rebuilds the same resources under the same ids.
  Secret values are cut out of it (see below).
- `data/`, the **data plane**, as the current state, one file per thing:
  each SQS message still in a queue (`sqs/<message id>.json`: a message
  moved to its DLQ is the same file, now naming the DLQ), each DynamoDB item,
  each S3 object (metadata `.json` plus exact bytes `.body`), each secret's
  versions. moto's model calls these hooks (`moto_patches.
  install_journal_hooks`) under one lock, so file order is memory order.

Files are written whole and renamed into place (never half a file). They are
not fsync'ed: they survive the crash of any process, not a power cut. The
folder is 0700 and every file 0600: secret values are there in clear (they
never go to the control journal, the Terraform state or the project's
committed files); `.webhookctl/` is git-ignored.

Not journaled, so lost in a crash of the emulator itself: in-flight state of
messages (a received, not yet deleted message comes back visible, with its
receive count at 0), EventBridge archives and CloudWatch logs and metrics, S3
object versions other than the latest, tags and ACLs of objects.

Traps found in moto 5.2.1 (kept from the recorder this replaces):
- A request body sent chunked has no Content-Length; the journal reads the
  WSGI input to its end (werkzeug de-chunks it), so such calls keep their body
  (moto's own recorder stored them empty).
- Concurrent requests: one lock around each append, so entries never split.
- Recorded Host headers carry the old port; the replay sets the current one
  (moto builds queue URLs from Host).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

FORMAT = "webhookctl-emulator-journal/1"

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
_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")


# --------------------------------------------------------------------------- classifying requests


def header(entry: Mapping[str, Any], name: str) -> str:
    for key, value in (entry.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return ""


def body_bytes(entry: Mapping[str, Any]) -> bytes:
    """The request body: raw while the request is served ("body"), base64 once journaled ("body_b64")."""
    if "body" in entry:
        return entry["body"]
    return base64.b64decode(entry.get("body_b64") or "")


def for_journal(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The entry as control.jsonl keeps it: body as base64, secret values cut out."""
    kept = {k: v for k, v in entry.items() if k != "body"}
    kept["body_b64"] = base64.b64encode(body_bytes(entry)).decode("ascii")
    return without_secret_values(kept)


def service(entry: Mapping[str, Any]) -> str:
    """The signing service from the SigV4 credential scope ("s3", "sqs", ...), or ""."""
    match = _SCOPE.search(header(entry, "Authorization"))
    return match.group(1) if match else ""


def operation(entry: Mapping[str, Any]) -> str:
    """The API operation: X-Amz-Target, a query Action, or METHOD /path for REST services."""
    target = header(entry, "X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    action = parse_qs(entry.get("query") or "").get("Action")
    if not action and "x-www-form-urlencoded" in header(entry, "Content-Type"):
        action = parse_qs(body_bytes(entry).decode("utf-8", "replace")).get("Action")
    if action:
        return action[0]
    return f"{entry.get('method', 'GET').upper()} {entry.get('path', '/')}"


def classify(entry: Mapping[str, Any]) -> str:
    """'control' (replayed to rebuild resources), or why not: 'read', 'data-plane', 'moto-api'."""
    path = entry.get("path") or "/"
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
    if service(entry) == "s3" and (_s3_object_path(path) or "delete" in parse_qs(entry.get("query") or "",
                                                                                keep_blank_values=True)):
        return "data-plane"  # objects (and DeleteObjects) are journaled as data: the latest bytes, not every call
    return "control"


def _s3_object_path(path: str) -> bool:
    """Path-style /bucket/key (the emulator endpoint is always path-style)."""
    return len([p for p in path.split("/", 2) if p]) >= 2


def without_secret_values(entry: dict[str, Any]) -> dict[str, Any]:
    """A Secrets Manager call minus SecretString/SecretBinary: values live only in data/secrets."""
    if service(entry) != "secretsmanager":
        return entry
    try:
        doc = json.loads(body_bytes(entry) or b"{}")
    except ValueError:
        return entry
    if not isinstance(doc, dict) or not ({"SecretString", "SecretBinary"} & set(doc)):
        return entry
    doc = {k: v for k, v in doc.items() if k not in ("SecretString", "SecretBinary")}
    return {**entry, "body_b64": base64.b64encode(json.dumps(doc).encode()).decode()}


# --------------------------------------------------------------------------- files


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def _write(path: Path, data: bytes) -> None:
    """Whole-or-nothing: a temp file renamed over the target, mode 0600."""
    tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    try:
        fd = os.open(tmp, flags, 0o600)
    except FileNotFoundError:  # first write into this folder: make it (no mkdir per write)
        _private_dir(path.parent)
        fd = os.open(tmp, flags, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(encode(value), sort_keys=True).encode()).hexdigest()[:32]


def encode(value: Any) -> Any:
    """JSON-safe: bytes become {"$b64": ...} (DynamoDB B values, binary secrets)."""
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [encode(v) for v in value]
    return value


def decode(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$b64"}:
            return base64.b64decode(value["$b64"])
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


class ControlJournal:
    """control.jsonl: one successful control-plane request per line."""

    def __init__(self, root: Path):
        self.path = root / "control.jsonl"
        self._lock = threading.Lock()

    def append(self, entry: Mapping[str, Any]) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode()
        with self._lock:
            _private_dir(self.path.parent)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "ab") as f:
                f.write(line)  # one write() of a whole line: O_APPEND keeps lines whole

    def entries(self) -> list[dict[str, Any]]:
        """Every entry; a torn last line (a crash mid-write) is dropped, nothing else is."""
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        entries = []
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                entries.append(json.loads(line))
            except ValueError:
                if i < len(lines) - 2:  # not the last line: the file is damaged, say so
                    raise JournalError(f"{self.path}: unreadable line {i + 1}") from None
        return entries

    def clear(self) -> None:
        with self._lock:
            self.path.unlink(missing_ok=True)


class JournalError(RuntimeError):
    pass


class DataJournal:
    """data/: the current data plane, one file per message, item, object and secret.

    The `moto_patches` hooks call the `*_put` / `*_delete` methods with moto's
    own model objects, holding `lock` around moto's change and the write.
    """

    def __init__(self, root: Path, name: str = "data"):
        self.root = root / name
        self.lock = threading.RLock()
        self._order = 0

    # -- SQS -----------------------------------------------------------------
    def _message_path(self, message_id: str) -> Path:
        return self.root / "sqs" / f"{message_id}.json"

    def sqs_put(self, queue: Any, message: Any) -> None:
        self._order += 1
        doc = {
            "account": queue.account_id, "region": queue.region, "queue": queue.name, "order": self._order,
            "id": message.id, "body": message.body, "attributes": encode(message.message_attributes),
            "system_attributes": encode(message.system_attributes), "group_id": message.group_id,
            "deduplication_id": message.deduplication_id, "sequence_number": message.sequence_number,
            "sent_timestamp": message.sent_timestamp,
        }
        _write(self._message_path(message.id), json.dumps(doc).encode())

    def sqs_delete(self, message_ids: list[str]) -> None:
        for message_id in message_ids:
            self._message_path(message_id).unlink(missing_ok=True)

    def sqs_messages(self) -> list[dict[str, Any]]:
        """Every journaled message, oldest first (the order they were put)."""
        docs = [json.loads(p.read_text()) for p in sorted((self.root / "sqs").glob("*.json"))]
        docs.sort(key=lambda d: d["order"])
        self._order = max([self._order] + [d["order"] for d in docs])
        return docs

    # -- DynamoDB ------------------------------------------------------------
    def _table_dir(self, account: str, region: str, table: str) -> Path:
        return self.root / "dynamodb" / account / region / table

    def _item_path(self, table: Any, item: Any) -> Path:
        key = [item.hash_key.to_json(), item.range_key.to_json() if item.range_key is not None else None]
        return self._table_dir(table.account_id, table.region_name, table.name) / f"{_digest(key)}.json"

    def ddb_put(self, table: Any, item: Any) -> None:
        _write(self._item_path(table, item), json.dumps(encode(item.to_json()["Attributes"])).encode())

    def ddb_delete(self, table: Any, item: Any) -> None:
        self._item_path(table, item).unlink(missing_ok=True)

    def ddb_drop_table(self, account: str, region: str, table: str) -> None:
        shutil.rmtree(self._table_dir(account, region, table), ignore_errors=True)

    def ddb_resync_table(self, table: Any) -> None:
        """Rewrite a whole table from moto (after a transaction, which may roll back)."""
        self.ddb_drop_table(table.account_id, table.region_name, table.name)
        for item in table.all_items():
            self.ddb_put(table, item)

    def ddb_items(self) -> Iterator[tuple[str, str, str, dict[str, Any], Path]]:
        """(account, region, table, attributes, file) of every journaled item."""
        for path in sorted((self.root / "dynamodb").glob("*/*/*/*.json")):
            account, region, table = path.parts[-4:-1]
            yield account, region, table, decode(json.loads(path.read_text())), path

    # -- S3 ------------------------------------------------------------------
    def _object_path(self, account: str, bucket: str, key: str) -> Path:
        return self.root / "s3" / account / bucket / _digest(key)

    def s3_put(self, account: str, bucket: str, obj: Any) -> None:
        base = self._object_path(account, bucket, obj.name)
        _write(base.with_suffix(".body"), obj.value)
        meta = {"key": obj.name, "metadata": dict(obj.metadata), "last_modified": obj.last_modified.isoformat()}
        _write(base.with_suffix(".json"), json.dumps(meta).encode())  # written last: it marks the pair whole

    def s3_delete(self, account: str, bucket: str, key: str) -> None:
        base = self._object_path(account, bucket, key)
        base.with_suffix(".json").unlink(missing_ok=True)
        base.with_suffix(".body").unlink(missing_ok=True)

    def s3_drop_bucket(self, account: str, bucket: str) -> None:
        shutil.rmtree(self.root / "s3" / account / bucket, ignore_errors=True)

    def s3_objects(self) -> Iterator[tuple[str, str, dict[str, Any], bytes, Path]]:
        """(account, bucket, meta, body, meta file) of every journaled object."""
        for meta_path in sorted((self.root / "s3").glob("*/*/*.json")):
            account, bucket = meta_path.parts[-3:-1]
            body = meta_path.with_suffix(".body")
            if body.exists():
                yield account, bucket, json.loads(meta_path.read_text()), body.read_bytes(), meta_path

    # -- Secrets Manager -----------------------------------------------------
    def _secret_path(self, account: str, region: str, name: str) -> Path:
        return self.root / "secretsmanager" / account / region / f"{_digest(name)}.json"

    def secret_put(self, secret: Any) -> None:
        if not secret.versions:  # a container with no value yet: the control journal recreates it
            self.secret_delete(secret.account_id, secret.region, secret.name)
            return
        doc = {"name": secret.name, "default_version_id": secret.default_version_id,
               "versions": encode(secret.versions)}
        _write(self._secret_path(secret.account_id, secret.region, secret.name), json.dumps(doc).encode())

    def secret_delete(self, account: str, region: str, name: str) -> None:
        self._secret_path(account, region, name).unlink(missing_ok=True)

    def secrets(self) -> Iterator[tuple[str, str, dict[str, Any], Path]]:
        """(account, region, {name, default_version_id, versions}, file) of every journaled secret."""
        for path in sorted((self.root / "secretsmanager").glob("*/*/*.json")):
            account, region = path.parts[-3:-1]
            doc = json.loads(path.read_text())
            yield account, region, {**doc, "versions": decode(doc["versions"])}, path

    # -- all -------------------------------------------------------------------
    def clear(self) -> None:
        with self.lock:
            shutil.rmtree(self.root, ignore_errors=True)

    def move_into(self, other: "DataJournal") -> None:
        """Move every file into `other` (same relative path; a newer file replaces an older one)."""
        with self.lock:
            for path in sorted(p for p in self.root.rglob("*") if p.is_file()):
                target = other.root / path.relative_to(self.root)
                _private_dir(target.parent)
                os.replace(path, target)
            shutil.rmtree(self.root, ignore_errors=True)

    def empty(self) -> bool:
        return not any(p.is_file() for p in self.root.rglob("*")) if self.root.exists() else True

    def counts(self) -> dict[str, int]:
        return {
            "messages": len(list((self.root / "sqs").glob("*.json"))),
            "items": len(list((self.root / "dynamodb").glob("*/*/*/*.json"))),
            "objects": len(list((self.root / "s3").glob("*/*/*.json"))),
            "secrets": len(list((self.root / "secretsmanager").glob("*/*/*.json"))),
        }


def prepare(root: Path) -> Path:
    """The persist folder, private (0700), with its format stamp."""
    _private_dir(root)
    stamp = root / "FORMAT"
    if not stamp.exists():
        _write(stamp, FORMAT.encode())
    elif stamp.read_text().strip() != FORMAT:
        raise JournalError(f"{root} holds a journal of another format ({stamp.read_text().strip()!r})")
    return root
