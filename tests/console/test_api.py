"""The console's JSON API against the emulator-backed storage of tests/cli (no browser): exact shapes,
the same answers as the CLI's library functions, errors as `{"error"}`, and the server's guards:
token, Host, methods, security headers, 127.0.0.1 only."""
from __future__ import annotations

import datetime as dt
import http.client
import inspect
import json
import socket

import pytest

from cli.console import api, server
from cli.events import list_events
from handlers.contract import Pointer
from handlers.schemes import sign
from operate_stack import stack, ws, fresh_now  # noqa: F401 (fixtures)

pytestmark = pytest.mark.emulator

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)  # refreshed before each test (operate_stack.fresh_now)
TOKEN = "t0ken-for-tests-" + "x" * 27
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


@pytest.fixture
def console(ws):
    running = server.start(ws, port=0, token=TOKEN)
    yield running
    running.stop()


class Client:
    def __init__(self, port: int):
        self.port = port

    def call(self, method: str, path: str, *, token: str | None = TOKEN, host: str | None = None,
             body: bytes | None = None) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Host": host or f"127.0.0.1:{self.port}"}
        if token is not None:
            headers[server.TOKEN_HEADER] = token
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, raw

    def json(self, method: str, path: str, **kwargs) -> tuple[int, dict]:
        status, headers, raw = self.call(method, path, **kwargs)
        assert headers["content-type"] == "application/json; charset=utf-8"
        return status, json.loads(raw)


@pytest.fixture
def client(console) -> Client:
    return Client(console.server.port)


# --------------------------------------------------------------------------- the guards


def test_the_server_binds_127_0_0_1_only(console):
    assert console.server.socket.getsockname()[0] == "127.0.0.1"
    assert server.HOST == "127.0.0.1"
    assert "host" not in inspect.signature(server.start).parameters  # no way to ask for another address
    assert console.url == f"http://127.0.0.1:{console.server.port}/?token={TOKEN}"
    with socket.socket() as other:  # not reachable on another local address of the machine
        other.settimeout(0.5)
        address = socket.gethostbyname(socket.gethostname())
        if address != "127.0.0.1":
            assert other.connect_ex((address, console.server.port)) != 0


def test_a_fresh_token_is_long_and_random():
    first, second = server.new_token(), server.new_token()
    assert first != second and len(first) >= 43


PATHS = ["/", "/index.html", "/app.js", "/app.css", "/api/meta", "/api/overview", "/api/deliveries", "/api/dlq",
         "/api/nowhere"]


@pytest.mark.parametrize("path", PATHS)
def test_no_token_or_a_wrong_one_is_403_everywhere(client, path):
    for token in (None, "wrong", TOKEN[:-1], TOKEN + "x", ""):
        status, headers, raw = client.call("GET", path, token=token)
        assert status == 403, (path, token)
        assert json.loads(raw)["error"].startswith("a valid console token is required")
        assert headers["content-security-policy"] == CSP


def test_the_api_takes_the_token_only_from_the_header(client):
    assert client.call("GET", f"/api/meta?token={TOKEN}", token=None)[0] == 403
    assert client.call("GET", f"/?token={TOKEN}", token=None)[0] == 200
    assert client.call("GET", "/?token=nope", token=None)[0] == 403


@pytest.mark.parametrize("host", ["evil.example:{port}", "127.0.0.1", "localhost:1", "127.0.0.1:{port}.evil.example",
                                  "0.0.0.0:{port}", "[::1]:{port}"])
def test_a_foreign_host_header_is_403_even_with_the_token(client, host):
    status, headers, raw = client.call("GET", "/api/meta", host=host.format(port=client.port))
    assert status == 403 and "127.0.0.1 or localhost" in json.loads(raw)["error"]
    assert headers["content-security-policy"] == CSP


def test_localhost_is_a_good_host_too(client):
    assert client.call("GET", "/api/meta", host=f"localhost:{client.port}")[0] == 200


