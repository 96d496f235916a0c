"""`webhookctl events list` / `events show` against the emulator: the records index Queried (never
Scanned), providers merged newest first, a cursor that pages without repeats or gaps, and one delivery
looked into: its record, its stored headers, its payload, its exact bytes, its signature re-verified."""
from __future__ import annotations

import base64
import datetime as dt
import json
import zlib

import pytest

from cli.events import decode_cursor, describe_payload, encode_cursor, list_events, parse_when, Query
from handlers.schemes import sign
from operate_stack import CallCounter, stack, ws, fresh_now  # noqa: F401 (fixtures)

pytestmark = pytest.mark.emulator

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)  # refreshed before each test (operate_stack.fresh_now)
FIXED_NOW = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone.utc)  # parse_when's reference: any instant


def _fill(stack, count: int, *, providers=("stripe", "github"), start: dt.datetime | None = None,
          step: dt.timedelta = dt.timedelta(seconds=37), same_ms_every: int = 4) -> list[str]:
    """`count` deliveries over time, newest last; every `same_ms_every`-th shares the previous one's
    received_at (ties in the index), across a UTC day boundary."""
    start = start or NOW - step * count
    ids, moment = [], start
    for n in range(count):
        if n % same_ms_every:
            moment = moment + step
        provider = providers[n % len(providers)]
        status = "failed" if n % 5 == 0 else "processed"
        kind = "charge.succeeded" if n % 3 else "charge.refunded"
        ids.append(stack.put_delivery(provider, f"evt_{n:04d}", moment, status=status, event_type=kind))
    return ids


def _page_through(ws, ddb, limit: int, **filters) -> list[dict]:
    got, cursor, pages = [], None, 0
    while True:
        page = list_events(ws, limit=limit, cursor=cursor, ddb=ddb, **({} if cursor else filters))
        assert len(page["events"]) <= limit
        got += page["events"]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            return got
        assert len(page["events"]) == limit  # a cursor only when more match: never an empty next page
        assert pages < 200


def test_listing_pages_newest_first_without_repeats_or_gaps_and_only_queries(ws, stack):
    ids = _fill(stack, 130, start=dt.datetime.combine(NOW.date(), dt.time(23, 0), dt.timezone.utc)
                - dt.timedelta(days=1))
    ddb = CallCounter(stack.client("dynamodb"))
    got = _page_through(ws, ddb.client, 7, since="3d")
    assert sorted(e["webhook_id"] for e in got) == sorted(ids)
    assert len({e["webhook_id"] for e in got}) == len(got) == 130
    times = [e["received_at"] for e in got]
    assert times == sorted(times, reverse=True)
    assert ddb.count("Scan") == 0 and ddb.count("Query") > 0
    assert set(ddb.calls) <= {"Query", "BatchGetItem"}


@pytest.mark.parametrize("filters,keep", [
    ({"providers": ["stripe"]}, lambda n: n % 2 == 0),
    ({"status": "failed"}, lambda n: n % 5 == 0),
    ({"event_type": "charge.refunded"}, lambda n: n % 3 == 0),
    ({"providers": ["github"], "status": "processed", "event_type": "charge.succeeded"},
     lambda n: n % 2 == 1 and n % 5 and n % 3),
])
def test_filters_page_without_repeats_or_gaps(ws, stack, filters, keep):
    ids = _fill(stack, 120)
    got = _page_through(ws, stack.client("dynamodb"), 6, since="2h", **filters)
    assert sorted(e["webhook_id"] for e in got) == sorted(wid for n, wid in enumerate(ids) if keep(n))
    assert len({e["webhook_id"] for e in got}) == len(got)
    times = [e["received_at"] for e in got]
    assert times == sorted(times, reverse=True)


