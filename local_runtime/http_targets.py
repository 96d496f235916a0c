"""Local delivery of http route targets: what EventBridge does for API destinations, on the emulator.

moto keeps connections, API destinations and rule targets, but does not call an API destination
(it can, only with MOTO_EVENTS_INVOKE_HTTP=true, and then with no auth, rate limit, retries or
DLQ). `HttpTargetDeliverer` does it from what is deployed on the emulator, so it honours the
same config as AWS:

- a tap: one rule on the bus matching every event, into one SQS queue this component owns (a
  redriven event put by `webhookctl dlq redrive` in another process arrives the same way);
- each deployed rule whose target is an API destination: its pattern evaluated on the event
  with moto's own EventBridge pattern matcher (`moto.events.models.EventPattern`; moto is
  already the local runtime's emulator, so the matcher is the one the sqs and logs targets get);
- the target's input (`InputPath` or `InputTransformer`), the destination's URL, method and
  rate limit, the connection's auth (API key header, basic, OAuth client credentials);
- retries with exponential backoff and jitter on the codes EventBridge retries, up to the
  target's RetryPolicy, then the target's DLQ with EventBridge's attributes;
- AWS/Events metrics per rule (SuccessfulInvocationAttempts, FailedInvocations, ...), put into
  the emulator's CloudWatch, so `cli.targets.target_stats` reads local and AWS alike.

Deliveries waiting for a retry live in memory: stopping `dev` drops them (it says how many).
Start with `.start()`, stop with `.stop()`; `.describe()` says what it delivers to.
"""
from __future__ import annotations

import base64
import heapq
import itertools
import json
import random
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from handlers.contract import EMULATOR_CREDENTIALS

Log = Callable[[str], None]

TAP_RULE = "webhookctl-local-tap"
TAP_PATTERN = '{"source":[{"prefix":""}]}'  # every event on the bus
# An API destination's endpoint must answer within 5 s.
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html
REQUEST_TIMEOUT_SECONDS = 5.0
# EventBridge retries these statuses (and timeouts, connection failures), and no other:
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-api-destinations.html
RETRIED_STATUSES = frozenset({401, 407, 409, 429}) | frozenset(range(500, 600))
# OAuth tokens are fetched again when the endpoint answers 401 or 407:
# https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-target-connection.html
REAUTHORIZE_STATUSES = frozenset({401, 407})
WORKERS_PER_DESTINATION = 4
CONNECTION_CACHE_SECONDS = 1.0  # `secrets set --route` takes effect within a second


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: retry n (from 0) waits base * 2**n, capped, times 0.5-1."""

    base_seconds: float = 1.0
    cap_seconds: float = 30.0

    def delay(self, retry: int, rng: random.Random) -> float:
        return min(self.cap_seconds, self.base_seconds * 2 ** retry) * rng.uniform(0.5, 1.0)


@dataclass(frozen=True)
class Target:
    """One rule's API-destination target, as deployed on the emulator."""

    route: str  # the target id (the route's name)
    rule_name: str
    rule_arn: str
    pattern: Any  # moto EventPattern
    target_arn: str
    url: str
    method: str
    rate_per_second: float
    connection: str
    input_path: str | None
    input_transformer: Mapping[str, Any] | None
    maximum_retries: int
    maximum_age_seconds: int
    dlq_arn: str | None


@dataclass(order=True)
class Delivery:
    due: float
    seq: int
    event: dict = field(compare=False)
    target: Target = field(compare=False)
    first_seen: float = field(compare=False)
    retries: int = field(default=0, compare=False)


# --------------------------------------------------------------------------- what is deployed


def discover(events, bus: str) -> list[Target]:
    """Every API-destination target of the bus's rules (the tap's own rule aside)."""
    from moto.events.models import EventPattern

    found = []
    for rule in _paged(events.list_rules, "Rules", EventBusName=bus):
        if rule["Name"] == TAP_RULE or rule.get("State", "ENABLED") != "ENABLED" or "EventPattern" not in rule:
            continue
        for target in _paged(events.list_targets_by_rule, "Targets", Rule=rule["Name"], EventBusName=bus):
            if ":api-destination/" not in target["Arn"]:
                continue
            destination = events.describe_api_destination(Name=target["Arn"].split(":api-destination/")[1].split("/")[0])
            found.append(_target(rule, target, destination, EventPattern.load(rule["EventPattern"])))
    return found