@pytest.mark.parametrize("method,path,allow", [
    ("GET", "/api/deliveries/0123456789abcdef0123456789abcdef/replay", "POST"),
    ("GET", "/api/dlq/redrive", "POST"),
    ("POST", "/api/overview", "GET"),
    ("PUT", "/api/dlq/redrive", "POST"),
    ("DELETE", "/api/meta", "GET"),
])
def test_a_wrong_method_is_405_with_allow(client, method, path, allow):
    status, headers, raw = client.call(method, path)
    assert status == 405 and headers["allow"] == allow
    assert "error" in json.loads(raw)


def test_a_wrong_method_without_the_token_is_still_403(client):
    assert client.call("GET", "/api/dlq/redrive", token=None)[0] == 403
    assert client.call("PUT", "/api/meta", token=None)[0] == 403


def test_every_response_carries_the_security_headers(client):
    for method, path in [("GET", "/"), ("GET", "/app.js"), ("GET", "/app.css"), ("GET", "/api/meta"),
                         ("GET", "/api/nowhere"), ("GET", "/api/dlq/redrive"), ("GET", "/api/deliveries/none")]:
        _, headers, _ = client.call(method, path)
        assert headers["content-security-policy"] == CSP, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["cache-control"] == "no-store"


def test_static_files_are_served_with_the_token_and_the_page_hands_it_on(client):
    status, headers, raw = client.call("GET", f"/?token={TOKEN}", token=None)
    page = raw.decode()
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert f'<meta name="webhookctl-token" content="{TOKEN}">' in page
    assert f'src="app.js?token={TOKEN}"' in page and f'href="app.css?token={TOKEN}"' in page
    assert server.TOKEN_PLACEHOLDER not in page
    assert "<script>" not in page and "style=" not in page  # nothing inline: the CSP allows none
    status, headers, raw = client.call("GET", f"/app.js?token={TOKEN}", token=None)
    assert status == 200 and headers["content-type"] == "text/javascript; charset=utf-8"
    assert b"X-Webhookctl-Token" in raw and b"innerHTML" not in raw
    status, headers, _ = client.call("GET", f"/app.css?token={TOKEN}", token=None)
    assert status == 200 and headers["content-type"] == "text/css; charset=utf-8"


def test_an_unknown_endpoint_is_404(client):
    assert client.json("GET", "/api/nowhere") == (404, {"error": "no such endpoint: /api/nowhere"})


# --------------------------------------------------------------------------- reads


def test_meta_names_the_environment_and_its_choices(client, ws):
    status, doc = client.json("GET", "/api/meta")
    assert status == 200
    assert doc == {"env": "local", "stack": ws.stack, "region": "us-east-1", "emulated": True,
                   "providers": sorted(ws.config.providers), "statuses": ["queued", "processed", "failed", "received"],
                   "routes": [{"name": "audit-log", "target": "logs"}, {"name": "payments", "target": "sqs"},
                              {"name": "orders", "target": "http"}]}


def test_deliveries_are_events_lists_answer_with_its_filters(client, ws, stack):
    ids = [stack.put_delivery("stripe", f"evt_{n}", NOW - dt.timedelta(minutes=n), event_type=kind, status=status)
           for n, (kind, status) in enumerate([("charge.succeeded", "processed"), ("charge.refunded", "failed"),
                                               ("charge.succeeded", "queued")])]
    stack.put_delivery("github", "gh_1", NOW - dt.timedelta(minutes=4), event_type="push")
    status, doc = client.json("GET", "/api/deliveries?provider=stripe&since=1h")
    assert status == 200 and set(doc) == {"events", "next", "since", "until"}
    assert [e["webhook_id"] for e in doc["events"]] == ids  # newest first
    assert set(doc["events"][0]) == {"webhook_id", "received_at", "provider", "event_type", "status", "delivery_id",
                                     "size", "processed_at", "s3_key"}
    same = list_events(ws, providers=["stripe"], since=doc["since"], until=doc["until"])
    assert doc["events"] == same["events"]
    _, failed = client.json("GET", "/api/deliveries?status=failed&since=1h")
    assert [e["webhook_id"] for e in failed["events"]] == [ids[1]]
    _, typed = client.json("GET", "/api/deliveries?type=charge.succeeded&since=1h&provider=stripe")
    assert [e["webhook_id"] for e in typed["events"]] == [ids[0], ids[2]]


