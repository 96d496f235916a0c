"""A receiver on 127.0.0.1 that records what it gets, and an http route deployed on the emulator the way
the stack deploys it (rule, redrive rule, connection, API destination, targets with retry policy and DLQ)."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from handlers.contract import REDRIVE_SOURCE, connection_name, redrive_rule_name, route_rule_name, targets_dlq_name


@dataclass
class Received:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int = 0  # the status it was answered with

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def taken(self) -> bool:
        return 200 <= self.answered < 300

    def lower_headers(self) -> dict[str, str]:
        return {name.lower(): value for name, value in self.headers.items()}


@dataclass
class Receiver:
    """Answers `status`, records every request; `/token` hands out OAuth tokens. It can stop and start
    again on the same port (a receiver that goes down and comes back)."""

    status: int = 200
    requests: list[Received] = field(default_factory=list)
    tokens_issued: int = 0
    server: ThreadingHTTPServer | None = None
    port: int = 0  # 0: any free port, kept from the first start on

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = 200 if self.path.startswith("/token") else receiver.status
                receiver.requests.append(Received(time.monotonic(), self.command, self.path, dict(self.headers), body,
                                                  status))
                if self.path.startswith("/token"):
                    receiver.tokens_issued += 1
                    doc = json.dumps({"access_token": f"token-{receiver.tokens_issued}", "expires_in": 3600}).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(doc)))
                    self.end_headers()
                    self.wfile.write(doc)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_GET = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def deliveries(self, path: str = "/hook", *, taken: bool = False) -> list[Received]:
        """The requests to `path`; with `taken`, only those answered 2xx."""
        return [r for r in self.requests if r.path == path and (r.taken or not taken)]

    def wait_for(self, count: int, path: str = "/hook", timeout: float = 15, *, taken: bool = False) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.deliveries(path, taken=taken)) < count:
            time.sleep(0.02)
        return self.deliveries(path, taken=taken)

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receiver():
    """A Receiver for one test (import it into a test module to use it)."""
    running = Receiver().start()
    yield running
    running.stop()


def clients(endpoint: str):
    def client(service: str):
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")
    return client


def deploy_bus(aws, bus: str) -> dict[str, str]:
    """The bus and its targets' DLQ."""
    aws("events").create_event_bus(Name=bus)
    sqs = aws("sqs")
    url = sqs.create_queue(QueueName=targets_dlq_name(bus))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return {"dlq_url": url, "dlq_arn": arn}


def deploy_http_route(aws, bus: str, dlq_arn: str, route: str, url: str, *, pattern: dict, auth: dict | None = None,
                      transform: dict | None = None, retries: int = 2, max_age: int = 60, rate: int = 300) -> str:
    """An http route as the stack makes it, with its secret already set; returns the route's rule ARN."""
    from cli.targets import connection_update

    events = aws("events")
    auth = auth or {"type": "api_key", "header": "X-Api-Key"}
    update = connection_update(route, auth, "s3cret-key")
    connection = events.create_connection(Name=connection_name(bus, route, auth), **update)
    destination = events.create_api_destination(
        Name=f"{bus}-{route}", ConnectionArn=connection["ConnectionArn"], InvocationEndpoint=url, HttpMethod="POST",
        InvocationRateLimitPerSecond=rate)["ApiDestinationArn"]
    target: dict[str, Any] = {"Id": route, "Arn": destination, "RoleArn": "arn:aws:iam::123456789012:role/r",
                              "RetryPolicy": {"MaximumRetryAttempts": retries, "MaximumEventAgeInSeconds": max_age},
                              "DeadLetterConfig": {"Arn": dlq_arn}}
    if transform:
        template = "{" + ",".join(f'"{k}":<{k}>' for k in transform) + "}"
        target["InputTransformer"] = {"InputPathsMap": transform, "InputTemplate": template}
    else:
        target["InputPath"] = "$.detail"
    rule_arn = events.put_rule(Name=route_rule_name(bus, route), EventBusName=bus,
                               EventPattern=json.dumps({"source": ["webhook.processor"], **pattern}))["RuleArn"]
    events.put_targets(Rule=route_rule_name(bus, route), EventBusName=bus, Targets=[target])
    events.put_rule(Name=redrive_rule_name(bus, route), EventBusName=bus,
                    EventPattern=json.dumps({"source": [REDRIVE_SOURCE], "resources": [rule_arn]}))
    events.put_targets(Rule=redrive_rule_name(bus, route), EventBusName=bus, Targets=[target])
    return rule_arn


def publish(aws, bus: str, *details: dict) -> None:
    """Events as process publishes them."""
    entries = [{"Source": "webhook.processor", "DetailType": "Webhook Processed", "Detail": json.dumps(d),
                "EventBusName": bus} for d in details]
    for start in range(0, len(entries), 10):
        result = aws("events").put_events(Entries=entries[start:start + 10])
        assert result["FailedEntryCount"] == 0, result


def detail(n: int, provider: str = "shopify") -> dict:
    return {"webhook_id": f"{n:032x}", "provider": provider, "event_type": "orders/create", "delivery_id": f"d{n}",
            "payload": {"id": n, "total": "9.99"}}
