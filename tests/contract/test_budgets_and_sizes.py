"""The contract's SDK time budget, how AWS counts its limits, the provider table's path and
where re-verification headers are read from."""
from __future__ import annotations

import pytest

from handlers.contract import (
    AWS_LIMITS, INGEST_SDK_CALLS, PROCESS_SDK_CALLS, SDK_MIN_ATTEMPT_SECONDS, SDK_RESERVE_SECONDS, Settings,
    dynamodb_item_bytes, providers_file_path, put_events_entry_bytes, reverify_headers, s3_user_metadata_bytes,
    sdk_backoff_seconds, sdk_call_seconds, sdk_settings,
)


@pytest.mark.parametrize("timeout", [3, 6, 10, 15, 29, 30, 60, 300, 900])
@pytest.mark.parametrize("calls", [1, 3, INGEST_SDK_CALLS, PROCESS_SDK_CALLS, 10])
def test_every_call_at_its_worst_fits_in_the_function_timeout(timeout, calls):
    sdk = sdk_settings(timeout, calls)
    worst = sdk_call_seconds(sdk["sdk_connect_timeout_seconds"], sdk["sdk_read_timeout_seconds"],
                             sdk["sdk_max_attempts"])
    assert calls * worst <= timeout - SDK_RESERVE_SECONDS + 1e-9
    assert sdk["sdk_max_attempts"] in (1, 2, 3)
    assert 0 < sdk["sdk_connect_timeout_seconds"] <= 1.0 < sdk["sdk_read_timeout_seconds"] + 1.0
    if sdk["sdk_max_attempts"] > 1:  # a retry is only planned when each attempt keeps a useful time
        assert sdk["sdk_connect_timeout_seconds"] + sdk["sdk_read_timeout_seconds"] >= SDK_MIN_ATTEMPT_SECONDS - 0.02


def test_the_shipped_numbers():
    # ingest (10 s, 4 calls: a secret read and its 3 storage calls): one attempt of 2.25 s each,
    # the provider's retry is the outer loop; process at 30 s, 4 calls: three attempts of ~1.4 s each.
    assert INGEST_SDK_CALLS == 4
    assert sdk_settings(10, INGEST_SDK_CALLS) == {
        "sdk_connect_timeout_seconds": 0.56, "sdk_read_timeout_seconds": 1.69, "sdk_max_attempts": 1}
    assert sdk_settings(30, PROCESS_SDK_CALLS) == {
        "sdk_connect_timeout_seconds": 0.35, "sdk_read_timeout_seconds": 1.06, "sdk_max_attempts": 3}
    # The defaults, for a function whose stack wrote none, are the tightest function's.
    defaults = Settings()
    assert {k: getattr(defaults, k) for k in sdk_settings(10, INGEST_SDK_CALLS)} == sdk_settings(10, INGEST_SDK_CALLS)


def test_backoff_is_botocores_longest():
    assert [sdk_backoff_seconds(a) for a in (1, 2, 3, 4, 7)] == [0, 1, 3, 7, 51]
    assert sdk_call_seconds(0.5, 1.5, 3) == 3 * 2.0 + 3


def test_put_events_entry_size_counts_what_eventbridge_counts():
    entry = {"Source": "ü", "DetailType": "dt", "Detail": '{"a":"é"}', "EventBusName": "not counted"}
    assert put_events_entry_bytes(entry) == 2 + 2 + 10
    assert put_events_entry_bytes({**entry, "Time": "2026-01-01", "Resources": ["arn:x", "é"]}) == 14 + 14 + 5 + 2


def test_s3_metadata_and_dynamodb_item_sizes():
    assert s3_user_metadata_bytes({"ab": "cdé"}) == 2 + 4
    item = {"id": {"S": "é"}, "n": {"N": "-12.50"}, "ok": {"BOOL": True},
            "m": {"M": {"k": {"S": "v"}, "l": {"L": [{"S": "x"}, {"NULL": True}]}}}}
    # id: 2+2; n: 1 + (125: 2) + 1; ok: 2+1;
    # m: 1 + 3 + (k: 1+1, +1 element) + (l: 1 + [3 + (1, +1) + (1, +1)], +1 element)
    assert dynamodb_item_bytes(item) == 4 + 4 + 3 + (1 + 3 + 3 + 9)
    assert AWS_LIMITS.s3_user_metadata_bytes == 2048 and AWS_LIMITS.dynamodb_item_bytes == 400 * 1024


def test_providers_file_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert providers_file_path("", {}) == str(tmp_path / "providers.json")
    assert providers_file_path("", {"LAMBDA_TASK_ROOT": "/var/task"}) == "/var/task/providers.json"
    assert providers_file_path("conf/p.json", {"LAMBDA_TASK_ROOT": "/var/task"}) == "/var/task/conf/p.json"
    assert providers_file_path("/etc/p.json", {"LAMBDA_TASK_ROOT": "/var/task"}) == "/etc/p.json"
    assert Settings.from_env({"PROVIDERS_FILE": "/x.json"}).providers_file == "/x.json"


def test_reverify_headers_come_from_one_place():
    in_metadata = {"stripe-signature": "t=1,v1=a", "content-type": "application/json"}
    assert reverify_headers(in_metadata, {"verify_headers": {"M": {"stale": {"S": "ignored"}}}}) == in_metadata
    marker = {"webhookctl-verify-headers": "record"}
    assert reverify_headers(marker, {"verify_headers": {"M": {"x-sig": {"S": "é"}}}}) == {"x-sig": "é"}
    assert reverify_headers(marker, {"verify_headers": {"x-sig": "é"}}) == {"x-sig": "é"}
    assert reverify_headers(marker, {}) == {}