def test_deliveries_page_with_the_cursor(client, stack):
    ids = [stack.put_delivery("stripe", f"evt_p{n}", NOW - dt.timedelta(seconds=n)) for n in range(5)]
    _, first = client.json("GET", "/api/deliveries?since=1h&limit=3")
    assert [e["webhook_id"] for e in first["events"]] == ids[:3] and first["next"]
    _, second = client.json("GET", f"/api/deliveries?next={first['next']}&limit=3")
    assert [e["webhook_id"] for e in second["events"]] == ids[3:] and second["next"] is None


@pytest.mark.parametrize("query,error", [
    ("status=lost", "status 'lost' is none of queued, processed, failed, received"),
    ("limit=0", "limit '0' is not a whole number from 1 to 1000"),
    ("limit=ten", "limit 'ten' is not a whole number from 1 to 1000"),
    ("since=yesterday", "'yesterday' is not a time: give ISO-8601 (2026-11-29, 2026-11-29T08:00Z) or a duration "
                        "ago (45s, 30m, 1h, 2d, 1w)"),
    ("provider=nope", "unknown provider 'nope'"),
    ("next=garbage", "--next: not a cursor from `webhookctl events list` (copy the whole value)"),
    ("type=a&type=b", "'type' given 2 times: give it once"),
])
def test_bad_filters_are_400_with_the_clis_message(client, stack, query, error):
    status, doc = client.json("GET", f"/api/deliveries?{query}")
    assert status == 400 and doc["error"].startswith(error)


def _signed(stack, body: bytes, at: dt.datetime, delivery_id: str = "evt_show") -> str:
    headers = sign("stripe", body, "whsec_console", {}, now=at.timestamp())
    return stack.put_delivery("stripe", delivery_id, at, body=body, event_type="charge.succeeded",
                              headers={k.lower(): v for k, v in headers.items()})


def test_a_delivery_is_events_show_verify_with_its_timeline(client, stack):
    stack.set_secrets("stripe", ["whsec_console"])
    body = json.dumps({"id": "evt_show", "note": "<script>alert(1)</script>", "data": {"amount": 5}}).encode()
    wid = _signed(stack, body, NOW - dt.timedelta(minutes=3))
    status, doc = client.json("GET", f"/api/deliveries/{wid}")
    assert status == 200
    assert set(doc) == {"record", "headers", "archive", "payload", "timeline", "verification"}
    assert doc["record"]["webhook_id"] == wid and doc["record"]["status"] == "processed"
    assert set(doc["headers"]) == {"stripe-signature", "content-type"}
    assert doc["payload"] == {"content_type": "application/json", "size": len(body), "kind": "json",
                              "json": json.loads(body)}
    received, processed = doc["record"]["received_at"], doc["record"]["processed_at"]
    assert doc["timeline"] == [{"step": "received", "at": received, "done": True},
                               {"step": "queued", "at": received, "done": True},
                               {"step": "processed", "at": processed, "done": True, "attempts": 1}]
    assert doc["verification"]["verified"] is True and doc["verification"]["secret_index"] == 0
    assert doc["verification"]["within_tolerance"] is True


def test_a_signature_that_no_longer_verifies_is_part_of_the_answer(client, stack):
    stack.set_secrets("stripe", ["whsec_replaced"])
    wid = _signed(stack, b'{"id": "evt_old"}', NOW, delivery_id="evt_old")
    status, doc = client.json("GET", f"/api/deliveries/{wid}")
    assert status == 200 and doc["verification"]["verified"] is False
    assert "matches none of stripe's 1 active secret(s)" in doc["verification"]["error"]


