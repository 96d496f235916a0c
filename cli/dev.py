"""`webhookctl dev`: the whole pipeline on one laptop, no AWS account.

1. start the emulator (moto) on the environment's loopback endpoint;
2. bring it to what the local Terraform state says: replay the recording of
   the last deploy (a second or two) or, when that cannot be trusted, reset
   both and apply from nothing; state and emulator never disagree;
3. deploy the `local` stack with the real Terraform, through the same code
   path as `webhookctl deploy` (a no-op after a replay);
4. run the deployed functions' handlers in-process, with the environment
   the emulator says they have: the ingest API on 127.0.0.1:<port>, and an
   SQS poller that behaves like Lambda's event source mapping;
5. until Ctrl-C, then stop everything and leave no process or port behind.
"""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlparse

from .errors import WebhookctlError
from .workspace import Workspace

Log = Callable[[str], None]

# Local redrive in seconds instead of the deployed 3 minutes: the poller asks
# for this visibility timeout on each receive (the queue itself is unchanged).
DEFAULT_VISIBILITY_SECONDS = 5


@dataclass
class DevSession:
    """Everything `dev` started, so it can all be stopped in reverse order."""

    ws: Workspace
    log: Log
    emulator: object | None = None
    server: object | None = None
    poller: object | None = None
    env_patch: object | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def recording(self):
        return self.ws.work_dir / "state" / f"{self.ws.stack}.moto-recording.json"

    @property
    def runtime_file(self):
        from .send import dev_server_file

        return dev_server_file(self.ws)

    def stop(self) -> None:
        for name in ("poller", "server"):
            part = getattr(self, name)
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # keep stopping the rest
                    self.log(f"dev: stopping the {name} failed: {exc}")
                setattr(self, name, None)
        if self.env_patch is not None:
            self.env_patch.__exit__(None, None, None)
            self.env_patch = None
        self.runtime_file.unlink(missing_ok=True)
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None


def start(ws: Workspace, *, port: int, log: Log, visibility_timeout: int = DEFAULT_VISIBILITY_SECONDS,
          self_test: bool = True) -> DevSession:
    """Start everything; returns a running session (call .stop())."""
    if not ws.env.is_emulated:
        raise WebhookctlError(
            f"`webhookctl dev` runs on the emulator; environment '{ws.env.name}' is real AWS (use --env local)"
        )
    from local_runtime.emulator import Emulator, EmulatorError, port_open

    if port_open("127.0.0.1", port):
        raise WebhookctlError(f"port {port} on 127.0.0.1 is already in use: pass --port, or stop what uses it")
    session = DevSession(ws=ws, log=log)
    started = time.monotonic()
    url = urlparse(ws.env.emulator_endpoint)
    ws.work_dir.mkdir(parents=True, exist_ok=True)
    session.emulator = Emulator(host=url.hostname or "127.0.0.1", port=url.port or 4566,
                                log_path=ws.work_dir / "emulator.log", deterministic_ids=True)
    try:
        session.emulator.start()
        session.timings["emulator"] = time.monotonic() - started
        log(f"dev: emulator up at {ws.env.emulator_endpoint} ({session.timings['emulator']:.1f} s)")
        _converge(session)
        _run_handlers(session, port, visibility_timeout)
        _ensure_dev_secrets(session)
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


