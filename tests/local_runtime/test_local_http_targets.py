"""The local deliverer of http targets against the emulator and a receiver on 127.0.0.1: the rule's
pattern, the connection's auth, the transformed body, the rate limit, retries, then the target DLQ."""
from __future__ import annotations

import itertools
import json
import random
import time

import pytest

from handlers.contract import REDRIVE_SOURCE
from http_target_helpers import clients, deploy_bus, deploy_http_route, detail, publish
from http_target_helpers import receiver  # noqa: F401 (a fixture)
from local_runtime.http_targets import Backoff, HttpTargetDeliverer, RateLimiter, Target, json_path, render_input

pytestmark = pytest.mark.emulator

FAST = Backoff(base_seconds=0.05, cap_seconds=0.2)
_buses = itertools.count()


@pytest.fixture
def aws(emulator):
    return clients(emulator.endpoint)


@pytest.fixture
def bus(aws):
    name = f"http-targets-{next(_buses)}-bus"
    return {"name": name, **deploy_bus(aws, name)}


@pytest.fixture
def deliverer(emulator, bus):
    started: list[HttpTargetDeliverer] = []

    def start(**kwargs) -> HttpTargetDeliverer:
        running = HttpTargetDeliverer(emulator.endpoint, "us-east-1", bus["name"], log=lambda line: None,
                                      backoff=kwargs.pop("backoff", FAST), seed=1, **kwargs).start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def dlq_messages(aws, bus) -> list[dict]:
    sqs = aws("sqs")
    found = []
    for _ in range(5):
        batch = sqs.receive_message(QueueUrl=bus["dlq_url"], MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                    WaitTimeSeconds=0).get("Messages", [])
        found += batch
        if not batch:
            break
    return found


def test_matching_events_once_each_with_the_auth_header_and_the_transformed_body(aws, bus, receiver, deliverer):
    deploy_http_route(aws, bus["name"], bus["dlq_arn"], "orders", f"{receiver.url}/hook",
                      pattern={"detail": {"provider": ["shopify"]}},
                      transform={"id": "$.detail.webhook_id", "order": "$.detail.payload", "missing": "$.detail.nope"})
    running = deliverer()
    publish(aws, bus["name"], detail(1), detail(2, provider="stripe"), detail(3))
    got = receiver.wait_for(2)
    time.sleep(0.5)  # nothing more comes
    assert len(receiver.deliveries()) == 2
    assert sorted(r.json()["id"] for r in got) == [f"{1:032x}", f"{3:032x}"]
    first = next(r for r in got if r.json()["id"] == f"{1:032x}")
    assert first.json() == {"id": f"{1:032x}", "order": {"id": 1, "total": "9.99"}, "missing": None}
    assert first.headers["X-Api-Key"] == "s3cret-key"
    assert first.headers["Content-Type"] == "application/json; charset=utf-8" and first.method == "POST"
    assert running.stats()["orders"] == {"delivered": 2, "retried": 0, "failed": 0, "dead_lettered": 0, "lost": 0}


def test_without_a_transform_the_body_is_the_whole_detail(aws, bus, receiver, deliverer):
    deploy_http_route(aws, bus["name"], bus["dlq_arn"], "orders", f"{receiver.url}/hook",
                      pattern={"detail": {"provider": ["shopify"]}})
    deliverer()
    publish(aws, bus["name"], detail(7))
    [got] = receiver.wait_for(1)
    assert got.json() == detail(7)


def test_a_failing_receiver_gets_retries_then_the_event_goes_to_the_dlq(aws, bus, receiver, deliverer):
    receiver.status = 500
    rule_arn = deploy_http_route(aws, bus["name"], bus["dlq_arn"], "orders", f"{receiver.url}/hook",
                                 pattern={"detail": {"provider": ["shopify"]}}, retries=2)
    running = deliverer()
    publish(aws, bus["name"], detail(1))
    assert len(receiver.wait_for(3)) == 3  # the first attempt and two retries
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and running.stats()["orders"]["dead_lettered"] < 1:
        time.sleep(0.05)
    time.sleep(0.3)
    assert len(receiver.deliveries()) == 3  # and no more
    [message] = dlq_messages(aws, bus)
    event = json.loads(message["Body"])
    assert event["detail"] == detail(1) and event["source"] == "webhook.processor"
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["RULE_ARN"] == rule_arn and ":api-destination/" in attributes["TARGET_ARN"]
    assert (attributes["ERROR_CODE"], attributes["EXHAUSTED_RETRY_CONDITION"], attributes["RETRY_ATTEMPTS"]) == (
        "ERROR_FROM_TARGET", "MaximumRetryAttempts", "2")
    assert running.stats()["orders"] == {"delivered": 0, "retried": 2, "failed": 1, "dead_lettered": 1, "lost": 0}


def test_a_status_eventbridge_does_not_retry_goes_to_the_dlq_at_once(aws, bus, receiver, deliverer):
    receiver.status = 400
    deploy_http_route(aws, bus["name"], bus["dlq_arn"], "orders", f"{receiver.url}/hook",
                      pattern={"detail": {"provider": ["shopify"]}}, retries=5)
    running = deliverer()
    publish(aws, bus["name"], detail(1))
    receiver.wait_for(1)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not running.stats()["orders"]["dead_lettered"]:
        time.sleep(0.05)
    [message] = dlq_messages(aws, bus)
    assert "EXHAUSTED_RETRY_CONDITION" not in message["MessageAttributes"]
    assert len(receiver.deliveries()) == 1


