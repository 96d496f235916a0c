"""DynamoDB table for delivery records: on demand, TTL, PITR, encrypted, the records index."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from . import bindings  # noqa: F401  (first: lazy provider imports)
from cdktf_cdktf_provider_aws.dynamodb_table import (
    DynamodbTable,
    DynamodbTableAttribute,
    DynamodbTableGlobalSecondaryIndex,
)
from constructs import Construct

from handlers.contract import RECORDS_INDEX, RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_PROJECTED, RECORDS_INDEX_RANGE_KEY

from .defaults import TABLE_DEFAULTS, checkov_skip, merge, raise_if, repeated
from .iam import AwsContext, Grantee, sid, statement

_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")

# What each handler calls, by intent; no grant holds an action no handler calls.
READ_ACTIONS = ("dynamodb:BatchGetItem",)  # process reads a batch's records in one call
WRITE_ACTIONS = ("dynamodb:PutItem",)  # ingest creates a record (status queued: its last write)
# process marks the records it published `processed` in one BatchWriteItem per batch, a failing one `failed`
UPDATE_ACTIONS = ("dynamodb:BatchWriteItem", "dynamodb:UpdateItem")


@dataclass(frozen=True)
class Index:
    """A global secondary index. `projected`: the non-key attributes it copies (INCLUDE); () copies keys only."""

    name: str
    hash_key: str
    range_key: str | None = None
    projected: Sequence[str] = ()


# The contract's records index, for `events list` and `replay` (find a provider's deliveries by
# time). Its hash key is "<provider>#<day>", not the provider alone: a provider's writes spread
# over a new partition key every day instead of piling onto one forever (a rising range key under
# one hash key is one hot partition per provider). It projects only attributes that never change
# after the first write, so the status updates never write the index: each delivery costs the
# index one write, not one per status change as a projection of ALL would.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations
RECORDS = Index(RECORDS_INDEX, RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_RANGE_KEY, RECORDS_INDEX_PROJECTED)


@dataclass(frozen=True)
class TableProps:
    name: str
    hash_key: str = "webhook_id"
    ttl_attribute: str = "expires_at"
    indexes: Sequence[Index] = (RECORDS,)
    deletion_protection: bool = False
    overrides: Mapping[str, Any] = field(default_factory=dict)


def validate_table_props(props: TableProps) -> list[str]:
    problems: list[str] = []
    if not _NAME.match(props.name or ""):
        problems.append(f"name '{props.name}' must be 3-255 letters, digits, '_', '-' or '.'")
    if not props.hash_key:
        problems.append("hash_key is required")
    if props.ttl_attribute in {props.hash_key} | {i.hash_key for i in props.indexes}:
        problems.append(f"ttl_attribute '{props.ttl_attribute}' cannot also be a key attribute")
    problems += [f"index '{dup}' is defined twice" for dup in repeated(i.name for i in props.indexes)]
    if props.overrides.get("billing_mode", "PAY_PER_REQUEST") != "PAY_PER_REQUEST":
        problems.append("billing_mode must stay PAY_PER_REQUEST (webhook traffic is bursty)")
    encryption = props.overrides.get("server_side_encryption", {})
    if encryption.get("kms_key_arn") and not encryption.get("enabled"):
        problems.append("server_side_encryption.kms_key_arn needs enabled = true (a customer managed key)")
    return problems


class Table(Construct):
    """`table` resource; `name`, `arn` and `index_arns` are built strings."""

    def __init__(self, scope: Construct, id: str, *, props: TableProps, aws: AwsContext):
        raise_if(f"Table '{id}'", validate_table_props(props))
        super().__init__(scope, id)
        self.name = props.name
        self.arn = aws.arn("dynamodb", f"table/{props.name}")
        self.index_arns = [f"{self.arn}/index/{i.name}" for i in props.indexes]
        keys = {props.hash_key}
        for index in props.indexes:
            keys |= {index.hash_key, *([index.range_key] if index.range_key else [])}
        self.table = DynamodbTable(
            self,
            "table",
            **merge(
                TABLE_DEFAULTS,
                props.overrides,
                {
                    "name": props.name,
                    "hash_key": props.hash_key,
                    "attribute": [DynamodbTableAttribute(name=k, type="S") for k in sorted(keys)],
                    "global_secondary_index": [_index(i) for i in props.indexes],
                    "ttl": {"attribute_name": props.ttl_attribute, "enabled": True},
                    "deletion_protection_enabled": props.deletion_protection,
                },
            ),
        )
        checkov_skip(self.table, {
            "CKV_AWS_119": "encrypted at rest with the AWS owned key (no KMS charge); give "
                           "server_side_encryption.kms_key_arn in the table overrides for a customer managed key",
        })

    def grant_read_data(self, grantee: Grantee) -> Any:
        """Read records (process)."""
        return self._grant(grantee, "read-data", READ_ACTIONS)

    def grant_write_data(self, grantee: Grantee) -> Any:
        """Create records (ingest)."""
        return self._grant(grantee, "write-data", WRITE_ACTIONS)

    def grant_update_data(self, grantee: Grantee) -> Any:
        """Update existing records (process marks them processed or failed)."""
        return self._grant(grantee, "update-data", UPDATE_ACTIONS)

    def _grant(self, grantee: Grantee, intent: str, actions: Sequence[str]) -> Any:
        # The table only: no handler queries the index (the CLI does, with the user's credentials).
        return grantee.add_to_policy(sid(intent, self.node.id), [statement(actions, [self.arn])])


def _index(index: Index) -> DynamodbTableGlobalSecondaryIndex:
    if index.projected:
        return DynamodbTableGlobalSecondaryIndex(
            name=index.name, hash_key=index.hash_key, range_key=index.range_key,
            projection_type="INCLUDE", non_key_attributes=list(index.projected),
        )
    return DynamodbTableGlobalSecondaryIndex(
        name=index.name, hash_key=index.hash_key, range_key=index.range_key, projection_type="KEYS_ONLY"
    )
