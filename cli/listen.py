"""`webhookctl listen --forward-to URL`: the bus's events on a laptop, through a queue that keeps them.

A listener is a standard SQS queue and a rule on the environment's bus that sends matching
events to it. `listen` long-polls the queue, POSTs each event's `detail` to the URL, signed the
Standard Webhooks way (the registry's `standard` scheme, with a secret kept per listener in
`.webhookctl/listen/` and printed at start), and deletes a message only after a 2xx answer.
Anything else (an error status, a refused connection, a timeout) leaves the message in the
queue and backs off (1 s doubling to 30 s), so a receiver that is down loses nothing; while the
laptop is offline or `listen` is stopped (with --keep), events wait in the queue for as long as
it retains them (4 days) and the next `listen --name N` forwards them. Ctrl-C removes the rule
and the queue unless --keep.

Names: `<stack>-listen-<name>` (queue) and `<bus>-listen-<name>` (rule), the name defaulting to
`<user>-<host>`, so two developers on one account never share a queue. Each queue is tagged
with its owner and a heartbeat (every minute while `listen` runs): `listen --cleanup` finds the
listeners of the environment and removes those silent for longer than --stale-after, or the one
named with --name.

The queue's policy, set inline when the queue is created, lets exactly its rule send to it
(principal events.amazonaws.com, condition aws:SourceArn = the rule's ARN):
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions
It is encrypted at rest with SSE-SQS (keys SQS owns: no KMS key policy for EventBridge to be granted):
https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html
"""
from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import re
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .errors import WebhookctlError
from .workspace import Workspace

Log = Callable[[str], None]

# Long polling answers as soon as a message comes, or after this wait (SQS allows up to 20 s):
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html
# Ctrl-C lets the poll under way finish and puts back what it brought: a receive abandoned midway would
# still take messages, hidden for VISIBILITY_SECONDS, and the next listener would wait that long for them.
# 10 s keeps Ctrl-C quick, at ~8,600 empty receives a day ($0.0035 at $0.40 per million).
WAIT_SECONDS = 10
VISIBILITY_SECONDS = 60  # a message being forwarded stays hidden this long (a forward times out after 10 s)
FORWARD_TIMEOUT_SECONDS = 10
RETENTION_SECONDS = 4 * 86_400  # how long events wait for a stopped listener (SQS allows up to 14 days)
HEARTBEAT_SECONDS = 60
BACKOFF_FIRST, BACKOFF_MAX = 1.0, 30.0
DEFAULT_STALE_AFTER = "24h"
TARGET_ID = "listener"
TAG_LISTENER, TAG_OWNER, TAG_HEARTBEAT = "webhookctl:listener", "webhookctl:owner", "webhookctl:heartbeat"
SQS_NAME_MAX = 80  # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


# --------------------------------------------------------------------------- names


@dataclass(frozen=True)
class ListenerNames:
    name: str
    queue: str
    rule: str
    bus: str


def queue_prefix(stack: str) -> str:
    return f"{stack}-listen-"


def rule_prefix(bus: str) -> str:
    return f"{bus}-listen-"


def max_name_chars(stack: str) -> int:
    from handlers.contract import EVENTBRIDGE_NAME_MAX, bus_name

    return min(SQS_NAME_MAX - len(queue_prefix(stack)), EVENTBRIDGE_NAME_MAX - len(rule_prefix(bus_name(stack))))


def default_name(stack: str) -> str:
    """`<user>-<host>`: one listener per developer and machine unless --name says otherwise."""
    raw = f"{getpass.getuser()}-{socket.gethostname().split('.')[0]}"
    return re.sub(r"[^A-Za-z0-9_-]", "-", raw)[:max_name_chars(stack)].strip("-") or "listener"


def names(ws: Workspace, name: str | None) -> ListenerNames:
    from handlers.contract import bus_name

    name = name or default_name(ws.stack)
    limit = max_name_chars(ws.stack)
    if not _NAME.match(name) or len(name) > limit:
        raise WebhookctlError(f"--name '{name}': use 1-{limit} letters, digits, '-' and '_' "
                              f"(the queue and rule names of stack {ws.stack} hold no more)")
    bus = bus_name(ws.stack)
    return ListenerNames(name=name, queue=queue_prefix(ws.stack) + name, rule=rule_prefix(bus) + name, bus=bus)


