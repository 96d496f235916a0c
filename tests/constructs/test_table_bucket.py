"""Table and bucket: secure defaults, protection per environment, validation, scoped grants."""
from __future__ import annotations

import json

import pytest

from constructs_lib.bucket import Bucket, BucketProps
from constructs_lib.defaults import ValidationError
from constructs_lib.table import Index, Table, TableProps
from handlers.contract import RECORDS_INDEX, RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_PROJECTED, RECORDS_INDEX_RANGE_KEY

ACCOUNT = "${data.aws_caller_identity.caller.account_id}"


def test_table_defaults(local):
    table = local.one("aws_dynamodb_table", name="webhooks-local-records")
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["hash_key"] == "webhook_id"
    assert table["ttl"] == {"attribute_name": "expires_at", "enabled": True}
    assert table["point_in_time_recovery"] == {"enabled": True}
    # enabled = false is the AWS owned key (no KMS charge); true would be the billed AWS managed key.
    assert table["server_side_encryption"] == {"enabled": False}
    assert table["global_secondary_index"] == [{
        "name": RECORDS_INDEX, "hash_key": RECORDS_INDEX_HASH_KEY, "range_key": RECORDS_INDEX_RANGE_KEY,
        "projection_type": "INCLUDE", "non_key_attributes": list(RECORDS_INDEX_PROJECTED),
    }]
    assert {a["name"] for a in table["attribute"]} == {"webhook_id", RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_RANGE_KEY}
    assert table["deletion_protection_enabled"] is False


def test_records_index_projects_only_attributes_that_never_change():
    """A status update must not write the index: nothing it changes is a key or projected there."""
    updated_by_handlers = {"status", "attempts", "processed_at", "expires_at"}
    indexed = {RECORDS_INDEX_HASH_KEY, RECORDS_INDEX_RANGE_KEY, *RECORDS_INDEX_PROJECTED}
    assert not updated_by_handlers & indexed


def test_table_protected_in_prod(prod):
    assert prod.one("aws_dynamodb_table")["deletion_protection_enabled"] is True


def test_table_overrides_and_validation(scratch, synthesize, aws):
    Table(scratch, "t", props=TableProps(name="items", overrides={"table_class": "STANDARD_INFREQUENT_ACCESS"}), aws=aws)
    assert synthesize(scratch).one("aws_dynamodb_table")["table_class"] == "STANDARD_INFREQUENT_ACCESS"
    with pytest.raises(ValidationError) as err:
        Table(scratch, "bad", aws=aws, props=TableProps(
            name="x", ttl_attribute="webhook_id", indexes=(Index("a", "p"), Index("a", "q")),
            overrides={"billing_mode": "PROVISIONED", "server_side_encryption": {"enabled": False, "kms_key_arn": "k"}},
        ))
    assert err.value.problems == [
        "name 'x' must be 3-255 letters, digits, '_', '-' or '.'",
        "ttl_attribute 'webhook_id' cannot also be a key attribute",
        "index 'a' is defined twice",
        "billing_mode must stay PAY_PER_REQUEST (webhook traffic is bursty)",
        "server_side_encryption.kms_key_arn needs enabled = true (a customer managed key)",
    ]


def test_a_customer_managed_key_can_be_chosen(scratch, synthesize, aws):
    key = "arn:aws:kms:eu-west-1:111122223333:key/1"
    Table(scratch, "t", aws=aws, props=TableProps(
        name="items", overrides={"server_side_encryption": {"enabled": True, "kms_key_arn": key}}))
    assert synthesize(scratch).one("aws_dynamodb_table")["server_side_encryption"] == {"enabled": True, "kms_key_arn": key}


def test_table_grants_are_named_for_intent_and_scoped_to_the_table(local):
    table_arn = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/webhooks-local-records"
    for function, grants in (
        ("ingest", [["dynamodb:PutItem"]]),  # its record is its last write: nothing to update
        ("process", [["dynamodb:BatchGetItem"], ["dynamodb:BatchWriteItem", "dynamodb:UpdateItem"]]),
    ):
        statements = [s for s in local.policies_of(function) if any(a.startswith("dynamodb:") for a in s["Action"])]
        assert sorted(s["Action"] for s in statements) == grants
        # No handler queries the index (the CLI does, with the user's own credentials).
        assert all(s["Resource"] == [table_arn] for s in statements)