def _target(rule: dict, target: dict, destination: dict, pattern: Any) -> Target:
    retry = target.get("RetryPolicy", {})
    return Target(
        route=target["Id"], rule_name=rule["Name"], rule_arn=rule["Arn"], pattern=pattern,
        target_arn=target["Arn"], url=destination["InvocationEndpoint"], method=destination["HttpMethod"],
        rate_per_second=float(destination.get("InvocationRateLimitPerSecond") or 300),
        connection=destination["ConnectionArn"].split(":connection/")[1].split("/")[0],
        input_path=target.get("InputPath"), input_transformer=target.get("InputTransformer"),
        maximum_retries=int(retry.get("MaximumRetryAttempts", 185)),
        maximum_age_seconds=int(retry.get("MaximumEventAgeInSeconds", 86_400)),
        dlq_arn=target.get("DeadLetterConfig", {}).get("Arn"),
    )


def _paged(call: Callable, key: str, **kwargs: Any) -> list[dict]:
    items, token = [], None
    while True:
        page = call(**kwargs, **({"NextToken": token} if token else {}))
        items += page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return items


# --------------------------------------------------------------------------- the request


def render_input(target: Target, event: Mapping[str, Any]) -> bytes:
    """The body EventBridge sends: the whole event, its InputPath, or its InputTransformer's template."""
    if target.input_transformer:
        values = {name: json_path(event, path)
                  for name, path in target.input_transformer.get("InputPathsMap", {}).items()}
        return render_template(target.input_transformer["InputTemplate"], values, event).encode("utf-8")
    value = json_path(event, target.input_path) if target.input_path else event
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def render_template(template: str, values: Mapping[str, Any], event: Mapping[str, Any]) -> str:
    """An input template with its <placeholders> filled the way EventBridge fills them.

    Outside a JSON string a placeholder takes the value as JSON (a string quoted, an object whole,
    a missing path null); inside a string it takes the value's text. moto 5.2.1 puts a string in
    unquoted, which makes the template invalid JSON (and its PutEvents a 500): the emulator uses
    this instead (moto_patches._install_input_templates).
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-transform-target-input.html
    """
    values = {**values, "aws.events.event.json": event, "aws.events.event.ingestion-time": event.get("ingestion-time")}
    out, in_string, i = [], False, 0
    while i < len(template):
        char = template[i]
        end = template.find(">", i) if char == "<" else -1
        name = template[i + 1:end] if end > i else None
        if name in values:
            value = values[name]
            text = value if isinstance(value, str) else json.dumps(value)
            out.append(json.dumps(text)[1:-1] if in_string else json.dumps(value))
            i = end + 1
            continue
        if char == '"' and (i == 0 or template[i - 1] != "\\"):
            in_string = not in_string
        out.append(char)
        i += 1
    return "".join(out)


def json_path(event: Any, path: str) -> Any:
    """A dot-notation JSON path ($.detail.a.b); None where it does not exist."""
    node = event
    for part in [p for p in path.removeprefix("$").split(".") if p]:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


class Authorizer:
    """The headers a connection adds: API key, basic, or an OAuth client-credentials bearer token.

    As EventBridge does: the settings from DescribeConnection, the secret values from the
    connection's own Secrets Manager secret (its SecretArn; DescribeConnection never returns
    them). Cached a second, so a `webhookctl secrets set --route` is in effect at once.
    """

    def __init__(self, events, secrets, clock: Callable[[], float] = time.monotonic):
        self.events, self.secrets, self.clock = events, secrets, clock
        self._lock = threading.Lock()
        self._connections: dict[str, tuple[float, dict, dict]] = {}
        self._tokens: dict[str, tuple[float, str]] = {}

    def headers(self, connection: str) -> dict[str, str]:
        described, secret = self._describe(connection)
        kind, params = described["AuthorizationType"], described.get("AuthParameters", {})
        if kind == "API_KEY":
            return {params["ApiKeyAuthParameters"]["ApiKeyName"]: secret.get("api_key_value", "")}
        if kind == "BASIC":
            pair = f"{params['BasicAuthParameters']['Username']}:{secret.get('password', '')}".encode("utf-8")
            return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}
        client_secret = secret.get("client_parameters", {}).get("client_secret", "")
        return {"Authorization": "Bearer " + self._token(connection, params["OAuthParameters"], client_secret)}

    def forget_token(self, connection: str) -> None:
        with self._lock:
            self._tokens.pop(connection, None)

    def _describe(self, connection: str) -> tuple[dict, dict]:
        now = self.clock()
        with self._lock:
            cached = self._connections.get(connection)
            if cached and now - cached[0] < CONNECTION_CACHE_SECONDS:
                return cached[1], cached[2]
        described = self.events.describe_connection(Name=connection)
        secret = json.loads(self.secrets.get_secret_value(SecretId=described["SecretArn"])["SecretString"])
        with self._lock:
            self._connections[connection] = (now, described, secret)
        return described, secret

    def _token(self, connection: str, oauth: Mapping[str, Any], client_secret: str) -> str:
        with self._lock:
            cached = self._tokens.get(connection)
        if cached and cached[0] > self.clock():
            return cached[1]
        token, lifetime = fetch_oauth_token(oauth, client_secret)
        with self._lock:
            self._tokens[connection] = (self.clock() + max(0.0, lifetime - 10), token)
        return token


