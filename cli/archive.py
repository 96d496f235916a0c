"""Reading the S3 archive when the lifecycle may have moved an object to Glacier.

The archive's lifecycle (constructs_lib.bucket, config `[archive]`) moves large objects to a
Glacier storage class after `transition_days`. GetObject on an object in Glacier Flexible
Retrieval or Deep Archive answers `InvalidObjectState` until a restore makes a temporary copy;
`read_archived` turns that into `InGlacier`, one line saying how to restore it (and whether a
restore is under way), for `replay`, `events show` and anything else that reads the archive.
https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects.html
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from .errors import WebhookctlError

# How long a restore takes, per storage class and retrieval tier:
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/restoring-objects-retrieval-options.html
RESTORE_TIMES = {
    "GLACIER": "Expedited 1-5 minutes, Standard 3-5 hours, Bulk 5-12 hours",
    "DEEP_ARCHIVE": "Standard within 12 hours, Bulk within 48 hours",
}
RESTORE_DAYS = 7  # how long the restored copy stays readable


@dataclass(frozen=True)
class ArchivedObject:
    """Where an archived object is: its storage class, and whether a restore runs or has finished."""

    bucket: str
    key: str
    storage_class: str
    restoring: bool = False
    restored_until: str | None = None

    def restore_command(self, tier: str = "Standard") -> str:
        request = json.dumps({"Days": RESTORE_DAYS, "GlacierJobParameters": {"Tier": tier}}, separators=(",", ":"))
        return f"aws s3api restore-object --bucket {self.bucket} --key {self.key} --restore-request '{request}'"

    def explain(self) -> str:
        where = f"s3://{self.bucket}/{self.key} is in {self.storage_class}"
        if self.restoring:
            return f"{where}; its restore is under way ({RESTORE_TIMES.get(self.storage_class, 'hours')}): try again later"
        return (f"{where}: restore it first with `{self.restore_command()}` "
                f"({RESTORE_TIMES.get(self.storage_class, 'hours')}), then try again")


class InGlacier(WebhookctlError):
    """The object must be restored before it can be read; the message says how."""

    def __init__(self, archived: ArchivedObject):
        super().__init__(archived.explain())
        self.archived = archived


_RESTORE = re.compile(r'ongoing-request="(?P<ongoing>true|false)"(?:,\s*expiry-date="(?P<expiry>[^"]+)")?')


def archived_object(s3, bucket: str, key: str) -> ArchivedObject:
    """The object's storage class and restore status (HeadObject's StorageClass and Restore)."""
    head = s3.head_object(Bucket=bucket, Key=key)
    match = _RESTORE.search(head.get("Restore") or "")
    return ArchivedObject(bucket=bucket, key=key, storage_class=head.get("StorageClass") or "STANDARD",
                          restoring=bool(match and match["ongoing"] == "true"),
                          restored_until=match["expiry"] if match else None)


def read_archived(s3, bucket: str, key: str) -> bytes:
    """The archived bytes; `InGlacier` when they must be restored first (one GetObject when they need not)."""
    from botocore.exceptions import ClientError

    try:
        return s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as exc:
        if (exc.response.get("Error") or {}).get("Code") != "InvalidObjectState":
            raise
    raise InGlacier(archived_object(s3, bucket, key))