# --------------------------------------------------------------------------- what it listens to


def event_pattern(providers: Sequence[str] = (), types: Sequence[str] = (), custom: str | None = None) -> dict:
    """The rule's pattern: `--filter` as given, else the processor's events, narrowed by provider and type."""
    from handlers.contract import EVENT_DETAIL_TYPE, EVENT_SOURCE

    if custom is not None:
        if providers or types:
            raise WebhookctlError("--filter is the whole pattern: put the provider and type conditions in it")
        try:
            pattern = json.loads(custom)
        except ValueError as exc:
            raise WebhookctlError(f"--filter is not JSON: {exc}") from None
        if not isinstance(pattern, dict) or not pattern:
            raise WebhookctlError('--filter must be an EventBridge pattern: a JSON object, e.g. {"detail": '
                                  '{"provider": ["stripe"]}}')
        return pattern
    pattern: dict[str, Any] = {"source": [EVENT_SOURCE], "detail-type": [EVENT_DETAIL_TYPE]}
    detail = {k: list(v) for k, v in (("provider", providers), ("event_type", types)) if v}
    if detail:
        pattern["detail"] = detail
    return pattern


def queue_policy(queue_arn: str, rule_arn: str) -> dict:
    """Only this listener's rule may send to its queue."""
    return {"Version": "2012-10-17", "Statement": [{
        "Sid": "only-its-rule", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}}}]}


def queue_arn_for(rule_arn: str, queue: str) -> str:
    """The queue's ARN, in the rule's partition, region and account (`arn:aws:events:region:account:rule/...`)."""
    _, partition, _, region, account, _ = rule_arn.split(":", 5)
    return f"arn:{partition}:sqs:{region}:{account}:{queue}"


# --------------------------------------------------------------------------- the resources


@dataclass
class Listener:
    names: ListenerNames
    queue_url: str
    queue_arn: str
    rule_arn: str
    resumed: bool = False  # the queue was there already (`--keep` earlier): what it holds comes first


def open_listener(ws: Workspace, listener: ListenerNames, pattern: dict, *, sqs, events, owner: str) -> Listener:
    """The rule, the queue with its inline policy, and the rule's target (each safe to repeat)."""
    tags = {TAG_LISTENER: listener.name, TAG_OWNER: owner, TAG_HEARTBEAT: _now()}
    rule_arn = events.put_rule(Name=listener.rule, EventBusName=listener.bus, EventPattern=json.dumps(pattern),
                               State="ENABLED", Description=f"webhookctl listen --name {listener.name} ({owner})",
                               Tags=[{"Key": k, "Value": v} for k, v in tags.items()])["RuleArn"]
    queue_arn = queue_arn_for(rule_arn, listener.queue)
    attributes = {"Policy": json.dumps(queue_policy(queue_arn, rule_arn)), "SqsManagedSseEnabled": "true",
                  "MessageRetentionPeriod": str(RETENTION_SECONDS), "VisibilityTimeout": str(VISIBILITY_SECONDS)}
    queue_url, resumed = _queue(sqs, listener.queue, attributes, tags)
    events.put_targets(Rule=listener.rule, EventBusName=listener.bus, Targets=[{"Id": TARGET_ID, "Arn": queue_arn}])
    return Listener(names=listener, queue_url=queue_url, queue_arn=queue_arn, rule_arn=rule_arn, resumed=resumed)


def _queue(sqs, queue: str, attributes: dict, tags: dict) -> tuple[str, bool]:
    from botocore.exceptions import ClientError

    try:
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    except ClientError as exc:
        if _code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
    else:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
        sqs.tag_queue(QueueUrl=url, Tags=tags)
        return url, True
    try:
        return sqs.create_queue(QueueName=queue, Attributes=attributes, tags=tags)["QueueUrl"], False
    except ClientError as exc:
        if _code(exc) in ("AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently"):
            raise WebhookctlError(f"queue {queue} was deleted less than 60 s ago and SQS refuses its name until "
                                  "then: wait a minute, or use another --name") from None
        raise