def test_form_and_binary_payloads_are_described(client, stack):
    form = stack.put_delivery("stripe", "evt_form", NOW, body=b"a=1&b=%3Cb%3E",
                              content_type="application/x-www-form-urlencoded")
    blob = stack.put_delivery("stripe", "evt_blob", NOW, body=b"\x00\xff\xfe", content_type="application/octet-stream")
    assert client.json("GET", f"/api/deliveries/{form}")[1]["payload"]["form"] == [["a", "1"], ["b", "<b>"]]
    assert client.json("GET", f"/api/deliveries/{blob}")[1]["payload"] == {
        "content_type": "application/octet-stream", "size": 3, "kind": "binary"}


def test_an_unknown_delivery_is_404_with_a_message(client, ws):
    missing = "0123456789abcdef0123456789abcdef"
    status, doc = client.json("GET", f"/api/deliveries/{missing}")
    assert status == 404
    assert doc == {"error": f"no delivery {missing} in environment 'local' (`webhookctl events list` shows the "
                            "webhook ids)"}
    assert client.json("POST", f"/api/deliveries/{missing}/replay")[0] == 404
    assert client.json("GET", "/api/deliveries/not..an-id")[0] == 404


def test_a_timeline_stops_where_the_record_is():
    assert api.timeline({"status": "failed", "received_at": "r", "processed_at": None, "attempts": 5}) == [
        {"step": "received", "at": "r", "done": True}, {"step": "queued", "at": "r", "done": True},
        {"step": "failed", "at": None, "done": True, "attempts": 5}]
    assert [s["done"] for s in api.timeline({"status": "queued", "received_at": "r", "attempts": 0})] == [
        True, True, False]


def test_overview_is_stats_for_the_hour_with_chart_alarms_and_stages(client, ws, stack):
    stack.put_delivery("stripe", "evt_o1", NOW - dt.timedelta(minutes=2))
    stack.put_delivery("stripe", "evt_o2", NOW - dt.timedelta(minutes=22), status="failed")
    stack.put_delivery("github", "gh_o1", NOW - dt.timedelta(minutes=2))
    cloudwatch = stack.client("cloudwatch")
    for key in ("dlq-not-empty", "api-5xx"):
        cloudwatch.put_metric_alarm(AlarmName=f"{ws.stack}-{key}", MetricName="m", Namespace="n", Statistic="Sum",
                                    Period=60, EvaluationPeriods=1, Threshold=0, ComparisonOperator="GreaterThanThreshold")
    cloudwatch.set_alarm_state(AlarmName=f"{ws.stack}-dlq-not-empty", StateValue="ALARM", StateReason="2 in the DLQ")
    status, doc = client.json("GET", "/api/overview")
    assert status == 200
    assert set(doc) == {"since", "until", "providers", "oldest_queued", "queues", "targets", "target_hours", "chart",
                        "alarms", "stages"}
    rows = {r["provider"]: r for r in doc["providers"]}
    assert rows["stripe"] == {"provider": "stripe", "total": 2, "processed": 1, "queued": 0, "failed": 1, "received": 0}
    assert doc["chart"]["bucket_minutes"] == 5 and set(doc["chart"]["series"]) == {"stripe", "github"}
    assert sum(doc["chart"]["series"]["stripe"]) == 2 and doc["chart"]["series"]["stripe"][-1] == 1
    assert len(doc["chart"]["series"]["github"]) == 12
    alarms = {a["key"]: a for a in doc["alarms"]}
    assert alarms["dlq-not-empty"]["state"] == "ALARM" and alarms["dlq-not-empty"]["reason"] == "2 in the DLQ"
    assert alarms["api-5xx"]["name"] == f"{ws.stack}-api-5xx"
    assert doc["alarms"][0]["key"] == "dlq-not-empty"  # firing alarms first
    stages = {s["key"]: s for s in doc["stages"]}
    assert list(stages) == ["api", "ingest", "queue", "process", "bus", "routes"]
    assert stages["process"]["state"] == "alarm" and stages["process"]["counts"]["failed"] == 1
    assert stages["api"]["counts"] == {"received": 3} and stages["bus"]["counts"] == {"published": 2}
    assert doc["queues"]["dlq"] == {"waiting": 0, "in_flight": 0}
    # the emulator has no metrics for the sqs and logs targets moto delivers: unknown ("n/a"), never 0
    assert stages["routes"]["counts"] == {"routes": 3, "delivered": None, "failed": None, "DLQ": 0}