def test_type_filter_is_in_the_query_status_after_the_batch_read(ws, stack):
    _fill(stack, 12)
    ddb = CallCounter(stack.client("dynamodb"))
    seen = []
    ddb.client.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **kw: seen.append(params))
    list_events(ws, event_type="charge.refunded", since="1h", ddb=ddb.client)
    assert seen and all(p["FilterExpression"] == "#t = :t" and p["ScanIndexForward"] is False for p in seen)
    assert all(p["IndexName"] == "by_provider_day" for p in seen)


def test_window_bounds_are_inclusive_and_outside_is_left_out(ws, stack):
    inside = stack.put_delivery("stripe", "evt_in", NOW - dt.timedelta(minutes=5))
    stack.put_delivery("stripe", "evt_old", NOW - dt.timedelta(minutes=50))
    stack.put_delivery("stripe", "evt_future", NOW + dt.timedelta(minutes=50))
    page = list_events(ws, since="10m", ddb=stack.client("dynamodb"))
    assert [e["webhook_id"] for e in page["events"]] == [inside]
    assert page["next"] is None


def test_cursor_is_opaque_and_carries_its_query(ws, stack):
    _fill(stack, 10)
    first = list_events(ws, limit=3, since="1h", status="processed", ddb=stack.client("dynamodb"))
    query, positions = decode_cursor(first["next"])
    assert query.status == "processed" and query.since == first["since"] and query.until == first["until"]
    assert all(p == 0 or len(p) == 2 for p in positions.values())
    later = list_events(ws, limit=100, cursor=first["next"], ddb=stack.client("dynamodb"))
    assert later["since"] == first["since"]  # "1h" was made absolute on the first page


@pytest.mark.parametrize("cursor", ["nope", "", base64.urlsafe_b64encode(zlib.compress(b'{"v": 9}')).decode(),
                                    encode_cursor(Query(("stripe",), "a", "b"), {"paddle": ["x", "y"]})])
def test_a_bad_cursor_is_one_error(ws, stack, cursor):
    from cli.errors import WebhookctlError

    with pytest.raises(WebhookctlError, match="not a cursor from `webhookctl events list`"):
        list_events(ws, cursor=cursor or "=", ddb=stack.client("dynamodb"))


@pytest.mark.parametrize("text,expected", [
    ("30m", FIXED_NOW - dt.timedelta(minutes=30)), ("2d", FIXED_NOW - dt.timedelta(days=2)),
    ("45s", FIXED_NOW - dt.timedelta(seconds=45)), ("1w", FIXED_NOW - dt.timedelta(weeks=1)),
    ("2026-11-29", dt.datetime(2026, 11, 29, tzinfo=dt.timezone.utc)),
    ("2026-11-29T08:00Z", dt.datetime(2026, 11, 29, 8, tzinfo=dt.timezone.utc)),
])
def test_times_are_iso_or_a_duration_ago(text, expected):
    assert parse_when(text, FIXED_NOW) == expected.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_cli_list_table_fits_100_columns_and_json_is_one_object_a_line(run_cli, stack):
    ids = _fill(stack, 9, same_ms_every=1000)
    table = run_cli("events", "list", "--since", "1h", "--limit", "4")
    assert table.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["received", "provider", "event", "type", "status", "webhook", "id"]
    assert len(lines) == 5 and all(len(line) <= 100 for line in lines)
    assert ids[-1] in lines[1]  # newest first, the whole id (it is what `events show` takes)
    assert "--next" in table.stderr
    doc = run_cli("events", "list", "--since", "1h", "--limit", "4", "--json")
    rows = [json.loads(line) for line in doc.stdout.splitlines()]
    assert [r["webhook_id"] for r in rows[:4]] == list(reversed(ids))[:4]
    assert set(rows[-1]) == {"next"}
    rest = run_cli("events", "list", "--next", rows[-1]["next"], "--json")
    assert [json.loads(line)["webhook_id"] for line in rest.stdout.splitlines()] == list(reversed(ids))[4:]