def test_the_rate_limiter_gives_each_start_the_next_slot_one_interval_on():
    """On a fake clock, so exact: 5 a second is a start every 0.2 s, a burst included, and a pause
    earns no burst afterwards."""
    now, starts = [100.0], []

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(5, clock=lambda: now[0], sleep=sleep)
    for _ in range(6):  # six at once
        limiter.acquire()
        starts.append(now[0])
    now[0] += 10  # idle
    for _ in range(2):
        limiter.acquire()
        starts.append(now[0])
    assert starts == pytest.approx([100.0, 100.2, 100.4, 100.6, 100.8, 101.0, 111.0, 111.2])


def test_the_rate_limit_holds(aws, bus, receiver, deliverer):
    deploy_http_route(aws, bus["name"], bus["dlq_arn"], "orders", f"{receiver.url}/hook",
                      pattern={"detail": {"provider": ["shopify"]}}, rate=5)
    deliverer()
    publish(aws, bus["name"], *[detail(n) for n in range(15)])
    got = receiver.wait_for(15, timeout=20)
    assert len(got) == 15
    times = sorted(r.at for r in got)
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    assert busiest <= 5 + 1, busiest
    assert times[-1] - times[0] >= (15 - 1) / 5 * 0.9  # paced, not bursted


def test_a_redriven_event_reaches_only_its_routes_target(aws, bus, receiver, deliverer):
    orders_arn = deploy_http_route(aws, bus["name"], bus["dlq_arn"], "orders", f"{receiver.url}/hook",
                                   pattern={"detail": {"provider": ["shopify"]}})
    deploy_http_route(aws, bus["name"], bus["dlq_arn"], "audit", f"{receiver.url}/audit",
                      pattern={"detail-type": ["Webhook Processed"]})
    deliverer()
    aws("events").put_events(Entries=[{"Source": REDRIVE_SOURCE, "DetailType": "Webhook Processed",
                                       "Detail": json.dumps(detail(9)), "Resources": [orders_arn],
                                       "EventBusName": bus["name"]}])
    assert len(receiver.wait_for(1)) == 1
    time.sleep(0.5)
    assert len(receiver.deliveries()) == 1 and receiver.deliveries("/audit") == []


def test_oauth_client_credentials_fetch_a_token_and_fetch_again_on_401(aws, bus, receiver, deliverer):
    auth = {"type": "oauth", "authorization_endpoint": f"{receiver.url}/token", "client_id": "client-1",
            "scope": "hooks", "http_method": "POST"}
    deploy_http_route(aws, bus["name"], bus["dlq_arn"], "orders", f"{receiver.url}/hook",
                      pattern={"detail": {"provider": ["shopify"]}}, auth=auth, retries=1)
    deliverer()
    publish(aws, bus["name"], detail(1))
    [got] = receiver.wait_for(1)
    assert got.headers["Authorization"] == "Bearer token-1"
    [token_request] = receiver.deliveries("/token")
    assert token_request.body == b"grant_type=client_credentials&scope=hooks"
    assert token_request.headers["Authorization"] == "Basic Y2xpZW50LTE6czNjcmV0LWtleQ=="  # client-1:s3cret-key
    receiver.status = 401
    publish(aws, bus["name"], detail(2))
    receiver.wait_for(3)
    assert receiver.deliveries()[-1].headers["Authorization"] == "Bearer token-2"  # refreshed after the 401


def _target(**changes) -> Target:
    base = dict(route="r", rule_name="r", rule_arn="arn", pattern=None, target_arn="t", url="http://x", method="POST",
                rate_per_second=1, connection="c", input_path=None, input_transformer=None, maximum_retries=0,
                maximum_age_seconds=60, dlq_arn=None)
    return Target(**{**base, **changes})


def test_render_input_quotes_strings_and_keeps_json_values():
    event = {"id": "e", "detail": {"a": "x\"y", "n": 3, "o": {"k": [1]}}}
    transformer = {"InputPathsMap": {"a": "$.detail.a", "n": "$.detail.n", "o": "$.detail.o", "z": "$.detail.z"},
                   "InputTemplate": '{"a":<a>,"n":<n>,"o":<o>,"z":<z>}'}
    assert json.loads(render_input(_target(input_transformer=transformer), event)) == {
        "a": "x\"y", "n": 3, "o": {"k": [1]}, "z": None}
    assert json.loads(render_input(_target(input_path="$.detail"), event)) == event["detail"]
    assert json.loads(render_input(_target(), event)) == event
    assert json_path(event, "$") == event and json_path(event, "$.detail.o.k") == [1]


def test_backoff_grows_exponentially_with_jitter_under_a_cap():
    rng = random.Random(0)
    backoff = Backoff(base_seconds=1, cap_seconds=8)
    delays = [backoff.delay(n, rng) for n in range(6)]
    assert all(0.5 * min(8, 2 ** n) <= d <= min(8, 2 ** n) for n, d in enumerate(delays))