# --------------------------------------------------------------------------- actions


def test_replay_publishes_the_delivery_again_marked_replayed(client, ws, stack):
    wid = stack.put_delivery("stripe", "evt_replay", NOW, body=b'{"id": "evt_replay", "n": 1}')
    sqs, events = stack.client("sqs"), stack.client("events")
    queue = sqs.create_queue(QueueName=f"{ws.stack}-replayed")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name="replayed", EventBusName=stack.bus, EventPattern=json.dumps({"detail": {"replayed": [True]}}))
    events.put_targets(Rule="replayed", EventBusName=stack.bus, Targets=[{"Id": "q", "Arn": arn}])
    status, doc = client.json("POST", f"/api/deliveries/{wid}/replay", body=b"{}")
    assert status == 200
    assert doc == {"matched": 1, "published": 1, "failed": [], "webhook_ids": [wid], "dry_run": False,
                   "in_glacier": []}
    messages = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=2).get("Messages", [])
    detail = json.loads(messages[0]["Body"])["detail"]
    assert detail["webhook_id"] == wid and detail["replayed"] is True and detail["payload"] == {"id": "evt_replay", "n": 1}


def test_replay_needs_the_token_in_the_header(client, stack):
    wid = stack.put_delivery("stripe", "evt_r2", NOW)
    assert client.call("POST", f"/api/deliveries/{wid}/replay?token={TOKEN}", token=None)[0] == 403


def _poison(stack, wid: str) -> None:
    pointer = Pointer(webhook_id=wid, provider="stripe", s3_key="k", delivery_id="evt_dlq", event_type="test.event",
                      received_at="2026-01-01T00:00:00.000Z")
    stack.client("sqs").send_message(QueueUrl=stack.dlq_url, MessageBody=pointer.to_json(),
                                     MessageGroupId="stripe", MessageDeduplicationId=wid)


def _log_failure(project, wid: str, reason: str) -> None:
    """The processor's line for a record's last failed receive, where `webhookctl dev` writes it."""
    from handlers.observability import log_record

    folder = project / ".webhookctl" / "logs" / "local"
    folder.mkdir(parents=True, exist_ok=True)
    lines = [log_record("WARNING", "record failed", service="process", webhook_id=w, reason=r, to_dlq=True)
             for w, r in (("f" * 32, "other"), (wid, "timeout"), (wid, reason))]
    (folder / "process.log").write_text("".join(json.dumps(line) + "\n" for line in lines))


def test_dlq_lists_the_ingest_dlq_and_each_route_then_redrive_empties_it(client, stack, project):
    wid = stack.put_delivery("stripe", "evt_dlq", NOW, status="failed")
    _poison(stack, wid)
    status, doc = client.json("GET", "/api/dlq")
    assert status == 200 and set(doc) == {"ingest", "targets"}
    [message] = doc["ingest"]
    assert message["webhook_id"] == wid and message["provider"] == "stripe" and message["message_group"] == "stripe"
    assert message["why"] is None  # no local logs yet
    _log_failure(project, wid, "archive_unreadable")
    assert client.json("GET", "/api/dlq")[1]["ingest"][0]["why"] == "archive_unreadable"
    assert [t["route"] for t in doc["targets"]] == ["audit-log", "payments", "orders"]
    assert all(t["messages"] == [] and "is not deployed" in t["error"] for t in doc["targets"])  # no rules here
    status, moved = client.json("POST", "/api/dlq/redrive", body=b"{}")
    assert status == 200 and moved["target"] is None
    assert [m["webhook_id"] for m in moved["moved"]] == [wid] and moved["moved"][0]["redriven"] is True
    assert client.json("GET", "/api/dlq")[1]["ingest"] == []
    back = stack.client("sqs").receive_message(QueueUrl=stack.queue_url).get("Messages", [])
    assert json.loads(back[0]["Body"])["webhook_id"] == wid
    record = stack.client("dynamodb").get_item(TableName=stack.table, Key={"webhook_id": {"S": wid}})["Item"]
    assert record["status"]["S"] == "queued"


