"""`webhookctl listen` against the emulator: a queue and rule of the listener's own (the queue's inline
policy lets only that rule send), each event's detail POSTed once, signed Standard Webhooks style (checked
with the standardwebhooks SDK), nothing lost while the receiver is down, a kept queue resumed by name,
archived deliveries replayed first, and stale listeners found and removed."""
from __future__ import annotations

import datetime as dt
import json
import threading
import time

import pytest
from standardwebhooks import Webhook

from cli import listen as ls
from cli.errors import WebhookctlError
from handlers.contract import EVENT_DETAIL_TYPE, EVENT_SOURCE
from http_target_helpers import Receiver, receiver  # noqa: F401 (receiver: a fixture)
from operate_stack import stack, ws  # noqa: F401 (stack, ws: fixtures)

pytestmark = pytest.mark.emulator


def _bodies(receiver: Receiver, count: int, timeout: float = 20) -> list[dict]:
    """The details the receiver took (answered 2xx), once `count` arrived or at the timeout."""
    return [r.json() for r in receiver.wait_for(count, timeout=timeout, taken=True)]


def _publish(stack, *details: dict) -> None:
    stack.client("events").put_events(Entries=[
        {"Source": EVENT_SOURCE, "DetailType": EVENT_DETAIL_TYPE, "Detail": json.dumps(d), "EventBusName": stack.bus}
        for d in details])


def _detail(n: int, provider: str = "stripe") -> dict:
    return {"webhook_id": f"{n:032x}", "provider": provider, "event_type": "charge.succeeded", "payload": {"n": n}}


class Running:
    """`serve` in a thread, as the command runs it; `stop()` is its Ctrl-C."""

    def __init__(self, ws, url, **kwargs):
        self.stop_event, self.results, self.lines = threading.Event(), [], []
        self.thread = threading.Thread(target=self._run, args=(ws, url), kwargs=kwargs)
        self.thread.start()

    def _run(self, ws, url, **kwargs):
        kwargs.setdefault("pattern", ls.event_pattern())
        self.summary = ls.serve(ws, url, log=self.lines.append, report=self.results.append, wait_seconds=1,
                                stop=self.stop_event, replay_since=kwargs.pop("replay_since", None), **kwargs)

    def wait_open(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any("forwarding to" in line for line in self.lines):
            time.sleep(0.02)

    @property
    def secret(self) -> str:
        line = next(line for line in self.lines if "with the secret" in line)
        return line.rsplit(" ", 1)[-1]

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)


def test_the_queue_lets_only_its_rule_send_and_is_tagged_with_its_owner(ws, stack):
    listener = ls.start(ws, name="alice", pattern=ls.event_pattern(["stripe"]), log=lambda line: None)
    sqs = stack.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=listener.queue_url, AttributeNames=["All"])["Attributes"]
    [statement] = json.loads(attributes["Policy"])["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"} and statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": listener.rule_arn}}
    assert statement["Resource"] == attributes["QueueArn"] == listener.queue_arn
    assert listener.names.queue == f"{stack.stack}-listen-alice" and listener.names.rule == f"{stack.bus}-listen-alice"
    tags = sqs.list_queue_tags(QueueUrl=listener.queue_url)["Tags"]
    assert tags["webhookctl:listener"] == "alice" and "@" in tags["webhookctl:owner"]
    rule = stack.client("events").describe_rule(Name=listener.names.rule, EventBusName=stack.bus)
    assert json.loads(rule["EventPattern"]) == {"source": [EVENT_SOURCE], "detail-type": [EVENT_DETAIL_TYPE],
                                                "detail": {"provider": ["stripe"]}}


