"""`webhookctl dev`: the whole pipeline on one laptop, no AWS account.

1. the emulator (moto): this project's own if it is still running (a `dev`
   that crashed left it; it holds every accepted webhook), else a new one,
   which restores itself from its journal (`.webhookctl/emulator/<env>/`,
   see docs/local-runtime-crash-safety.md) before it answers;
2. the emulator and the local Terraform state must agree: when they do not,
   the emulator's resources are reset (its data kept aside), the state
   forgotten, and the stack applied from nothing; the data then goes back;
3. deploy the `local` stack with the real Terraform, through the same code
   path as `webhookctl deploy` (a no-op when nothing changed);
4. run the deployed functions' handlers in-process, with the environment
   and provider table the deployed functions have: the ingest API on
   127.0.0.1:<port>, and an SQS poller that behaves like Lambda's event
   source mapping;
5. until Ctrl-C or SIGTERM (an emulator that dies meanwhile is restarted
   from its journal), then stop everything and leave no process or port
   behind. Ctrl-C during start-up stops whatever has started, Terraform
   included (cli.children).
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from .errors import TerraformFailed, WebhookctlError
from .workspace import Workspace

Log = Callable[[str], None]

# Local redrive in seconds instead of the deployed 3 minutes: the poller asks
# for this visibility timeout on each receive (the queue itself is unchanged).
DEFAULT_VISIBILITY_SECONDS = 5


def emulator_runtime_file(ws: Workspace) -> Path:
    """Where the command that started the emulator records it (shared with `webhookctl emulator`)."""
    return ws.work_dir / f"emulator-{ws.env.name}.json"


def emulator_persist_dir(ws: Workspace) -> Path:
    """The emulator's journal: what brings it back after a crash (0700; holds secret values)."""
    return ws.work_dir / "emulator" / ws.env.name


def new_emulator(ws: Workspace, started_by: str):  # type: ignore[no-untyped-def]
    from local_runtime.emulator import Emulator

    url = urlparse(ws.env.emulator_endpoint)
    ws.work_dir.mkdir(parents=True, exist_ok=True)
    return Emulator(host=url.hostname or "127.0.0.1", port=url.port or 4566, log_path=ws.work_dir / "emulator.log",
                    deterministic_ids=True, persist_dir=emulator_persist_dir(ws),
                    runtime_file=emulator_runtime_file(ws), started_by_command=started_by)


def describe_restore(identity: dict[str, Any] | None) -> str | None:
    """One line about what an emulator restored from its journal, or None when it had nothing."""
    report = (identity or {}).get("restore") or {}
    data = report.get("data") or {}
    if not report.get("control_calls") and not data:
        return None
    parts = [f"{report.get('control_calls', 0)} resource calls"] + [f"{n} {kind}" for kind, n in sorted(data.items())]
    errors = report.get("control_errors") or []
    return (f"{', '.join(parts)} in {report.get('seconds', 0):.1f} s"
            + (f"; {len(errors)} replayed call(s) failed" if errors else ""))


@dataclass
class DevSession:
    """Everything `dev` started, so it can all be stopped in reverse order."""

    ws: Workspace
    log: Log
    emulator: Any = None
    owns_emulator: bool = True
    server: Any = None
    poller: Any = None
    http_targets: Any = None  # local delivery of http route targets (local_runtime/http_targets.py)
    function_logs: Any = None  # each in-process function's log lines, in a file per function (cli/logs.py)
    console: Any = None  # the web console (cli/console), served from a thread of its own
    env_patch: Any = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def runtime_file(self) -> Path:
        from .send import dev_server_file

        return dev_server_file(self.ws)

    def watch(self) -> None:
        """Restart an emulator that died under us: its journal brings back everything accepted."""
        if self.emulator is None or self.emulator.running:
            return
        self.log(f"dev: the emulator died ({self.emulator.log_tail(3)}); restarting it from its journal")
        self.emulator = new_emulator(self.ws, "dev")
        self.emulator.start()
        line = describe_restore(self.emulator.identity())
        self.log(f"dev: emulator back at {self.emulator.endpoint}" + (f": restored {line}" if line else ""))

    def stop(self) -> None:
        for name in ("console", "http_targets", "poller", "server"):
            part = getattr(self, name)
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep stopping the rest
                    self.log(f"dev: stopping the {name} failed: {exc}")
                setattr(self, name, None)
        if self.function_logs is not None:
            self.function_logs.stop()
            self.function_logs = None
        if self.env_patch is not None:
            self.env_patch.__exit__(None, None, None)
            self.env_patch = None
        self.runtime_file.unlink(missing_ok=True)
        if self.emulator is not None:
            if self.owns_emulator:
                self.emulator.stop()
            else:
                self.log("dev: leaving the emulator running: `webhookctl emulator start` started it")
            self.emulator = None


