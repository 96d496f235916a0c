"""[[routes]] targets: http destinations, retry policies, ARN targets; each bad field named in one line."""
from __future__ import annotations

import tomllib

import pytest

from config import ConfigError, HttpAuth, RetryPolicy, parse
from handlers.contract import connection_name

PATTERN = {"detail": {"provider": ["stripe"]}}


@pytest.fixture()
def raw(project_root):
    """The committed config without its routes' per-environment URLs (each test brings its routes)."""
    doc = tomllib.loads((project_root / "webhookctl.toml").read_text())
    for env in doc["environments"].values():
        env.pop("target_urls", None)
    return doc


def test_the_committed_http_route_goes_to_a_local_receiver_on_local(project_root):
    from config import load

    config = load(project_root / "webhookctl.toml")
    [orders] = [r for r in config.routes if r.target == "http"]
    assert config.environments["local"].target_url(orders) == "http://127.0.0.1:3140/orders"
    assert config.environments["prod"].target_url(orders) == "https://orders.example.com/webhooks/shopify"


def http_route(**settings):
    return {"name": "orders", "pattern": PATTERN, "target": "http", "url": "https://orders.example.com/hooks",
            **settings}


def problems(raw, *routes):
    raw["routes"] = list(routes)
    with pytest.raises(ConfigError) as err:
        parse(raw, "webhookctl.toml")
    return err.value.problems


def test_an_http_route_with_every_setting(raw):
    raw["routes"] = [http_route(method="PUT", auth={"type": "api_key", "header": "X-Orders-Key"},
                                rate_limit_per_second=5, retry={"maximum_attempts": 3, "maximum_event_age_seconds": 600},
                                transform={"id": "$.detail.webhook_id", "data": "$.detail.payload.data"})]
    [route] = parse(raw).routes
    assert route.target == "http" and route.pattern["source"] == ["webhook.processor"]
    assert (route.http.url, route.http.method, route.http.rate_limit_per_second) == (
        "https://orders.example.com/hooks", "PUT", 5)
    assert route.http.auth == HttpAuth(type="api_key", header="X-Orders-Key")
    assert route.retry == RetryPolicy(maximum_attempts=3, maximum_event_age_seconds=600)
    assert route.http.transform == {"id": "$.detail.webhook_id", "data": "$.detail.payload.data"}


def test_defaults_post_the_whole_detail_without_auth_at_ten_per_second(raw):
    raw["routes"] = [http_route()]
    [route] = parse(raw).routes
    assert (route.http.method, route.http.auth.type, route.http.rate_limit_per_second, route.http.transform) == (
        "POST", "none", 10, None)
    assert route.retry == RetryPolicy(185, 86_400)  # EventBridge's own default, now with a DLQ


def test_an_http_route_without_a_url(raw):
    assert problems(raw, {"name": "orders", "pattern": PATTERN, "target": "http"}) == [
        "routes[0].url: required for an http target: the endpoint's https:// URL"]


def test_plain_http_is_refused_for_a_real_environment_in_one_line(raw):
    assert problems(raw, http_route(url="http://orders.example.com/hooks")) == [
        "routes[0].url: http://orders.example.com/hooks is plain HTTP: an API destination needs https:// "
        "(environment dev, prod); only an emulated environment may use http:// "
        "(or set environments.<name>.target_urls.orders)"]


def test_a_local_receiver_over_http_for_the_emulated_environment_only(raw):
    raw["environments"]["local"]["target_urls"] = {"orders": "http://127.0.0.1:3140/hooks"}
    raw["routes"] = [http_route()]
    config = parse(raw)
    [route] = config.routes
    assert config.environments["local"].target_url(route) == "http://127.0.0.1:3140/hooks"
    assert config.environments["prod"].target_url(route) == "https://orders.example.com/hooks"
    raw["environments"]["prod"]["target_urls"] = {"orders": "http://10.0.0.1/hooks", "audit": "https://x.example"}
    assert problems(raw, http_route()) == [
        "environments.prod.target_urls.audit: not an http route",
        "environments.prod.target_urls.orders: http://10.0.0.1/hooks is plain HTTP: an API destination needs "
        "https:// (environment prod); only an emulated environment may use http:// "
        "(or set environments.<name>.target_urls.orders)"]


def test_an_unknown_auth_type(raw):
    assert problems(raw, http_route(auth={"type": "digest"})) == [
        "routes[0].auth.type: must be one of: none, api_key, basic, oauth"]


