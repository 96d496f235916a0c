"""Child processes that stop with the command that started them.

Terraform and the cdktf app (synth) run through here. Each child gets its own
process group, so stopping it reaches what it started too (Terraform's
provider plugin, the jsii node process). While it runs, SIGINT (Ctrl-C) and
SIGTERM to the command stop the whole group: first the polite signal
(Terraform then finishes the resource in progress, writes its state and
releases its lock), then SIGKILL after a grace period, and only then does
the command go on unwinding. On Linux the child also gets SIGTERM if the
command dies without a chance to clean up (SIGKILL): PR_SET_PDEATHSIG.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

# Terraform's graceful stop waits for the operation in progress (an SQS queue: 25 s of provider waits).
GRACE_SECONDS = float(os.environ.get("WEBHOOKCTL_STOP_GRACE_SECONDS", "30"))


class Terminated(KeyboardInterrupt):
    """SIGTERM, surfaced like Ctrl-C so every `finally` and `except KeyboardInterrupt` runs."""


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: the signal handling below still covers SIGINT and SIGTERM


def popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen:
    """subprocess.Popen in a new process group that dies with us."""
    preexec = _die_with_parent if sys.platform.startswith("linux") else None
    return subprocess.Popen(list(argv), start_new_session=True, preexec_fn=preexec, **kwargs)


def stop_group(proc: subprocess.Popen, grace: float = GRACE_SECONDS, first: int = signal.SIGINT) -> int | None:
    """Stop proc and its group: `first`, then SIGTERM, then SIGKILL; a second Ctrl-C skips the waiting."""
    try:
        for sig, wait in ((first, grace), (signal.SIGTERM, 5.0)):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(wait)
    except KeyboardInterrupt:
        pass  # asked twice: kill now
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the leader, or whatever it left behind in its group
        proc.wait()
    return proc.returncode


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """In the main thread, turn SIGTERM into `Terminated` for the duration (elsewhere: no change)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def running(proc: subprocess.Popen, grace: float = GRACE_SECONDS) -> Iterator[subprocess.Popen]:
    """Yield proc; if the block is interrupted (Ctrl-C, SIGTERM, an error), stop its group first."""
    try:
        with sigterm_raises():
            yield proc
    except BaseException:
        stop_group(proc, grace)
        raise
    finally:
        if proc.poll() is None:
            stop_group(proc, grace)
