"""`webhookctl emulator start|stop|status`: the emulator as a background process.

`webhookctl dev` runs its own emulator; these commands are for working with
the `local` environment step by step (deploy, send, status). Both record the
emulator in the same runtime file and journal into the same folder, so:
`emulator start` brings back what the last emulator held; `emulator stop`
also stops an emulator a crashed `dev` left running; `dev` uses (and leaves
running) an emulator `emulator start` started.
"""
from __future__ import annotations

from .dev import describe_restore, emulator_persist_dir, emulator_runtime_file, new_emulator
from .errors import WebhookctlError
from .workspace import Workspace


def _require_emulated(ws: Workspace) -> None:
    if not ws.env.is_emulated:
        raise WebhookctlError(f"environment '{ws.env.name}' is real AWS, not the emulator (try --env local)")


def _ours(ws: Workspace):  # type: ignore[no-untyped-def]
    from local_runtime.emulator import Emulator

    return Emulator.attach(emulator_runtime_file(ws), emulator_persist_dir(ws))


def start(ws: Workspace, log) -> dict:
    from local_runtime.emulator import EmulatorError

    _require_emulated(ws)
    running = _ours(ws)
    if running is not None:
        log(f"emulator: already running at {running.endpoint} (pid {running.pid})")
        return {"endpoint": running.endpoint, "started": False, "pid": running.pid}
    emulator = new_emulator(ws, "emulator start")
    try:
        emulator.start()
    except EmulatorError as exc:
        raise WebhookctlError(str(exc)) from None
    line = describe_restore(emulator.identity())
    log(f"emulator: running at {emulator.endpoint} (pid {emulator.pid}, log {emulator.log_path})"
        + (f"; restored from its journal: {line}" if line else ""))
    return {"endpoint": emulator.endpoint, "started": True, "pid": emulator.pid}


def stop(ws: Workspace, log) -> dict:
    """Stop this project's emulator, whichever command started it (its journal stays on disk)."""
    _require_emulated(ws)
    emulator = _ours(ws)
    if emulator is None:
        emulator_runtime_file(ws).unlink(missing_ok=True)  # whatever it said is stale
        log("emulator: this project's emulator is not running (nothing to stop)")
        return {"stopped": False}
    pid = emulator.pid
    emulator.stop()
    log(f"emulator: stopped (pid {pid}); its journal keeps the data for the next start")
    return {"stopped": True, "pid": pid}


def status(ws: Workspace) -> dict:
    from local_runtime.emulator import is_moto

    _require_emulated(ws)
    emulator = _ours(ws)
    return {"endpoint": ws.env.emulator_endpoint, "running": is_moto(ws.env.emulator_endpoint),
            "ours": emulator is not None, "pid": emulator.pid if emulator else None}