def test_a_rate_of_zero(raw):
    assert problems(raw, http_route(rate_limit_per_second=0)) == [
        "routes[0].rate_limit_per_second: must be a whole number from 1 to 300 "
        "(invocations per second an API destination allows)"]


def test_secrets_never_go_in_the_config(raw):
    assert problems(raw, http_route(auth={"type": "api_key", "header": "X-Key", "value": "s3cret"})) == [
        "routes[0].auth.value: not a setting of api_key auth (secrets are set with `webhookctl secrets set --route`)"]


def test_each_auth_type_needs_its_settings(raw):
    assert problems(raw, http_route(auth={"type": "api_key"}), dict(http_route(auth={"type": "basic"}), name="b"),
                    dict(http_route(auth={"type": "oauth", "authorization_endpoint": "http://idp/token"}), name="c")) == [
        "routes[0].auth.header: required for api_key auth",
        "routes[1].auth.username: required for basic auth",
        "routes[2].auth.client_id: required for oauth auth",
        "routes[2].auth.authorization_endpoint: must be the token endpoint's https:// URL",
    ]


def test_transform_paths_are_dot_notation(raw):
    assert problems(raw, http_route(transform={"id": "$.detail[0]", "AWSx": "$.id"})) == [
        "routes[0].transform.id: must be a JSON path in dot notation, such as $.detail.payload.id",
        "routes[0].transform.AWSx: field names are letters, digits, '_' and '-', not starting with AWS",
    ]


def test_http_settings_on_another_target_are_named(raw):
    assert problems(raw, {"name": "q", "pattern": PATTERN, "target": "sqs", "url": "https://x.example"}) == [
        "routes[0].url: only for http targets"]


def test_retry_policy_bounds(raw):
    assert problems(raw, {"name": "q", "pattern": PATTERN, "target": "logs",
                          "retry": {"maximum_attempts": 186, "maximum_event_age_seconds": 59}}) == [
        "routes[0].retry.maximum_attempts: must be a whole number from 0 to 185 "
        "(retries after the first attempt: EventBridge's range)",
        "routes[0].retry.maximum_event_age_seconds: must be a whole number from 60 to 86400 (EventBridge's range)",
    ]


def test_an_existing_queue_needs_its_grant_and_a_fifo_one_its_group(raw):
    arn = "arn:aws:sqs:eu-west-1:111122223333:billing.fifo"
    [line] = problems(raw, {"name": "billing", "pattern": PATTERN, "target": arn})
    assert line == (
        "routes[0].queue_policy: webhookctl cannot edit the policy of a queue it does not own: allow "
        f"events.amazonaws.com sqs:SendMessage on {arn} where aws:SourceArn is like "
        "arn:aws:events:eu-west-1:111122223333:rule/*-bus/*-bus-billing or "
        "arn:aws:events:eu-west-1:111122223333:rule/*-bus/*-bus-billing-redrive in that queue's policy, "
        "then set queue_policy = \"granted\"")
    raw["routes"] = [{"name": "billing", "pattern": PATTERN, "target": arn, "queue_policy": "granted"}]
    assert parse(raw).routes[0].message_group_id == "billing"  # the route's name by default
    raw["routes"][0]["message_group_id"] = "ledger"
    assert parse(raw).routes[0].message_group_id == "ledger"
    raw["routes"][0]["target"] = "arn:aws:sqs:eu-west-1:111122223333:billing"
    assert problems(raw, raw["routes"][0]) == ["routes[0].message_group_id: only for a FIFO queue (an ARN ending in .fifo)"]


def test_names_over_eventbridge_limit_are_refused_per_environment(raw):
    long = "a" + "b" * 30
    raw["project"] = "webhooks-platform-team"
    [line] = problems(raw, http_route(name=long))
    assert line.startswith(f"routes[0].name: '{long}' makes the redrive rule name webhooks-platform-team-local-bus-{long}-")
    assert "over EventBridge's 64" in line


def test_connection_names_follow_the_non_secret_auth_settings():
    bus = "webhooks-prod-bus"
    key = HttpAuth(type="api_key", header="X-Key").settings()
    assert connection_name(bus, "orders", key) == connection_name(bus, "orders", dict(key))
    assert connection_name(bus, "orders", key) != connection_name(bus, "orders", {**key, "header": "X-Other"})
    assert HttpAuth(type="oauth", authorization_endpoint="https://idp/t", client_id="c").settings() == {
        "type": "oauth", "authorization_endpoint": "https://idp/t", "client_id": "c", "http_method": "POST"}