def test_each_event_is_forwarded_once_signed_standard_webhooks_style(ws, stack, receiver):
    running = Running(ws, f"{receiver.url}/hook", name="once", keep=False)
    running.wait_open()
    _publish(stack, *[_detail(n) for n in range(5)])
    got = _bodies(receiver, 5)
    time.sleep(1.5)  # one more poll: nothing comes twice
    running.stop()
    assert sorted(d["webhook_id"] for d in got) == [f"{n:032x}" for n in range(5)]
    assert len(receiver.deliveries(taken=True)) == 5
    for taken in receiver.deliveries(taken=True):
        headers = taken.lower_headers()
        assert Webhook(running.secret).verify(taken.body, headers)["provider"] == "stripe"
        assert headers["webhook-id"] == taken.json()["webhook_id"]
    assert running.summary["forwarded"] == 5
    names = [u.rsplit("/", 1)[-1] for u in stack.client("sqs").list_queues().get("QueueUrls", [])]
    assert f"{stack.stack}-listen-once" not in names  # Ctrl-C without --keep removes it
    assert not stack.client("events").list_rules(EventBusName=stack.bus, NamePrefix=f"{stack.bus}-listen-")["Rules"]


def test_nothing_is_lost_while_the_receiver_is_down(ws, stack, receiver):
    running = Running(ws, f"{receiver.url}/hook", name="down", keep=False)
    running.wait_open()
    receiver.stop()
    _publish(stack, *[_detail(n) for n in range(3)])
    time.sleep(3)
    assert any(not r.ok and r.status is None for r in running.results)  # refused, retried
    receiver.start()
    got = _bodies(receiver, 3, timeout=40)
    running.stop()
    assert sorted(d["webhook_id"] for d in got) == [f"{n:032x}" for n in range(3)]


def test_an_error_status_is_retried_and_the_message_kept_until_a_2xx(ws, stack, receiver):
    receiver.status = 503
    running = Running(ws, f"{receiver.url}/hook", name="errors", keep=False)
    running.wait_open()
    _publish(stack, _detail(1))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(r.status == 503 for r in running.results) < 2:
        time.sleep(0.05)
    receiver.status = 200
    got = _bodies(receiver, 1, timeout=20)
    running.stop()
    assert [d["webhook_id"] for d in got] == [f"{1:032x}"]
    assert sum(r.status == 503 for r in running.results) >= 2


def test_a_kept_listener_resumes_what_arrived_while_it_was_stopped(ws, stack, receiver):
    first = Running(ws, f"{receiver.url}/hook", name="resume", keep=True)
    first.wait_open()
    first.stop()
    assert any("kept queue" in line for line in first.lines)
    _publish(stack, _detail(7), _detail(8))
    second = Running(ws, f"{receiver.url}/hook", name="resume", keep=False)
    second.wait_open()
    got = _bodies(receiver, 2)
    second.stop()
    assert any("resuming listener 'resume'" in line for line in second.lines)
    assert sorted(d["webhook_id"] for d in got) == [f"{7:032x}", f"{8:032x}"]
    assert second.secret == first.secret  # the receiver keeps verifying with the same secret


def test_replay_since_forwards_archived_deliveries_first(ws, stack, receiver):
    now = dt.datetime.now(dt.timezone.utc)
    old = stack.put_delivery("stripe", "evt_old", now - dt.timedelta(hours=3), body=b'{"n": 0}')
    recent = [stack.put_delivery("stripe", f"evt_{n}", now - dt.timedelta(minutes=10 - n), body=b'{"n": %d}' % n)
              for n in range(3)]
    stack.put_delivery("github", "gh-1", now - dt.timedelta(minutes=5))
    stack.put_delivery("stripe", "evt_failed", now - dt.timedelta(minutes=4), status="failed")
    running = Running(ws, f"{receiver.url}/hook", name="replay", keep=False, replay_since="1h",
                      pattern=ls.event_pattern(["stripe"]))
    got = _bodies(receiver, 3)
    running.stop()
    assert [d["webhook_id"] for d in got] == recent and old not in [d["webhook_id"] for d in got]
    assert all(d["replayed"] is True for d in got) and [d["payload"]["n"] for d in got] == [0, 1, 2]