def start(ws: Workspace, *, port: int, log: Log, visibility_timeout: int = DEFAULT_VISIBILITY_SECONDS,
          self_test: bool = True) -> DevSession:
    """Start everything; returns a running session (call .stop())."""
    if not ws.env.is_emulated:
        raise WebhookctlError(
            f"`webhookctl dev` runs on the emulator; environment '{ws.env.name}' is real AWS (use --env local)"
        )
    _refuse_second_dev(ws)
    from local_runtime.emulator import EmulatorError, port_holder, port_open

    if port_open("127.0.0.1", port):
        raise WebhookctlError(f"port {port} on 127.0.0.1 is held by {port_holder('127.0.0.1', port)}: "
                              "pass --port, or stop it")
    session = DevSession(ws=ws, log=log)
    started = time.monotonic()
    try:
        _acquire_emulator(session)
        session.timings["emulator"] = time.monotonic() - started
        _converge(session)
        _run_handlers(session, port, visibility_timeout)
        _run_http_targets(session)
        _ensure_dev_secrets(session)
        _run_console(session)
        session.timings["ready"] = time.monotonic() - started
        if self_test:
            _self_test(session)
    except EmulatorError as exc:
        session.stop()
        raise WebhookctlError(str(exc)) from None
    except BaseException:
        session.stop()
        raise
    return session