def test_bucket_defaults(local):
    bucket = local.one("aws_s3_bucket")
    assert bucket["bucket"] == f"webhooks-local-archive-{ACCOUNT}"  # globally unique per account
    assert bucket["force_destroy"] is True
    assert local.one("aws_s3_bucket_versioning")["versioning_configuration"] == {"status": "Enabled"}
    sse = local.one("aws_s3_bucket_server_side_encryption_configuration")["rule"][0]
    assert sse["apply_server_side_encryption_by_default"] == {"sse_algorithm": "AES256"}
    pab = local.one("aws_s3_bucket_public_access_block")
    assert all(pab[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets"))
    rules = {r["id"]: r for r in local.one("aws_s3_bucket_lifecycle_configuration")["rule"]}
    # local keeps objects forever: no expiration, but deleted ones' previous versions go after 7 days
    assert "expiration" not in rules["expire"]
    assert rules["expire"]["noncurrent_version_expiration"] == [{"noncurrent_days": 7}]
    assert rules["delete-markers"]["expiration"] == [{"expired_object_delete_marker": True}]
    # moto drops a rule's size filter (the provider would wait forever for it): no transition there
    assert set(rules) == {"expire", "delete-markers"}


def test_bucket_transitions_only_what_is_worth_it(prod):
    lifecycle = prod.one("aws_s3_bucket_lifecycle_configuration")
    rules = {r["id"]: r for r in lifecycle["rule"]}
    assert set(rules) == {"expire", "transition", "delete-markers"}
    # only objects of at least 256 KiB move to Glacier; smaller ones would cost more there
    assert rules["transition"]["filter"] == [{"object_size_greater_than": 256 * 1024 - 1}]
    assert rules["transition"]["transition"] == [{"days": 30, "storage_class": "GLACIER"}]
    assert lifecycle["transition_default_minimum_object_size"] == "all_storage_classes_128K"
    assert not any("noncurrent_version_transition" in r for r in rules.values())


def test_bucket_is_tls_only_on_aws_but_not_on_the_plain_http_emulator(local, prod):
    [deny] = json.loads(prod.one("aws_s3_bucket_policy")["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [f"arn:aws:s3:::webhooks-prod-archive-{ACCOUNT}", f"arn:aws:s3:::webhooks-prod-archive-{ACCOUNT}/*"]
    # moto enforces bucket policies and the emulator has no TLS: the deny would refuse every write.
    assert local.resources("aws_s3_bucket_policy") == {}


def test_bucket_protected_with_expiry_in_prod(prod):
    assert prod.one("aws_s3_bucket")["force_destroy"] is False
    rules = {r["id"]: r for r in prod.one("aws_s3_bucket_lifecycle_configuration")["rule"]}
    assert rules["expire"]["expiration"] == [{"days": 400}]
    # the expired object's data (a noncurrent version on this versioned bucket) goes 7 days later
    assert rules["expire"]["noncurrent_version_expiration"] == [{"noncurrent_days": 7}]


def test_bucket_validation(scratch, aws):
    with pytest.raises(ValidationError) as err:
        Bucket(scratch, "b", aws=aws, props=BucketProps(
            name="Bad_Name", transition_days=30, expiration_days=10, transition_storage_class="STANDARD",
            transition_min_bytes=-1, noncurrent_days=0))
    assert err.value.problems == [
        "name 'Bad_Name' is not a valid S3 bucket name (3-63 lowercase letters, digits, '.', '-')",
        "transition_storage_class must be one of: GLACIER_IR, GLACIER, DEEP_ARCHIVE",
        "transition_min_bytes must be 0 or more",
        "noncurrent_days must be at least 1",
        "expiration_days 10 must be later than the transition (30 days)",
    ]


def test_bucket_without_transition(scratch, synthesize, aws):
    Bucket(scratch, "b", aws=aws, props=BucketProps(name="archive-b", transition_days=None, expiration_days=40))
    rules = {r["id"]: r for r in synthesize(scratch).one("aws_s3_bucket_lifecycle_configuration")["rule"]}
    assert set(rules) == {"expire", "delete-markers"} and rules["expire"]["expiration"] == [{"days": 40}]


def test_bucket_grants_scoped_to_objects(local):
    objects = f"arn:aws:s3:::webhooks-local-archive-{ACCOUNT}/*"
    assert [s["Resource"] for s in local.policies_of("ingest") if "s3:PutObject" in s["Action"]] == [[objects]]
    assert [s["Resource"] for s in local.policies_of("process") if "s3:GetObject" in s["Action"]] == [[objects]]
    assert not any("s3:PutObject" in s["Action"] for s in local.policies_of("process"))