def test_cleanup_removes_stale_and_half_listeners_and_keeps_live_ones(ws, stack):
    sqs, events = stack.client("sqs"), stack.client("events")
    for name in ("live", "stale", "named"):
        ls.start(ws, name=name, pattern=ls.event_pattern(), log=lambda line: None)
    stale = sqs.get_queue_url(QueueName=f"{stack.stack}-listen-stale")["QueueUrl"]
    sqs.tag_queue(QueueUrl=stale, Tags={"webhookctl:heartbeat": "2020-01-01T00:00:00Z"})
    events.put_rule(Name=f"{stack.bus}-listen-orphan", EventBusName=stack.bus, EventPattern='{"source": ["x"]}')
    rows = {r["name"]: r for r in ls.cleanup(ws, name=None, stale_after="24h", log=lambda line: None)}
    assert {n for n, r in rows.items() if r["removed"]} == {"stale", "orphan"}
    assert not rows["live"]["removed"] and rows["live"]["idle_seconds"] < 60
    ls.cleanup(ws, name="named", stale_after="24h", log=lambda line: None)
    left = {r["name"] for r in ls.list_listeners(ws, sqs=sqs, events=events)}
    assert left == {"live"}


def test_cli_cleanup_and_errors(run_cli, ws, stack):
    ls.start(ws, name="mine", pattern=ls.event_pattern(), log=lambda line: None)
    listed = run_cli("listen", "--cleanup", "--json")
    assert listed.exit_code == 0, listed.output
    assert [(r["name"], r["removed"]) for r in json.loads(listed.stdout)] == [("mine", False)]
    for args, error in [
        (["--forward-to", "localhost:3000"], "Error: --forward-to 'localhost:3000' is not an http(s) URL "
                                             "(e.g. http://localhost:3000/webhooks)"),
        (["--forward-to", "http://x", "--filter", "{nope"], None),
        (["--forward-to", "http://x", "--name", "no spaces"], None),
        (["--forward-to", "http://x", "--replay-since", "later"], "Error: 'later' is not a time: give ISO-8601 "
                                                                 "(2026-11-29, 2026-11-29T08:00Z) or a duration ago "
                                                                 "(45s, 30m, 1h, 2d, 1w)"),
        (["--cleanup", "--name", "ghost"], "Error: no listener 'ghost' in environment 'local'"),
    ]:
        result = run_cli("listen", *args)
        assert result.exit_code == 1, (args, result.output)
        [line] = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
        assert line == error if error else line.startswith(("Error: --filter is not JSON", "Error: --name 'no spaces'"))
    assert run_cli("listen").exit_code == 2


def test_default_name_fits_and_bad_names_are_refused(ws):
    name = ls.default_name(ws.stack)
    assert ls.names(ws, None).name == name and len(name) <= ls.max_name_chars(ws.stack)
    with pytest.raises(WebhookctlError, match="use 1-"):
        ls.names(ws, "x" * 100)


def test_exact_patterns_match_here_when_the_api_cannot():
    event = {"source": "webhook.processor", "detail": {"provider": "stripe", "tags": ["a", "b"]}}
    assert ls._exact_match({"detail": {"provider": ["stripe", "github"]}}, event)
    assert ls._exact_match({"detail": {"tags": ["b"]}}, event)
    assert not ls._exact_match({"detail": {"provider": ["github"]}}, event)
    with pytest.raises(WebhookctlError, match="exact values only"):
        ls._exact_match({"detail": {"provider": [{"prefix": "str"}]}}, event)


def test_a_stopping_listener_puts_back_what_its_last_poll_brought(ws, stack, receiver):
    listener = ls.start(ws, name="stopping", pattern=ls.event_pattern(), log=lambda line: None)
    _publish(stack, _detail(1), _detail(2))
    sqs = stack.client("sqs")
    forwarder = ls.Forwarder(sqs=sqs, listener=listener, url=f"{receiver.url}/hook", secret="whsec_" + "A" * 32,
                             report=lambda result: None, log=lambda line: None, wait_seconds=1)
    forwarder.stop.set()  # Ctrl-C arrived while the receive was under way
    assert forwarder.poll_once() == 0.0 and not receiver.deliveries(taken=True)
    again = sqs.receive_message(QueueUrl=listener.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    assert len(again.get("Messages", [])) == 2  # visible at once, not after the visibility timeout
