"""Bring a fresh emulator back to what its journal holds (the replay concern).

Runs inside the emulator process (`local_runtime.emulator_server`), before
it binds its port, so no client ever sees a half-restored emulator:

1. `replay_control`: every control-plane request of `control.jsonl` goes
   through moto's own WSGI app, in order, with the current Host (moto builds
   queue URLs from it). Deterministic ids (`moto_patches`) make the resources
   come back under the ids Terraform state holds.
2. `restore_data`: the journaled messages, items, objects and secret values
   are put back into moto's models directly, keeping what a replay of API
   calls could not: message ids and send times, secret version ids and
   stages, objects' metadata and modification times.

Data whose resource no longer exists (its queue or table was deleted) is left
where it is and reported: `restore_data` runs again after the next deploy
(`pending`), so a reset emulator loses no accepted webhook.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local_runtime.journal import DataJournal, body_bytes, operation

log = logging.getLogger("webhookctl.restore")

_DROPPED_HEADERS = {"host", "content-length", "transfer-encoding", "expect", "content-type"}


@dataclass
class ReplayReport:
    calls: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def replay_control(app: Callable, entries: list[dict[str, Any]], base_url: str) -> ReplayReport:
    """Send each journaled request through `app` (moto's WSGI app) in order; collect the failures."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    report = ReplayReport()
    started = time.monotonic()
    for entry in entries:
        headers = {k: v for k, v in (entry.get("headers") or {}).items() if k.lower() not in _DROPPED_HEADERS}
        content_type = next((v for k, v in (entry.get("headers") or {}).items() if k.lower() == "content-type"), None)
        environ = EnvironBuilder(path=entry["path"], method=entry["method"], query_string=entry.get("query") or "",
                                 headers=headers, data=body_bytes(entry), content_type=content_type,
                                 base_url=base_url).get_environ()
        app_iter, status, _ = run_wsgi_app(app, environ, buffered=True)
        body = b"".join(app_iter)
        report.calls += 1
        code = int(status.split(" ", 1)[0])
        if code >= 400:
            report.errors.append(f"{operation(entry)} {entry['path']}: HTTP {code} {body[:200]!r}")
    report.seconds = time.monotonic() - started
    return report


@dataclass
class DataReport:
    restored: Counter = field(default_factory=Counter)
    missing: list[str] = field(default_factory=list)  # what waits for its resource (kept on disk)


def restore_data(source: DataJournal, *, sink: DataJournal | None = None,
                 remove_restored: bool = False) -> DataReport:
    """Put `source`'s data back into moto's models.

    sink: the live journal to write what is restored to (None when `source` is
    the live journal itself). remove_restored: delete each restored file from
    `source` (a pending folder); what cannot be restored stays there.
    Idempotent: a message, item, object or secret already present is not
    added twice.
    """
    report = DataReport()
    for kind, restore in (("messages", _restore_messages), ("items", _restore_items),
                          ("objects", _restore_objects), ("secrets", _restore_secrets)):
        restore(source, sink, remove_restored, report, kind)
    return report


def _restore_messages(source: DataJournal, sink: DataJournal | None, remove: bool, report: DataReport,
                      kind: str) -> None:
    from moto.sqs.models import Message, sqs_backends

    from local_runtime.journal import decode

    for doc in source.sqs_messages():
        queue = sqs_backends[doc["account"]][doc["region"]].queues.get(doc["queue"])
        if queue is None:
            report.missing.append(f"message {doc['id']} of queue {doc['queue']}")
            continue
        if not any(m.id == doc["id"] for m in queue._messages):
            message = Message(doc["id"], doc["body"], decode(doc["system_attributes"]))
            message.message_attributes = decode(doc["attributes"])
            message.group_id, message.deduplication_id = doc["group_id"], doc["deduplication_id"]
            message.sequence_number = doc["sequence_number"]
            message.mark_sent()
            message.sent_timestamp = doc["sent_timestamp"] or message.sent_timestamp
            with queue._messages_lock:
                queue._messages.append(message)
                queue._messages_lock.notify_all()
            if sink is not None:
                sink.sqs_put(queue, message)
            report.restored[kind] += 1
        if remove:
            source.sqs_delete([doc["id"]])


def _restore_items(source: DataJournal, sink: DataJournal | None, remove: bool, report: DataReport,
                   kind: str) -> None:
    from moto.dynamodb.models import dynamodb_backends

    for account, region, table_name, attrs, path in source.ddb_items():
        table = dynamodb_backends[account][region].tables.get(table_name)
        if table is None:
            report.missing.append(f"item of table {table_name}")
            continue
        item = table.put_item(attrs, overwrite=True)
        if sink is not None:
            sink.ddb_put(table, item)
        report.restored[kind] += 1
        if remove:
            path.unlink(missing_ok=True)


def _restore_objects(source: DataJournal, sink: DataJournal | None, remove: bool, report: DataReport,
                     kind: str) -> None:
    from moto.s3.models import s3_backends

    for account, bucket, meta, body, path in source.s3_objects():
        backend = s3_backends[account]["global"]
        if bucket not in backend.buckets:
            report.missing.append(f"object {meta['key']} of bucket {bucket}")
            continue
        obj = backend.put_object(bucket, meta["key"], body, disable_notification=True)
        obj.set_metadata(meta["metadata"], replace=True)
        obj.last_modified = datetime.fromisoformat(meta["last_modified"])
        if sink is not None:
            sink.s3_put(account, bucket, obj)
        report.restored[kind] += 1
        if remove:
            path.unlink(missing_ok=True)
            path.with_suffix(".body").unlink(missing_ok=True)


def _restore_secrets(source: DataJournal, sink: DataJournal | None, remove: bool, report: DataReport,
                     kind: str) -> None:
    from moto.secretsmanager.models import secretsmanager_backends

    for account, region, doc, path in source.secrets():
        secret = secretsmanager_backends[account][region].secrets.get(doc["name"])
        if secret is None:
            report.missing.append(f"secret {doc['name']}")
            continue
        secret.versions = doc["versions"]
        secret.default_version_id = doc["default_version_id"]
        current = secret.versions.get(doc["default_version_id"] or "", {})
        secret.secret_string, secret.secret_binary = current.get("secret_string"), current.get("secret_binary")
        if sink is not None:
            sink.secret_put(secret)
        report.restored[kind] += 1
        if remove:
            path.unlink(missing_ok=True)