def fetch_oauth_token(oauth: Mapping[str, Any], client_secret: str) -> tuple[str, float]:
    """Client credentials: the client id and secret as basic auth, the connection's OAuth parameters
    as the form body, headers and query; `access_token` and `expires_in` from the JSON answer."""
    client = oauth.get("ClientParameters", {})
    http = oauth.get("OAuthHttpParameters", {})
    pair = f"{client.get('ClientID', '')}:{client_secret}".encode("utf-8")
    body = urllib.parse.urlencode([(p["Key"], p["Value"]) for p in http.get("BodyParameters", [])]).encode()
    query = urllib.parse.urlencode([(p["Key"], p["Value"]) for p in http.get("QueryStringParameters", [])])
    url = oauth["AuthorizationEndpoint"] + (("&" if "?" in oauth["AuthorizationEndpoint"] else "?") + query if query else "")
    headers = {p["Key"]: p["Value"] for p in http.get("HeaderParameters", [])}
    headers.update({"Authorization": "Basic " + base64.b64encode(pair).decode("ascii"),
                    "Content-Type": "application/x-www-form-urlencoded"})
    request = urllib.request.Request(url, data=body, headers=headers, method=oauth.get("HttpMethod", "POST"))
    with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:
        doc = json.loads(answer.read())
    return doc["access_token"], float(doc.get("expires_in", 3600))


@dataclass(frozen=True)
class Outcome:
    ok: bool
    retry: bool = False
    error_code: str = ""
    error_message: str = ""
    status: int | None = None


def invoke(target: Target, event: Mapping[str, Any], headers: Mapping[str, str]) -> Outcome:
    """One attempt: POST (or the destination's method) the rendered input with the auth headers."""
    body = render_input(target, event)
    request = urllib.request.Request(target.url, data=body if target.method not in ("GET", "HEAD") else None,
                                     method=target.method, headers={
        "Content-Type": "application/json; charset=utf-8", "User-Agent": "Amazon/EventBridge/ApiDestinations",
        **headers})
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as answer:
            answer.read()
            return Outcome(ok=True, status=answer.status)
    except urllib.error.HTTPError as exc:
        retry = exc.code in RETRIED_STATUSES
        code = "THROTTLING" if exc.code == 429 else "ERROR_FROM_TARGET"
        return Outcome(ok=False, retry=retry, error_code=code, status=exc.code,
                       error_message=f"HTTP {exc.code} from {target.url}")
    except TimeoutError:
        return Outcome(ok=False, retry=True, error_code="TIMEOUT", error_message=f"no answer from {target.url} in 5 s")
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        code = "TIMEOUT" if isinstance(reason, TimeoutError) else "CONNECTION_FAILURE"
        return Outcome(ok=False, retry=True, error_code=code, error_message=f"{target.url}: {reason}")


# --------------------------------------------------------------------------- pacing and retries