def close_listener(listener: ListenerNames, *, sqs, events) -> list[str]:
    """Remove the rule (its target first) and the queue; what was removed, by kind."""
    from botocore.exceptions import ClientError

    removed = []
    try:
        events.remove_targets(Rule=listener.rule, EventBusName=listener.bus, Ids=[TARGET_ID])
        events.delete_rule(Name=listener.rule, EventBusName=listener.bus)
        removed.append("rule")
    except ClientError as exc:
        if _code(exc) != "ResourceNotFoundException":
            raise
    try:
        sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=listener.queue)["QueueUrl"])
        removed.append("queue")
    except ClientError as exc:
        if _code(exc) not in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            raise
    return removed


def _code(exc) -> str:
    return (getattr(exc, "response", None) or {}).get("Error", {}).get("Code", "")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- its secret


def secret_file(ws: Workspace, name: str) -> Path:
    return ws.work_dir / "listen" / f"{ws.env.name}-{name}.secret"


def listener_secret(ws: Workspace, name: str) -> str:
    """The listener's Standard Webhooks secret (`whsec_...`): made once, kept (0600) so a receiver keeps it."""
    from handlers.schemes import get

    path = secret_file(ws, name)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = get("standard").dev_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


# --------------------------------------------------------------------------- forwarding


@dataclass(frozen=True)
class Forwarded:
    """One POST to the receiver: what was sent and what came back."""

    webhook_id: str | None
    provider: str | None
    event_type: str | None
    status: int | None  # None: no answer (refused, timed out)
    error: str | None = None
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_dict(self) -> dict[str, Any]:
        return {"webhook_id": self.webhook_id, "provider": self.provider, "event_type": self.event_type,
                "status": self.status, "error": self.error, "replayed": self.replayed, "ok": self.ok}


def signed_request(url: str, detail: dict, secret: str, message_id: str, extra: dict[str, str]) -> urllib.request.Request:
    """The detail as JSON, with Standard Webhooks' webhook-id, webhook-timestamp and webhook-signature."""
    from handlers.schemes import sign

    body = json.dumps(detail, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "webhookctl-listen/0.1", **extra,
               **sign("standard", body, secret, {}, delivery_id=message_id)}
    return urllib.request.Request(url, data=body, headers=headers, method="POST")


def forward(url: str, detail: dict, secret: str, *, event_id: str | None = None, replayed: bool = False,
            timeout: float = FORWARD_TIMEOUT_SECONDS) -> Forwarded:
    """POST one event's detail; the receiver's status, or why there was none."""
    message_id = str(detail.get("webhook_id") or event_id or "")  # what a receiver deduplicates on
    extra = {"X-Webhookctl-Event-Id": event_id} if event_id else {}
    request = signed_request(url, detail, secret, message_id or None, extra)
    status, error = None, None
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            status = resp.status
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        error = str(getattr(exc, "reason", exc))
    return Forwarded(webhook_id=detail.get("webhook_id"), provider=detail.get("provider"),
                     event_type=detail.get("event_type"), status=status, error=error, replayed=replayed)


@dataclass
class Backoff:
    first: float = BACKOFF_FIRST
    ceiling: float = BACKOFF_MAX
    current: float = 0.0

    def next(self) -> float:
        self.current = self.first if not self.current else min(self.ceiling, self.current * 2)
        return self.current

    def reset(self) -> None:
        self.current = 0.0