@pytest.mark.parametrize("body,error", [
    (b"[1]", "the request body must be a JSON object"),
    (b"{not json", "the request body is not JSON"),
    (b'{"target": 3}', "'target' must be a route's name"),
    (b'{"target": "nope"}', "unknown route 'nope' (configured: audit-log, orders, payments)"),
])
def test_a_bad_redrive_body_is_400(client, stack, body, error):
    assert client.json("POST", "/api/dlq/redrive", body=body) == (400, {"error": error})


def test_the_console_command_prints_its_url_with_a_fresh_token_and_stops(ws):
    import re
    import threading
    import time

    from cli.console import serve

    said, stop = [], threading.Event()
    thread = threading.Thread(target=serve, kwargs={"ws": ws, "port": 0, "open_browser": False, "log": said.append,
                                                    "out": said.append, "stop_event": stop})
    thread.start()
    deadline = time.monotonic() + 10
    while not said and time.monotonic() < deadline:
        time.sleep(0.05)
    match = re.search(r"http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{43})\n", said[0])
    assert match, said
    port, token = int(match[1]), match[2]
    assert Client(port).call("GET", f"/?token={token}", token=None)[0] == 200
    stop.set()
    thread.join(10)
    assert not thread.is_alive() and said[-1] == "console: stopped"
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


def _route_rules(ws, stack) -> dict[str, str]:
    """Every route's rule and redrive rule on the bus (what a deploy creates), by route: its rule's ARN."""
    from cli.targets import names

    events, arns = stack.client("events"), {}
    for route in ws.config.routes:
        found = names(ws, route.name)
        for kind in ("rule", "redrive_rule"):
            arn = events.put_rule(Name=found[kind], EventBusName=stack.bus, EventPattern='{"source": ["x"]}')["RuleArn"]
            if kind == "rule":
                arns[route.name] = arn
    return arns


def test_a_route_targets_dlq_lists_and_redrives_for_that_route_alone(client, ws, stack):
    from handlers.contract import targets_dlq_name

    arns = _route_rules(ws, stack)
    sqs = stack.client("sqs")
    url = sqs.get_queue_url(QueueName=targets_dlq_name(stack.bus))["QueueUrl"]
    event = {"id": "ev-1", "detail-type": "Webhook Processed", "source": "webhook.processor",
             "detail": {"webhook_id": "w" * 32, "provider": "stripe", "event_type": "charge.succeeded"}}
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event), MessageAttributes={
        "RULE_ARN": {"DataType": "String", "StringValue": arns["payments"]},
        "ERROR_CODE": {"DataType": "String", "StringValue": "SDK_CLIENT_ERROR"},
        "RETRY_ATTEMPTS": {"DataType": "String", "StringValue": "185"}})
    targets = {t["route"]: t for t in client.json("GET", "/api/dlq")[1]["targets"]}
    assert targets["audit-log"]["messages"] == [] and "error" not in targets["audit-log"]
    [message] = targets["payments"]["messages"]
    assert message["webhook_id"] == "w" * 32 and message["error_code"] == "SDK_CLIENT_ERROR"
    assert message["rule"] == "rule" and message["retry_attempts"] == 185
    status, moved = client.json("POST", "/api/dlq/redrive", body=b'{"target": "payments"}')
    assert status == 200 and moved["target"] == "payments"
    assert [m["redriven"] for m in moved["moved"]] == [True]
    assert client.json("GET", "/api/dlq")[1]["targets"][1]["messages"] == []