def _refuse_second_dev(ws: Workspace) -> None:
    from local_runtime.emulator import pid_alive, process_command

    from .send import dev_server_file

    try:
        doc = json.loads(dev_server_file(ws).read_text())
        pid = int(doc["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return
    if pid != os.getpid() and pid_alive(pid) and "webhookctl" in process_command(pid):
        raise WebhookctlError(f"`webhookctl dev` (pid {pid}) is already serving environment '{ws.env.name}' "
                              f"at {doc.get('url')}: use it, or stop it first")


def _acquire_emulator(session: DevSession) -> None:
    """This project's emulator if it survived a crash of dev, else a new one restored from its journal."""
    from local_runtime.emulator import Emulator

    ws, log = session.ws, session.log
    found = Emulator.attach(emulator_runtime_file(ws), emulator_persist_dir(ws))
    if found is not None:
        session.owns_emulator = found.started_by_command != "emulator start"
        log(f"dev: re-attached to this project's emulator at {found.endpoint} (pid {found.pid}, started by "
            f"`webhookctl {found.started_by_command}`): everything it held is still there")
        if session.owns_emulator:
            found.claim()
        session.emulator = found
        return
    session.emulator = new_emulator(ws, "dev")  # recorded before it starts: Ctrl-C then stops it too
    session.emulator.start()
    line = describe_restore(session.emulator.identity())
    log(f"dev: emulator up at {ws.env.emulator_endpoint}"
        + (f", restored from its journal: {line}" if line else ""))


def _converge(session: DevSession) -> None:
    """Make emulator and state agree, deploy (`webhookctl deploy`'s code path), put kept data back."""
    from local_runtime import state_check

    ws, log = session.ws, session.log
    endpoint, region, state = ws.env.emulator_endpoint, ws.env.region, ws.local_state_file
    t0 = time.monotonic()
    if state_check.state_resources(state):
        mismatches = state_check.state_mismatches(endpoint, state, region)
        if mismatches:
            _reset(session, f"the emulator does not match the local state ({mismatches[0]}"
                            + (f", and {len(mismatches) - 1} more" if len(mismatches) > 1 else "") + ")")
    elif not state_check.is_fresh(endpoint, region):
        _reset(session, "the emulator holds resources the local state does not list")
    _deploy(session)
    session.timings["deploy"] = time.monotonic() - t0
    log(f"dev: stack {ws.stack} deployed ({session.timings['deploy']:.1f} s)")
    back = state_check.restore_pending(endpoint)
    if back.get("restored") or back.get("missing"):
        log(f"dev: data kept aside by the reset is back: {back.get('restored')}"
            + (f"; still waiting for its resource: {back['missing'][:5]}" if back.get("missing") else ""))


# Terraform's errors when it creates what the emulator already holds (the state lost track of it:
# a Terraform killed mid-apply before saving its state).
_CONFLICTS = ("already exist", "AlreadyExists", "ResourceInUse", "ResourceConflict", "BucketAlreadyOwnedByYou")


def _deploy(session: DevSession, attempts: int = 3) -> None:
    from .stack_ops import deploy

    ws, log = session.ws, session.log
    for attempt in range(1, attempts + 1):
        if not ws.local_state_file.exists():
            log("dev: deploying the local stack from nothing (~1 min: the AWS provider's fixed waits)")
        try:
            deploy(ws, confirm=None, log=log)  # progress on stderr: a line in place on a terminal, lines elsewhere
            return
        except TerraformFailed as exc:
            if attempt == attempts or not any(c in exc.message for c in _CONFLICTS):
                raise
            _reset(session, f"the deploy to the emulator failed ({exc.message})")


def _reset(session: DevSession, why: str) -> None:
    from local_runtime import state_check

    ws = session.ws
    session.log(f"dev: {why}: resetting the emulator's resources and the local state (the data is kept aside "
                "and comes back after the deploy)")
    state_check.reset_keeping_data(ws.env.emulator_endpoint, ws.local_state_file)
    (ws.work_dir / f"outputs-{ws.env.name}.json").unlink(missing_ok=True)


def _run_handlers(session: DevSession, port: int, visibility_timeout: int) -> None:
    from local_runtime.api_gateway import ApiGatewayServer
    from local_runtime.function_env import (
        applied_environment, for_function, function_environment, get_function_config, load_handler,
        merge_environments, on_emulator, providers_environment,
    )
    from local_runtime.sqs_poller import SqsPoller

    from .stack_ops import known_outputs

    ws = session.ws
    endpoint, region = ws.env.emulator_endpoint, ws.env.region
    outputs = known_outputs(ws, session.log)
    ingest_cfg = on_emulator(get_function_config(endpoint, outputs.ingest_function_name, region))
    process_cfg = on_emulator(get_function_config(endpoint, outputs.process_function_name, region))
    ingest_env = function_environment(endpoint, ingest_cfg, region)
    process_env = function_environment(endpoint, process_cfg, region)
    # The deployed zip's provider table, as a file ingest reads (PROVIDERS_FILE).
    ingest_env.update(providers_environment(ingest_cfg, ws.outdir / ".build", ws.work_dir / "providers",
                                            journal=emulator_persist_dir(ws)))
    session.env_patch = applied_environment(merge_environments(ingest_env, process_env))
    session.env_patch.__enter__()
    # Each function runs in its own variables (their SDK budgets differ, as their timeouts do).
    ingest = for_function(load_handler(ingest_cfg.handler, fresh=True), ingest_env)
    process = for_function(load_handler(process_cfg.handler, fresh=False), process_env)
    ingest, process = _log_per_function(session, ingest, process)
    session.server = ApiGatewayServer(
        ingest, port=port, stage=ws.env.name, region=region, providers=sorted(ws.config.providers),
        context_factory=ingest_cfg.context, function_name=ingest_cfg.name,
    ).start()
    session.poller = SqsPoller(
        outputs.queue_url, process, endpoint_url=endpoint, region=region,
        batch_size=ws.config.limits.batch_size, visibility_timeout=visibility_timeout,
        function_name=process_cfg.name, context_factory=process_cfg.context,
    ).start()
    base = f"{session.server.url}/{ws.env.name}"
    session.runtime_file.write_text(json.dumps({"url": base, "pid": os.getpid(), "emulator": endpoint,
                                                "queue_url": outputs.queue_url}))


def _log_per_function(session: DevSession, ingest, process):
    """What each in-process function logs also goes to a file of its own (`webhookctl logs` reads them),
    as each deployed function has its own log group."""
    from .logs import FunctionLogs, local_logs_dir

    session.function_logs = FunctionLogs(local_logs_dir(session.ws)).start()
    return session.function_logs.wrap("ingest", ingest), session.function_logs.wrap("process", process)


def _run_http_targets(session: DevSession) -> None:
    """moto does not call API destinations: the local runtime delivers the http routes' targets itself."""
    from local_runtime.http_targets import HttpTargetDeliverer

    from .stack_ops import known_outputs

    ws = session.ws
    bus = known_outputs(ws, session.log).event_bus_name
    session.http_targets = HttpTargetDeliverer(ws.env.emulator_endpoint, ws.env.region, bus, log=session.log).start()
    for line in session.http_targets.describe():
        session.log(f"dev: delivering route {line}")


def _run_console(session: DevSession) -> None:
    """The web console, on its usual port when free, else on any free one (binding a socket: no wait)."""
    from .console.server import DEFAULT_PORT, start

    try:
        session.console = start(session.ws, port=DEFAULT_PORT, log=session.log)
    except WebhookctlError:  # another dev or console holds it
        session.console = start(session.ws, port=0, log=session.log)


def _ensure_dev_secrets(session: DevSession) -> None:
    """A provider with no secret gets a random one, so `webhookctl send` works at once (emulator only)."""
    from .aws import client
    from .operations import read_secrets, secret_id

    sm = client(session.ws, "secretsmanager")
    generated = []
    for name, provider in sorted(session.ws.config.providers.items()):
        if read_secrets(session.ws, name, sm):
            continue
        value = _dev_secret(provider.scheme)
        sm.put_secret_value(SecretId=secret_id(session.ws, name), SecretString=json.dumps({"secrets": [value]}))
        generated.append(name)
    if generated:
        session.log(f"dev: generated emulator-only secrets for {', '.join(generated)} "
                    "(replace any with `webhookctl secrets set PROVIDER`)")


def _dev_secret(scheme: str) -> str:
    """An emulator-only secret of the scheme's form (its registry entry's: whsec_ for Standard
    Webhooks, a test key pair for Discord's Ed25519, random hex otherwise)."""
    from handlers.schemes import get

    return get(scheme).dev_secret()


def _self_test(session: DevSession) -> None:
    """One signed webhook all the way to `processed`: proof the pipeline works, in the banner."""
    from .operations import delivery_status
    from .send import send
    from .stack_ops import known_outputs

    providers = sorted(session.ws.config.providers)
    provider = "stripe" if "stripe" in providers else providers[0]
    result = send(session.ws, provider, file=None, url=None, secret=None)
    webhook_id = result["response"].get("webhook_id")
    if result["status"] != 202 or not webhook_id:
        session.log(f"dev: self-test FAILED: {provider} answered {result['status']} {result['response']}")
        return
    table = known_outputs(session.ws).table_name
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if delivery_status(session.ws, webhook_id, table).get("status") == "processed":
            session.log(f"dev: self-test: a signed {provider} webhook went ingest -> S3 + DynamoDB + SQS -> "
                        f"process -> EventBridge ({webhook_id})")
            return
        time.sleep(0.1)
    session.log(f"dev: self-test: {webhook_id} was accepted but not processed within 15 s; see the logs above")


def banner(session: DevSession) -> str:
    base = f"{session.server.url}/{session.ws.env.name}"
    width = max(len(p) for p in session.ws.config.providers)
    lines = [
        "",
        f"webhookctl dev is ready in {session.timings['ready']:.1f} s: environment '{session.ws.env.name}' "
        f"on the emulator at {session.ws.env.emulator_endpoint}",
        "",
        "Ingest URLs (POST):",
        *[f"  {name.ljust(width)}  {base}/webhooks/{name}" for name in sorted(session.ws.config.providers)],
        f"  {'(any)'.ljust(width)}  {base}/webhook  with X-Provider-ID (the original single route)",
        "",
        *(["HTTP route targets (delivered locally; `webhookctl dlq list --target ROUTE` shows what failed):",
           *[f"  {line}" for line in session.http_targets.describe()], ""]
          if session.http_targets is not None and session.http_targets.describe() else []),
        *([f"Console (this run's token; 127.0.0.1 only): {session.console.url}", ""]
          if session.console is not None else []),
        "Try next, in another terminal:",
        "  webhookctl trigger stripe                       # a realistic signed event (--list: the catalog)",
        "  webhookctl events list --since 10m              # what came in, newest first",
        "  webhookctl events show <webhook_id> --verify    # its record, headers, payload, signature",
        "  webhookctl listen --forward-to http://127.0.0.1:8000/hook   # the bus's events on your laptop",
        "  webhookctl stats                                # counts, queues, DLQs",
        "  webhookctl secrets set github < secret          # use your provider's real test secret",
        "",
        "Ctrl-C stops everything. Accepted webhooks survive a crash: the next `webhookctl dev` picks them up.",
    ]
    return "\n".join(lines)


def serve(ws: Workspace, *, port: int, log: Log, out: Log, visibility_timeout: int = DEFAULT_VISIBILITY_SECONDS,
          self_test: bool = True, stop_event: threading.Event | None = None) -> None:
    """Run until Ctrl-C / SIGTERM (or stop_event), then stop everything; Ctrl-C at start-up stops what started."""
    from .children import sigterm_raises

    stop_event = stop_event or threading.Event()
    session = None
    previous = None
    if threading.current_thread() is threading.main_thread():
        # Ctrl-C even when started where SIGINT is ignored (a background job of a script).
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with sigterm_raises():  # during start-up SIGTERM unwinds like Ctrl-C, stopping Terraform too
            session = start(ws, port=port, log=log, visibility_timeout=visibility_timeout, self_test=self_test)
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
        out(banner(session))
        while not stop_event.wait(0.5):
            session.watch()
    except KeyboardInterrupt:
        log("dev: interrupted")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if session is not None:
            log("dev: stopping (handlers, API, emulator)")
            session.stop()
        log("dev: stopped")