@dataclass
class Forwarder:
    """Polls one listener's queue and forwards what it holds; a message goes only after a 2xx."""

    sqs: Any
    listener: Listener
    url: str
    secret: str
    report: Callable[[Forwarded], None]
    log: Log
    wait_seconds: int = WAIT_SECONDS
    backoff: Backoff = field(default_factory=Backoff)
    forwarded: int = 0
    _last_heartbeat: float = 0.0

    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self.stop.is_set():
            pause = self.poll_once()
            if pause:
                self.stop.wait(pause)

    def poll_once(self) -> float:
        """One receive and its forwards; the seconds to wait before the next (0: at once). Once `stop` is
        set, what is still unforwarded goes back to the queue at once."""
        from botocore.exceptions import BotoCoreError, ClientError

        self._heartbeat()
        try:
            messages = self.sqs.receive_message(QueueUrl=self.listener.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=self.wait_seconds,
                                                VisibilityTimeout=VISIBILITY_SECONDS).get("Messages", [])
        except (BotoCoreError, ClientError) as exc:  # offline, throttled: the queue keeps everything
            pause = self.backoff.next()
            self.log(f"listen: cannot reach the queue ({type(exc).__name__}: {exc}); again in {pause:.0f} s")
            return pause
        if self._forward_all(messages):
            self.backoff.reset()
            return 0.0
        return self.backoff.next()

    def _forward_all(self, messages: list[dict]) -> bool:
        for index, message in enumerate(messages):
            if self.stop.is_set():
                self._release(messages[index:])
                return True
            event = _event(message)
            if event is None:
                self.log(f"listen: message {message['MessageId']} is not an EventBridge event; deleted")
                self._delete(message)
                continue
            result = forward(self.url, event["detail"], self.secret, event_id=event.get("id"))
            self.report(result)
            if not result.ok:
                self._release(messages[index:])
                return False
            self._delete(message)
            self.forwarded += 1
        return True

    def _delete(self, message: dict) -> None:
        self.sqs.delete_message(QueueUrl=self.listener.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _release(self, messages: list[dict]) -> None:
        """Visible again now: the next receive, after the backoff, retries them."""
        for start in range(0, len(messages), 10):
            self.sqs.change_message_visibility_batch(QueueUrl=self.listener.queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(messages[start:start + 10])])

    def _heartbeat(self) -> None:
        if time.monotonic() - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = time.monotonic()
        try:
            self.sqs.tag_queue(QueueUrl=self.listener.queue_url, Tags={TAG_HEARTBEAT: _now()})
        except Exception as exc:  # a missed heartbeat only makes --cleanup see it older
            self.log(f"listen: heartbeat not recorded ({exc})")


def _event(message: dict) -> dict | None:
    try:
        event = json.loads(message.get("Body") or "")
    except ValueError:
        return None
    return event if isinstance(event, dict) and isinstance(event.get("detail"), dict) else None


# --------------------------------------------------------------------------- --replay-since


def replay_archived(ws: Workspace, url: str, secret: str, pattern: dict, since: str, *, report,
                    log: Log, events=None) -> int:
    """Forward the archived deliveries received since `since` that the pattern matches, oldest first,
    each as the processor published it (marked `"replayed": true`); 2xx or not, each is tried once."""
    from .events import Query, iter_records, window
    from .operations import env_client
    from .replay import _put_events_max_bytes, replay_entries
    from .stack_ops import known_outputs

    first, last = window(since, None)
    records = list(reversed(list(iter_records(ws, Query(tuple(sorted(ws.config.providers)), first, last,
                                                        status="processed")))))
    outputs = known_outputs(ws, log)
    entries, frozen = replay_entries(env_client(ws, "s3"), outputs, records, ws.config.limits.inline_payload_limit,
                                     _put_events_max_bytes(ws), _now())
    for wid, archived in frozen:
        log(f"listen: {wid} not replayed: {archived.explain()}")
    sent = 0
    for wid, entry in entries:
        detail = json.loads(entry["Detail"])
        if not pattern_matches(pattern, _as_event(entry, detail), events):
            continue
        report(forward(url, detail, secret, replayed=True))
        sent += 1
    return sent


def _as_event(entry: dict, detail: dict) -> dict:
    return {"id": "replay", "source": entry["Source"], "detail-type": entry["DetailType"], "account": "",
            "time": _now(), "region": "", "resources": [], "detail": detail}


def pattern_matches(pattern: dict, event: dict, events=None) -> bool:
    """EventBridge's TestEventPattern where it is answered; the emulator (moto 5.2.1) does not implement
    it (an empty answer), so there: exact-value patterns, matched here (content filters refused, not guessed)."""
    from botocore.exceptions import ClientError

    if events is not None:
        try:
            answer = events.test_event_pattern(EventPattern=json.dumps(pattern), Event=json.dumps(event))
        except ClientError as exc:
            if "NotImplemented" not in _code(exc) + str(exc):
                raise
            answer = {}
        if "Result" in answer:
            return bool(answer["Result"])
    return _exact_match(pattern, event)


