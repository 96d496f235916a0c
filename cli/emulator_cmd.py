"""`webhookctl emulator start|stop|status`: the emulator as a background process.

`webhookctl dev` runs its own emulator in the foreground; these commands are
for working with the `local` environment step by step (deploy, send, status).
"""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from urllib.parse import urlparse

from .errors import WebhookctlError
from .workspace import Workspace


def _pid_file(ws: Workspace) -> Path:
    return ws.work_dir / f"emulator-{ws.env.name}.pid"


def _require_emulated(ws: Workspace) -> tuple[str, int]:
    if not ws.env.is_emulated:
        raise WebhookctlError(f"environment '{ws.env.name}' is real AWS, not the emulator (try --env local)")
    url = urlparse(ws.env.emulator_endpoint)
    return url.hostname or "127.0.0.1", url.port or 4566


def start(ws: Workspace, log) -> dict:
    from local_runtime.emulator import Emulator, EmulatorError, is_moto

    host, port = _require_emulated(ws)
    if is_moto(ws.env.emulator_endpoint):
        log(f"emulator: already running at {ws.env.emulator_endpoint}")
        return {"endpoint": ws.env.emulator_endpoint, "started": False}
    ws.work_dir.mkdir(parents=True, exist_ok=True)
    emulator = Emulator(host=host, port=port, log_path=ws.work_dir / "emulator.log")
    try:
        emulator.start()
    except EmulatorError as exc:
        raise WebhookctlError(str(exc)) from None
    _pid_file(ws).write_text(str(emulator.process.pid))
    # The emulator starts empty: a local state file from an earlier emulator no longer matches it.
    stale = ws.local_state_file.exists()
    log(f"emulator: running at {ws.env.emulator_endpoint} (pid {emulator.process.pid}, log {emulator.log_path})")
    if stale:
        log("emulator: note: it starts empty; `webhookctl deploy` re-creates the stack")
    return {"endpoint": ws.env.emulator_endpoint, "started": True, "pid": emulator.process.pid}


def stop(ws: Workspace, log) -> dict:
    _require_emulated(ws)
    pid_file = _pid_file(ws)
    if not pid_file.exists():
        log("emulator: not started by `webhookctl emulator start` (nothing to stop)")
        return {"stopped": False}
    pid = int(pid_file.read_text().strip())
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.05)
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    pid_file.unlink(missing_ok=True)
    log(f"emulator: stopped (pid {pid})")
    return {"stopped": True, "pid": pid}


def status(ws: Workspace) -> dict:
    from local_runtime.emulator import is_moto

    _require_emulated(ws)
    return {"endpoint": ws.env.emulator_endpoint, "running": is_moto(ws.env.emulator_endpoint)}
