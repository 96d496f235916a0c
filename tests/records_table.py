"""The records table as constructs_lib/table.py builds it (key `webhook_id`, the records index with its
projection), for the emulator harnesses that create it without Terraform."""
from __future__ import annotations

from handlers.contract import RECORDS_INDEX, RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_PROJECTED, RECORDS_INDEX_RANGE_KEY


def create_records_table(ddb, name: str) -> None:
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "webhook_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"}
                              for n in ("webhook_id", RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_RANGE_KEY)],
        GlobalSecondaryIndexes=[{
            "IndexName": RECORDS_INDEX,
            "KeySchema": [{"AttributeName": RECORDS_INDEX_HASH_KEY, "KeyType": "HASH"},
                          {"AttributeName": RECORDS_INDEX_RANGE_KEY, "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(RECORDS_INDEX_PROJECTED)},
        }],
        BillingMode="PAY_PER_REQUEST",
    )