@pytest.mark.parametrize("args,error", [
    (["--since", "yesterday"], "Error: 'yesterday' is not a time: give ISO-8601 (2026-11-29, 2026-11-29T08:00Z) "
                               "or a duration ago (45s, 30m, 1h, 2d, 1w)"),
    (["--since", "1h", "--until", "2h"], None),
    (["--provider", "nope"], "Error: unknown provider 'nope' (configured: acme, github, paddle, shopify, slack, "
                             "square, stripe, svix, twilio)"),
    (["--next", "xyz", "--provider", "stripe"], "Error: --next continues the listing it came from, with its "
                                                "filters: give it alone (with --limit if you like)"),
])
def test_cli_list_bad_input_is_one_error_line(run_cli, stack, args, error):
    result = run_cli("events", "list", *args)
    assert result.exit_code == 1
    [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert line == error if error else line.startswith("Error: --since ") and "is after --until" in line


# --------------------------------------------------------------------------- show


def _signed_stripe(stack, secret: str, *, at: dt.datetime, body: bytes | None = None) -> tuple[str, bytes]:
    body = body or json.dumps({"id": "evt_show", "type": "charge.succeeded", "data": {"object": {"amount": 5}}}).encode()
    headers = sign("stripe", body, secret, {}, now=at.timestamp())
    wid = stack.put_delivery("stripe", "evt_show", at, body=body, event_type="charge.succeeded",
                             headers={k.lower(): v for k, v in headers.items()})
    return wid, body


def test_show_has_the_record_the_stored_headers_and_the_pretty_payload(run_cli, stack):
    wid, body = _signed_stripe(stack, "whsec_one", at=NOW - dt.timedelta(hours=2))
    result = run_cli("events", "show", wid, "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["record"]["webhook_id"] == wid and doc["record"]["status"] == "processed"
    assert set(doc["headers"]) == {"stripe-signature", "content-type"}
    assert doc["payload"] == {"content_type": "application/json", "size": len(body), "kind": "json",
                              "json": json.loads(body)}
    human = run_cli("events", "show", wid)
    assert '"type": "charge.succeeded"' in human.stdout and "stripe-signature" in human.stdout


def test_show_raw_writes_the_exact_archived_bytes(run_cli, stack):
    body = b'{"id": "evt_raw",  "note": "spaces \\u00e9 kept"}\n'
    wid = stack.put_delivery("stripe", "evt_raw", NOW, body=body)
    result = run_cli("events", "show", wid, "--raw")
    assert result.exit_code == 0 and result.stdout_bytes == body


def test_stored_headers_in_the_record_are_shown_too(run_cli, stack):
    wid = stack.put_delivery("github", "d-1", NOW, headers={"x-hub-signature-256": "sha256=" + "ab" * 32},
                             headers_in_record=True)
    doc = json.loads(run_cli("events", "show", wid, "--json").stdout)
    assert doc["headers"] == {"content-type": "application/json", "x-hub-signature-256": "sha256=" + "ab" * 32}
    assert "verify_headers" not in doc["record"]


def test_verify_says_which_secret_matched_and_the_age_without_the_tolerance(run_cli, stack):
    wid, _ = _signed_stripe(stack, "whsec_old", at=NOW - dt.timedelta(hours=3))
    stack.set_secrets("stripe", ["whsec_new", "whsec_old"])
    result = run_cli("events", "show", wid, "--verify", "--json")
    assert result.exit_code == 0, result.output
    check = json.loads(result.stdout)["verification"]
    assert check["secret_index"] == 1 and check["active_secrets"] == 2 and check["verified"] is True
    assert 3 * 3600 - 5 <= check["age_seconds"] <= 3 * 3600 + 60 and check["within_tolerance"] is False
    stack.set_secrets("stripe", ["whsec_new"])
    failed = run_cli("events", "show", wid, "--verify")
    assert failed.exit_code == 1
    assert failed.stderr.splitlines()[-1] == (
        f"Error: {wid}: the stored signature matches none of stripe's 1 active secret(s): it was signed with a "
        "secret that is no longer active (replaced without --keep-previous?)")


def test_verify_a_url_signed_scheme_with_the_stored_url(run_cli, stack):
    url = "https://abc.execute-api.us-east-1.amazonaws.com/local/webhooks/square"
    body = json.dumps({"event_id": "sq-1", "type": "payment.updated"}).encode()
    headers = {k.lower(): v for k, v in sign("square", body, "sq-secret", {}, url=url).items()}
    wid = stack.put_delivery("square", "sq-1", NOW, body=body, headers={**headers, "x-webhookctl-signed-url": url})
    stack.set_secrets("square", ["sq-secret"])
    check = json.loads(run_cli("events", "show", wid, "--verify", "--json").stdout)["verification"]
    assert check["secret_index"] == 0 and check["timestamp"] is None


def test_unknown_id_is_one_error_line(run_cli, stack):
    for wid in ("0" * 32, "not-an-id"):
        result = run_cli("events", "show", wid)
        assert result.exit_code == 1
        assert result.stderr.splitlines()[-1] == (
            f"Error: no delivery {wid} in environment 'local' (`webhookctl events list` shows the webhook ids)")


def test_glacier_payload_is_named_with_how_to_restore(run_cli, stack, monkeypatch):
    from cli import archive

    wid = stack.put_delivery("stripe", "evt_cold", NOW)
    frozen = archive.ArchivedObject(bucket=stack.bucket, key="k", storage_class="GLACIER")
    monkeypatch.setattr("cli.archive.read_archived", lambda s3, b, k: (_ for _ in ()).throw(archive.InGlacier(frozen)))
    doc = json.loads(run_cli("events", "show", wid, "--json").stdout)
    assert doc["payload"] is None and doc["archive"]["in_glacier"] is True
    assert doc["archive"]["restore"].startswith("aws s3api restore-object --bucket")
    raw = run_cli("events", "show", wid, "--raw")
    assert raw.exit_code == 1 and "restore it first with `aws s3api restore-object" in raw.stderr


@pytest.mark.parametrize("body,content_type,kind", [
    (b'{"a": 1}', "application/json", "json"),
    (b"From=%2B1555&Body=hi+there", "application/x-www-form-urlencoded", "form"),
    (b"plain words\n", "text/plain", "text"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png", "binary"),
])
def test_payload_views(body, content_type, kind):
    view = describe_payload(body, content_type)
    assert view["kind"] == kind and view["size"] == len(body)
    if kind == "form":
        assert view["form"] == [("From", "+1555"), ("Body", "hi there")]


def test_a_shared_token_is_never_shown(run_cli, stack, project):
    path = project / "webhookctl.toml"
    path.write_text(path.read_text() + '\n[providers.gitlab]\nscheme = "gitlab"\n')
    stack.client("secretsmanager").create_secret(Name=f"{stack.stack}/providers/gitlab")
    wid = stack.put_delivery("gitlab", "g-1", NOW, headers={"x-gitlab-token": "the-token", "x-gitlab-event": "Push Hook"})
    result = run_cli("events", "show", wid)
    assert "the-token" not in result.stdout and "<shared secret: not shown>" in result.stdout


def test_a_page_reads_whole_only_the_records_it_shows(ws, stack):
    _fill(stack, 60)
    ddb = stack.client("dynamodb")
    read, limits = [], []
    ddb.meta.events.register("provide-client-params.dynamodb.BatchGetItem",
                             lambda params, **kw: read.extend(next(iter(params["RequestItems"].values()))["Keys"]))
    ddb.meta.events.register("provide-client-params.dynamodb.Query", lambda params, **kw: limits.append(params["Limit"]))
    page = list_events(ws, limit=10, since="2h", ddb=ddb)
    assert len(page["events"]) == 10 and len(read) == 10
    assert min(limits) == 4 and max(limits) <= 8  # 9 providers: each starts at its share of 10 (at least 4), doubling