def _converge(session: DevSession) -> None:
    """Make emulator and state agree, then deploy (through `webhookctl deploy`'s code path)."""
    from local_runtime import snapshot

    from .stack_ops import deploy

    ws, log = session.ws, session.log
    t0 = time.monotonic()
    outcome = snapshot.reconcile(ws.env.emulator_endpoint, session.recording, ws.local_state_file)
    session.timings["reconcile"] = time.monotonic() - t0
    if outcome == "restored":
        log(f"dev: restored the last deploy into the emulator ({session.timings['reconcile']:.1f} s)")
        t0 = time.monotonic()
        deploy(ws, confirm=None, log=_terraform_filter(log))
    else:
        if outcome == "reset":
            log("dev: the saved emulator snapshot no longer matched the state: starting from a clean slate")
        log("dev: deploying the local stack (first time: ~1 min, the AWS provider's fixed waits)")
        snapshot.start_recording(ws.env.emulator_endpoint, session.recording)
        t0 = time.monotonic()
        deploy(ws, confirm=None, log=_terraform_filter(log))
        snapshot.save(ws.env.emulator_endpoint, session.recording)
    session.timings["deploy"] = time.monotonic() - t0
    log(f"dev: stack {ws.stack} deployed ({session.timings['deploy']:.1f} s)")


def _terraform_filter(log: Log) -> Log:
    """Terraform's progress, minus the noise: resource completions and errors only."""
    keep = ("Creation complete", "Apply complete", "Error", "error", "No changes", "Plan:", "synth:", "Destruction")

    def filtered(line: str) -> None:
        if any(k in line for k in keep):
            log(f"  {line.strip()}")

    return filtered


def _run_handlers(session: DevSession, port: int, visibility_timeout: int) -> None:
    from local_runtime.api_gateway import ApiGatewayServer
    from local_runtime.function_env import (
        applied_environment, function_environment, get_function_config, load_handler, merge_environments,
    )
    from local_runtime.sqs_poller import SqsPoller

    from .stack_ops import known_outputs

    ws = session.ws
    endpoint, region = ws.env.emulator_endpoint, ws.env.region
    outputs = known_outputs(ws, session.log)
    ingest_cfg = get_function_config(endpoint, outputs.ingest_function_name, region)
    process_cfg = get_function_config(endpoint, outputs.process_function_name, region)
    env = merge_environments(function_environment(endpoint, ingest_cfg, region),
                             function_environment(endpoint, process_cfg, region))
    session.env_patch = applied_environment(env)
    session.env_patch.__enter__()
    ingest = load_handler(ingest_cfg.handler, fresh=True)
    process = load_handler(process_cfg.handler, fresh=False)
    session.server = ApiGatewayServer(
        ingest, port=port, stage=ws.env.name, region=region, providers=sorted(ws.config.providers),
        context_factory=ingest_cfg.context, function_name=ingest_cfg.name,
        binary_media_types=("*/*",),
    ).start()
    session.poller = SqsPoller(
        outputs.queue_url, process, endpoint_url=endpoint, region=region,
        batch_size=ws.config.limits.batch_size, visibility_timeout=visibility_timeout,
        function_name=process_cfg.name, context_factory=process_cfg.context,
    ).start()
    base = f"{session.server.url}/{ws.env.name}"
    session.runtime_file.write_text(json.dumps({"url": base, "pid": os.getpid(), "emulator": endpoint,
                                                "queue_url": outputs.queue_url}))


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
        f"  {'(seed)'.ljust(width)}  {base}/webhook  with X-Provider-ID",
        "",
        "Try next, in another terminal:",
        "  webhookctl send stripe                  # a signed sample, all the way to the bus",
        "  webhookctl status <webhook_id>          # its record",
        "  webhookctl secrets set github < secret  # use your provider's real test secret",
        "  webhookctl outputs                      # queue, table, bucket, bus names",
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)


def serve(ws: Workspace, *, port: int, log: Log, out: Log, visibility_timeout: int = DEFAULT_VISIBILITY_SECONDS,
          self_test: bool = True, stop_event: threading.Event | None = None) -> None:
    """Run until Ctrl-C / SIGTERM (or stop_event), then stop everything."""
    stop_event = stop_event or threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop_event.set())
    session = None
    try:
        session = start(ws, port=port, log=log, visibility_timeout=visibility_timeout, self_test=self_test)
        out(banner(session))
        while not stop_event.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        if session is not None:
            log("dev: stopping (handlers, API, emulator)")
            session.stop()
            log("dev: stopped")