def _exact_match(pattern: dict, value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    for key, condition in pattern.items():
        if isinstance(condition, dict):
            if not _exact_match(condition, value.get(key)):
                return False
            continue
        if any(isinstance(c, dict) for c in condition):
            raise WebhookctlError("--replay-since on the emulator matches exact values only: drop the content "
                                  "filter from --filter, or use --provider / --type")
        got = value.get(key)
        if not (any(g in condition for g in got) if isinstance(got, list) else got in condition):
            return False
    return True


# --------------------------------------------------------------------------- --cleanup


def list_listeners(ws: Workspace, *, sqs, events, now: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Every listener of the environment: its queue, rule, owner, last heartbeat and what waits in it."""
    from handlers.contract import bus_name

    now = now or dt.datetime.now(dt.timezone.utc)
    bus = bus_name(ws.stack)
    found: dict[str, dict[str, Any]] = {}
    for url in _queue_urls(sqs, queue_prefix(ws.stack)):
        name = url.rsplit("/", 1)[-1][len(queue_prefix(ws.stack)):]
        found[name] = {"name": name, "queue": url.rsplit("/", 1)[-1], "rule": None, **_queue_facts(sqs, url, now)}
    for rule in _rules(events, rule_prefix(bus), bus):
        name = rule["Name"][len(rule_prefix(bus)):]
        found.setdefault(name, {"name": name, "queue": None, "pending": None, "owner": None, "last_seen": None,
                                "idle_seconds": None})["rule"] = rule["Name"]
    return [found[n] for n in sorted(found)]


def _queue_urls(sqs, prefix: str) -> list[str]:
    urls, args = [], {"QueueNamePrefix": prefix, "MaxResults": 1000}
    while True:
        page = sqs.list_queues(**args)
        urls += page.get("QueueUrls", [])
        if not page.get("NextToken"):
            return urls
        args["NextToken"] = page["NextToken"]


def _rules(events, prefix: str, bus: str) -> list[dict]:
    rules, args = [], {"NamePrefix": prefix, "EventBusName": bus}
    while True:
        page = events.list_rules(**args)
        rules += page.get("Rules", [])
        if not page.get("NextToken"):
            return rules
        args["NextToken"] = page["NextToken"]


def _queue_facts(sqs, url: str, now: dt.datetime) -> dict[str, Any]:
    tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                                                          "CreatedTimestamp"])["Attributes"]
    seen = tags.get(TAG_HEARTBEAT)
    if seen:
        moment = dt.datetime.fromisoformat(seen)
    else:
        moment = dt.datetime.fromtimestamp(int(attributes.get("CreatedTimestamp", "0")), dt.timezone.utc)
    return {"pending": int(attributes.get("ApproximateNumberOfMessages", 0)), "owner": tags.get(TAG_OWNER),
            "last_seen": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "idle_seconds": int((now - moment).total_seconds())}


def cleanup(ws: Workspace, *, name: str | None, stale_after: str, log: Log, sqs=None, events=None) -> list[dict]:
    """Remove the listener `name`, or every listener idle for longer than `stale_after` (and any half of
    one: a rule without its queue, a queue without its rule); the others are listed, kept."""
    from .events import parse_when
    from .operations import env_client

    sqs, events = sqs or env_client(ws, "sqs"), events or env_client(ws, "events")
    now = dt.datetime.now(dt.timezone.utc)
    limit = (now - dt.datetime.fromisoformat(parse_when(stale_after, now))).total_seconds()
    rows = list_listeners(ws, sqs=sqs, events=events, now=now)
    if name is not None and name not in {r["name"] for r in rows}:
        raise WebhookctlError(f"no listener '{name}' in environment '{ws.env.name}'")
    for row in rows:
        half = row["queue"] is None or row["rule"] is None
        stale = name is None and (half or (row["idle_seconds"] or 0) > limit)
        row["removed"] = (row["name"] == name) or stale
        if row["removed"]:
            gone = close_listener(names(ws, row["name"]), sqs=sqs, events=events)
            log(f"listen: removed listener {row['name']} ({' and '.join(gone) or 'nothing left'}"
                + (f"; {row['pending']} event(s) were waiting in it" if row.get("pending") else "") + ")")
    return rows


# --------------------------------------------------------------------------- the command's library call


def owner() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def start(ws: Workspace, *, name: str | None, pattern: dict, log: Log, sqs=None, events=None) -> Listener:
    from .operations import env_client
    from .stack_ops import known_outputs

    known_outputs(ws, log)  # the stack is deployed (its bus exists)
    listener_names = names(ws, name)
    sqs, events = sqs or env_client(ws, "sqs"), events or env_client(ws, "events")
    return open_listener(ws, listener_names, pattern, sqs=sqs, events=events, owner=owner())


def serve(ws: Workspace, url: str, *, name: str | None, pattern: dict, keep: bool, replay_since: str | None,
          log: Log, report: Callable[[Forwarded], None], wait_seconds: int = WAIT_SECONDS,
          stop: threading.Event | None = None) -> dict[str, Any]:
    """Open the listener, forward until Ctrl-C / SIGTERM (or `stop`), then remove it unless `keep`."""
    from .children import sigterm_raises
    from .operations import env_client

    if not re.match(r"^https?://[^\s/]+", url):
        raise WebhookctlError(f"--forward-to '{url}' is not an http(s) URL (e.g. http://localhost:3000/webhooks)")
    if replay_since is not None:
        from .events import window

        window(replay_since, None)  # a bad time fails before anything is created
    sqs, events = env_client(ws, "sqs"), env_client(ws, "events")
    listener = start(ws, name=name, pattern=pattern, log=log, sqs=sqs, events=events)
    secret = listener_secret(ws, listener.names.name)
    _announce(listener, url, secret, pattern, log)
    forwarder = Forwarder(sqs=sqs, listener=listener, url=url, secret=secret, report=report, log=log,
                          wait_seconds=wait_seconds, stop=stop or threading.Event())
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C even when started where SIGINT is ignored (a background job of a script), as `dev` does
        signal.signal(signal.SIGINT, signal.default_int_handler)
    replayed = 0
    try:
        with sigterm_raises():
            if replay_since is not None:
                replayed = replay_archived(ws, url, secret, pattern, replay_since, report=report, log=log, events=events)
                log(f"listen: replayed {replayed} archived deliveries received since {replay_since}")
            _run_until_interrupted(forwarder, log)
    except KeyboardInterrupt:
        log("listen: interrupted")
    finally:
        _finish(listener, keep, sqs, events, log)
    return {"name": listener.names.name, "forwarded": forwarder.forwarded, "replayed": replayed, "kept": keep}


def _run_until_interrupted(forwarder: Forwarder, log: Log) -> None:
    """The forwarder in a thread; Ctrl-C (or SIGTERM) stops it once its poll under way has put back what
    it brought. A second Ctrl-C quits at once (those messages then reappear after VISIBILITY_SECONDS)."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            forwarder.run()
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=work, name="webhookctl-listen", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.5)
    except KeyboardInterrupt:
        forwarder.stop.set()
        log(f"listen: stopping once the poll under way ends (at most {forwarder.wait_seconds} s; Ctrl-C again: now)")
        worker.join()
    if failure:
        raise failure[0]


def _announce(listener: Listener, url: str, secret: str, pattern: dict, log: Log) -> None:
    n = listener.names
    log(f"listen: {'resuming' if listener.resumed else 'created'} listener '{n.name}': queue {n.queue}, "
        f"rule {n.rule} on {n.bus}, pattern {json.dumps(pattern, separators=(',', ':'))}")
    log(f"listen: forwarding to {url}, signed Standard Webhooks style (webhook-id, webhook-timestamp, "
        f"webhook-signature) with the secret {secret}")
    log("listen: Ctrl-C stops it (the queue and rule go too, unless --keep)")


def _finish(listener: Listener, keep: bool, sqs, events, log: Log) -> None:
    n = listener.names
    if keep:
        log(f"listen: kept queue {n.queue} and rule {n.rule}: events wait there; "
            f"`webhookctl listen --name {n.name} --forward-to URL` forwards them")
        return
    gone = close_listener(n, sqs=sqs, events=events)
    log(f"listen: removed {' and '.join(gone) or 'nothing'} of listener '{n.name}'")
