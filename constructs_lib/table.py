"""DynamoDB table for delivery records: on demand, TTL, PITR, SSE, a by-provider index."""
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

from .defaults import TABLE_DEFAULTS, checkov_skip, merge, raise_if, repeated
from .iam import AwsContext, Grantee, sid, statement

_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


@dataclass(frozen=True)
class Index:
    name: str
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class TableProps:
    name: str
    hash_key: str = "webhook_id"
    ttl_attribute: str = "expires_at"
    indexes: Sequence[Index] = (Index("by_provider", "provider", "received_at"),)
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
    if props.overrides.get("server_side_encryption", {}).get("enabled") is False:
        problems.append("server_side_encryption cannot be turned off")
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
                    "global_secondary_index": [
                        DynamodbTableGlobalSecondaryIndex(
                            name=i.name, hash_key=i.hash_key, range_key=i.range_key, projection_type="ALL"
                        )
                        for i in props.indexes
                    ],
                    "ttl": {"attribute_name": props.ttl_attribute, "enabled": True},
                    "deletion_protection_enabled": props.deletion_protection,
                },
            ),
        )
        checkov_skip(
            self.table,
            {"CKV_AWS_119": "encrypted at rest with the AWS owned key; a customer KMS key adds cost and key management for metadata records"},
        )

    def grant(self, grantee: Grantee, *actions: str) -> Any:
        """`dynamodb:<action>` on this table and its indexes only."""
        return grantee.add_to_policy(
            sid("table", self.node.id),
            [statement([a if ":" in a else f"dynamodb:{a}" for a in actions], [self.arn, *self.index_arns])],
        )