class RateLimiter:
    """At most `rate` starts a second: each start takes the next slot, 1/rate after the previous one."""

    def __init__(self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.interval, self.clock, self.sleep = 1.0 / rate, clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            slot = max(self.clock(), self._next)
            self._next = slot + self.interval
        wait = slot - self.clock()
        if wait > 0:
            self.sleep(wait)


class Lane:
    """One API destination: its rate limit, and the deliveries due to it (new ones and retries)."""

    def __init__(self, deliverer: "HttpTargetDeliverer", rate: float):
        self.deliverer = deliverer
        self.limiter = RateLimiter(rate, deliverer.clock)
        self.heap: list[Delivery] = []
        self.ready = threading.Condition()
        self.threads: list[threading.Thread] = []

    def submit(self, delivery: Delivery) -> None:
        with self.ready:
            heapq.heappush(self.heap, delivery)
            self.ready.notify()

    def start(self, name: str) -> None:
        for n in range(WORKERS_PER_DESTINATION):
            thread = threading.Thread(target=self._work, name=f"http-target-{name}-{n}", daemon=True)
            thread.start()
            self.threads.append(thread)

    def _next_due(self) -> Delivery | None:
        with self.ready:
            while not self.deliverer.stopping.is_set():
                wait = self.heap[0].due - self.deliverer.clock() if self.heap else 0.5
                if self.heap and wait <= 0:
                    return heapq.heappop(self.heap)
                self.ready.wait(min(wait, 0.5))
        return None

    def _work(self) -> None:
        while (delivery := self._next_due()) is not None:
            self.limiter.acquire()
            self.deliverer.attempt(self, delivery)

    def pending(self) -> int:
        with self.ready:
            return len(self.heap)


class HttpTargetDeliverer:
    """Delivers the emulator bus's API-destination targets (see the module docstring)."""

    def __init__(self, endpoint: str, region: str, bus: str, *, log: Log = print, backoff: Backoff = Backoff(),
                 clock: Callable[[], float] = time.monotonic, seed: int | None = None):
        self.endpoint, self.region, self.bus, self.log = endpoint, region, bus, log
        self.backoff, self.clock, self.rng = backoff, clock, random.Random(seed)
        self.stopping = threading.Event()
        self.targets: list[Target] = []
        self.lanes: dict[str, Lane] = {}
        self.counts: dict[str, dict[str, int]] = {}
        self._seq = itertools.count()
        self._counts_lock = threading.Lock()
        self._poller: threading.Thread | None = None
        self._tap_url: str | None = None

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def start(self) -> "HttpTargetDeliverer":
        self.events, self.sqs, self.cloudwatch = self.client("events"), self.client("sqs"), self.client("cloudwatch")
        self.authorizer = Authorizer(self.events, self.client("secretsmanager"), self.clock)
        self.targets = discover(self.events, self.bus)
        if not self.targets:
            return self
        for target in self.targets:
            self.counts.setdefault(target.route, dict.fromkeys(("delivered", "retried", "failed", "dead_lettered", "lost"), 0))
            if target.target_arn not in self.lanes:
                self.lanes[target.target_arn] = Lane(self, target.rate_per_second)
                self.lanes[target.target_arn].start(target.route)
        self._tap_url = self._open_tap()
        self._poller = threading.Thread(target=self._poll, name="http-targets-tap", daemon=True)
        self._poller.start()
        return self

    def describe(self) -> list[str]:
        """One line per route delivered, for `webhookctl dev`'s banner."""
        seen, lines = set(), []
        for t in self.targets:
            if t.route not in seen:
                seen.add(t.route)
                lines.append(f"{t.route}: {t.method} {t.url} (at most {t.rate_per_second:g}/s, "
                             f"{t.maximum_retries} retries within {t.maximum_age_seconds} s, then the DLQ)")
        return lines

    def stop(self) -> None:
        self.stopping.set()
        for lane in self.lanes.values():
            with lane.ready:
                lane.ready.notify_all()
        threads = [self._poller, *[t for lane in self.lanes.values() for t in lane.threads]]
        for thread in filter(None, threads):
            thread.join(REQUEST_TIMEOUT_SECONDS + 2)
        dropped = sum(lane.pending() for lane in self.lanes.values())
        if dropped:
            self.log(f"http targets: {dropped} delivery(ies) waiting for a retry were dropped (local only)")
        self._close_tap()

    # ----------------------------------------------------------------------- the tap

    @property
    def tap_queue_name(self) -> str:
        return f"webhookctl-local-tap-{self.bus}"[:80]

    def _open_tap(self) -> str:
        url = self.sqs.create_queue(QueueName=self.tap_queue_name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name=TAP_RULE, EventBusName=self.bus, EventPattern=TAP_PATTERN,
                             Description="webhookctl dev: every event, for the local delivery of http targets")
        self.events.put_targets(Rule=TAP_RULE, EventBusName=self.bus, Targets=[{"Id": "tap", "Arn": arn}])
        return url

    def _close_tap(self) -> None:
        if self._tap_url is None:
            return
        try:
            self.events.remove_targets(Rule=TAP_RULE, EventBusName=self.bus, Ids=["tap"])
            self.events.delete_rule(Name=TAP_RULE, EventBusName=self.bus)
            self.sqs.delete_queue(QueueUrl=self._tap_url)
        except Exception as exc:  # the emulator may already be gone: nothing of it outlives it
            self.log(f"http targets: could not remove the tap ({exc})")
        self._tap_url = None

    def _poll(self) -> None:
        while not self.stopping.is_set():
            try:
                messages = self.sqs.receive_message(QueueUrl=self._tap_url, MaxNumberOfMessages=10,
                                                    WaitTimeSeconds=1).get("Messages", [])
            except Exception as exc:
                if not self.stopping.is_set():
                    self.log(f"http targets: reading the tap failed ({exc}); retrying")
                    self.stopping.wait(1)
                continue
            for message in messages:
                self.dispatch(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self._tap_url, ReceiptHandle=message["ReceiptHandle"])

    def dispatch(self, event: dict) -> int:
        """Queue the event for every target whose rule matches it; how many matched."""
        matched = 0
        now = self.clock()
        for target in self.targets:
            if target.pattern.matches_event(event):
                self.lanes[target.target_arn].submit(
                    Delivery(due=now, seq=next(self._seq), event=event, target=target, first_seen=now))
                matched += 1
        return matched

    # ----------------------------------------------------------------------- one attempt and its outcome

    def attempt(self, lane: Lane, delivery: Delivery) -> None:
        target = delivery.target
        try:
            outcome = invoke(target, delivery.event, self.authorizer.headers(target.connection))
        except Exception as exc:  # the token endpoint or the emulator failed: a retriable failure
            outcome = Outcome(ok=False, retry=True, error_code="CONNECTION_FAILURE", error_message=str(exc)[:256])
        self._metric(target, "InvocationAttempts")
        if outcome.ok:
            self._count(target, "delivered", "SuccessfulInvocationAttempts", "Invocations")
            return
        if outcome.status in REAUTHORIZE_STATUSES:
            self.authorizer.forget_token(target.connection)
        self._retry_or_give_up(lane, delivery, outcome)

    def _retry_or_give_up(self, lane: Lane, delivery: Delivery, outcome: Outcome) -> None:
        target = delivery.target
        delay = self.backoff.delay(delivery.retries, self.rng)
        age = self.clock() + delay - delivery.first_seen
        if outcome.retry and delivery.retries < target.maximum_retries and age <= target.maximum_age_seconds:
            delivery.retries += 1
            delivery.due = self.clock() + delay
            self._count(target, "retried", "RetryInvocationAttempts")
            lane.submit(delivery)
            return
        exhausted = "" if not outcome.retry else (
            "MaximumRetryAttempts" if delivery.retries >= target.maximum_retries else "MaximumEventAgeInSeconds")
        self._count(target, "failed", "FailedInvocations", "Invocations")
        self._dead_letter(delivery, outcome, exhausted)

    def _dead_letter(self, delivery: Delivery, outcome: Outcome, exhausted: str) -> None:
        """The event, as EventBridge writes it to a target's DLQ: the event as the body, and why as attributes.
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html"""
        target = delivery.target
        if not target.dlq_arn:
            self.log(f"http targets: {target.route} lost event {delivery.event.get('id')} ({outcome.error_message}): no DLQ")
            return
        attributes = {"RULE_ARN": target.rule_arn, "TARGET_ARN": target.target_arn, "ERROR_CODE": outcome.error_code,
                      "ERROR_MESSAGE": outcome.error_message[:256], "RETRY_ATTEMPTS": str(delivery.retries),
                      **({"EXHAUSTED_RETRY_CONDITION": exhausted} if exhausted else {})}
        try:
            _, _, _, _, account, name = target.dlq_arn.split(":", 5)
            url = self.sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(delivery.event), MessageAttributes={
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items() if v})
        except Exception as exc:
            self._count(target, "lost", "InvocationsFailedToBeSentToDlq")
            self.log(f"http targets: {target.route} could not dead-letter event {delivery.event.get('id')}: {exc}")
            return
        self._count(target, "dead_lettered", "InvocationsSentToDlq")
        self.log(f"http targets: {target.route}: event {delivery.event.get('id')} to the DLQ after "
                 f"{delivery.retries} retries ({outcome.error_message})")

    def _count(self, target: Target, key: str, *metrics: str) -> None:
        for metric in metrics:  # first: whoever sees the count can read its metric
            self._metric(target, metric)
        with self._counts_lock:
            self.counts[target.route][key] += 1

    def _metric(self, target: Target, metric: str) -> None:
        """The metric EventBridge would send, in AWS/Events per rule (what target_stats and the alarms read)."""
        try:
            self.cloudwatch.put_metric_data(Namespace="AWS/Events", MetricData=[{
                "MetricName": metric, "Value": 1.0, "Unit": "Count",
                "Dimensions": [{"Name": "EventBusName", "Value": self.bus}, {"Name": "RuleName", "Value": target.rule_name}],
            }])
        except Exception as exc:  # counts stay right in memory; the emulator's copy is best effort
            self.log(f"http targets: metric {metric} not recorded ({exc})")

    def stats(self) -> dict[str, dict[str, int]]:
        with self._counts_lock:
            return {route: dict(counts) for route, counts in self.counts.items()}
