"""Synthesize one environment's stack, skipping the synth (~3 s, bench/README.md) when nothing that feeds it changed."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Callable

from . import children
from .errors import WebhookctlError
from .workspace import Workspace

STAMP = ".webhookctl-synth.json"
# Packages whose version changes what synth writes.
_PINNED = ("cdktf", "cdktf-cdktf-provider-aws", "constructs", "jsii")


def synth_inputs(ws: Workspace) -> list[Path]:
    """Every file whose content feeds the synthesized JSON."""
    app = ws.app_dir
    files = [ws.config_path, app / "main.py", app / "cdktf.json"]
    for folder in ("constructs_lib", "handlers", "config"):
        files += sorted(p for p in (app / folder).rglob("*.py") if "__pycache__" not in p.parts)
    return files


def fingerprint(ws: Workspace) -> str:
    digest = hashlib.sha256()
    digest.update(f"env={ws.env.name}\nstack={ws.stack}\npython={sys.version_info[:2]}\n".encode())
    for name in _PINNED:
        try:
            digest.update(f"{name}=={metadata.version(name)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name}==missing\n".encode())
    for path in synth_inputs(ws):
        digest.update(str(path.relative_to(ws.app_dir) if path.is_relative_to(ws.app_dir) else path).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes() if path.exists() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()


def is_fresh(ws: Workspace, key: str) -> bool:
    stamp = ws.stack_dir / STAMP
    if not ws.stack_json.exists() or not stamp.exists():
        return False
    try:
        return json.loads(stamp.read_text()).get("fingerprint") == key
    except (OSError, ValueError):
        return False


def synth_command(ws: Workspace) -> tuple[list[str], dict[str, str]]:
    """The exact command synth runs: the cdktf app, for this environment only."""
    env = {
        **os.environ,
        "WEBHOOKCTL_ENV": ws.env.name,
        "WEBHOOKCTL_CONFIG": str(ws.config_path),
        "CDKTF_OUTDIR": str(ws.outdir),
        "CHECKPOINT_DISABLE": "1",
    }
    return [sys.executable, str(ws.app_dir / "main.py")], env


def synth(ws: Workspace, *, force: bool = False, log: Callable[[str], None] = print) -> dict:
    """Make sure cdktf.out/stacks/<stack>/cdk.tf.json matches the inputs; return what happened."""
    key = fingerprint(ws)
    if not force and is_fresh(ws, key):
        log(f"synth: {ws.stack} is up to date (inputs unchanged), skipped")
        return {"stack": ws.stack, "path": str(ws.stack_json), "cached": True, "seconds": 0.0}
    argv, env = synth_command(ws)
    log(f"synth: synthesizing {ws.stack} ...")
    started = time.monotonic()
    child = children.popen(argv, cwd=ws.app_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    with children.running(child, grace=5.0):  # Ctrl-C stops the app and its jsii node process
        out, err = child.communicate()
    proc = subprocess.CompletedProcess(argv, child.returncode, out, err)
    seconds = time.monotonic() - started
    if proc.returncode != 0 or not ws.stack_json.exists():
        detail = _last_error_line(proc.stderr or proc.stdout)
        sys.stderr.write(proc.stdout + proc.stderr)
        raise WebhookctlError(f"synth of {ws.stack} failed: {detail}")
    (ws.stack_dir / STAMP).write_text(json.dumps({"fingerprint": key, "seconds": round(seconds, 2)}))
    log(f"synth: wrote {ws.stack_json.relative_to(ws.project_dir)} in {seconds:.1f} s")
    return {"stack": ws.stack, "path": str(ws.stack_json), "cached": False, "seconds": round(seconds, 2)}


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "no output (see above)"
    return last.removeprefix("Error: ")
